// The sandbox process: deckhand-pause, started in the pod's new namespaces,
// and the pin that keeps its network namespace alive for CNI.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "deckhand/common/result.h"

namespace deckhand::runtime {

struct PauseSpec {
  std::string pause_binary;
  bool new_net = true, new_ipc = true, new_uts = true, new_pid = false;
  std::string hostname;                        // set inside the new UTS namespace
  std::map<std::string, std::string> sysctls;  // written inside the new namespaces
  std::string cgroup_procs;                    // cgroup.procs file(s) to join, ';'-separated; may be empty
  // cgroup.procs files pause writes itself once it is ready. Moving a process
  // between v1 cgroups waits for RCU (about 1 ms per hierarchy): done by pause,
  // it overlaps with network setup instead of delaying the pod.
  std::vector<std::string> join_after_ready;
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
Status stop_pause(pid_t pid, uint64_t start_time, std::chrono::milliseconds grace);

// Pins /proc/<pid>/ns/net at path (a file bind mount), so the namespace
// outlives the process; unpin unmounts and removes it (missing is fine).
Status pin_netns(pid_t pid, const std::string& path);
Status unpin_netns(const std::string& path);

// A program started outside our process tree, as pause and the monitors are:
// an intermediate child makes a new session, joins cgroups, unshares
// namespaces, forks the program and exits, so the program is neither our
// child nor our zombie and lives on when we die.
struct DetachedSpec {
  std::vector<std::string> argv;           // argv[0]: path of the program
  int stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;  // -1: /dev/null
  std::vector<int> pass_fds;               // become fds 3, 4, ... in the program
  int unshare_flags = 0;                   // CLONE_NEW*; with CLONE_NEWPID the program is PID 1
  std::vector<std::string> cgroup_procs;   // cgroup.procs files joined before the program starts
};

// Returns the program's pid (in our PID namespace) once it has been exec'd;
// fails with the errno and step when any part of the set-up or the exec failed.
Result<pid_t> spawn_detached(const DetachedSpec& spec);

// SIGTERM, then SIGKILL when it has not exited within grace. A process that
// is gone, or whose pid now names another process (start_time differs), is
// fine and never signalled.
Status stop_process(pid_t pid, uint64_t start_time, std::chrono::milliseconds grace);

// Waits until the process exits (need not be our child); false on timeout.
Result<bool> wait_process_exit(pid_t pid, uint64_t start_time, std::chrono::milliseconds timeout);

}  // namespace deckhand::runtime
