// The measured sequence, the same for every runtime: N pods of one busybox
// `sleep 3600` container each are started (RunPodSandbox, then
// CreateContainer + StartContainer, each timed), memory is measured with all
// of them running, then each pod is taken down (StopContainer +
// RemoveContainer, StopPodSandbox + RemovePodSandbox, timed). Pods left by a
// failure or an interruption are removed, untimed, before returning.
#pragma once

#include <string>
#include <vector>

#include "proc_memory.h"
#include "runtime_under_test.h"

namespace deckhand::bench {

struct SequenceOptions {
  int pods = 50;
  int concurrency = 1;
  std::string image = "deckhand.test/busybox:latest";
  std::string run_tag;  // makes pod uids unique across runs
};

struct PodTimes {
  double sandbox_ms = 0;         // RunPodSandbox
  double container_ms = 0;       // CreateContainer + StartContainer
  double container_down_ms = 0;  // StopContainer + RemoveContainer
  double sandbox_down_ms = 0;    // StopPodSandbox + RemovePodSandbox
};

struct SequenceResult {
  std::string label;
  int pods = 0;
  std::vector<PodTimes> times;
  MemoryUse per_pod_processes;  // all pods together
  MemoryUse daemon;
  double start_wall_s = 0;     // all pods up
  double teardown_wall_s = 0;  // all pods gone
};

Result<SequenceResult> run_sequence(RuntimeUnderTest& rt, const SequenceOptions& o);

}  // namespace deckhand::bench
