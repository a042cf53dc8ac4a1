// Filters, scores and the FailedScheduling message, after kube-scheduler's
// default plugins (NodeUnschedulable, TaintToleration, NodeAffinity,
// NodePorts, NodeResourcesFit, InterPodAffinity; LeastAllocated,
// BalancedAllocation, ImageLocality, SelectorSpread).
#include "deckhand/scheduler/framework.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace deckhand::scheduler {

namespace {

constexpr const char* kHostnameKey = "kubernetes.io/hostname";
constexpr int64_t kMaxScore = 100;

// Gt/Lt and friends as in pod_info; a pod's term applies to pods in these namespaces.
bool in_term_namespaces(const PodAffinityTerm& term, const std::string& term_owner_ns, const std::string& ns) {
  if (term.all_namespaces) return true;
  if (term.namespaces.empty()) return ns == term_owner_ns;
  return std::find(term.namespaces.begin(), term.namespaces.end(), ns) != term.namespaces.end();
}

bool same_topology(const PodAffinityTerm& term) { return term.topology_key == kHostnameKey; }

bool violates_own_anti_affinity(const PodInfo& pod, const NodeInfo& node) {
  for (const auto& term : pod.required_anti_affinity) {
    if (!same_topology(term)) continue;
    for (const auto& other : node.pods)
      if (other->key != pod.key && pod_matches_term(*other, term, pod.ns)) return true;
  }
  return false;
}

bool violates_existing_anti_affinity(const PodInfo& pod, const NodeInfo& node) {
  if (node.pods_with_anti_affinity == 0) return false;
  for (const auto& other : node.pods)
    for (const auto& term : other->required_anti_affinity)
      if (same_topology(term) && other->key != pod.key && pod_matches_term(pod, term, other->ns)) return true;
  return false;
}

bool satisfies_pod_affinity(const PodInfo& pod, const NodeInfo& node, const PodClusterState& state) {
  if (pod.required_affinity.empty() || state.affinity_self_allowed) return true;
  for (const auto& term : pod.required_affinity) {
    if (!same_topology(term)) continue;  // only hostname topology is supported
    bool found = false;
    for (const auto& other : node.pods)
      if (pod_matches_term(*other, term, pod.ns)) {
        found = true;
        break;
      }
    if (!found) return false;
  }
  return true;
}

// Kubernetes' DefaultNormalizeScore: scale to 0-100 by the maximum, reversed or not.
void normalize(std::vector<int64_t>& raw, bool reverse) {
  int64_t max = 0;
  for (int64_t v : raw) max = std::max(max, v);
  for (int64_t& v : raw) {
    if (max == 0) {
      v = reverse ? kMaxScore : 0;
      continue;
    }
    v = v * kMaxScore / max;
    if (reverse) v = kMaxScore - v;
  }
}

int64_t free_fraction_score(int64_t requested, int64_t allocatable) {
  if (allocatable <= 0 || requested > allocatable) return 0;
  return (allocatable - requested) * kMaxScore / allocatable;
}

}  // namespace

void NodeInfo::add_pod(std::shared_ptr<const PodInfo> pod) {
  requested += pod->requests;
  nonzero_requested += pod->nonzero_requests;
  ++pod_count;
  used_ports.insert(used_ports.end(), pod->host_ports.begin(), pod->host_ports.end());
  if (!pod->owner_uid.empty()) ++pods_per_owner[pod->owner_uid];
  if (!pod->required_anti_affinity.empty()) ++pods_with_anti_affinity;
  pods.push_back(std::move(pod));
}

void NodeInfo::remove_pod(const std::string& key) {
  auto it = std::find_if(pods.begin(), pods.end(), [&](const auto& p) { return p->key == key; });
  if (it == pods.end()) return;
  const PodInfo& pod = **it;
  requested -= pod.requests;
  nonzero_requested -= pod.nonzero_requests;
  --pod_count;
  for (const HostPort& hp : pod.host_ports) {
    auto used = std::find_if(used_ports.begin(), used_ports.end(), [&](const HostPort& u) {
      return u.port == hp.port && u.protocol == hp.protocol && u.host_ip == hp.host_ip;
    });
    if (used != used_ports.end()) used_ports.erase(used);
  }
  if (!pod.owner_uid.empty() && --pods_per_owner[pod.owner_uid] <= 0) pods_per_owner.erase(pod.owner_uid);
  if (!pod.required_anti_affinity.empty()) --pods_with_anti_affinity;
  pods.erase(it);
}

bool fits_node_unschedulable(const PodInfo& pod, const NodeInfo& node) {
  if (!node.spec.unschedulable) return true;
  return tolerated(pod.tolerations, Taint{"node.kubernetes.io/unschedulable", "", "NoSchedule"});
}

bool fits_node_affinity(const PodInfo& pod, const NodeSpecInfo& node) {
  for (const auto& [key, value] : pod.node_selector) {
    auto it = node.labels.find(key);
    if (it == node.labels.end() || it->second != value) return false;
  }
  if (pod.required_node_terms.empty()) return true;
  for (const auto& term : pod.required_node_terms)
    if (term.matches(node.labels, node.name)) return true;
  return false;
}

const Taint* untolerated_taint(const PodInfo& pod, const NodeSpecInfo& node) {
  for (const Taint& t : node.taints) {
    if (t.effect != "NoSchedule" && t.effect != "NoExecute") continue;
    if (!tolerated(pod.tolerations, t)) return &t;
  }
  return nullptr;
}

std::vector<std::string> insufficient_resources(const PodInfo& pod, const NodeInfo& node) {
  std::vector<std::string> out;
  if (node.pod_count + 1 > node.spec.allowed_pods) out.push_back(reason::kTooManyPods);
  const Resources& r = pod.requests;
  const Resources& alloc = node.spec.allocatable;
  if (r.milli_cpu > 0 && r.milli_cpu > alloc.milli_cpu - node.requested.milli_cpu) out.push_back("Insufficient cpu");
  if (r.memory > 0 && r.memory > alloc.memory - node.requested.memory) out.push_back("Insufficient memory");
  if (r.ephemeral_storage > 0 && r.ephemeral_storage > alloc.ephemeral_storage - node.requested.ephemeral_storage)
    out.push_back("Insufficient ephemeral-storage");
  return out;
}

bool fits_host_ports(const PodInfo& pod, const NodeInfo& node) {
  for (const HostPort& want : pod.host_ports)
    for (const HostPort& used : node.used_ports)
      if (want.conflicts(used)) return false;
  return true;
}

bool pod_matches_term(const PodInfo& candidate, const PodAffinityTerm& term, const std::string& term_owner_ns) {
  return in_term_namespaces(term, term_owner_ns, candidate.ns) && term.selector.matches(candidate.labels);
}

FilterFailure filter_node(const PodInfo& pod, const NodeInfo& node, const PodClusterState& state) {
  if (!fits_node_unschedulable(pod, node)) return {{reason::kUnschedulable}, false};
  if (!node.spec.ready) return {{reason::kNotReady}, false};
  if (const Taint* t = untolerated_taint(pod, node.spec))
    return {{fmt::format("node(s) had untolerated taint {{{}: {}}}", t->key, t->value)}, false};
  if (!fits_node_affinity(pod, node.spec)) return {{reason::kAffinity}, false};
  if (!pod.host_ports.empty() && !fits_host_ports(pod, node)) return {{reason::kPorts}, true};
  if (auto missing = insufficient_resources(pod, node); !missing.empty()) return {std::move(missing), true};
  if (!pod.required_affinity.empty() && !satisfies_pod_affinity(pod, node, state))
    return {{reason::kPodAffinity}, false};
  if (!pod.required_anti_affinity.empty() && violates_own_anti_affinity(pod, node))
    return {{reason::kAntiAffinity}, true};
  if (violates_existing_anti_affinity(pod, node)) return {{reason::kExistingAntiAffinity}, true};
  return {};
}

int64_t least_allocated_score(const PodInfo& pod, const NodeInfo& node) {
  const Resources& alloc = node.spec.allocatable;
  int64_t cpu = free_fraction_score(node.nonzero_requested.milli_cpu + pod.nonzero_requests.milli_cpu, alloc.milli_cpu);
  int64_t mem = free_fraction_score(node.nonzero_requested.memory + pod.nonzero_requests.memory, alloc.memory);
  return (cpu + mem) / 2;
}

int64_t balanced_allocation_score(const PodInfo& pod, const NodeInfo& node) {
  const Resources& alloc = node.spec.allocatable;
  if (alloc.milli_cpu <= 0 || alloc.memory <= 0) return 0;
  // Requests, not the non-zero defaults (kube's BalancedAllocation since 1.26).
  double cpu = std::min(1.0, static_cast<double>(node.requested.milli_cpu + pod.requests.milli_cpu) /
                                 static_cast<double>(alloc.milli_cpu));
  double mem = std::min(1.0, static_cast<double>(node.requested.memory + pod.requests.memory) /
                                 static_cast<double>(alloc.memory));
  double std_dev = std::fabs(cpu - mem) / 2;
  return static_cast<int64_t>((1 - std_dev) * kMaxScore);
}

int64_t image_locality_score(const PodInfo& pod, const NodeInfo& node, const ImageSpread& spread) {
  if (pod.images.empty() || node.spec.image_sizes.empty() || spread.total_nodes <= 0) return 0;
  constexpr int64_t kMb = 1024 * 1024;
  constexpr int64_t kMinThreshold = 23 * kMb;
  const int64_t max_threshold = 1000 * kMb * static_cast<int64_t>(pod.images.size());
  double sum = 0;
  for (const std::string& image : pod.images) {
    auto it = node.spec.image_sizes.find(image);
    if (it == node.spec.image_sizes.end()) continue;
    int with = 1;
    if (spread.nodes_with_image != nullptr)
      if (auto c = spread.nodes_with_image->find(image); c != spread.nodes_with_image->end()) with = c->second;
    sum += static_cast<double>(it->second) * with / spread.total_nodes;
  }
  double clamped = std::clamp(sum, static_cast<double>(kMinThreshold), static_cast<double>(max_threshold));
  return static_cast<int64_t>(kMaxScore * (clamped - kMinThreshold) / static_cast<double>(max_threshold - kMinThreshold));
}

int64_t preferred_affinity_raw(const PodInfo& pod, const NodeSpecInfo& node) {
  int64_t sum = 0;
  for (const auto& p : pod.preferred_node_terms)
    if (p.weight > 0 && p.term.matches(node.labels, node.name)) sum += p.weight;
  return sum;
}

int64_t intolerable_prefer_no_schedule(const PodInfo& pod, const NodeSpecInfo& node) {
  int64_t count = 0;
  for (const Taint& t : node.taints) {
    if (t.effect != "PreferNoSchedule") continue;
    bool ok = false;
    for (const Toleration& tol : pod.tolerations)
      if ((tol.effect.empty() || tol.effect == "PreferNoSchedule") && tol.tolerates(t)) ok = true;
    if (!ok) ++count;
  }
  return count;
}

int64_t same_owner_pods(const PodInfo& pod, const NodeInfo& node) {
  if (pod.owner_uid.empty()) return 0;
  auto it = node.pods_per_owner.find(pod.owner_uid);
  return it == node.pods_per_owner.end() ? 0 : it->second;
}

std::vector<int64_t> score_nodes(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes,
                                 const ImageSpread& spread, const ScoreWeights& w) {
  const size_t n = nodes.size();
  std::vector<int64_t> total(n, 0), affinity(n), taints(n), spreading(n);
  for (size_t i = 0; i < n; ++i) {
    const NodeInfo& node = *nodes[i];
    total[i] = w.least_allocated * least_allocated_score(pod, node) +
               w.balanced_allocation * balanced_allocation_score(pod, node) +
               w.image_locality * image_locality_score(pod, node, spread);
    affinity[i] = pod.preferred_node_terms.empty() ? 0 : preferred_affinity_raw(pod, node.spec);
    taints[i] = intolerable_prefer_no_schedule(pod, node.spec);
    spreading[i] = same_owner_pods(pod, node);
  }
  normalize(affinity, false);
  normalize(taints, true);
  normalize(spreading, true);
  for (size_t i = 0; i < n; ++i)
    total[i] += w.node_affinity * affinity[i] + w.taint_toleration * taints[i] + w.selector_spread * spreading[i];
  return total;
}

size_t feasible_nodes_to_find(size_t all_nodes) {
  constexpr size_t kMinFeasible = 100;
  if (all_nodes < kMinFeasible) return all_nodes;
  int64_t percentage = 50 - static_cast<int64_t>(all_nodes) / 125;
  percentage = std::max<int64_t>(percentage, 5);
  size_t count = all_nodes * static_cast<size_t>(percentage) / 100;
  return std::max(count, kMinFeasible);
}

std::string fit_error_message(size_t all_nodes, const std::map<std::string, int>& reasons, size_t resolvable_nodes,
                              bool preempt_never) {
  if (all_nodes == 0) return "no nodes available to schedule pods";
  // kube-scheduler sorts "<count> <reason>" as strings.
  auto histogram = [](const std::map<std::string, int>& counts) {
    std::vector<std::string> parts;
    for (const auto& [text, count] : counts)
      if (count > 0) parts.push_back(fmt::format("{} {}", count, text));
    std::sort(parts.begin(), parts.end());
    return fmt::format("{}", fmt::join(parts, ", "));
  };
  std::string msg = fmt::format("0/{} nodes are available: {}.", all_nodes, histogram(reasons));
  if (preempt_never) return msg + " preemption: not eligible due to preemptionPolicy=Never.";
  std::map<std::string, int> preemption{
      {"No preemption victims found for incoming pod", static_cast<int>(resolvable_nodes)},
      {"Preemption is not helpful for scheduling", static_cast<int>(all_nodes - resolvable_nodes)}};
  return msg + fmt::format(" preemption: 0/{} nodes are available: {}.", all_nodes, histogram(preemption));
}

}  // namespace deckhand::scheduler
