// The container's end: its exit record, and whether the kernel's OOM killer
// struck inside its memory cgroup.
#pragma once

#include <sys/types.h>

#include <string>

#include "deckhand/runtime/monitor.h"

namespace deckhand::monitor {

// The JSON document read_exit_record parses.
std::string format_exit_record(const runtime::ExitRecord& r);

// exit_code from a waitpid status: the code, or 128+signal.
int exit_code_of(int wait_status);

// The oom_kill counter of a process's memory cgroup (v1 memory.oom_control
// or v2 memory.events), found while the process lives and read again after
// it died: a rise means the OOM killer acted.
class OomWatch {
 public:
  // Finds the counter of pid's memory cgroup; without one, oom_killed() stays false.
  void watch(pid_t pid);
  bool oom_killed() const;

 private:
  std::string counter_file_;
  long baseline_ = 0;
};

// Reads "oom_kill <n>" from a memory.oom_control / memory.events text; -1 if absent.
long parse_oom_kill(const std::string& text);

}  // namespace deckhand::monitor
