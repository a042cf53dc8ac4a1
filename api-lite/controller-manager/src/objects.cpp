#include "deckhand/controllers/objects.h"

#include <ctime>

namespace deckhand::controllers {

namespace {
const Json& null_json() {
  static const Json n;
  return n;
}
}  // namespace

const Json& field(const Json& obj, std::initializer_list<const char*> path) {
  const Json* cur = &obj;
  for (const char* step : path) {
    if (!cur->is_object()) return null_json();
    auto it = cur->find(step);
    if (it == cur->end()) return null_json();
    cur = &*it;
  }
  return *cur;
}

int64_t int_field(const Json& obj, std::initializer_list<const char*> path, int64_t fallback) {
  const Json& v = field(obj, path);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

std::string string_field(const Json& obj, std::initializer_list<const char*> path) {
  const Json& v = field(obj, path);
  return v.is_string() ? v.get<std::string>() : "";
}

std::string meta_string(const Json& obj, const char* key) { return string_field(obj, {"metadata", key}); }

int64_t generation_of(const Json& obj) { return int_field(obj, {"metadata", "generation"}, 0); }

bool is_terminating(const Json& obj) { return !meta_string(obj, "deletionTimestamp").empty(); }

std::map<std::string, std::string> labels_of(const Json& obj) {
  std::map<std::string, std::string> out;
  const Json& labels = field(obj, {"metadata", "labels"});
  if (!labels.is_object()) return out;
  for (auto it = labels.begin(); it != labels.end(); ++it)
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  return out;
}

std::string annotation(const Json& obj, const std::string& key) {
  const Json& a = field(obj, {"metadata", "annotations"});
  if (!a.is_object() || !a.contains(key) || !a[key].is_string()) return "";
  return a[key].get<std::string>();
}

bool has_finalizer(const Json& obj, const std::string& finalizer) {
  const Json& f = field(obj, {"metadata", "finalizers"});
  if (!f.is_array()) return false;
  for (const auto& x : f)
    if (x.is_string() && x.get<std::string>() == finalizer) return true;
  return false;
}

Json owner_references(const Json& obj) {
  const Json& refs = field(obj, {"metadata", "ownerReferences"});
  return refs.is_array() ? refs : Json::array();
}

std::optional<Json> controller_ref(const Json& obj) {
  for (const auto& ref : owner_references(obj))
    if (ref.is_object() && ref.value("controller", false)) return ref;
  return std::nullopt;
}

Json make_controller_ref(const Json& owner, const std::string& api_version, const std::string& kind) {
  return Json{{"apiVersion", api_version}, {"kind", kind},           {"name", name_of(owner)},
              {"uid", uid_of(owner)},      {"controller", true}, {"blockOwnerDeletion", true}};
}

std::string format_time(Clock::time_point t) {
  std::time_t secs = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<Clock::time_point> parse_time(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  if (*rest == '.')
    for (++rest; *rest >= '0' && *rest <= '9';) ++rest;
  if (*rest != 'Z' && *rest != '\0') return std::nullopt;  // we only ever write UTC
  return Clock::from_time_t(timegm(&tm));
}

std::optional<Clock::time_point> creation_time(const Json& obj) {
  return parse_time(meta_string(obj, "creationTimestamp"));
}

std::string pod_phase(const Json& pod) { return string_field(pod, {"status", "phase"}); }

bool pod_is_active(const Json& pod) {
  std::string phase = pod_phase(pod);
  return phase != "Succeeded" && phase != "Failed" && !is_terminating(pod);
}

const Json* find_condition(const Json& obj, const std::string& type) {
  const Json& conds = field(obj, {"status", "conditions"});
  if (!conds.is_array()) return nullptr;
  for (const auto& c : conds)
    if (c.is_object() && c.value("type", "") == type) return &c;
  return nullptr;
}

bool pod_is_ready(const Json& pod) {
  const Json* c = find_condition(pod, "Ready");
  return c != nullptr && c->value("status", "") == "True";
}

std::optional<Clock::time_point> pod_ready_since(const Json& pod) {
  const Json* c = find_condition(pod, "Ready");
  if (c == nullptr || c->value("status", "") != "True") return std::nullopt;
  auto t = parse_time(c->value("lastTransitionTime", ""));
  return t ? t : Clock::time_point{};  // ready, time unknown: ready "forever"
}

bool pod_is_available(const Json& pod, int64_t min_ready_seconds, Clock::time_point now) {
  auto since = pod_ready_since(pod);
  if (!since) return false;
  if (min_ready_seconds <= 0) return true;
  return *since + std::chrono::seconds(min_ready_seconds) <= now;
}

int64_t pod_restart_count(const Json& pod) {
  int64_t most = 0;
  const Json& statuses = field(pod, {"status", "containerStatuses"});
  if (!statuses.is_array()) return 0;
  for (const auto& s : statuses) most = std::max(most, int_field(s, {"restartCount"}, 0));
  return most;
}

Json pod_from_owner_template(const Json& owner, const std::string& api_version, const std::string& kind) {
  const Json& tmpl = field(owner, {"spec", "template"});
  Json meta = {{"generateName", name_of(owner) + "-"},
               {"namespace", namespace_of(owner)},
               {"ownerReferences", Json::array({make_controller_ref(owner, api_version, kind)})}};
  for (const char* key : {"labels", "annotations", "finalizers"}) {
    const Json& v = field(tmpl, {"metadata", key});
    if (!v.is_null()) meta[key] = v;
  }
  Json spec = field(tmpl, {"spec"});
  return Json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", std::move(meta)},
              {"spec", spec.is_object() ? spec : Json::object()}};
}

}  // namespace deckhand::controllers
