// Running one CNI plugin binary: the environment of the CNI protocol, the
// config on stdin, and its stdout read back as a result or as a CNI error.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "deckhand/cni/plugin.h"  // find_plugin
#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::cni {

struct PluginCall {
  std::string command;  // ADD, DEL, CHECK, VERSION, GC, STATUS
  std::string container_id, netns, ifname, args;
  Json config;  // sent on stdin
};

// Where plugins are and how long one may run.
struct PluginEnv {
  std::vector<std::string> bin_dirs;
  std::chrono::milliseconds timeout{60000};
};


// The environment a plugin gets: ours minus inherited CNI_* variables, plus
// the call's CNI_* variables (only those set) and CNI_PATH; PATH is kept.
std::vector<std::string> plugin_environment(const PluginCall& call, const std::vector<std::string>& bin_dirs);

// Runs the plugin of `type`. Success gives its stdout as JSON (null when empty,
// as for DEL and CHECK). A non-zero exit gives the error from the CNI error
// JSON on stdout, naming the plugin and the command.
Result<Json> run_plugin(const std::string& type, const PluginCall& call, const PluginEnv& env);

// The Error for a plugin's non-zero exit: from its error JSON {code, msg,
// details} when stdout holds one, else from what it printed.
Error plugin_error(const std::string& type, const std::string& command, int exit_code, const std::string& out,
                   const std::string& err);

// ErrorKind for a CNI error code (spec 1.0.0, "Error" section).
ErrorKind error_kind_for_code(int code);

// The addresses of a result's ips[] (0.3.0 and later), prefix length
// stripped, IPv4 before IPv6, in result order otherwise.
std::vector<std::string> result_ips(const Json& result);

}  // namespace deckhand::cni
