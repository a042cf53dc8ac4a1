#include "deckhand/runtime/pause.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"
#include "deckhand/common/text.h"

extern char** environ;

namespace deckhand::runtime {

namespace {

using Clock = std::chrono::steady_clock;

// What the intermediate child (and, if exec fails, the program) tells us.
enum class SpawnStep : int32_t { Ok, ResetSignals, Setsid, JoinCgroup, Unshare, Fork, Fds, Exec };

struct SpawnReport {
  int32_t pid = 0;
  SpawnStep step = SpawnStep::Ok;
  int32_t err = 0;
};

const char* step_name(SpawnStep s) {
  switch (s) {
    case SpawnStep::Ok: return "start";
    case SpawnStep::ResetSignals: return "reset signals";
    case SpawnStep::Setsid: return "create session";
    case SpawnStep::JoinCgroup: return "join cgroup";
    case SpawnStep::Unshare: return "unshare namespaces";
    case SpawnStep::Fork: return "fork";
    case SpawnStep::Fds: return "set up file descriptors";
    case SpawnStep::Exec: return "exec";
  }
  return "?";
}

// Everything the children need, prepared before fork: between fork and exec
// only async-signal-safe calls are allowed (deckhand-cri has threads).
struct ChildPlan {
  std::vector<char*> argv;
  std::vector<const char*> cgroups;
  std::vector<int> fds;  // fds[i] becomes fd i in the program
  int report_fd = -1;
  int unshare_flags = 0;
};

void report(int fd, SpawnStep step, int err, pid_t pid = 0) {
  SpawnReport r{pid, step, err};
  // Below PIPE_BUF: atomic, and the reader is waiting for it.
  while (::write(fd, &r, sizeof r) < 0 && errno == EINTR) {
  }
}

[[noreturn]] void fail_child(const ChildPlan& p, SpawnStep step) {
  report(p.report_fd, step, errno);
  ::_exit(127);
}

// Puts plan.fds at 0..n-1 and the report pipe at n (close-on-exec), closes the rest.
bool arrange_fds(ChildPlan& p) {
  int n = static_cast<int>(p.fds.size());
  int floor = n + 1;
  // First move everything above the targets so no dup2 clobbers a source.
  for (int& fd : p.fds)
    if ((fd = ::fcntl(fd, F_DUPFD_CLOEXEC, floor)) < 0) return false;
  if ((p.report_fd = ::fcntl(p.report_fd, F_DUPFD_CLOEXEC, floor)) < 0) return false;
  for (int i = 0; i < n; ++i)
    if (::dup2(p.fds[i], i) < 0) return false;
  if (::dup3(p.report_fd, n, O_CLOEXEC) < 0) return false;
  p.report_fd = n;
  ::close_range(static_cast<unsigned>(n) + 1, ~0U, 0);
  return true;
}

[[noreturn]] void run_program(ChildPlan& p) {
  if (!arrange_fds(p)) fail_child(p, SpawnStep::Fds);
  ::execve(p.argv[0], p.argv.data(), environ);
  fail_child(p, SpawnStep::Exec);
}

bool join_cgroups(const ChildPlan& p) {
  for (const char* path : p.cgroups) {
    int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    // "0" names the writer: the kernel moves us, and our children inherit it.
    if (fd < 0 || ::write(fd, "0", 1) != 1) return false;
    ::close(fd);
  }
  return true;
}

[[noreturn]] void run_intermediate(ChildPlan& p) {
  sigset_t none;
  sigemptyset(&none);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  // Ignored signals stay ignored across exec; the program wants defaults.
  for (int sig = 1; sig < NSIG; ++sig) (void)::sigaction(sig, &dfl, nullptr);
  if (::sigprocmask(SIG_SETMASK, &none, nullptr) != 0) fail_child(p, SpawnStep::ResetSignals);
  if (::setsid() < 0) fail_child(p, SpawnStep::Setsid);
  if (!join_cgroups(p)) fail_child(p, SpawnStep::JoinCgroup);
  if (p.unshare_flags && ::unshare(p.unshare_flags) != 0) fail_child(p, SpawnStep::Unshare);
  // vfork: the program's process borrows our memory until it execs, so the
  // copy of deckhand-cri's page tables that a fork would make is saved (we
  // are a copy of deckhand-cri). It makes only syscalls before exec, and
  // changes p, so keep what we need afterwards in our own locals.
  const int report_fd = p.report_fd;
  pid_t pid = ::vfork();
  if (pid < 0) fail_child(p, SpawnStep::Fork);
  if (pid == 0) run_program(p);
  report(report_fd, SpawnStep::Ok, 0, pid);
  ::_exit(0);
}

// Reads the intermediate's report and, if exec fails, the program's, until
// the pipe closes: it closes on exec, so EOF means the program is running.
Result<pid_t> collect_spawn_reports(int fd, const std::string& program) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  pid_t pid = 0;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return fail(ErrorKind::DeadlineExceeded, "start {}: no exec within 10 s", program);
    pollfd pfd{fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sys_fail("poll start-up pipe of {}", program);
    if (r == 0) continue;
    SpawnReport rep;
    ssize_t n = ::read(fd, &rep, sizeof rep);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("read start-up pipe of {}", program);
    if (n == 0) break;
    if (n != sizeof rep) return fail(ErrorKind::Internal, "start {}: short report", program);
    if (rep.step != SpawnStep::Ok) {
      errno = rep.err;
      return sys_fail("start {}: {}", program, step_name(rep.step));
    }
    pid = rep.pid;
  }
  if (pid <= 0) return fail(ErrorKind::Internal, "start {}: intermediate child died", program);
  return pid;
}

// Opens a pidfd for (pid, start_time); an invalid fd when that process is gone.
Result<UniqueFd> open_pidfd(pid_t pid, uint64_t start_time) {
  int fd = ::pidfd_open(pid, 0);
  if (fd < 0) {
    if (errno == ESRCH) return UniqueFd();
    return sys_fail("pidfd_open {}", pid);
  }
  UniqueFd pidfd(fd);
  // Checked after opening: the pidfd now pins the process that matched.
  if (!process_matches(pid, start_time)) return UniqueFd();
  return pidfd;
}

// True when the process behind pidfd exited within timeout.
Result<bool> wait_pidfd(int pidfd, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd pfd{pidfd, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left, 0)));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return sys_fail("poll pidfd");
  }
}

// Kills what spawn_detached started unless released: a failed start leaves nothing.
class DetachedGuard {
 public:
  explicit DetachedGuard(pid_t pid) : pidfd_(::pidfd_open(pid, 0)) {}
  ~DetachedGuard() {
    if (!pidfd_) return;
    ::pidfd_send_signal(pidfd_.get(), SIGKILL, nullptr, 0);
    (void)wait_pidfd(pidfd_.get(), std::chrono::seconds(5));
  }
  void release() { pidfd_.reset(); }

 private:
  UniqueFd pidfd_;
};

std::vector<std::string> pause_argv(const PauseSpec& spec) {
  std::vector<std::string> argv{spec.pause_binary};
  if (!spec.hostname.empty()) argv.insert(argv.end(), {"--hostname", spec.hostname});
  for (auto& [key, value] : spec.sysctls) argv.insert(argv.end(), {"--sysctl", key + "=" + value});
  if (spec.new_net) argv.insert(argv.end(), {"--loopback", "up"});
  for (auto& f : spec.join_after_ready) argv.insert(argv.end(), {"--join-cgroup", f});
  argv.insert(argv.end(), {"--ready-fd", "3"});
  return argv;
}

int pause_unshare_flags(const PauseSpec& spec) {
  return (spec.new_net ? CLONE_NEWNET : 0) | (spec.new_ipc ? CLONE_NEWIPC : 0) |
         (spec.new_uts ? CLONE_NEWUTS : 0) | (spec.new_pid ? CLONE_NEWPID : 0);
}

// Reads fd until EOF or the deadline; what a failed program said on stderr.
std::string read_until_eof(int fd, Clock::time_point deadline) {
  std::string out;
  char buf[4096];
  while (out.size() < 65536) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd pfd{fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left, 0)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// Waits for pause's ready byte; an EOF first means pause failed.
Status wait_ready(int ready_fd, int err_fd) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return fail(ErrorKind::DeadlineExceeded, "deckhand-pause not ready within 10 s");
    pollfd pfd{ready_fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sys_fail("poll ready pipe of deckhand-pause");
    if (r == 0) continue;
    char byte;
    ssize_t n = ::read(ready_fd, &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n == 1) return {};
    std::string err = read_until_eof(err_fd, Clock::now() + std::chrono::seconds(2));
    return fail(ErrorKind::Internal, "deckhand-pause failed: {}", err.empty() ? "exited without a message" : err);
  }
}

}  // namespace

Result<pid_t> spawn_detached(const DetachedSpec& spec) {
  if (spec.argv.empty()) return fail(ErrorKind::InvalidArgument, "spawn_detached: empty argv");
  DH_TRY(reports, make_pipe());
  DH_TRY(devnull, fs::open_fd("/dev/null", O_RDWR));
  ChildPlan plan;
  for (auto& a : spec.argv) plan.argv.push_back(const_cast<char*>(a.c_str()));
  plan.argv.push_back(nullptr);
  for (auto& c : spec.cgroup_procs) plan.cgroups.push_back(c.c_str());
  auto or_null = [&](int fd) { return fd >= 0 ? fd : devnull.get(); };
  plan.fds = {or_null(spec.stdin_fd), or_null(spec.stdout_fd), or_null(spec.stderr_fd)};
  plan.fds.insert(plan.fds.end(), spec.pass_fds.begin(), spec.pass_fds.end());
  plan.report_fd = reports.write.get();
  plan.unshare_flags = spec.unshare_flags;

  pid_t mid = ::fork();
  if (mid < 0) return sys_fail("fork to start {}", spec.argv[0]);
  if (mid == 0) run_intermediate(plan);
  ChildProcess intermediate(mid);
  reports.write.reset();
  auto pid = collect_spawn_reports(reports.read.get(), spec.argv[0]);
  (void)intermediate.wait();
  return pid;
}

Result<bool> wait_process_exit(pid_t pid, uint64_t start_time, std::chrono::milliseconds timeout) {
  DH_TRY(pidfd, open_pidfd(pid, start_time));
  if (!pidfd) return true;
  return wait_pidfd(pidfd.get(), timeout);
}

Status stop_process(pid_t pid, uint64_t start_time, std::chrono::milliseconds grace) {
  DH_TRY(pidfd, open_pidfd(pid, start_time));
  if (!pidfd) return {};
  for (int sig : {SIGTERM, SIGKILL}) {
    if (::pidfd_send_signal(pidfd.get(), sig, nullptr, 0) != 0) {
      if (errno == ESRCH) return {};
      return sys_fail("signal {} to pid {}", sig, pid);
    }
    DH_TRY(exited, wait_pidfd(pidfd.get(), sig == SIGTERM ? grace : std::chrono::milliseconds(10000)));
    if (exited) return {};
  }
  return fail(ErrorKind::DeadlineExceeded, "pid {} still alive 10 s after SIGKILL", pid);
}

Result<PauseStarted> start_pause(const PauseSpec& spec) {
  DH_TRY(ready, make_pipe());
  DH_TRY(err, make_pipe());
  DetachedSpec d;
  d.argv = pause_argv(spec);
  d.stderr_fd = err.write.get();
  d.pass_fds = {ready.write.get()};
  d.unshare_flags = pause_unshare_flags(spec);
  d.cgroup_procs = split_nonempty(spec.cgroup_procs, ';');
  DH_TRY(pid, with_context(spawn_detached(d), "start deckhand-pause"));
  DetachedGuard guard(pid);
  ready.write.reset();
  err.write.reset();
  DH_CHECK(wait_ready(ready.read.get(), err.read.get()));
  DH_TRY(start_time, with_context(process_start_time(pid), "deckhand-pause pid {}", pid));
  guard.release();
  return PauseStarted{pid, start_time};
}

Status stop_pause(pid_t pid, uint64_t start_time) {
  return stop_pause(pid, start_time, std::chrono::seconds(5));
}

Status stop_pause(pid_t pid, uint64_t start_time, std::chrono::milliseconds grace) {
  return with_context(stop_process(pid, start_time, grace), "stop deckhand-pause {}", pid);
}

Status pin_netns(pid_t pid, const std::string& path) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) DH_CHECK(fs::make_dirs(path.substr(0, slash)));
  bool created = !fs::exists(path);
  {
    DH_TRY(fd, fs::open_fd(path, O_RDONLY | O_CREAT, 0444));
  }
  std::string source = fmt::format("/proc/{}/ns/net", pid);
  if (::mount(source.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    auto e = sys_fail("bind mount {} on {}", source, path);
    if (created) ::unlink(path.c_str());
    return e;
  }
  return {};
}

Status unpin_netns(const std::string& path) {
  // A pin mounted twice (a retried sandbox start) needs as many unmounts.
  for (int i = 0; i < 8; ++i) {
    if (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) break;
    return sys_fail("unmount netns pin {}", path);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_fail("remove netns pin {}", path);
  return {};
}

}  // namespace deckhand::runtime
