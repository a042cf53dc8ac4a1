// Reading API objects as the controllers need them: metadata fields, owner
// references, pod readiness and availability, timestamps. Every accessor
// tolerates missing or mistyped fields (objects come from the network).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/common/json.h"

namespace deckhand::controllers {

using Clock = std::chrono::system_clock;

// metadata.<key> as a string ("" when absent or not a string).
std::string meta_string(const Json& obj, const char* key);
inline std::string name_of(const Json& obj) { return meta_string(obj, "name"); }
inline std::string namespace_of(const Json& obj) { return meta_string(obj, "namespace"); }
inline std::string uid_of(const Json& obj) { return meta_string(obj, "uid"); }
int64_t generation_of(const Json& obj);
bool is_terminating(const Json& obj);  // has metadata.deletionTimestamp
std::map<std::string, std::string> labels_of(const Json& obj);
std::string annotation(const Json& obj, const std::string& key);
bool has_finalizer(const Json& obj, const std::string& finalizer);

// `obj.<path...>` when every step exists, else `fallback`.
const Json& field(const Json& obj, std::initializer_list<const char*> path);
int64_t int_field(const Json& obj, std::initializer_list<const char*> path, int64_t fallback);
std::string string_field(const Json& obj, std::initializer_list<const char*> path);

// metadata.ownerReferences (an empty array when absent).
Json owner_references(const Json& obj);
// The owner reference with controller: true, if any.
std::optional<Json> controller_ref(const Json& obj);
// A controller owner reference to `owner` (blockOwnerDeletion as the
// built-in controllers set it).
Json make_controller_ref(const Json& owner, const std::string& api_version, const std::string& kind);

// A new pod from owner's spec.template: generateName "<owner>-", the
// template's labels, annotations and finalizers, the owner as controller.
Json pod_from_owner_template(const Json& owner, const std::string& api_version, const std::string& kind);

// RFC 3339 in UTC ("2024-05-01T10:00:00Z"), and back (fractions ignored).
std::string format_time(Clock::time_point t);
std::optional<Clock::time_point> parse_time(const std::string& text);
std::optional<Clock::time_point> creation_time(const Json& obj);

// Pods.
std::string pod_phase(const Json& pod);
bool pod_is_active(const Json& pod);  // not Succeeded/Failed, not terminating
bool pod_is_ready(const Json& pod);   // condition Ready True
// When the Ready condition last became True (nullopt when not ready).
std::optional<Clock::time_point> pod_ready_since(const Json& pod);
// Ready for at least min_ready_seconds at `now`.
bool pod_is_available(const Json& pod, int64_t min_ready_seconds, Clock::time_point now);
int64_t pod_restart_count(const Json& pod);  // the largest of its containers'

// A condition of status.conditions by type (nullptr when absent).
const Json* find_condition(const Json& obj, const std::string& type);

}  // namespace deckhand::controllers
