#include "container_init.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "child_sync.h"
#include "deckhand/oci/process_setup.h"
#include "deckhand/oci/rootfs_setup.h"

namespace deckhand::oci {
namespace {

constexpr const char* kExecFifoName = "exec.fifo";

// What the init holds once set up: the program to exec, found inside the rootfs.
struct ReadyProcess {
  std::string path;
  std::vector<std::string> args, env;
};

Status join_namespace(const NamespaceEntry& ns) {
  int fd = ::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_fail("open {} namespace {}", namespace_type_name(ns.kind), ns.path);
  UniqueFd f(fd);
  if (::setns(fd, namespace_clone_flag(ns.kind)) != 0)
    return sys_fail("join {} namespace {}", namespace_type_name(ns.kind), ns.path);
  return {};
}

// Joins those given by path (the mount namespace last: the others' paths are
// host paths) and makes the new ones. The pid namespace is the parent's job.
Status enter_namespaces(const BundleConfig& c) {
  const NamespaceKind order[] = {NamespaceKind::Network, NamespaceKind::Ipc, NamespaceKind::Uts,
                                 NamespaceKind::Cgroup, NamespaceKind::Mount};
  int unshare_flags = 0;
  for (auto kind : order) {
    const NamespaceEntry* ns = c.find_namespace(kind);
    if (!ns) continue;
    if (!ns->path.empty()) {
      DH_CHECK(join_namespace(*ns));
    } else {
      unshare_flags |= namespace_clone_flag(kind);
    }
  }
  if (unshare_flags && ::unshare(unshare_flags) != 0) return sys_fail("unshare namespaces");
  return {};
}

Result<ReadyProcess> set_up_container(const BundleConfig& c, const ContainerCgroup& cgroup) {
  ::umask(0);  // device nodes and mount points get the modes we ask for
  DH_CHECK(cgroup.join());
  const ProcessConfig& p = c.process;
  if (p.oom_score_adj) DH_CHECK(apply_oom_score_adj(*p.oom_score_adj));
  DH_CHECK(apply_rlimits(p.rlimits));
  DH_CHECK(enter_namespaces(c));
  RootfsSetup rootfs(c, cgroup.host_dirs());
  DH_CHECK(rootfs.prepare());
  DH_CHECK(rootfs.pivot());
  if (!c.hostname.empty()) DH_CHECK(set_hostname(c.hostname));
  DH_CHECK(apply_sysctls(c.sysctls));
  DH_CHECK(rootfs.finish());
  if (::chdir(p.cwd.c_str()) != 0) return sys_fail("chdir to cwd {}", p.cwd);
  DH_CHECK(apply_identity(p));
  DH_TRY(path, find_executable(p.args[0], p.env));
  return ReadyProcess{path, p.args, p.env};
}

// Opening a FIFO for writing blocks until someone opens it for reading:
// `start` does. The state directory fd reaches the FIFO from inside the rootfs.
bool wait_for_start(int state_dir_fd) {
  int fd;
  do {
    fd = ::openat(state_dir_fd, kExecFifoName, O_WRONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return false;
  bool ok = ::write(fd, "0", 1) == 1;
  ::close(fd);
  return ok;
}

[[noreturn]] void run_init(const BundleConfig& c, const ContainerCgroup& cgroup, int state_dir_fd, int sync_fd) {
  auto ready = set_up_container(c, cgroup);
  if (!ready) {
    send_error(sync_fd, ready.error());
    ::_exit(1);
  }
  send_ready(sync_fd);
  ::close(sync_fd);
  if (!wait_for_start(state_dir_fd)) ::_exit(1);
  ::close(state_dir_fd);
  close_extra_fds_on_exec();
  auto argv = exec_array(ready->args);
  auto envp = exec_array(ready->env);
  ::execve(ready->path.c_str(), argv.data(), envp.data());
  // create has exited: the container's stderr is the only one left to tell.
  std::string msg = fmt::format("deckhand-oci: exec {}: {}\n", ready->path, errno_text(errno));
  (void)!::write(2, msg.data(), msg.size());
  ::_exit(127);
}

}  // namespace

Result<PidNamespaceForChildren> PidNamespaceForChildren::enter(const NamespaceEntry* ns) {
  PidNamespaceForChildren out;
  if (!ns) return out;
  int own = ::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (own < 0) return sys_fail("open our pid namespace");
  out.own_.reset(own);
  if (ns->path.empty()) {
    if (::unshare(CLONE_NEWPID) != 0) return sys_fail("unshare pid namespace");
    return out;
  }
  DH_CHECK(join_namespace(*ns));
  return out;
}

PidNamespaceForChildren::~PidNamespaceForChildren() { (void)restore(); }

Status PidNamespaceForChildren::restore() {
  if (!own_) return {};
  UniqueFd own = std::move(own_);
  if (::setns(own.get(), CLONE_NEWPID) != 0) return sys_fail("return to our pid namespace");
  return {};
}

Result<ChildProcess> spawn_container_init(const BundleConfig& config, const ContainerCgroup& cgroup,
                                          const StateDir& dir) {
  int dfd = ::open(dir.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return sys_fail("open state directory {}", dir.path());
  UniqueFd state_dir_fd(dfd);
  DH_TRY(sync, make_pipe());
  DH_TRY(pidns, PidNamespaceForChildren::enter(config.find_namespace(NamespaceKind::Pid)));
  std::fflush(nullptr);  // nothing buffered may be written twice
  pid_t pid = ::fork();
  if (pid == 0) {
    sync.read.reset();
    run_init(config, cgroup, state_dir_fd.get(), sync.write.get());
  }
  if (pid < 0) return sys_fail("fork the container's init");
  ChildProcess init(pid);
  DH_CHECK(pidns.restore());
  sync.write.reset();
  DH_CHECK(receive_result(sync.read.get(), "the container's init"));
  return init;
}

}  // namespace deckhand::oci
