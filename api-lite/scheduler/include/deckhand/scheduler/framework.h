// The scheduling rules: filters (can this pod run on this node?) and scores
// (how good is this node for it?), as kube-scheduler's default plugins
// define them, over the parsed structs of pod_info.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "deckhand/scheduler/pod_info.h"

namespace deckhand::scheduler {

// A node with what is placed on it (bound and assumed pods).
struct NodeInfo {
  NodeSpecInfo spec;
  bool has_node = true;  // false: pods name a node we have not seen (yet)
  Resources requested;
  Resources nonzero_requested;
  int64_t pod_count = 0;
  std::vector<HostPort> used_ports;
  std::vector<std::shared_ptr<const PodInfo>> pods;
  std::unordered_map<std::string, int> pods_per_owner;  // controller owner uid -> pods here
  int pods_with_anti_affinity = 0;

  void add_pod(std::shared_ptr<const PodInfo> pod);
  void remove_pod(const std::string& key);
};

// kube-scheduler's per-filter reasons.
namespace reason {
inline constexpr const char* kUnschedulable = "node(s) were unschedulable";
inline constexpr const char* kNotReady = "node(s) were not ready";
inline constexpr const char* kTooManyPods = "Too many pods";
inline constexpr const char* kAffinity = "node(s) didn't match Pod's node affinity/selector";
inline constexpr const char* kPorts = "node(s) didn't have free ports for the requested pod ports";
inline constexpr const char* kAntiAffinity = "node(s) didn't match pod anti-affinity rules";
inline constexpr const char* kExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules";
inline constexpr const char* kPodAffinity = "node(s) didn't match pod affinity rules";
}  // namespace reason

// Why a node does not fit: the reasons of the first failing filter, and
// whether preemption could in principle help (kube's Unschedulable versus
// UnschedulableAndUnresolvable).
struct FilterFailure {
  std::vector<std::string> reasons;
  bool resolvable = false;
  bool failed() const { return !reasons.empty(); }
};

// What filters need to know about the whole cluster for one pod (PreFilter).
struct PodClusterState {
  // Required pod affinity terms that no pod anywhere matches yet: allowed
  // when the pod matches them itself (the first pod of a group).
  bool affinity_self_allowed = false;
};

// Filters in kube-scheduler's order; stops at the first that fails.
FilterFailure filter_node(const PodInfo& pod, const NodeInfo& node, const PodClusterState& state);

// Single filters, for tests and reuse.
bool fits_node_unschedulable(const PodInfo& pod, const NodeInfo& node);
bool fits_node_affinity(const PodInfo& pod, const NodeSpecInfo& node);
const Taint* untolerated_taint(const PodInfo& pod, const NodeSpecInfo& node);  // NoSchedule/NoExecute
std::vector<std::string> insufficient_resources(const PodInfo& pod, const NodeInfo& node);
bool fits_host_ports(const PodInfo& pod, const NodeInfo& node);
bool pod_matches_term(const PodInfo& candidate, const PodAffinityTerm& term, const std::string& term_owner_ns);

// Scores, 0-100 each, and the weights they are summed with.
struct ScoreWeights {
  int least_allocated = 1;
  int balanced_allocation = 1;
  int image_locality = 1;
  int node_affinity = 2;
  int selector_spread = 2;
  int taint_toleration = 3;
};

struct ImageSpread {
  const std::unordered_map<std::string, int>* nodes_with_image = nullptr;
  int total_nodes = 0;
};

int64_t least_allocated_score(const PodInfo& pod, const NodeInfo& node);
int64_t balanced_allocation_score(const PodInfo& pod, const NodeInfo& node);
int64_t image_locality_score(const PodInfo& pod, const NodeInfo& node, const ImageSpread& spread);
// Raw values, normalized over all feasible nodes by score_nodes.
int64_t preferred_affinity_raw(const PodInfo& pod, const NodeSpecInfo& node);
int64_t intolerable_prefer_no_schedule(const PodInfo& pod, const NodeSpecInfo& node);
int64_t same_owner_pods(const PodInfo& pod, const NodeInfo& node);

// The weighted total of every score for each feasible node.
std::vector<int64_t> score_nodes(const PodInfo& pod, const std::vector<const NodeInfo*>& nodes,
                                 const ImageSpread& spread, const ScoreWeights& weights = {});

// How many feasible nodes to look for before scoring (kube-scheduler's
// adaptive percentageOfNodesToScore, at least 100).
size_t feasible_nodes_to_find(size_t all_nodes);

// The FailedScheduling message: "0/3 nodes are available: 1 Insufficient cpu,
// 2 node(s) had untolerated taint {k: v}. preemption: 0/3 nodes are
// available: 1 No preemption victims found for incoming pod, 2 Preemption is
// not helpful for scheduling." `reasons` counts nodes per reason;
// `resolvable_nodes` is how many failed only on resolvable filters.
std::string fit_error_message(size_t all_nodes, const std::map<std::string, int>& reasons, size_t resolvable_nodes,
                              bool preempt_never);

}  // namespace deckhand::scheduler
