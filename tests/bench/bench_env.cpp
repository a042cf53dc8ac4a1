#include "bench_env.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "deckhand/common/fs.h"

namespace deckhand::bench {

namespace {

sigset_t stop_signals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  return s;
}

}  // namespace

void block_stop_signals() {
  sigset_t s = stop_signals();
  ::pthread_sigmask(SIG_BLOCK, &s, nullptr);
}

// The signals stay pending (blocked everywhere), so asking costs one syscall
// and needs no handler or extra thread.
bool stop_requested() {
  sigset_t pending;
  if (::sigpending(&pending) != 0) return false;
  return sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1;
}

Status check_not_stopped() {
  if (stop_requested()) return fail(ErrorKind::Unavailable, "interrupted (SIGINT/SIGTERM)");
  return {};
}

namespace {

// Total and idle jiffies of all CPUs (first line of /proc/stat).
std::pair<uint64_t, uint64_t> cpu_jiffies() {
  auto stat = fs::read_file("/proc/stat");
  if (!stat) return {0, 0};
  std::istringstream in(stat->substr(0, stat->find('\n')));
  std::string cpu;
  in >> cpu;
  uint64_t v = 0, total = 0, idle = 0;
  for (int i = 0; in >> v; ++i) {
    total += v;
    if (i == 3 || i == 4) idle += v;  // idle, iowait
  }
  return {total, idle};
}

}  // namespace

bool wait_for_quiet_machine(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int quiet_windows = 0;
  auto [total0, idle0] = cpu_jiffies();
  while (std::chrono::steady_clock::now() < deadline && !stop_requested()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto [total1, idle1] = cpu_jiffies();
    double idle = total1 > total0 ? double(idle1 - idle0) / double(total1 - total0) : 0;
    total0 = total1, idle0 = idle1;
    quiet_windows = idle >= 0.97 ? quiet_windows + 1 : 0;
    if (quiet_windows >= 4) return true;  // a quiet second
  }
  return false;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (stop_requested() || std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Result<TempRoot> TempRoot::create(const std::string& prefix) {
  const char* base = ::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) return sys_fail("mkdtemp {}", tmpl);
  return TempRoot(tmpl);
}

TempRoot::~TempRoot() {
  if (path_.empty()) return;
  unmount_all_under(path_);
  auto st = fs::remove_all(path_);
  if (!st) std::fprintf(stderr, "cleanup: remove %s: %s\n", path_.c_str(), st.error().message.c_str());
}

Status mount_tmpfs(const std::string& dir) {
  DH_CHECK(fs::make_dirs(dir));
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
    return sys_fail("mount tmpfs at {}", dir);
  return {};
}

std::vector<std::string> mounts_under(const std::string& root) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, mount_root, mount_point;
    f >> id >> parent >> dev >> mount_root >> mount_point;
    if (mount_point == root || mount_point.rfind(root + "/", 0) == 0) out.push_back(mount_point);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
  return out;
}

// Lazy detach: a mount still busy (a process we failed to kill) goes anyway.
// Repeated because a mount can hide another one on the same point.
void unmount_all_under(const std::string& root) {
  for (int round = 0; round < 4; ++round) {
    auto mounts = mounts_under(root);
    if (mounts.empty()) return;
    for (auto& m : mounts) ::umount2(m.c_str(), MNT_DETACH);
  }
}

Result<Daemon> Daemon::start(const std::vector<std::string>& argv, const std::string& log_path,
                             const std::vector<std::string>& env) {
  int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) return sys_fail("open {}", log_path);
  std::vector<std::string> args = argv, envs = env;
  std::vector<char*> cargv, cenv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log);
    return sys_fail("fork for {}", argv[0]);
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(log, 1);
    ::dup2(log, 2);
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    if (env.empty())
      ::execv(cargv[0], cargv.data());
    else
      ::execve(cargv[0], cargv.data(), cenv.data());
    ::_exit(127);
  }
  ::close(log);
  return Daemon(ChildProcess(pid));
}

bool Daemon::exited() {
  if (child_.pid() <= 0) return true;
  if (::waitpid(child_.pid(), nullptr, WNOHANG) != child_.pid()) return false;
  child_.release();
  return true;
}

// The whole process group: a wrapper (strace, a shell) may stand between us
// and the daemon, and the daemon's own children have no business outliving it
// here (pods are removed through CRI before this).
void Daemon::stop(std::chrono::milliseconds grace) {
  if (child_.pid() <= 0) return;
  pid_t group = child_.pid();
  ::kill(-group, SIGTERM);
  // Not wait_until: a stop is requested exactly when we get here on Ctrl-C.
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (!exited() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ::kill(-group, SIGKILL);
  child_ = ChildProcess();  // reap, if it is still there
}

Status wait_for_socket(Daemon& d, const std::string& socket, const std::string& log_path,
                       std::chrono::milliseconds timeout) {
  bool gone = false;
  bool up = wait_until([&] { return (gone = d.exited()) || fs::exists(socket); }, timeout);
  DH_CHECK(check_not_stopped());
  if (gone) return fail(ErrorKind::Unavailable, "daemon exited during start-up; see {}", log_path);
  if (!up)
    return fail(ErrorKind::DeadlineExceeded, "no socket {} after {} ms; see {}", socket, timeout.count(),
                log_path);
  return {};
}

Result<std::string> run_checked(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  RunOptions ro;
  ro.argv = argv;
  ro.timeout = timeout;
  DH_TRY(out, run_process(ro));
  if (out.exit_code != 0) {
    std::string cmd;
    for (auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return fail(ErrorKind::Internal, "`{}` exited {}{}: {}", cmd, out.exit_code,
                out.timed_out ? " (timed out)" : "", out.err.empty() ? out.out : out.err);
  }
  return out.out;
}

void delete_link(const std::string& name) {
  if (name.empty() || !fs::exists("/sys/class/net/" + name)) return;
  auto r = run_checked({"ip", "link", "del", name}, std::chrono::seconds(10));
  if (!r) std::fprintf(stderr, "cleanup: %s\n", r.error().message.c_str());
}

namespace {

std::vector<std::string> hierarchies() {
  return fs::list_dir("/sys/fs/cgroup").value_or(std::vector<std::string>{});
}

// Every directory of the tree, children before parents.
void collect_depth_first(const std::string& dir, std::vector<std::string>& out) {
  for (auto& name : fs::list_dir(dir).value_or(std::vector<std::string>{})) {
    std::string sub = dir + "/" + name;
    struct stat st {};
    if (::lstat(sub.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) collect_depth_first(sub, out);
  }
  out.push_back(dir);
}

std::vector<pid_t> procs_of(const std::string& cgroup_dir) {
  std::vector<pid_t> out;
  std::ifstream in(cgroup_dir + "/cgroup.procs");
  pid_t p;
  while (in >> p) out.push_back(p);
  return out;
}

}  // namespace

void CgroupTree::kill_all() const {
  auto live = [&] {
    std::vector<pid_t> all;
    for (auto& h : hierarchies()) {
      std::vector<std::string> dirs;
      std::string base = "/sys/fs/cgroup/" + h + path_;
      if (!fs::exists(base)) continue;
      collect_depth_first(base, dirs);
      for (auto& d : dirs)
        for (pid_t p : procs_of(d)) all.push_back(p);
    }
    return all;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (auto pids = live(); !pids.empty(); pids = live()) {
    for (pid_t p : pids) ::kill(p, SIGKILL);
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "cleanup: %zu processes stay in cgroup %s\n", pids.size(), path_.c_str());
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

CgroupTree::~CgroupTree() {
  kill_all();
  for (auto& h : hierarchies()) {
    std::string base = "/sys/fs/cgroup/" + h + path_;
    if (!fs::exists(base)) continue;
    std::vector<std::string> dirs;
    collect_depth_first(base, dirs);
    for (auto& d : dirs)
      if (::rmdir(d.c_str()) != 0 && errno != ENOENT)
        std::fprintf(stderr, "cleanup: rmdir %s: %s\n", d.c_str(), errno_text(errno).c_str());
  }
}

HostDirGuard::HostDirGuard(std::vector<std::string> dirs) {
  for (auto& d : dirs)
    if (!fs::exists(d)) absent_.push_back(d);
}

HostDirGuard::~HostDirGuard() {
  // Children first; rmdir only removes what is empty, so nothing of others goes.
  for (auto it = absent_.rbegin(); it != absent_.rend(); ++it) ::rmdir(it->c_str());
}

void keep_copy(const std::string& file, const std::string& dir, const std::string& name) {
  auto data = fs::read_file(file);
  Status st = data ? fs::make_dirs(dir) : Status(tl::unexpected(data.error()));
  if (st) st = fs::write_file_atomic(dir + "/" + name, *data);
  if (!st) std::fprintf(stderr, "keep logs: %s\n", st.error().message.c_str());
}

void remove_all_pods_of(cri::CriClient& client, const char* runtime) {
  client.set_timeout(std::chrono::seconds(20));
  auto pods = client.list_pod_sandbox();
  if (!pods) return;
  for (auto& p : *pods) {
    auto st = client.stop_pod_sandbox(p.id());
    if (st) st = client.remove_pod_sandbox(p.id());
    if (!st) std::fprintf(stderr, "cleanup: %s pod %s: %s\n", runtime, p.id().c_str(), st.error().message.c_str());
  }
}

}  // namespace deckhand::bench
