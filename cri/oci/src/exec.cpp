// `exec`: a new process in a running container, joining the init's
// namespaces and cgroup, with the container's (or process.json's) user,
// capabilities and environment. The exec CLI waits for it and passes its
// exit code on; signals sent to the CLI are forwarded to it.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>

#include "child_sync.h"
#include "container_init.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/common/process.h"
#include "deckhand/oci/bundle_config.h"
#include "deckhand/oci/container_cgroup.h"
#include "deckhand/oci/container_state.h"
#include "deckhand/oci/launcher.h"
#include "deckhand/oci/process_setup.h"

namespace deckhand::oci {
namespace {

volatile sig_atomic_t g_exec_child = 0;

void forward_signal(int sig) {
  if (g_exec_child > 0) ::kill(g_exec_child, sig);
}

void forward_signals() {
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) ::sigaction(sig, &sa, nullptr);
}

struct JoinedNamespace {
  NamespaceKind kind;
  UniqueFd fd;
};

bool same_namespace(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_ino == sb.st_ino &&
         sa.st_dev == sb.st_dev;
}

// The init's namespaces that differ from ours, the mount namespace last:
// after it, host paths are gone.
Result<std::vector<JoinedNamespace>> open_namespaces(pid_t init) {
  std::vector<JoinedNamespace> out;
  for (auto kind : {NamespaceKind::Cgroup, NamespaceKind::Ipc, NamespaceKind::Uts, NamespaceKind::Network,
                    NamespaceKind::Pid, NamespaceKind::Mount}) {
    std::string theirs = fmt::format("/proc/{}/ns/{}", init, namespace_proc_name(kind));
    if (same_namespace(theirs, fmt::format("/proc/self/ns/{}", namespace_proc_name(kind)))) continue;
    int fd = ::open(theirs.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_fail("open {}", theirs);
    out.push_back({kind, UniqueFd(fd)});
  }
  return out;
}

Result<uint32_t> parse_id(std::string_view text, const std::string& what) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return fail(ErrorKind::InvalidArgument, "--user: {} \"{}\" is not a number", what, text);
  return v;
}

void set_env(std::vector<std::string>& env, const std::string& kv) {
  std::string key = kv.substr(0, kv.find('=') + 1);
  for (auto& e : env)
    if (e.rfind(key, 0) == 0) {
      e = kv;
      return;
    }
  env.push_back(kv);
}

Result<ProcessConfig> exec_process(const ExecOptions& o, const ContainerState& state) {
  ProcessConfig p;
  if (!o.process_file.empty()) {
    DH_TRY(j, read_json_file(o.process_file));
    DH_TRY(parsed, parse_process_config(j));
    p = std::move(parsed);
  } else {
    DH_TRY(config, load_bundle_config(state.bundle, state.id));
    p = std::move(config.process);
    if (o.args.empty()) return fail(ErrorKind::InvalidArgument, "exec: no command given");
    p.args = o.args;
    p.oom_score_adj.reset();  // the exec'd process keeps ours
  }
  if (o.cwd) p.cwd = *o.cwd;
  for (const auto& kv : o.env) {
    if (kv.find('=') == std::string::npos || kv[0] == '=')
      return fail(ErrorKind::InvalidArgument, "--env: \"{}\" is not KEY=VALUE", kv);
    set_env(p.env, kv);
  }
  if (o.user) {
    auto colon = o.user->find(':');
    DH_TRY(uid, parse_id(std::string_view(*o.user).substr(0, colon), "uid"));
    p.uid = uid;
    if (colon != std::string::npos) {
      DH_TRY(gid, parse_id(std::string_view(*o.user).substr(colon + 1), "gid"));
      p.gid = gid;
    }
  }
  return p;
}

Result<std::string> set_up_exec(const ProcessConfig& p, const std::vector<JoinedNamespace>& namespaces) {
  for (const auto& ns : namespaces) {
    if (ns.kind == NamespaceKind::Pid) continue;  // the parent's setns made us here
    if (::setns(ns.fd.get(), namespace_clone_flag(ns.kind)) != 0)
      return sys_fail("join the container's {} namespace", namespace_type_name(ns.kind));
  }
  if (::chdir(p.cwd.c_str()) != 0) return sys_fail("chdir to {}", p.cwd);
  DH_CHECK(apply_rlimits(p.rlimits));
  DH_CHECK(apply_identity(p));
  return find_executable(p.args[0], p.env);
}

[[noreturn]] void run_exec_child(const ProcessConfig& p, const std::vector<JoinedNamespace>& namespaces,
                                 int go_fd, int sync_fd) {
  // Wait until the parent has put us in the container's cgroup.
  char byte;
  while (::read(go_fd, &byte, 1) < 0 && errno == EINTR) {
  }
  ::close(go_fd);
  auto path = set_up_exec(p, namespaces);
  if (!path) {
    send_error(sync_fd, path.error());
    ::_exit(1);
  }
  close_extra_fds_on_exec();
  auto argv = exec_array(p.args);
  auto envp = exec_array(p.env);
  ::execve(path->c_str(), argv.data(), envp.data());
  send_error(sync_fd, Error{ErrorKind::Internal, errno, fmt::format("exec {}: {}", *path, errno_text(errno))});
  ::_exit(127);
}

Result<int> wait_exit_code(pid_t pid) {
  int status = 0;
  for (;;) {
    if (::waitpid(pid, &status, 0) == pid) break;
    if (errno != EINTR) return sys_fail("wait for exec'd process {}", pid);
  }
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

}  // namespace

Result<int> Launcher::exec(const ExecOptions& o) {
  StateDir dir(root_, o.id);
  DH_TRY(state, dir.load());
  if (status_of(dir, state) == ContainerStatus::Stopped)
    return fail(ErrorKind::FailedPrecondition, "cannot exec in a stopped container");
  DH_TRY(process, exec_process(o, state));
  DH_TRY(cgroup, ContainerCgroup::open(state.cgroups_path));
  DH_TRY(namespaces, open_namespaces(state.pid));
  // The fds are the init's namespaces only if the pid was not reused meanwhile.
  if (!process_matches(state.pid, state.pid_start_time))
    return fail(ErrorKind::FailedPrecondition, "cannot exec in a stopped container");
  DH_TRY(go, make_pipe());
  DH_TRY(sync, make_pipe());
  NamespaceEntry pid_ns{NamespaceKind::Pid, fmt::format("/proc/{}/ns/pid", state.pid)};
  bool join_pid = false;
  for (const auto& ns : namespaces) join_pid |= ns.kind == NamespaceKind::Pid;
  DH_TRY(pidns, PidNamespaceForChildren::enter(join_pid ? &pid_ns : nullptr));
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    go.write.reset();
    sync.read.reset();
    run_exec_child(process, namespaces, go.read.get(), sync.write.get());
  }
  if (pid < 0) return sys_fail("fork for exec");
  ChildProcess child(pid);
  DH_CHECK(pidns.restore());
  go.read.reset();
  sync.write.reset();
  DH_CHECK(with_context(cgroup.driver().add_process(state.cgroups_path, pid), "exec in {}", o.id));
  if (!o.pid_file.empty())
    DH_CHECK(fs::write_file_atomic(o.pid_file, std::to_string(pid), 0644, fs::Durability::ProcessCrash));
  g_exec_child = pid;
  forward_signals();
  if (::write(go.write.get(), "g", 1) != 1) return sys_fail("release the exec'd process");
  go.write.reset();
  // EOF without a message: execve succeeded and closed our pipe.
  DH_CHECK(receive_exec_result(sync.read.get(), "the exec'd process"));
  auto code = wait_exit_code(child.release());
  g_exec_child = 0;
  return code;
}

}  // namespace deckhand::oci
