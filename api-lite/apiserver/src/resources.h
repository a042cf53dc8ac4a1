// The resources this server knows, and the discovery documents kubectl reads
// to find them (/api, /api/v1, /apis, /apis/<group>/<version>).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "deckhand/common/json.h"

namespace deckhand::apiserver {

struct ResourceInfo {
  std::string group;    // "" for core
  std::string version;  // "v1"
  std::string kind;     // "Pod"
  std::string plural;   // "pods"
  std::string singular; // "pod"
  std::vector<std::string> short_names;
  bool namespaced = true;
  std::vector<std::string> categories;    // "all"
  std::vector<std::string> subresources;  // "status", "scale", "binding", "log", "exec", "eviction"
  bool has_spec_generation = false;       // metadata.generation counts spec changes

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // "pods" or "deployments.apps": how Kubernetes names a resource in messages.
  std::string qualified() const { return group.empty() ? plural : plural + "." + group; }
  bool has_subresource(const std::string& s) const;
  // Store key prefix: "/registry/<group|core>/<plural>/"; then "<ns>/<name>" or "<name>".
  std::string key_prefix() const;
  std::string key(const std::string& namespace_name, const std::string& name) const;
};

const std::vector<ResourceInfo>& all_resources();
const ResourceInfo* find_resource(const std::string& group, const std::string& version, const std::string& plural);
const ResourceInfo* find_resource_by_kind(const std::string& api_version, const std::string& kind);

// Discovery bodies.
Json core_api_versions();                        // /api
Json api_group_list();                           // /apis
std::optional<Json> api_group(const std::string& group);  // /apis/<group>
std::optional<Json> api_resource_list(const std::string& group, const std::string& version);

}  // namespace deckhand::apiserver
