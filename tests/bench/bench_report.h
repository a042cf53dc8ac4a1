// The side-by-side table and the verdict on the targets: deckhand-cri's
// pod start median at most 1/3 of containerd+runc's, its per-pod memory at
// most 1/5 in both views (per-pod processes; all runtime processes with the
// daemon), on PSS.
#pragma once

#include <string>
#include <vector>

#include "bench_stats.h"
#include "pod_sequence.h"

namespace deckhand::bench {

struct Report {
  int pods = 0;
  int concurrency = 1;
  std::vector<SequenceResult> columns;  // deckhand-cri first, then containerd+runc, ...
  std::vector<std::string> notes;       // "containerd+crun: skipped (...)" and failures
};

// Prints the table to stdout; returns false when a target is not met or
// cannot be judged (a runtime failed).
bool print_report(const Report& r);

}  // namespace deckhand::bench
