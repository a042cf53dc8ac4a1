// Finding a runtime's processes in /proc and adding up their memory.
//
// PSS (proportional set size, from /proc/<pid>/smaps_rollup) is the primary
// figure: a page shared by k processes counts 1/k to each, so the sum over a
// set of processes is what that set costs the machine. RSS counts shared
// pages in full for every process and overstates what many copies of one
// program cost; it is printed beside PSS for comparison.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "deckhand/common/result.h"

namespace deckhand::bench {

struct ProcInfo {
  pid_t pid = 0;
  std::string program;               // basename of argv[0]
  std::string cmdline;               // argv joined with spaces
  std::vector<std::string> cgroups;  // the paths in /proc/<pid>/cgroup, one per hierarchy
};

// Every process we can read now (processes that exit meanwhile are skipped).
std::vector<ProcInfo> list_processes();

// True when one of the process's cgroups is tree or below it.
bool in_cgroup_tree(const ProcInfo& p, const std::string& tree);

struct MemoryUse {
  uint64_t pss_kib = 0;
  uint64_t rss_kib = 0;
  size_t processes = 0;

  MemoryUse& operator+=(const MemoryUse& o) {
    pss_kib += o.pss_kib;
    rss_kib += o.rss_kib;
    processes += o.processes;
    return *this;
  }
};

// Sums Pss and Rss of the processes; fails when one cannot be read (a
// process that exits while we measure would make the figure wrong).
Result<MemoryUse> memory_of(const std::vector<pid_t>& pids);

// SIGKILLs the processes (leftovers at cleanup).
void kill_pids(const std::vector<pid_t>& pids);

}  // namespace deckhand::bench
