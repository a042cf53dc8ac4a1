// Container probes and lifecycle hooks, as kubelet runs them.
//
// run_action() runs one exec / httpGet / tcpSocket action once (a probe's,
// or a postStart/preStop handler's). ProbeManager keeps a probe worker per
// (container instance, kind): it waits initialDelaySeconds, probes every
// periodSeconds with timeoutSeconds, and turns runs of successThreshold /
// failureThreshold results into the container's state:
//  - startup:   until it succeeds, `started` is false and the others do not run;
//               a failure (threshold reached) asks for a restart;
//  - liveness:  a failure (threshold reached) asks for a restart;
//  - readiness: `ready` follows it (false until the first success).
// A container with no probe of a kind counts as started / ready / live.
// When a container's state changes, on_change(pod_key) tells the pod's
// worker to sync again.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "deckhand/common/json.h"
#include "deckhand/cri/client.h"

namespace deckhand::agent {

enum class ProbeResult { Success, Failure };

struct ActionOutcome {
  ProbeResult result = ProbeResult::Failure;
  std::string message;  // why it failed: exit code and output, HTTP status, connect error
};

// Where an action runs: the container (exec) and the pod's IP (httpGet and
// tcpSocket without a host). Named ports resolve against container's ports.
struct ActionTarget {
  std::string container_id;
  std::string pod_ip;
  const Json* container = nullptr;  // the container's spec (for named ports)
};

// Runs a probe or lifecycle handler (the object holding exec / httpGet /
// tcpSocket) once, giving up after timeout. A handler with none of them is a
// Failure naming what is missing.
ActionOutcome run_action(cri::CriClient& cri, const Json& handler, const ActionTarget& target,
                         std::chrono::milliseconds timeout);

// What the probes say of one container instance now.
struct ContainerHealth {
  bool started = true;          // startup probe passed, or there is none
  bool ready = true;            // readiness probe passed last, or there is none
  bool restart_wanted = false;  // liveness or startup probe failed
  std::string message;          // with restart_wanted: the failing probe's message
};

class ProbeManager {
 public:
  // on_change is called from probe threads with the pod key ("ns/name").
  ProbeManager(std::shared_ptr<cri::CriClient> cri, std::function<void(const std::string& pod_key)> on_change);
  ~ProbeManager();  // stops and joins every probe
  ProbeManager(const ProbeManager&) = delete;
  ProbeManager& operator=(const ProbeManager&) = delete;

  // The running containers of a pod: container name -> container id. Probes
  // start for new instances (a restarted container gets fresh workers and
  // state) and stop for instances not listed any more.
  void update_pod(const std::string& pod_key, const Json& pod, const std::string& pod_ip,
                  const std::map<std::string, std::string>& running);
  // Stops every probe of the pod.
  void remove_pod(const std::string& pod_key);
  // The health of a container instance as of now. Call update_pod first:
  // an instance it has not seen gets the defaults (started, ready, live);
  // one it has seen with a startup/readiness probe starts not started / not ready.
  ContainerHealth health(const std::string& pod_key, const std::string& container_id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace deckhand::agent
