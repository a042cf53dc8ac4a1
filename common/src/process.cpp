#include "deckhand/common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"

extern char** environ;

namespace deckhand {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<char*> c_strings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// posix_spawn rather than fork: glibc starts the child with CLONE_VM|CLONE_VFORK,
// so a daemon with a large address space does not copy its page tables for
// every plugin or runtime call. The child gets the three pipes as 0-2, no
// other descriptor, no blocked signal and default signal handlers.
Result<pid_t> spawn(int in, int out, int err, const char* cwd, char** argv, char** envp) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawnattr_init(&attr);
  ::posix_spawn_file_actions_adddup2(&fa, in, 0);
  ::posix_spawn_file_actions_adddup2(&fa, out, 1);
  ::posix_spawn_file_actions_adddup2(&fa, err, 2);
  ::posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  if (cwd) ::posix_spawn_file_actions_addchdir_np(&fa, cwd);
  sigset_t none;
  sigemptyset(&none);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = std::strchr(argv[0], '/') ? ::posix_spawn(&pid, argv[0], &fa, &attr, argv, envp)
                                     : ::posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
  ::posix_spawn_file_actions_destroy(&fa);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return sys_fail("execute {}{}{}", argv[0], cwd ? " in " : "", cwd ? cwd : "");
  }
  return pid;
}

}  // namespace

Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return sys_fail("create pipe");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Result<RunOutput> run_process(const RunOptions& opts) {
  if (opts.argv.empty()) return fail(ErrorKind::InvalidArgument, "run_process: empty argv");
  DH_TRY(in, make_pipe());
  DH_TRY(out, make_pipe());
  DH_TRY(err, make_pipe());
  auto argv = c_strings(opts.argv);
  std::vector<char*> envp;
  if (opts.env) envp = c_strings(*opts.env);
  char** env = opts.env ? envp.data() : environ;
  const char* cwd = opts.cwd.empty() ? nullptr : opts.cwd.c_str();

  DH_TRY(pid, spawn(in.read.get(), out.write.get(), err.write.get(), cwd, argv.data(), env));
  ChildProcess child(pid);
  in.read.reset();
  out.write.reset();
  err.write.reset();

  RunOutput result;
  std::string_view to_write = opts.stdin_data;
  if (to_write.empty()) in.write.reset();
  ::fcntl(in.write.get(), F_SETFL, O_NONBLOCK);
  auto deadline = Clock::now() + opts.timeout;
  char buf[16384];
  while (out.read || err.read || in.write) {
    pollfd fds[3];
    int nfds = 0;
    auto add = [&](UniqueFd& fd, short ev) {
      if (fd) fds[nfds++] = pollfd{fd.get(), ev, 0};
    };
    add(out.read, POLLIN);
    add(err.read, POLLIN);
    add(in.write, POLLOUT);
    int wait_ms = -1;
    if (opts.timeout.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        result.timed_out = true;
        ::kill(pid, SIGKILL);
        break;
      }
      wait_ms = static_cast<int>(left);
    }
    int r = ::poll(fds, static_cast<nfds_t>(nfds), wait_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      return sys_fail("poll output of {}", opts.argv[0]);
    }
    for (int i = 0; i < nfds; ++i) {
      if (!fds[i].revents) continue;
      if (in.write && fds[i].fd == in.write.get()) {
        ssize_t w = ::write(in.write.get(), to_write.data(), to_write.size());
        if (w > 0) to_write.remove_prefix(static_cast<size_t>(w));
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || to_write.empty()) in.write.reset();
        continue;
      }
      UniqueFd& src = fds[i].fd == out.read.get() ? out.read : err.read;
      std::string& dst = &src == &out.read ? result.out : result.err;
      ssize_t got = ::read(src.get(), buf, sizeof buf);
      if (got > 0)
        dst.append(buf, static_cast<size_t>(got));
      else if (got == 0 || (errno != EINTR && errno != EAGAIN))
        src.reset();
    }
  }
  DH_TRY(code, child.wait());
  result.exit_code = code;
  return result;
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    ChildProcess dying(std::exchange(pid_, std::exchange(o.pid_, -1)));
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int st;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

Result<int> ChildProcess::wait() {
  if (pid_ <= 0) return fail(ErrorKind::FailedPrecondition, "wait: no child process");
  int st = 0;
  for (;;) {
    if (::waitpid(pid_, &st, 0) >= 0) break;
    if (errno != EINTR) return sys_fail("waitpid {}", pid_);
  }
  pid_ = -1;
  return decode_status(st);
}

pid_t ChildProcess::release() { return std::exchange(pid_, -1); }

Result<uint64_t> process_start_time(pid_t pid) {
  DH_TRY(stat, fs::read_file(fmt::format("/proc/{}/stat", pid)));
  // comm (field 2) may hold spaces and parens: fields after it start past the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return fail(ErrorKind::Internal, "malformed /proc/{}/stat", pid);
  size_t pos = close + 2;
  for (int field = 3; field < 22; ++field) {
    pos = stat.find(' ', pos);
    if (pos == std::string::npos) return fail(ErrorKind::Internal, "short /proc/{}/stat", pid);
    ++pos;
  }
  return std::stoull(stat.substr(pos, stat.find(' ', pos) - pos));
}

bool process_matches(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  auto st = process_start_time(pid);
  if (!st || *st != start_time) return false;
  // A zombie has exited; it only waits for its parent to reap it.
  auto status = fs::read_file(fmt::format("/proc/{}/stat", pid));
  if (!status) return false;
  auto close = status->rfind(')');
  return close != std::string::npos && close + 2 < status->size() && (*status)[close + 2] != 'Z';
}

sigset_t block_termination_signals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return sigs;
}

}  // namespace deckhand
