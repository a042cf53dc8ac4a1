// The plugin side of CNI: reads the environment and stdin of one call,
// checks them as the spec says, runs the plugin's handler for the command and
// prints its result or error JSON. One process per call.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/cni/cni_error.h"
#include "deckhand/cni/network_result.h"
#include "deckhand/common/json.h"

namespace deckhand::cni {

struct PluginRequest {
  std::string command;       // ADD, DEL, CHECK, GC, STATUS
  std::string container_id;  // CNI_CONTAINERID
  std::string netns;         // CNI_NETNS (empty when not given, allowed for DEL)
  std::string ifname;        // CNI_IFNAME
  std::string args_text;     // CNI_ARGS as given
  std::vector<std::string> path;  // CNI_PATH split on ':'
  std::map<std::string, std::string> args;  // CNI_ARGS parsed (IgnoreUnknown removed)
  bool ignore_unknown_args = false;
  Json config;             // stdin
  std::string cni_version; // config["cniVersion"]
  std::string network_name;
  std::optional<NetworkResult> prev_result;  // config["prevResult"] parsed
};

// Handlers a plugin supplies; a missing one makes that command a no-op
// success (DEL, CHECK, GC, STATUS) or an error (ADD).
struct PluginHandlers {
  std::function<CniResult<NetworkResult>(const PluginRequest&)> add;
  std::function<CniStatus(const PluginRequest&)> del, check, gc, status;
};

// Runs one call from this process's environment and stdin and returns the
// exit code (0 success, 1 error with the error JSON printed).
int plugin_main(const PluginHandlers& handlers);

// The same, with the environment and stdin given (for tests); output goes to out.
int run_plugin_call(const PluginHandlers& handlers, const std::map<std::string, std::string>& env,
                    const std::string& stdin_text, std::string& out);

// A warning on stderr, which the runtime logs (plugins are one-shot
// processes: no logging library, so that they link statically and start fast).
void plugin_warning(const std::string& text);
template <typename... Args>
void plugin_warning(fmt::format_string<Args...> f, Args&&... args) {
  plugin_warning(fmt::format(f, std::forward<Args>(args)...));
}

// Refuses CNI_ARGS keys other than `known` unless IgnoreUnknown is set (code 4
// naming the keys), as the reference plugins do. K8S_POD_* keys are refused
// like any other unknown key.
CniStatus check_args(const PluginRequest& req, const std::vector<std::string>& known);

// The executable for a plugin type, from the first dir holding it (CNI_PATH
// order). NotFound names the type and the dirs; types with '/' are refused.
Result<std::string> find_plugin(const std::string& type, const std::vector<std::string>& dirs);

// The environment of a plugin call: the caller's variables without CNI_* (a
// stale CNI_NETNS must not leak into a DEL), PATH kept (a default when
// missing), then the call's CNI_* variables (those given) and CNI_PATH.
std::vector<std::string> cni_environment(const std::string& command, const std::string& container_id,
                                         const std::string& netns, const std::string& ifname,
                                         const std::string& args, const std::vector<std::string>& path);

// Runs another plugin (an IPAM plugin) with this call's environment, the
// command given and `config` on stdin. A failure passes its CNI error on
// intact; success gives its stdout parsed (null when empty).
CniResult<Json> delegate(const PluginRequest& req, const std::string& type, const std::string& command,
                         const Json& config);
// ADD to the IPAM plugin named in config["ipam"]["type"] with the whole config
// on stdin, its result read as a NetworkResult.
CniResult<NetworkResult> ipam_add(const PluginRequest& req);
// DEL/CHECK/GC/STATUS to the IPAM plugin (config["ipam"]["type"]).
CniStatus ipam_call(const PluginRequest& req, const std::string& command);

}  // namespace deckhand::cni
