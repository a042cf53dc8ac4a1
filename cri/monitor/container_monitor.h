// deckhand-monitor's work: run the runtime's `create`, report the result,
// copy the container's output into the CRI log, record its exit.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "deckhand/common/fd.h"
#include "deckhand/common/result.h"
#include "exit_record.h"
#include "log_writer.h"
#include "options.h"

namespace deckhand::monitor {

// What the monitor writes on the sync fd, then closes it:
// "ok <container pid>\n" or "error <runtime's message>".
std::string sync_ok(pid_t container_pid);
std::string sync_error(std::string_view message);

class ContainerMonitor {
 public:
  explicit ContainerMonitor(MonitorOptions opts);
  // The monitor's exit code: 0 once the container's exit is recorded.
  int run();

 private:
  struct Stream {
    const char* name;
    UniqueFd fd;
  };

  Status set_up();
  Status make_output_pipes(UniqueFd& out_w, UniqueFd& err_w);
  Result<pid_t> spawn_runtime(const UniqueFd& out_w, const UniqueFd& err_w);
  Result<pid_t> create_container();
  Status wait_for_runtime(pid_t runtime_pid, int& status);
  Result<pid_t> read_container_pid();
  void clean_up_failed_create();
  void report(const std::string& message);
  Status serve();
  void reap();
  void handle_signals();
  void read_stream(Stream& s, bool to_log);
  void drain_streams();
  Status write_exit_record(int wait_status);

  MonitorOptions opts_;
  CriLogWriter log_;
  UniqueFd signal_fd_, devnull_, sync_;
  Stream out_{"stdout", {}}, err_{"stderr", {}};
  std::string runtime_output_;     // what the runtime said during create
  std::map<pid_t, int> reaped_;    // wait statuses of children reaped so far
  pid_t container_pid_ = 0;
  int64_t finished_at_ = 0;        // set when the container was reaped
  OomWatch oom_;
};

}  // namespace deckhand::monitor
