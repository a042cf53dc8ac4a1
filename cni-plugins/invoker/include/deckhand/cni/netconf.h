// CNI network configuration: loading the list a runtime uses from a conf dir
// (*.conflist, or *.conf / *.json holding one plugin, wrapped into a list),
// and building each plugin's stdin from it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "deckhand/cni/network_result.h"
#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::cni {

// A validated network configuration list.
struct NetworkList {
  std::string name;
  std::string cni_version;
  std::string source;         // the file it came from (or what it was parsed as)
  std::vector<Json> plugins;  // each an object with a non-empty "type"
  bool disable_check = false;
  bool disable_gc = false;
  Json raw;  // the list as loaded (after wrapping a single config)
};


// Parses a config list (or, with single_plugin, one plugin config wrapped into
// a list). Errors name `what` (the file) and, for versions, the version.
Result<NetworkList> parse_network_list(std::string_view text, std::string_view what, bool single_plugin);
Result<NetworkList> network_list_from_json(const Json& raw, std::string_view what);

// The first valid config in conf_dir, files taken in name order; invalid files
// are skipped (and logged). FailedPrecondition when there is none, with every
// file's problem in the message.
Result<NetworkList> load_network_list(const std::string& conf_dir);

// The stdin of one plugin: its config with the list's name and cniVersion,
// prevResult when given (not null), and runtimeConfig for the capabilities the
// plugin declares that capability_args supplies.
Json plugin_stdin(const NetworkList& list, const Json& plugin, const Json& prev_result,
                  const Json& capability_args);

// Serializes without throwing: invalid UTF-8 is replaced.
std::string json_text(const Json& j);

}  // namespace deckhand::cni
