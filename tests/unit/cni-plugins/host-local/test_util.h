// What the host-local tests share: network configs around a temp dataDir and
// whole plugin calls through the handlers, as plugin_main would run them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "deckhand/cni/plugin.h"
#include "deckhand/common/fs.h"
#include "host_local.h"

namespace deckhand::cni::host_local::testing {

// A network config named `name` whose ipam is `ipam` plus type and dataDir.
inline Json net_config(const std::string& data_dir, Json ipam, const std::string& name = "testnet",
                       const std::string& version = "1.1.0") {
  ipam["type"] = "deckhand-host-local";
  ipam["dataDir"] = data_dir;
  return Json{{"cniVersion", version}, {"name", name}, {"type", "deckhand-host-local"}, {"ipam", ipam}};
}

inline Json ranges_ipam(const std::vector<std::string>& subnets) {
  Json sets = Json::array();
  for (const auto& s : subnets) sets.push_back(Json::array({Json{{"subnet", s}}}));
  return Json{{"ranges", sets}};
}

struct CallResult {
  int rc = -1;
  std::string text;  // what the call printed
  Json out;          // text parsed; discarded when it is not JSON (or empty)
};

inline CallResult call(const std::string& command, const Json& config, const std::string& id = "c1",
                       const std::string& ifname = "eth0", const std::string& args = "") {
  std::map<std::string, std::string> env{{"CNI_COMMAND", command}, {"CNI_PATH", "/nonexistent"}};
  if (command != "GC" && command != "STATUS") {
    env["CNI_CONTAINERID"] = id;
    env["CNI_IFNAME"] = ifname;
    env["CNI_NETNS"] = "/proc/self/ns/net";
  }
  if (!args.empty()) env["CNI_ARGS"] = args;
  CallResult r;
  r.rc = run_plugin_call(handlers(), env, config.dump(), r.text);
  r.out = Json::parse(r.text, nullptr, /*allow_exceptions=*/false);
  return r;
}

// The lease files of a network directory (names that are addresses), sorted.
inline std::vector<std::string> lease_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& name : fs::list_dir(dir).value_or(std::vector<std::string>{}))
    if (name != "lock" && !name.starts_with("last_reserved_ip.")) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace deckhand::cni::host_local::testing
