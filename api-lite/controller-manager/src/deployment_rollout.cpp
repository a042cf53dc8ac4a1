// The Deployment controller's arithmetic: rollout limits, the template
// hash, how far each step of a rolling update goes, status and conditions.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "deckhand/controllers/deployment_controller.h"

namespace deckhand::controllers {

Result<int64_t> scaled_value(const Json& v, int64_t total, bool round_up) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (!v.is_string()) return fail(ErrorKind::InvalidArgument, "want an integer or a percentage, got {}", v.dump());
  std::string s = v.get<std::string>();
  char* end = nullptr;
  long long pct = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || s.back() != '%' || end != s.c_str() + s.size() - 1 || pct < 0)
    return fail(ErrorKind::InvalidArgument, "invalid value for IntOrString: invalid type: string is not a percentage: {}", s);
  int64_t scaled = pct * total;
  return round_up ? (scaled + 99) / 100 : scaled / 100;
}

static bool is_rolling(const Json& d) { return string_field(d, {"spec", "strategy", "type"}) != "Recreate"; }

RolloutLimits rollout_limits(const Json& d) {
  if (!is_rolling(d)) return {};
  const Json& ru = field(d, {"spec", "strategy", "rollingUpdate"});
  Json surge = ru.is_object() && ru.contains("maxSurge") ? ru["maxSurge"] : Json("25%");
  Json unavailable = ru.is_object() && ru.contains("maxUnavailable") ? ru["maxUnavailable"] : Json("25%");
  int64_t replicas = replicas_of(d);
  RolloutLimits out;
  out.max_surge = std::max<int64_t>(0, scaled_value(surge, replicas, true).value_or(0));
  out.max_unavailable = std::max<int64_t>(0, scaled_value(unavailable, replicas, false).value_or(0));
  if (out.max_surge == 0 && out.max_unavailable == 0) out.max_unavailable = 1;
  return out;
}

int64_t max_unavailable(const Json& d) {
  int64_t replicas = replicas_of(d);
  if (!is_rolling(d) || replicas == 0) return 0;
  return std::min(rollout_limits(d).max_unavailable, replicas);
}

namespace {

Json without_hash_label(Json tmpl) {
  if (tmpl.is_object() && tmpl.contains("metadata") && tmpl["metadata"].is_object() &&
      tmpl["metadata"].contains("labels") && tmpl["metadata"]["labels"].is_object())
    tmpl["metadata"]["labels"].erase(kPodTemplateHashLabel);
  return tmpl;
}

uint32_t fnv1a32(const std::string& data) {
  uint32_t h = 2166136261u;
  for (unsigned char c : data) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

}  // namespace

std::string pod_template_hash(const Json& pod_template, std::optional<int64_t> collision_count) {
  // nlohmann's objects are ordered maps: dump() is canonical.
  std::string text = without_hash_label(pod_template).dump();
  if (collision_count) text += "/" + std::to_string(*collision_count);
  // Kubernetes' safe alphabet (no vowels, no 0/1/3): names that spell no words.
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string digits = std::to_string(fnv1a32(text));
  std::string out;
  for (char c : digits) out += kAlphabet[static_cast<unsigned char>(c) % (sizeof kAlphabet - 1)];
  return out;
}

bool templates_equal_ignoring_hash(const Json& a, const Json& b) { return without_hash_label(a) == without_hash_label(b); }

int64_t replicas_of(const Json& obj) { return int_field(obj, {"spec", "replicas"}, 1); }

static int64_t annotation_int(const Json& obj, const char* key, int64_t fallback) {
  std::string v = annotation(obj, key);
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  return v.empty() || *end != '\0' ? fallback : n;
}

int64_t revision_of(const Json& obj) { return std::max<int64_t>(0, annotation_int(obj, kRevisionAnnotation, 0)); }

static int64_t sum_of(const std::vector<Json>& sets, std::initializer_list<const char*> path) {
  int64_t n = 0;
  for (const auto& rs : sets) n += int_field(rs, path, 0);
  return n;
}

int64_t new_rs_replicas(const Json& d, const std::vector<Json>& all_rs, const Json& new_rs) {
  int64_t want = replicas_of(d);
  if (!is_rolling(d)) return want;
  int64_t current_new = replicas_of(new_rs);
  int64_t total_now = 0;
  for (const auto& rs : all_rs) total_now += replicas_of(rs);
  int64_t max_total = want + rollout_limits(d).max_surge;
  if (total_now >= max_total) return current_new;
  int64_t grow = std::min(max_total - total_now, want - current_new);
  return current_new + std::max<int64_t>(0, grow);
}

// What a ReplicaSet's status says is available, trusted only as far as it
// is current: a status from before the latest change of its spec (a
// scale-down this controller just made) counts nothing, and never more than
// its replicas. Otherwise a second sync right after a scale-down would count
// the removed pods again and go below maxUnavailable.
static int64_t trusted_available(const Json& rs) {
  if (int_field(rs, {"status", "observedGeneration"}, 0) < generation_of(rs)) return 0;
  return std::min(int_field(rs, {"status", "availableReplicas"}, 0), replicas_of(rs));
}

std::vector<int64_t> old_rs_scale_down(const Json& d, const std::vector<Json>& old_rs, const std::optional<Json>& new_rs) {
  std::vector<int64_t> sizes;
  for (const auto& rs : old_rs) sizes.push_back(replicas_of(rs));
  int64_t old_total = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  if (old_total == 0) return sizes;
  int64_t all_total = old_total + (new_rs ? replicas_of(*new_rs) : 0);
  int64_t min_available = replicas_of(d) - max_unavailable(d);
  int64_t new_unavailable = new_rs ? replicas_of(*new_rs) - trusted_available(*new_rs) : 0;
  int64_t budget = all_total - min_available - new_unavailable;
  if (budget <= 0) return sizes;
  // Unhealthy pods first: removing them costs no availability.
  for (size_t i = 0; i < old_rs.size() && budget > 0; ++i) {
    bool current = int_field(old_rs[i], {"status", "observedGeneration"}, 0) >= generation_of(old_rs[i]);
    if (!current) continue;  // its unhealthy count is not known yet
    int64_t unhealthy = sizes[i] - trusted_available(old_rs[i]);
    if (unhealthy <= 0) continue;
    int64_t cut = std::min(budget, unhealthy);
    sizes[i] -= cut;
    budget -= cut;
  }
  // Then healthy ones, while availability stays at or above the minimum
  // (counted from the ReplicaSets' status, as the sizes were before this step).
  int64_t available = new_rs ? trusted_available(*new_rs) : 0;
  for (const auto& rs : old_rs) available += trusted_available(rs);
  int64_t may_remove = available - min_available;
  for (size_t i = 0; i < old_rs.size() && may_remove > 0; ++i) {
    int64_t cut = std::min(sizes[i], may_remove);
    sizes[i] -= cut;
    may_remove -= cut;
  }
  return sizes;
}

void set_condition(Json& status, const std::string& type, const std::string& cond_status, const std::string& reason,
                   const std::string& message, Clock::time_point now) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) status["conditions"] = Json::array();
  Json& conds = status["conditions"];
  std::string now_text = format_time(now);
  Json cond = {{"type", type},     {"status", cond_status},        {"reason", reason},
               {"message", message}, {"lastUpdateTime", now_text}, {"lastTransitionTime", now_text}};
  for (auto& c : conds) {
    if (!c.is_object() || c.value("type", "") != type) continue;
    if (c.value("status", "") == cond_status && c.value("reason", "") == reason) return;
    if (c.value("status", "") == cond_status && c.contains("lastTransitionTime"))
      cond["lastTransitionTime"] = c["lastTransitionTime"];
    c = std::move(cond);
    return;
  }
  conds.push_back(std::move(cond));
}

Json deployment_status(const Json& d, const std::vector<Json>& all_rs, const std::optional<Json>& new_rs,
                       Clock::time_point now) {
  const Json& old_status = field(d, {"status"});
  Json status = Json::object();
  int64_t available = sum_of(all_rs, {"status", "availableReplicas"});
  int64_t total_spec = 0;
  for (const auto& rs : all_rs) total_spec += replicas_of(rs);
  status["observedGeneration"] = generation_of(d);
  status["replicas"] = sum_of(all_rs, {"status", "replicas"});
  status["updatedReplicas"] = new_rs ? int_field(*new_rs, {"status", "replicas"}, 0) : 0;
  status["readyReplicas"] = sum_of(all_rs, {"status", "readyReplicas"});
  status["availableReplicas"] = available;
  status["unavailableReplicas"] = std::max<int64_t>(0, total_spec - available);
  if (old_status.is_object() && old_status.contains("collisionCount"))
    status["collisionCount"] = old_status["collisionCount"];
  if (old_status.is_object() && old_status.contains("conditions")) status["conditions"] = old_status["conditions"];
  if (available >= replicas_of(d) - max_unavailable(d))
    set_condition(status, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now);
  else
    set_condition(status, "Available", "False", "MinimumReplicasUnavailable",
                  "Deployment does not have minimum availability.", now);
  return status;
}

bool deployment_complete(const Json& d, const Json& status) {
  int64_t want = replicas_of(d);
  return int_field(status, {"updatedReplicas"}, 0) == want && int_field(status, {"replicas"}, 0) == want &&
         int_field(status, {"availableReplicas"}, 0) == want &&
         int_field(status, {"observedGeneration"}, 0) >= generation_of(d);
}

namespace {

// Any step forward since the status the deployment has now.
bool made_progress(const Json& d, const Json& status) {
  const Json& old = field(d, {"status"});
  auto get = [](const Json& s, const char* k) { return int_field(s, {k}, 0); };
  int64_t old_old = get(old, "replicas") - get(old, "updatedReplicas");
  int64_t new_old = get(status, "replicas") - get(status, "updatedReplicas");
  return get(status, "updatedReplicas") > get(old, "updatedReplicas") || new_old < old_old ||
         get(status, "readyReplicas") > get(old, "readyReplicas") ||
         get(status, "availableReplicas") > get(old, "availableReplicas");
}

const Json* condition_in(const Json& status, const std::string& type) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) return nullptr;
  for (const auto& c : status["conditions"])
    if (c.is_object() && c.value("type", "") == type) return &c;
  return nullptr;
}

bool timed_out(const Json& d, const Json& status, Clock::time_point now) {
  const Json* cond = condition_in(status, "Progressing");
  if (cond == nullptr) return false;
  std::string reason = cond->value("reason", "");
  if (reason == "ProgressDeadlineExceeded") return true;
  if (reason == "NewReplicaSetAvailable") return false;
  auto from = parse_time(cond->value("lastUpdateTime", ""));
  int64_t deadline = int_field(d, {"spec", "progressDeadlineSeconds"}, 600);
  return from && *from + std::chrono::seconds(deadline) < now;
}

}  // namespace

void update_progressing(const Json& d, Json& status, const std::optional<Json>& new_rs, Clock::time_point now) {
  if (!field(d, {"spec", "progressDeadlineSeconds"}).is_number_integer()) {
    if (status.contains("conditions") && status["conditions"].is_array()) {
      Json kept = Json::array();
      for (const auto& c : status["conditions"])
        if (c.value("type", "") != "Progressing") kept.push_back(c);
      status["conditions"] = kept;
    }
    return;
  }
  const Json* current = condition_in(status, "Progressing");
  bool already_complete = current != nullptr && current->value("reason", "") == "NewReplicaSetAvailable" &&
                          int_field(status, {"replicas"}, 0) == int_field(status, {"updatedReplicas"}, 0);
  if (already_complete) return;
  std::string rs_name = new_rs ? name_of(*new_rs) : "";
  if (deployment_complete(d, status)) {
    set_condition(status, "Progressing", "True", "NewReplicaSetAvailable",
                  "ReplicaSet \"" + rs_name + "\" has successfully progressed.", now);
  } else if (made_progress(d, status)) {
    // Progress refreshes lastUpdateTime (the deadline counts from it), even
    // with the same reason; lastTransitionTime stays while True.
    std::string transition = format_time(now);
    if (current != nullptr && current->value("status", "") == "True")
      transition = current->value("lastTransitionTime", transition);
    Json cond = {{"type", "Progressing"},
                 {"status", "True"},
                 {"reason", "ReplicaSetUpdated"},
                 {"message", "ReplicaSet \"" + rs_name + "\" is progressing."},
                 {"lastUpdateTime", format_time(now)},
                 {"lastTransitionTime", transition}};
    Json kept = Json::array();
    for (const auto& c : status["conditions"])
      if (c.value("type", "") != "Progressing") kept.push_back(c);
    kept.push_back(std::move(cond));
    status["conditions"] = std::move(kept);
  } else if (timed_out(d, status, now)) {
    set_condition(status, "Progressing", "False", "ProgressDeadlineExceeded",
                  "ReplicaSet \"" + rs_name + "\" has timed out progressing.", now);
  }
}

}  // namespace deckhand::controllers

namespace deckhand::controllers {

std::vector<int64_t> proportional_sizes(const Json& d, const std::vector<Json>& active_rs) {
  int64_t want = replicas_of(d);
  int64_t surge = rollout_limits(d).max_surge;
  int64_t allowed = want > 0 ? want + surge : 0;
  int64_t total = 0;
  for (const auto& rs : active_rs) total += replicas_of(rs);
  int64_t to_add = allowed - total;
  std::vector<int64_t> sizes;
  int64_t added = 0;
  for (const auto& rs : active_rs) {
    int64_t size = replicas_of(rs);
    int64_t share = 0;
    if (to_add != 0 && size != 0 && added != to_add) {
      int64_t fraction = -size;
      if (want != 0) {
        int64_t annotated = std::strtoll(annotation(rs, kMaxReplicasAnnotation).c_str(), nullptr, 10);
        if (annotated <= 0) annotated = int_field(d, {"status", "replicas"}, 0);
        fraction = annotated > 0 ? std::llround(double(size) * double(want + surge) / double(annotated)) - size : 0;
      }
      int64_t left = to_add - added;
      share = to_add > 0 ? std::min(fraction, left) : std::max(fraction, left);
    }
    sizes.push_back(size + share);
    added += share;
  }
  if (!sizes.empty() && added != to_add) sizes[0] = std::max<int64_t>(0, sizes[0] + to_add - added);
  return sizes;
}

}  // namespace deckhand::controllers
