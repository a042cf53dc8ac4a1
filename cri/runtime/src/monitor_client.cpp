#include "deckhand/runtime/monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>

#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/common/process.h"
#include "deckhand/runtime/pause.h"

namespace deckhand::runtime {

namespace {

using Clock = std::chrono::steady_clock;
// The monitor gives the runtime's create 60 s; this covers that and its clean-up.
constexpr auto kCreateDeadline = std::chrono::seconds(100);

Result<std::string> absolute(const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  if (ec) return fail(ErrorKind::InvalidArgument, "make {} absolute: {}", path, ec.message());
  return abs.lexically_normal().string();
}

// The monitor runs with cwd "/" for its whole life: every path must be absolute.
Result<MonitorSpec> absolute_paths(MonitorSpec s) {
  for (std::string* p : {&s.bundle, &s.runtime_root, &s.log_path, &s.state_dir}) {
    DH_TRY(abs, absolute(*p));
    *p = abs;
  }
  if (s.monitor_binary.find('/') != std::string::npos) {
    DH_TRY(abs, absolute(s.monitor_binary));
    s.monitor_binary = abs;
  }
  return s;
}

std::vector<std::string> monitor_argv(const MonitorSpec& s) {
  std::vector<std::string> argv{s.monitor_binary, "--id",      s.id,           "--bundle",     s.bundle,
                                "--runtime",      s.runtime_binary, "--runtime-root", s.runtime_root,
                                "--state-dir",    s.state_dir, "--sync-fd",    "3"};
  if (!s.log_path.empty()) argv.insert(argv.end(), {"--log-path", s.log_path});
  return argv;
}

// Everything the monitor wrote on the sync pipe, until it closed it.
Result<std::string> read_sync(int fd, Clock::time_point deadline) {
  std::string text;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return fail(ErrorKind::DeadlineExceeded, "deckhand-monitor did not report within {} s",
                               kCreateDeadline.count());
    pollfd pfd{fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sys_fail("poll sync pipe of deckhand-monitor");
    if (r == 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("read sync pipe of deckhand-monitor");
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
  }
}

std::string tail_of_file(const std::string& path) {
  auto text = fs::read_file(path);
  if (!text) return {};
  std::string t = text->size() > 2048 ? text->substr(text->size() - 2048) : *text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t;
}

Result<pid_t> parse_ok(std::string_view text) {
  text.remove_prefix(3);
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || pid <= 0) return fail(ErrorKind::Internal, "deckhand-monitor sent a bad pid: {}", text);
  return pid;
}

// Turns the monitor's report into the result; a monitor that failed is waited for
// (it exits right after reporting), so nothing is left when we return.
Result<MonitorStarted> finish_start(const MonitorSpec& spec, pid_t monitor_pid, uint64_t monitor_start,
                                    const std::string& text) {
  if (text.starts_with("ok ")) {
    DH_TRY(cpid, parse_ok(text));
    DH_TRY(cstart, with_context(process_start_time(cpid), "container {} pid {}", spec.id, cpid));
    return MonitorStarted{monitor_pid, monitor_start, cpid, cstart};
  }
  (void)wait_process_exit(monitor_pid, monitor_start, std::chrono::seconds(10));
  if (text.starts_with("error ")) return fail(ErrorKind::Internal, "{}", text.substr(6));
  std::string said = tail_of_file(fs::join(spec.state_dir, "monitor.log"));
  return fail(ErrorKind::Internal, "deckhand-monitor for {} exited without a report{}{}", spec.id,
              said.empty() ? "" : ": ", said);
}

}  // namespace

Result<MonitorStarted> start_monitor(const MonitorSpec& raw) {
  DH_TRY(spec, absolute_paths(raw));
  DH_CHECK(fs::make_dirs(spec.state_dir));
  // A state dir reused for a new container must not show the old one's end.
  for (const char* stale : {"exit", "container.pid", "monitor.pid"})
    if (::unlink(fs::join(spec.state_dir, stale).c_str()) != 0 && errno != ENOENT)
      return sys_fail("remove {}", fs::join(spec.state_dir, stale));
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return sys_fail("create sync pipe for monitor of {}", spec.id);
  UniqueFd sync_read(fds[0]), sync_write(fds[1]);
  std::string log = fs::join(spec.state_dir, "monitor.log");
  DH_TRY(monitor_log, fs::open_fd(log, O_WRONLY | O_APPEND | O_CREAT, 0640));
  DetachedSpec d;
  d.argv = monitor_argv(spec);
  d.stderr_fd = monitor_log.get();
  d.pass_fds = {sync_write.get()};
  DH_TRY(pid, with_context(spawn_detached(d), "start deckhand-monitor for {}", spec.id));
  auto deadline = Clock::now() + kCreateDeadline;
  // Zero when the monitor already failed and exited: nothing to kill then.
  uint64_t start_time = process_start_time(pid).value_or(0);
  sync_write.reset();
  auto text = read_sync(sync_read.get(), deadline);
  if (!text) {
    if (start_time) (void)stop_process(pid, start_time, std::chrono::seconds(1));
    return tl::unexpected(text.error().context("start container {}", spec.id));
  }
  return finish_start(spec, pid, start_time, *text);
}

Result<std::optional<ExitRecord>> read_exit_record(const std::string& state_dir) {
  std::string path = fs::join(state_dir, "exit");
  auto text = fs::read_file(path);
  if (!text) {
    if (text.error().kind == ErrorKind::NotFound) return std::optional<ExitRecord>();
    return tl::unexpected(text.error());
  }
  DH_TRY(j, parse_json(*text, path));
  if (!j.is_object() || !j.contains("exit_code") || !j["exit_code"].is_number_integer())
    return fail(ErrorKind::Internal, "{}: no exit_code", path);
  ExitRecord r;
  r.exit_code = j["exit_code"].get<int>();
  r.finished_at = j.value("finished_at", int64_t{0});
  r.oom_killed = j.value("oom_killed", false);
  return std::optional<ExitRecord>(r);
}

Status reopen_log(pid_t monitor_pid) {
  if (monitor_pid <= 0) return fail(ErrorKind::InvalidArgument, "reopen_log: bad pid {}", monitor_pid);
  if (::kill(monitor_pid, SIGUSR1) != 0) return sys_fail("signal monitor {} to reopen its log", monitor_pid);
  return {};
}

Status reopen_log(pid_t monitor_pid, uint64_t monitor_start_time) {
  if (!process_matches(monitor_pid, monitor_start_time))
    return fail(ErrorKind::NotFound, "monitor pid {} is gone", monitor_pid);
  return reopen_log(monitor_pid);
}

std::string cri_log_line(int64_t time_ns, const char* stream, bool partial, std::string_view content) {
  time_t secs = static_cast<time_t>(time_ns / 1000000000);
  int64_t frac = time_ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  struct tm tm {};
  ::gmtime_r(&secs, &tm);
  // Fixed nine digits: lines sort as text, and Go's RFC3339Nano parser accepts them.
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z {} {} {}\n", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac, stream, partial ? 'P' : 'F', content);
}

}  // namespace deckhand::runtime
