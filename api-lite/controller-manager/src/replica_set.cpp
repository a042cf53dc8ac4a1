// The ReplicaSet controller's decisions: which pods to delete first, how
// creations are batched, what status to report, what a new pod looks like.
#include <algorithm>

#include "deckhand/api/selector.h"
#include "deckhand/controllers/replica_set_controller.h"

namespace deckhand::controllers {

namespace {

int phase_rank(const Json& pod) {
  std::string phase = pod_phase(pod);
  if (phase == "Pending" || phase.empty()) return 0;
  if (phase == "Unknown") return 1;
  if (phase == "Running") return 2;
  return 3;
}

int64_t deletion_cost(const Json& pod) {
  std::string cost = annotation(pod, "controller.kubernetes.io/pod-deletion-cost");
  if (cost.empty()) return 0;
  char* end = nullptr;
  long long v = std::strtoll(cost.c_str(), &end, 10);
  return end != nullptr && *end == '\0' ? v : 0;
}

}  // namespace

bool delete_before(const Json& a, const Json& b) {
  bool a_bound = !string_field(a, {"spec", "nodeName"}).empty();
  bool b_bound = !string_field(b, {"spec", "nodeName"}).empty();
  if (a_bound != b_bound) return !a_bound;
  if (phase_rank(a) != phase_rank(b)) return phase_rank(a) < phase_rank(b);
  bool a_ready = pod_is_ready(a), b_ready = pod_is_ready(b);
  if (a_ready != b_ready) return !a_ready;
  if (deletion_cost(a) != deletion_cost(b)) return deletion_cost(a) < deletion_cost(b);
  if (a_ready) {
    auto a_since = pod_ready_since(a), b_since = pod_ready_since(b);
    if (a_since != b_since) return a_since > b_since;  // ready more recently goes first
  }
  if (pod_restart_count(a) != pod_restart_count(b)) return pod_restart_count(a) > pod_restart_count(b);
  auto a_created = creation_time(a), b_created = creation_time(b);
  if (a_created != b_created) {
    if (!a_created) return true;  // no creation time counts as newest
    if (!b_created) return false;
    return *a_created > *b_created;
  }
  return name_of(a) < name_of(b);  // a total order keeps the choice stable
}

std::vector<Json> pods_to_delete(std::vector<Json> pods, size_t count) {
  std::stable_sort(pods.begin(), pods.end(), delete_before);
  if (pods.size() > count) pods.resize(count);
  return pods;
}

std::vector<int> slow_start_batches(int total) {
  std::vector<int> out;
  for (int batch = 1, left = total; left > 0; batch *= 2) {
    int n = std::min(batch, left);
    out.push_back(n);
    left -= n;
  }
  return out;
}

Json replica_set_status(const Json& rs, const std::vector<Json>& pods, Clock::time_point now) {
  Json template_labels = field(rs, {"spec", "template", "metadata", "labels"});
  auto labeled = api::LabelSelector::from_map({});
  if (template_labels.is_object()) {
    std::map<std::string, std::string> want;
    for (auto it = template_labels.begin(); it != template_labels.end(); ++it)
      if (it.value().is_string()) want[it.key()] = it.value().get<std::string>();
    labeled = api::LabelSelector::from_map(want);
  }
  int64_t min_ready = int_field(rs, {"spec", "minReadySeconds"}, 0);
  int64_t fully_labeled = 0, ready = 0, available = 0;
  for (const auto& pod : pods) {
    if (labeled.matches_object(pod)) ++fully_labeled;
    if (pod_is_ready(pod)) ++ready;
    if (pod_is_available(pod, min_ready, now)) ++available;
  }
  Json status = field(rs, {"status"}).is_object() ? field(rs, {"status"}) : Json::object();
  status["replicas"] = static_cast<int64_t>(pods.size());
  status["fullyLabeledReplicas"] = fully_labeled;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  status["observedGeneration"] = generation_of(rs);
  return status;
}

Json pod_from_template(const Json& rs) { return pod_from_owner_template(rs, "apps/v1", "ReplicaSet"); }

}  // namespace deckhand::controllers
