// What the pod sequence needs to know about a runtime it measures: the CRI
// client to drive it, where its pods go (cgroups, logs), and which processes
// count as its per-pod and its daemon memory. deckhand-cri and containerd
// (once with runc, once with crun) each provide one.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "deckhand/common/result.h"
#include "deckhand/cri/client.h"

namespace deckhand::bench {

class RuntimeUnderTest {
 public:
  virtual ~RuntimeUnderTest() = default;

  virtual std::string label() const = 0;  // column title: "deckhand-cri", "containerd+runc"
  virtual cri::CriClient& client() = 0;
  virtual std::string runtime_handler() const { return ""; }
  // Pod i gets linux.cgroup_parent <cgroup_root>/pod-<i>, logs in <log_root>/pod-<i>.
  virtual std::string cgroup_root() const = 0;
  virtual std::string log_root() const = 0;

  // The processes that exist once per pod (pause and monitor or shim), and
  // the daemon's own. Pod workloads (the sleep) are not runtime memory.
  virtual Result<std::vector<pid_t>> per_pod_processes() const = 0;
  virtual std::vector<pid_t> daemon_processes() const = 0;
};

}  // namespace deckhand::bench
