#include "deckhand/oci/launcher.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <thread>

#include "container_init.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/common/rollback.h"
#include "deckhand/oci/bundle_config.h"
#include "deckhand/oci/container_cgroup.h"
#include "deckhand/oci/container_state.h"

namespace deckhand::oci {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kInitExitTimeout = 5s;
constexpr auto kCgroupEmptyTimeout = 5s;

Status check_id(const std::string& id) {
  if (id.empty() || id == "." || id == ".." || id.find('/') != std::string::npos || id.size() > 1024)
    return fail(ErrorKind::InvalidArgument, "invalid container id \"{}\"", id);
  return {};
}

Result<std::string> absolute_path(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (!::getcwd(cwd, sizeof cwd)) return sys_fail("getcwd");
  return path.empty() || path == "." ? std::string(cwd) : fs::join(cwd, path);
}

Status make_exec_fifo(const StateDir& dir) {
  std::string fifo = dir.exec_fifo();
  if (::mkfifo(fifo.c_str(), 0622) != 0) return sys_fail("create exec fifo {}", fifo);
  // Whatever user the init becomes must be able to open it for writing.
  if (::chmod(fifo.c_str(), 0622) != 0) return sys_fail("chmod exec fifo {}", fifo);
  return {};
}

struct Loaded {
  StateDir dir;
  ContainerState state;
  ContainerStatus status;
};

Result<Loaded> load(const std::string& root, const std::string& id) {
  DH_CHECK(check_id(id));
  StateDir dir(root, id);
  DH_TRY(state, dir.load());
  auto status = status_of(dir, state);
  return Loaded{std::move(dir), std::move(state), status};
}

void signal_all(const ContainerState& s, ContainerCgroup* cgroup, int sig) {
  if (cgroup) {
    if (auto pids = cgroup->pids())
      for (pid_t p : *pids) ::kill(p, sig);
  }
  if (s.pid > 0 && process_matches(s.pid, s.pid_start_time)) ::kill(s.pid, sig);
}

// Waits for the init to be gone (a zombie counts: it is its parent's to reap).
bool wait_for_init_exit(const ContainerState& s, Clock::duration timeout) {
  auto deadline = Clock::now() + timeout;
  while (s.pid > 0 && process_matches(s.pid, s.pid_start_time)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// Until the cgroup is empty: new processes may still fork while we kill.
Status kill_and_remove_cgroup(ContainerCgroup& cgroup) {
  auto deadline = Clock::now() + kCgroupEmptyTimeout;
  for (;;) {
    DH_TRY(pids, cgroup.pids());
    if (pids.empty()) break;
    for (pid_t p : pids) ::kill(p, SIGKILL);
    if (Clock::now() >= deadline)
      return fail(ErrorKind::DeadlineExceeded, "cgroup {}: {} processes did not die", cgroup.path(), pids.size());
    std::this_thread::sleep_for(2ms);
  }
  return cgroup.remove(std::chrono::duration_cast<std::chrono::milliseconds>(kCgroupEmptyTimeout));
}

}  // namespace

Launcher::Launcher(std::string state_root) : root_(std::move(state_root)) {}

Status Launcher::create(const CreateOptions& o) {
  DH_CHECK(check_id(o.id));
  DH_TRY(bundle, absolute_path(o.bundle));
  DH_TRY(config, load_bundle_config(bundle, o.id));
  DH_TRY(cgroup, ContainerCgroup::open(config.cgroups_path));
  DH_CHECK(fs::make_dirs(root_, 0711));
  StateDir dir(root_, o.id);
  DH_CHECK(dir.make());
  Rollback undo;  // runs after init (declared later) is killed and reaped
  undo.add([&dir] { (void)dir.remove(); });
  ContainerState state{.id = o.id, .bundle = bundle, .rootfs = config.rootfs,
                       .cgroups_path = config.cgroups_path, .created = rfc3339_now()};
  // Saved before anything else is made, so that delete finds the cgroup of a create cut short.
  DH_CHECK(dir.save(state));
  bool cgroup_existed = cgroup.driver().exists(config.cgroups_path);
  DH_CHECK(cgroup.create(config.resources, config.devices));
  if (!cgroup_existed) undo.add([&cgroup] { (void)kill_and_remove_cgroup(cgroup); });
  DH_CHECK(make_exec_fifo(dir));
  DH_TRY(init, spawn_container_init(config, cgroup, dir));
  state.pid = init.pid();
  DH_TRY(start_time, process_start_time(state.pid));
  state.pid_start_time = start_time;
  DH_CHECK(dir.save(state));
  if (!o.pid_file.empty())
    DH_CHECK(fs::write_file_atomic(o.pid_file, std::to_string(state.pid), 0644, fs::Durability::ProcessCrash));
  init.release();
  undo.dismiss();
  return {};
}

Status Launcher::start(const std::string& id) {
  DH_TRY(c, load(root_, id));
  if (c.status == ContainerStatus::Running) return fail(ErrorKind::FailedPrecondition, "cannot start an already running container");
  if (c.status == ContainerStatus::Stopped) return fail(ErrorKind::FailedPrecondition, "cannot start a container that has stopped");
  std::string fifo = c.dir.exec_fifo();
  // Non-blocking, so that an init that died meanwhile cannot leave us waiting.
  int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return sys_fail("open exec fifo {}", fifo);
  UniqueFd f(fd);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, 20);
    if (n < 0 && errno != EINTR) return sys_fail("wait on exec fifo {}", fifo);
    if (n > 0) {
      char byte;
      ssize_t r = ::read(fd, &byte, 1);
      if (r == 1) break;
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      return fail(ErrorKind::Internal, "container {}: its init closed the exec fifo without starting", id);
    }
    if (!process_matches(c.state.pid, c.state.pid_start_time))
      return fail(ErrorKind::FailedPrecondition, "container {}: its init exited before start", id);
  }
  if (::unlink(fifo.c_str()) != 0 && errno != ENOENT) return sys_fail("remove exec fifo {}", fifo);
  return {};
}

Result<std::string> Launcher::state(const std::string& id) {
  DH_TRY(c, load(root_, id));
  return state_json(c.state, c.status);
}

Status Launcher::kill(const std::string& id, int sig, bool all) {
  DH_TRY(c, load(root_, id));
  if (!all) {
    if (c.status == ContainerStatus::Stopped) return fail(ErrorKind::FailedPrecondition, "container not running");
    if (::kill(c.state.pid, sig) != 0) return sys_fail("signal {} to pid {}", sig, c.state.pid);
    return {};
  }
  DH_TRY(cgroup, ContainerCgroup::open(c.state.cgroups_path));
  signal_all(c.state, &cgroup, sig);
  return {};
}

Status Launcher::remove(const std::string& id, bool force) {
  DH_CHECK(check_id(id));
  StateDir dir(root_, id);
  auto state = dir.load();
  if (!state && state.error().kind == ErrorKind::NotFound) return tl::unexpected(state.error());
  // An unreadable state.json: nothing to stop, only the directory to remove.
  ContainerState s = state ? *state : ContainerState{.id = id};
  auto status = status_of(dir, s);
  if (status == ContainerStatus::Running && !force)
    return fail(ErrorKind::FailedPrecondition, "cannot delete container {} that is not stopped: running", id);
  std::optional<ContainerCgroup> cgroup;
  if (!s.cgroups_path.empty()) {
    DH_TRY(cg, ContainerCgroup::open(s.cgroups_path));
    cgroup.emplace(std::move(cg));
  }
  if (status != ContainerStatus::Stopped) {
    signal_all(s, cgroup ? &*cgroup : nullptr, SIGKILL);
    if (!wait_for_init_exit(s, kInitExitTimeout))
      return fail(ErrorKind::DeadlineExceeded, "container {}: init {} did not exit after SIGKILL", id, s.pid);
  }
  // What the init left behind in its cgroup goes too, as with runc.
  if (cgroup) DH_CHECK(with_context(kill_and_remove_cgroup(*cgroup), "delete container {}", id));
  return dir.remove();
}

Status Launcher::update(const std::string& id, const std::string& resources_json) {
  DH_TRY(c, load(root_, id));
  DH_TRY(j, parse_json(resources_json, "resources"));
  DH_TRY(resources, parse_resources(j, nullptr));
  DH_TRY(cgroup, ContainerCgroup::open(c.state.cgroups_path));
  return with_context(cgroup.update(resources), "update container {}", id);
}

Result<int> parse_signal(const std::string& text) {
  static constexpr std::array<std::pair<std::string_view, int>, 31> kSignals = {{
      {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT},   {"ILL", SIGILL},   {"TRAP", SIGTRAP},
      {"ABRT", SIGABRT}, {"IOT", SIGIOT},     {"BUS", SIGBUS},     {"FPE", SIGFPE},   {"KILL", SIGKILL},
      {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},   {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
      {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
      {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},   {"TTOU", SIGTTOU},   {"URG", SIGURG},   {"XCPU", SIGXCPU},
      {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
      {"SYS", SIGSYS},
  }};
  int n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc() && end == text.data() + text.size()) {
    if (n <= 0 || n > SIGRTMAX) return fail(ErrorKind::InvalidArgument, "invalid signal number {}", n);
    return n;
  }
  std::string_view name = text;
  if (name.rfind("SIG", 0) == 0) name.remove_prefix(3);
  for (const auto& [sig_name, sig] : kSignals)
    if (sig_name == name) return sig;
  return fail(ErrorKind::InvalidArgument, "unknown signal \"{}\"", text);
}

}  // namespace deckhand::oci
