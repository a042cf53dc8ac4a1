// deckhand-monitor: a small process per container, like conmon. It runs the
// OCI runtime's `create`, owns the container's stdout and stderr and writes
// them to the CRI log file, waits for the container's exit and records it,
// and lives on when deckhand-cri dies. This header is the contract between
// deckhand-cri and the monitor binary.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/common/result.h"

namespace deckhand::runtime {

struct MonitorSpec {
  std::string monitor_binary;   // path of deckhand-monitor
  std::string runtime_binary;   // runc / crun
  std::string runtime_root;     // its --root
  std::string id;
  std::string bundle;           // directory with config.json
  std::string log_path;         // CRI log file; empty: output discarded
  std::string state_dir;        // monitor files: exit, monitor.pid, container.pid, monitor.log (its stderr)
};

struct MonitorStarted {
  pid_t monitor_pid = 0;
  uint64_t monitor_start_time = 0;
  pid_t container_pid = 0;
  uint64_t container_start_time = 0;
};

// Starts the monitor (detached: its own session, reparented away from us) and
// waits until the runtime's `create` finished. On failure the error carries the
// runtime's stderr, and no monitor or container is left behind.
Result<MonitorStarted> start_monitor(const MonitorSpec& spec);

// Written by the monitor to <state_dir>/exit (atomically) when the container exits.
struct ExitRecord {
  int exit_code = 0;        // 128+signal when killed
  int64_t finished_at = 0;  // ns since the epoch
  bool oom_killed = false;
};

// nullopt while the container has not exited.
Result<std::optional<ExitRecord>> read_exit_record(const std::string& state_dir);

// Asks the monitor to reopen the log file (after rotation): SIGUSR1.
Status reopen_log(pid_t monitor_pid);
// The same, but only if monitor_pid still names the monitor that started at
// monitor_start_time (NotFound otherwise): a reused pid is never signalled.
Status reopen_log(pid_t monitor_pid, uint64_t monitor_start_time);

// Formats one CRI log line: "<RFC3339Nano> <stream> <P|F> <content>\n".
std::string cri_log_line(int64_t time_ns, const char* stream, bool partial, std::string_view content);

}  // namespace deckhand::runtime
