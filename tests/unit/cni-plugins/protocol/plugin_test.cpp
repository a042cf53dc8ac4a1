// The plugin side of the protocol, driven with environments and stdin as a
// runtime sends them, against handlers that record what they were given.
#include "deckhand/cni/plugin.h"

#include <doctest/doctest.h>

using namespace deckhand;
using namespace deckhand::cni;

namespace {

const char* kConfig = R"({"cniVersion":"1.0.0","name":"net1","type":"t","ipam":{"type":"i"}})";

std::map<std::string, std::string> env_for(const std::string& command) {
  return {{"CNI_COMMAND", command}, {"CNI_CONTAINERID", "abc123"}, {"CNI_NETNS", "/run/netns/x"},
          {"CNI_IFNAME", "eth0"},   {"CNI_PATH", "/a:/b"}};
}

struct Recorder {
  PluginRequest seen;
  PluginHandlers handlers() {
    PluginHandlers h;
    h.add = [this](const PluginRequest& r) -> CniResult<NetworkResult> {
      seen = r;
      NetworkResult out;
      out.ips.push_back({"10.1.0.5/24", "10.1.0.1", std::nullopt});
      return out;
    };
    h.del = [this](const PluginRequest& r) -> CniStatus {
      seen = r;
      return {};
    };
    h.gc = h.del;
    return h;
  }
};

Json run(Recorder& rec, const std::map<std::string, std::string>& env, const std::string& in, int expect_rc) {
  std::string out;
  int rc = run_plugin_call(rec.handlers(), env, in, out);
  CHECK_MESSAGE(rc == expect_rc, out);
  if (out.empty()) return Json();
  return Json::parse(out);
}

}  // namespace

TEST_CASE("ADD gets the parsed request and prints the result in the config's version") {
  Recorder rec;
  auto env = env_for("ADD");
  env["CNI_ARGS"] = "IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.1.0.9";
  std::string conf = R"({"cniVersion":"0.4.0","name":"net1","type":"t"})";
  Json out = run(rec, env, conf, 0);
  CHECK(out["cniVersion"] == "0.4.0");
  CHECK(out["ips"][0]["version"] == "4");
  CHECK(rec.seen.container_id == "abc123");
  CHECK(rec.seen.netns == "/run/netns/x");
  CHECK(rec.seen.path == std::vector<std::string>{"/a", "/b"});
  CHECK(rec.seen.network_name == "net1");
  CHECK(rec.seen.ignore_unknown_args);
  CHECK(rec.seen.args.at("K8S_POD_NAME") == "web");
  CHECK(rec.seen.args.at("IP") == "10.1.0.9");
  CHECK(check_args(rec.seen, {"IP"}));
}

TEST_CASE("unknown CNI_ARGS keys are refused without IgnoreUnknown") {
  PluginRequest req;
  req.args = {{"K8S_POD_NAME", "web"}, {"IP", "10.0.0.1"}};
  auto st = check_args(req, {"IP"});
  REQUIRE(!st);
  CHECK(st.error().code == kInvalidEnv);
  CHECK(st.error().msg.find("K8S_POD_NAME") != std::string::npos);
  req.ignore_unknown_args = true;
  CHECK(check_args(req, {"IP"}));
}

TEST_CASE("VERSION lists the versions we accept") {
  Recorder rec;
  Json out = run(rec, {{"CNI_COMMAND", "VERSION"}}, R"({"cniVersion":"1.0.0"})", 0);
  CHECK(out["supportedVersions"] == Json({"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}));
  CHECK(out["cniVersion"] == "1.1.0");
}

TEST_CASE("bad calls get the spec's error codes, named, and the handler never runs") {
  struct Case {
    std::string name;
    std::map<std::string, std::string> env;
    std::string in;
    int code;
    std::string says;
  };
  auto no_netns = env_for("ADD");
  no_netns.erase("CNI_NETNS");
  auto bad_id = env_for("ADD");
  bad_id["CNI_CONTAINERID"] = "-x/y";
  auto bad_if = env_for("ADD");
  bad_if["CNI_IFNAME"] = "a-very-long-ifname0";
  auto bad_args = env_for("ADD");
  bad_args["CNI_ARGS"] = "novalue";
  std::vector<Case> cases = {
      {"invalid JSON", env_for("ADD"), "{not json", kDecodingFailure, "not a JSON object"},
      {"unknown version", env_for("ADD"), R"({"cniVersion":"0.9.9","name":"n"})", kIncompatibleVersion, "0.9.9"},
      {"no version", env_for("ADD"), R"({"name":"n"})", kIncompatibleVersion, "no cniVersion"},
      {"missing CNI_NETNS", no_netns, kConfig, kInvalidEnv, "CNI_NETNS"},
      {"bad container id", bad_id, kConfig, kInvalidEnv, "CNI_CONTAINERID"},
      {"bad ifname", bad_if, kConfig, kInvalidEnv, "CNI_IFNAME"},
      {"bad CNI_ARGS", bad_args, kConfig, kInvalidEnv, "novalue"},
      {"unknown command", env_for("FROB"), kConfig, kInvalidEnv, "FROB"},
      {"GC before 1.1.0", env_for("GC"), kConfig, kIncompatibleVersion, "1.1.0"},
      {"bad prevResult", env_for("DEL"), R"({"cniVersion":"1.0.0","name":"n","prevResult":{"ips":[{}]}})",
       kDecodingFailure, "prevResult"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    Recorder rec;
    Json out = run(rec, c.env, c.in, 1);
    CHECK(out["code"] == c.code);
    CHECK_MESSAGE(out["msg"].get<std::string>().find(c.says) != std::string::npos, out.dump());
    CHECK(rec.seen.command.empty());
  }
}

TEST_CASE("DEL needs no netns, and GC gets its config in 1.1.0") {
  Recorder rec;
  auto env = env_for("DEL");
  env.erase("CNI_NETNS");
  run(rec, env, kConfig, 0);
  CHECK(rec.seen.command == "DEL");
  CHECK(rec.seen.netns.empty());
  Recorder gc;
  std::map<std::string, std::string> gc_env = {{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/a"}};
  run(gc, gc_env, R"({"cniVersion":"1.1.0","name":"n","cni.dev/valid-attachments":[]})", 0);
  CHECK(gc.seen.config.contains("cni.dev/valid-attachments"));
}

TEST_CASE("prevResult is read whatever its version") {
  Recorder rec;
  std::string conf = R"({"cniVersion":"0.4.0","name":"n","prevResult":{"cniVersion":"0.4.0",
      "ips":[{"version":"4","address":"10.1.0.5/24"}]}})";
  run(rec, env_for("DEL"), conf, 0);
  REQUIRE(rec.seen.prev_result);
  CHECK(rec.seen.prev_result->ips.at(0).address == "10.1.0.5/24");
}
