#include "container_monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <vector>

#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"

namespace deckhand::monitor {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kCreateTimeout = std::chrono::seconds(60);
constexpr size_t kRuntimeOutputLimit = 64 * 1024;

// The monitor's own diagnostics go to its stderr (monitor.log in the state dir).
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  std::string line = "deckhand-monitor: " + fmt::format(f, std::forward<Args>(args)...) + "\n";
  (void)!::write(2, line.data(), line.size());
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t start = s.find_first_not_of(" \n");
  return start == std::string::npos ? std::string() : s.substr(start);
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("write");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace

std::string sync_ok(pid_t container_pid) { return fmt::format("ok {}\n", container_pid); }
std::string sync_error(std::string_view message) { return fmt::format("error {}", message); }

ContainerMonitor::ContainerMonitor(MonitorOptions opts) : opts_(std::move(opts)), log_(opts_.log_path) {
  sync_.reset(opts_.sync_fd);
}

int ContainerMonitor::run() {
  if (auto st = set_up(); !st) {
    report(sync_error(st.error().message));
    return 1;
  }
  auto pid = create_container();
  if (!pid) {
    clean_up_failed_create();
    report(sync_error(pid.error().message));
    return 1;
  }
  container_pid_ = *pid;
  report(sync_ok(container_pid_));
  if (auto st = serve(); !st) {
    warn("{}", st.error().message);
    return 1;
  }
  return 0;
}

// Orphans of the container (its init first of all, once `create` returns)
// are reparented to us, so we can wait for them; SIGCHLD and SIGUSR1 come
// through a signalfd into the one poll loop.
Status ContainerMonitor::set_up() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return sys_fail("become child subreaper");
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGUSR1);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return sys_fail("block SIGCHLD and SIGUSR1");
  int sfd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return sys_fail("signalfd");
  signal_fd_.reset(sfd);
  DH_TRY(null, fs::open_fd("/dev/null", O_RDWR));
  devnull_ = std::move(null);
  DH_CHECK(log_.open());
  // Our pid means nothing after a reboot: surviving deckhand-cri's crash is enough.
  return fs::write_file_atomic(fs::join(opts_.state_dir, "monitor.pid"), fmt::format("{}\n", ::getpid()), 0644,
                               fs::Durability::ProcessCrash);
}

Status ContainerMonitor::make_output_pipes(UniqueFd& out_w, UniqueFd& err_w) {
  for (auto [stream, write_end] : {std::pair{&out_, &out_w}, {&err_, &err_w}}) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return sys_fail("create {} pipe", stream->name);
    stream->fd.reset(fds[0]);
    write_end->reset(fds[1]);
    // Reading never blocks: after the container's exit we drain what is there and stop.
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  }
  return {};
}

// `<runtime> --root R create --bundle B --pid-file P <id>` with the pipes as
// its stdio: runc hands its stdio to the container process.
Result<pid_t> ContainerMonitor::spawn_runtime(const UniqueFd& out_w, const UniqueFd& err_w) {
  std::string pid_file = fs::join(opts_.state_dir, "container.pid");
  std::vector<std::string> args{opts_.runtime, "--root", opts_.runtime_root, "create", "--bundle",
                                opts_.bundle,  "--pid-file", pid_file,        opts_.id};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return sys_fail("fork for {} create", opts_.runtime);
  if (pid == 0) {
    ::dup2(devnull_.get(), 0);
    ::dup2(out_w.get(), 1);
    ::dup2(err_w.get(), 2);
    ::close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvp(argv[0], argv.data());
    std::string msg = fmt::format("exec {}: {}\n", args[0], errno_text(errno));
    (void)!::write(2, msg.data(), msg.size());
    ::_exit(127);
  }
  return pid;
}

Result<pid_t> ContainerMonitor::create_container() {
  UniqueFd out_w, err_w;
  DH_CHECK(make_output_pipes(out_w, err_w));
  DH_TRY(runtime_pid, spawn_runtime(out_w, err_w));
  // Only the runtime and then the container hold the write ends: EOF means they are gone.
  out_w.reset();
  err_w.reset();
  int status = 0;
  DH_CHECK(wait_for_runtime(runtime_pid, status));
  int code = exit_code_of(status);
  if (code != 0) {
    std::string said = trim(runtime_output_);
    return fail(ErrorKind::Internal, "{} create {} failed (exit code {}){}{}", opts_.runtime, opts_.id, code,
                said.empty() ? "" : ": ", said);
  }
  if (!runtime_output_.empty()) warn("{} create said: {}", opts_.runtime, trim(runtime_output_));
  DH_TRY(pid, read_container_pid());
  oom_.watch(pid);
  return pid;
}

// Until the runtime exits, whatever comes out of the pipes is the runtime's
// (the container process waits for `start` before running anything).
Status ContainerMonitor::wait_for_runtime(pid_t runtime_pid, int& status) {
  auto deadline = Clock::now() + kCreateTimeout;
  while (!reaped_.contains(runtime_pid)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      ::kill(runtime_pid, SIGKILL);
      return fail(ErrorKind::DeadlineExceeded, "{} create {} took longer than {} s", opts_.runtime, opts_.id,
                  kCreateTimeout.count());
    }
    pollfd fds[3] = {{signal_fd_.get(), POLLIN, 0}, {out_.fd.get(), POLLIN, 0}, {err_.fd.get(), POLLIN, 0}};
    if (::poll(fds, 3, static_cast<int>(left)) < 0 && errno != EINTR) return sys_fail("poll during create");
    read_stream(out_, false);
    read_stream(err_, false);
    handle_signals();
  }
  drain_streams();
  status = reaped_[runtime_pid];
  reaped_.erase(runtime_pid);
  return {};
}

Result<pid_t> ContainerMonitor::read_container_pid() {
  std::string path = fs::join(opts_.state_dir, "container.pid");
  DH_TRY(text, fs::read_file(path));
  pid_t pid = static_cast<pid_t>(std::strtol(text.c_str(), nullptr, 10));
  if (pid <= 0) return fail(ErrorKind::Internal, "{} holds no pid: '{}'", path, trim(text));
  return pid;
}

// A failed create must leave nothing: no runtime state, no cgroup, no pid files.
void ContainerMonitor::clean_up_failed_create() {
  RunOptions ro;
  ro.argv = {opts_.runtime, "--root", opts_.runtime_root, "delete", "--force", opts_.id};
  ro.timeout = std::chrono::seconds(30);
  (void)run_process(ro);
  ::unlink(fs::join(opts_.state_dir, "monitor.pid").c_str());
  ::unlink(fs::join(opts_.state_dir, "container.pid").c_str());
}

void ContainerMonitor::report(const std::string& message) {
  if (!sync_) return;
  // deckhand-cri may be gone: the container still runs and is found again on its restart.
  if (auto st = write_all(sync_.get(), message); !st) warn("report to deckhand-cri: {}", st.error().message);
  sync_.reset();
}

Status ContainerMonitor::serve() {
  while (!reaped_.contains(container_pid_)) {
    pollfd fds[3] = {{signal_fd_.get(), POLLIN, 0}, {out_.fd.get(), POLLIN, 0}, {err_.fd.get(), POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0 && errno != EINTR) return sys_fail("poll container output");
    if (fds[1].revents) read_stream(out_, true);
    if (fds[2].revents) read_stream(err_, true);
    if (fds[0].revents) handle_signals();
  }
  // Output written before the exit is in the pipes; processes the container
  // left behind may keep them open, so take what is there and stop.
  drain_streams();
  return write_exit_record(reaped_[container_pid_]);
}

void ContainerMonitor::handle_signals() {
  signalfd_siginfo si;
  while (::read(signal_fd_.get(), &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGUSR1) {
      if (auto st = log_.reopen(); !st) warn("{}", st.error().message);
    }
  }
  // Signals coalesce: always reap everything that is ready.
  reap();
}

void ContainerMonitor::reap() {
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    if (pid == container_pid_ && finished_at_ == 0) finished_at_ = now_ns();
    // Children that are neither the runtime nor the container are forgotten.
    if (container_pid_ == 0 || pid == container_pid_) reaped_[pid] = status;
  }
}

// One read; while creating (to_log false) the bytes are the runtime's message.
void ContainerMonitor::read_stream(Stream& s, bool to_log) {
  if (!s.fd) return;
  char buf[kReadChunk];
  ssize_t n = ::read(s.fd.get(), buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    s.fd.reset();
    return;
  }
  std::string_view data(buf, static_cast<size_t>(n));
  if (!to_log) {
    runtime_output_.append(data.substr(0, kRuntimeOutputLimit - std::min(kRuntimeOutputLimit, runtime_output_.size())));
    return;
  }
  if (auto st = log_.write(now_ns(), s.name, data); !st) warn("{}", st.error().message);
}

void ContainerMonitor::drain_streams() {
  bool to_log = container_pid_ != 0;
  for (Stream* s : {&out_, &err_}) {
    // Bounded: a process the container left behind might write forever.
    for (int i = 0; i < 256 && s->fd; ++i) {
      pollfd pfd{s->fd.get(), POLLIN, 0};
      if (::poll(&pfd, 1, 0) <= 0) break;
      read_stream(*s, to_log);
    }
  }
}

Status ContainerMonitor::write_exit_record(int wait_status) {
  runtime::ExitRecord r;
  r.exit_code = exit_code_of(wait_status);
  r.finished_at = finished_at_ ? finished_at_ : now_ns();
  r.oom_killed = oom_.oom_killed();
  return fs::write_file_atomic(fs::join(opts_.state_dir, "exit"), format_exit_record(r));
}

}  // namespace deckhand::monitor
