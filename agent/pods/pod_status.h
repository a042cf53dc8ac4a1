// A pod's status as the apiserver shows it, computed from what the runtime
// says of its sandbox and containers and from what the worker is holding
// back (image pull failures, crash-loop back-off): phase, conditions,
// container statuses, IPs. Pure: the worker gathers a PodView, this makes JSON.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/common/json.h"
#include "runtime.pb.h"

namespace deckhand::agent {

// One container of the spec as the runtime has it.
struct ContainerView {
  std::optional<::runtime::v1::ContainerStatus> latest;    // the newest instance
  std::optional<::runtime::v1::ContainerStatus> previous;  // the one before it: lastState
  // Why the worker does not (re)start it now (ErrImagePull, CrashLoopBackOff, ...); empty if not held back.
  std::string waiting_reason, waiting_message;
  // What its probes say of the running instance (no probes: both true).
  bool started = true, ready = true;
};

struct PodView {
  bool sandbox_ready = false;
  std::vector<std::string> pod_ips;
  std::map<std::string, ContainerView> containers;  // by container name (init and app names differ)
  std::string runtime_name;                         // "deckhand-cri": containerID is "<runtime_name>://<id>"
  std::string host_ip;
};

// RFC 3339 in UTC with seconds, as metav1.Time ("2026-01-02T03:04:05Z").
std::string rfc3339(int64_t unix_nanos);
std::string rfc3339_now();
// Unix seconds of "2026-01-02T03:04:05Z" (fractions ignored); nullopt for other text.
std::optional<int64_t> parse_rfc3339(const std::string& text);

// Set when the agent itself ends the pod (activeDeadlineSeconds): phase
// Failed with this reason and message.
struct PodFailure {
  std::string reason, message;
};

// Pending, Running, Succeeded or Failed, by kubelet's rules.
std::string pod_phase(const Json& pod, const PodView& view);

// The new status: the pod's old one with what the runtime says put over it
// (conditions keep their lastTransitionTime while they hold; startTime,
// qosClass and fields we do not own are kept).
Json make_pod_status(const Json& pod, const PodView& view, const std::string& now,
                     const std::optional<PodFailure>& failure = std::nullopt);

}  // namespace deckhand::agent
