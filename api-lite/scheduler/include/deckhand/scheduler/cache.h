// The scheduler's view of the cluster: nodes and the pods placed on them,
// bound (seen with spec.nodeName) or assumed (bound by us, not yet seen so).
// Informer threads write it; the scheduling loop decides a pod under its lock.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "deckhand/scheduler/framework.h"

namespace deckhand::scheduler {

struct Decision {
  std::string node;             // empty: no node fits
  std::string failure_message;  // the FailedScheduling message when none fits
  size_t nodes_evaluated = 0;
};

class ClusterCache {
 public:
  // True when the node is new or changed in a way that can make a waiting
  // pod fit (labels, taints, readiness, allocatable, unschedulable).
  bool set_node(NodeSpecInfo spec);
  void remove_node(const std::string& name);

  // A pod seen bound (confirms an assumed one) or changed; a pod that finished
  // or left is removed. Returns true when resources were freed.
  bool set_bound_pod(std::shared_ptr<const PodInfo> pod);
  bool remove_pod(const std::string& key);

  // Counts pod (with node_name set) on its node before the bind is observed.
  void assume(std::shared_ptr<const PodInfo> pod);
  // Undoes assume after a failed bind (unless the pod was seen bound meanwhile).
  void forget(const std::string& key);

  // Filters over (a sample of) the nodes, scores the feasible ones, and
  // assumes the pod on the best; ties are broken at random.
  Decision schedule_and_assume(const PodInfo& pod);

  size_t node_count();
  // For tests: a copy of what is counted on a node.
  std::optional<NodeInfo> node(const std::string& name);
  bool is_assumed(const std::string& key);

 private:
  struct PlacedPod {
    std::shared_ptr<const PodInfo> pod;
    bool assumed = false;
  };
  NodeInfo& node_entry(const std::string& name);
  void place(std::shared_ptr<const PodInfo> pod, bool assumed);
  bool unplace(const std::string& key);
  void count_images(const NodeSpecInfo& spec, int delta);
  PodClusterState pod_cluster_state(const PodInfo& pod);
  Decision decide(const PodInfo& pod);

  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<NodeInfo>> nodes_;
  std::vector<NodeInfo*> schedulable_order_;  // nodes with a Node object, in a stable order
  std::unordered_map<std::string, PlacedPod> pods_;
  std::unordered_map<std::string, int> nodes_with_image_;
  size_t next_start_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace deckhand::scheduler
