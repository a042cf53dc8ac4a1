// Taints and tolerations as the node lifecycle and DaemonSet controllers
// judge them: which NoExecute taints evict a pod and when, and which
// NoSchedule/NoExecute taints keep a pod off a node.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/api/taints.h"
#include "deckhand/common/json.h"
#include "deckhand/controllers/objects.h"

namespace deckhand::controllers {

inline constexpr const char* kTaintUnreachable = "node.kubernetes.io/unreachable";
inline constexpr const char* kTaintNotReady = "node.kubernetes.io/not-ready";

using api::Taint;
using api::Toleration;

// A node's spec.taints; a pod spec's tolerations.
std::vector<Taint> node_taints(const Json& node);
std::vector<Toleration> pod_tolerations(const Json& pod_spec);

// When a pod with these tolerations must go from a node with these taints:
// nullopt when never; Clock::time_point::min() when at once (a NoExecute
// taint it does not tolerate); else the earliest timeAdded +
// tolerationSeconds over the NoExecute taints it tolerates for a while.
std::optional<Clock::time_point> eviction_time(const std::vector<Toleration>& tolerations,
                                               const std::vector<Taint>& taints);

// Whether every taint of these effects is tolerated.
bool tolerates_all(const std::vector<Toleration>& tolerations, const std::vector<Taint>& taints,
                   const std::vector<std::string>& effects);

}  // namespace deckhand::controllers
