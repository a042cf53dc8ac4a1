// The node view and the scheduling decision over it.
#include "deckhand/scheduler/cache.h"

#include <algorithm>

namespace deckhand::scheduler {

namespace {

// What a node change must touch to matter to a waiting pod (images and
// heartbeats do not).
bool relevant_change(const NodeSpecInfo& a, const NodeSpecInfo& b) {
  return a.labels != b.labels || a.taints != b.taints || a.unschedulable != b.unschedulable || a.ready != b.ready ||
         !(a.allocatable == b.allocatable) || a.allowed_pods != b.allowed_pods;
}

}  // namespace

NodeInfo& ClusterCache::node_entry(const std::string& name) {
  auto& slot = nodes_[name];
  if (!slot) {
    slot = std::make_unique<NodeInfo>();
    slot->spec.name = name;
    slot->has_node = false;
  }
  return *slot;
}

void ClusterCache::count_images(const NodeSpecInfo& spec, int delta) {
  for (const auto& [image, size] : spec.image_sizes) {
    (void)size;
    if ((nodes_with_image_[image] += delta) <= 0) nodes_with_image_.erase(image);
  }
}

bool ClusterCache::set_node(NodeSpecInfo spec) {
  std::lock_guard lock(mu_);
  NodeInfo& node = node_entry(spec.name);
  bool relevant = !node.has_node || relevant_change(node.spec, spec);
  if (node.has_node) count_images(node.spec, -1);
  count_images(spec, +1);
  if (!node.has_node) schedulable_order_.push_back(&node);
  node.has_node = true;
  node.spec = std::move(spec);
  return relevant;
}

void ClusterCache::remove_node(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end() || !it->second->has_node) return;
  NodeInfo* node = it->second.get();
  count_images(node->spec, -1);
  schedulable_order_.erase(std::find(schedulable_order_.begin(), schedulable_order_.end(), node));
  if (node->pods.empty()) {
    nodes_.erase(it);
  } else {
    node->has_node = false;  // its pods keep their place until they go
    node->spec = NodeSpecInfo{};
    node->spec.name = name;
  }
}

void ClusterCache::place(std::shared_ptr<const PodInfo> pod, bool assumed) {
  node_entry(pod->node_name).add_pod(pod);
  const std::string key = pod->key;
  pods_[key] = PlacedPod{std::move(pod), assumed};
}

bool ClusterCache::unplace(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return false;
  const std::string node_name = it->second.pod->node_name;
  pods_.erase(it);
  auto node = nodes_.find(node_name);
  if (node == nodes_.end()) return true;
  node->second->remove_pod(key);
  if (!node->second->has_node && node->second->pods.empty()) nodes_.erase(node);
  return true;
}

bool ClusterCache::set_bound_pod(std::shared_ptr<const PodInfo> pod) {
  std::lock_guard lock(mu_);
  if (pod->finished() || !pod->bound()) return unplace(pod->key);
  unplace(pod->key);
  place(std::move(pod), false);
  return false;
}

bool ClusterCache::remove_pod(const std::string& key) {
  std::lock_guard lock(mu_);
  return unplace(key);
}

void ClusterCache::assume(std::shared_ptr<const PodInfo> pod) {
  std::lock_guard lock(mu_);
  unplace(pod->key);
  place(std::move(pod), true);
}

void ClusterCache::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  if (it != pods_.end() && it->second.assumed) unplace(key);
}

size_t ClusterCache::node_count() {
  std::lock_guard lock(mu_);
  return schedulable_order_.size();
}

std::optional<NodeInfo> ClusterCache::node(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return std::nullopt;
  return *it->second;
}

bool ClusterCache::is_assumed(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = pods_.find(key);
  return it != pods_.end() && it->second.assumed;
}

// Required pod affinity that nothing matches yet lets the pod in when it
// matches its own terms (so that the first pod of a group can start).
PodClusterState ClusterCache::pod_cluster_state(const PodInfo& pod) {
  PodClusterState state;
  if (pod.required_affinity.empty()) return state;
  for (const auto& term : pod.required_affinity) {
    if (!pod_matches_term(pod, term, pod.ns)) return state;
    for (const auto& [key, placed] : pods_)
      if (pod_matches_term(*placed.pod, term, pod.ns)) return state;
  }
  state.affinity_self_allowed = true;
  return state;
}

Decision ClusterCache::decide(const PodInfo& pod) {
  Decision d;
  const size_t n = schedulable_order_.size();
  if (n == 0) {
    d.failure_message = fit_error_message(0, {}, 0, pod.preempt_never);
    return d;
  }
  const size_t want = feasible_nodes_to_find(n);
  PodClusterState state = pod_cluster_state(pod);
  std::vector<const NodeInfo*> feasible;
  feasible.reserve(want);
  std::map<std::string, int> reasons;
  size_t resolvable = 0, processed = 0;
  for (; processed < n && feasible.size() < want; ++processed) {
    const NodeInfo* node = schedulable_order_[(next_start_ + processed) % n];
    FilterFailure f = filter_node(pod, *node, state);
    if (!f.failed()) {
      feasible.push_back(node);
      continue;
    }
    for (const auto& r : f.reasons) ++reasons[r];
    if (f.resolvable) ++resolvable;
  }
  next_start_ = (next_start_ + processed) % n;
  d.nodes_evaluated = processed;
  if (feasible.empty()) {
    d.failure_message = fit_error_message(n, reasons, resolvable, pod.preempt_never);
    return d;
  }
  if (feasible.size() == 1) {
    d.node = feasible[0]->spec.name;
    return d;
  }
  ImageSpread spread{&nodes_with_image_, static_cast<int>(n)};
  std::vector<int64_t> scores = score_nodes(pod, feasible, spread);
  // The best score; among equals, each is chosen with equal chance (reservoir sampling).
  size_t best = 0, ties = 1;
  for (size_t i = 1; i < scores.size(); ++i) {
    if (scores[i] > scores[best]) {
      best = i;
      ties = 1;
    } else if (scores[i] == scores[best] && rng_() % ++ties == 0) {
      best = i;
    }
  }
  d.node = feasible[best]->spec.name;
  return d;
}

Decision ClusterCache::schedule_and_assume(const PodInfo& pod) {
  std::lock_guard lock(mu_);
  Decision d = decide(pod);
  if (!d.node.empty()) {
    auto placed = std::make_shared<PodInfo>(pod);
    placed->node_name = d.node;
    unplace(pod.key);
    place(std::move(placed), true);
  }
  return d;
}

}  // namespace deckhand::scheduler
