// Running child processes: a one-shot run with captured output (for plugin
// and runtime binaries), and an owned child handle that kills and reaps.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/common/fd.h"
#include "deckhand/common/result.h"

namespace deckhand {

struct Pipe {
  UniqueFd read, write;
};

// A pipe whose ends are close-on-exec.
Result<Pipe> make_pipe();

struct RunOptions {
  std::vector<std::string> argv;           // argv[0] is the program path (or a name found on PATH)
  std::optional<std::vector<std::string>> env;  // KEY=VALUE; the parent's environment if unset
  std::string stdin_data;
  std::chrono::milliseconds timeout{0};    // 0: no limit; the child is SIGKILLed when it runs out
  std::string cwd;
};

struct RunOutput {
  int exit_code = -1;   // exit status, or 128+signal when killed by a signal
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs a program to completion, feeding stdin and capturing stdout and stderr.
// Fails only when the program cannot be started; a non-zero exit is in RunOutput.
Result<RunOutput> run_process(const RunOptions& opts);

// A child we own: killed with SIGKILL and reaped when the handle is dropped
// without being released.
class ChildProcess {
 public:
  ChildProcess() = default;
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ChildProcess(ChildProcess&& o) noexcept;
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Waits for exit and returns the exit code (128+signal if signalled).
  Result<int> wait();
  pid_t release();

 private:
  pid_t pid_ = -1;
};

// For daemons, before they start threads: blocks SIGTERM and SIGINT in the
// calling thread (threads started later inherit that), so that one thread can
// sigwait() on the returned set; and ignores SIGPIPE (a client that went away
// is an error value on write, not a death).
sigset_t block_termination_signals();

// Start time of a process in clock ticks since boot (field 22 of
// /proc/<pid>/stat); together with the pid it names a process across pid reuse.
Result<uint64_t> process_start_time(pid_t pid);

// True when pid is alive and still the process that started at start_time.
bool process_matches(pid_t pid, uint64_t start_time);

}  // namespace deckhand
