// The sandbox process: deckhand-pause, started in the pod's new namespaces,
// and the pin that keeps its network namespace alive for CNI.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

#include "deckhand/common/result.h"

namespace deckhand::runtime {

struct PauseSpec {
  std::string pause_binary;
  bool new_net = true, new_ipc = true, new_uts = true, new_pid = false;
  std::string hostname;                        // set inside the new UTS namespace
  std::map<std::string, std::string> sysctls;  // written inside the new namespaces
  std::string cgroup_procs;                    // cgroup.procs file(s) to join, ';'-separated; may be empty
};

struct PauseStarted {
  pid_t pid = 0;
  uint64_t start_time = 0;
};

// Starts deckhand-pause detached (own session, reparented away from us) in
// the namespaces asked for and returns once it is ready (hostname and sysctls
// applied). Nothing is left behind on failure.
Result<PauseStarted> start_pause(const PauseSpec& spec);

// Stops the pause process (SIGKILL if it ignores SIGTERM within grace).
Status stop_pause(pid_t pid, uint64_t start_time);

// Pins /proc/<pid>/ns/net at path (a file bind mount), so the namespace
// outlives the process; unpin unmounts and removes it (missing is fine).
Status pin_netns(pid_t pid, const std::string& path);
Status unpin_netns(const std::string& path);

}  // namespace deckhand::runtime
