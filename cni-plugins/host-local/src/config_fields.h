// Reading members of the network config without exceptions: nlohmann's at()
// and get<>() throw on a wrong type, and a plugin must answer a bad config
// with an error JSON, not an abort.
#pragma once

#include <optional>
#include <string>

#include "deckhand/cni/cni_error.h"
#include "deckhand/common/json.h"

namespace deckhand::cni::host_local {

// The member `key` of obj, or nullptr when absent or null (Go treats null as absent).
inline const Json* find_member(const Json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// A string member; nullopt when absent, a decoding error (naming `where.key`) when not a string.
inline CniResult<std::optional<std::string>> optional_string(const Json& obj, const char* key,
                                                             const std::string& where) {
  const Json* v = find_member(obj, key);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return cni_fail(kDecodingFailure, fmt::format("{}.{} is not a string", where, key));
  return std::optional<std::string>(v->get<std::string>());
}

}  // namespace deckhand::cni::host_local
