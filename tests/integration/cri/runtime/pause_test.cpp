#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"
#include "deckhand/runtime/pause.h"
#include "test_bundle.h"
#include "test_env.h"

using namespace deckhand;
using namespace std::chrono_literals;

namespace {

runtime::PauseSpec pause_spec() {
  runtime::PauseSpec s;
  s.pause_binary = test::build_path("cri/pause/deckhand-pause");
  return s;
}

ino_t inode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Runs argv inside pid's namespaces (nsenter flags in ns_flags).
std::string in_namespaces(pid_t pid, const std::string& ns_flags, std::vector<std::string> argv) {
  RunOptions o;
  o.argv = {"nsenter", "-t", std::to_string(pid), ns_flags, "--"};
  o.argv.insert(o.argv.end(), argv.begin(), argv.end());
  o.timeout = 10s;
  auto r = run_process(o);
  REQUIRE(r);
  INFO(r->err);
  REQUIRE(r->exit_code == 0);
  return r->out;
}

pid_t parent_of(pid_t pid) {
  auto status = fs::read_file(fmt::format("/proc/{}/status", pid));
  if (!status) return -1;
  auto pos = status->find("\nPPid:\t");
  return pos == std::string::npos ? -1 : std::stoi(status->substr(pos + 7));
}

runtime::PauseStarted start_or_fail(const runtime::PauseSpec& spec) {
  auto r = runtime::start_pause(spec);
  if (!r) FAIL(r.error().message);
  return *r;
}

// Starts pause and kills it at scope exit, pass or fail.
struct RunningPause {
  explicit RunningPause(const runtime::PauseSpec& spec)
      : started(start_or_fail(spec)), guard(started.pid, started.start_time) {}
  runtime::PauseStarted started;
  test::KillOnExit guard;
};

}  // namespace

TEST_CASE("pause starts detached in new namespaces with hostname and sysctls applied") {
  auto spec = pause_spec();
  spec.hostname = test::unique_name("pod-", 30);
  spec.sysctls = {{"net.ipv4.ip_unprivileged_port_start", "99"}};
  RunningPause p(spec);
  pid_t pid = p.started.pid;
  CHECK(process_matches(pid, p.started.start_time));
  for (const char* ns : {"net", "ipc", "uts"})
    CHECK(inode_of(fmt::format("/proc/{}/ns/{}", pid, ns)) != inode_of(fmt::format("/proc/self/ns/{}", ns)));
  CHECK(inode_of(fmt::format("/proc/{}/ns/pid", pid)) == inode_of("/proc/self/ns/pid"));
  CHECK(parent_of(pid) != ::getpid());
  CHECK(::getsid(pid) != ::getsid(0));
  CHECK(in_namespaces(pid, "-u", {"hostname"}) == spec.hostname + "\n");
  CHECK(in_namespaces(pid, "-n", {"cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"}) == "99\n");
  REQUIRE(runtime::stop_pause(pid, p.started.start_time));
  CHECK(!process_matches(pid, p.started.start_time));
}

TEST_CASE("pause survives a SIGCHLD storm and exits on SIGTERM") {
  RunningPause p(pause_spec());
  for (int i = 0; i < 2000; ++i) ::kill(p.started.pid, SIGCHLD);
  CHECK(process_matches(p.started.pid, p.started.start_time));
  REQUIRE(::kill(p.started.pid, SIGTERM) == 0);
  CHECK(test::eventually([&] { return !process_matches(p.started.pid, p.started.start_time); }, 5s));
}

TEST_CASE("pause as PID 1 of a new PID namespace reaps orphans") {
  auto spec = pause_spec();
  spec.new_pid = true;
  RunningPause p(spec);
  auto status = fs::read_file(fmt::format("/proc/{}/status", p.started.pid));
  REQUIRE(status);
  CHECK(status->find(fmt::format("NSpid:\t{}\t1\n", p.started.pid)) != std::string::npos);
  // The outer sh backgrounds an inner one and exits at once: the inner sh is
  // orphaned to pause, which must reap it when it ends.
  std::string marker = test::unique_name("orphan", 30);
  in_namespaces(p.started.pid, "-p",
                {"/bin/busybox", "sh", "-c", "busybox sh -c 'busybox sleep 1; true' " + marker + " >/dev/null 2>&1 &"});
  // The orphan: the one process carrying the marker whose parent is pause
  // (nsenter, the outer sh and the inner sh's own children carry it too).
  pid_t orphan = 0;
  CHECK(test::eventually([&] {
    for (pid_t pid : test::processes_with(marker))
      if (parent_of(pid) == p.started.pid) orphan = pid;
    return orphan != 0;
  }, 5s));
  REQUIRE(orphan != 0);
  // Reaped, not left a zombie: /proc/<pid> disappears.
  CHECK(test::eventually([&] { return !fs::exists(fmt::format("/proc/{}", orphan)); }, 5s));
  CHECK(process_matches(p.started.pid, p.started.start_time));
}

TEST_CASE("start_pause fails with pause's own message and leaves nothing") {
  auto spec = pause_spec();
  spec.sysctls = {{"net.no.such.knob", "1"}};
  auto r = runtime::start_pause(spec);
  REQUIRE(!r);
  CHECK(r.error().message.find("/proc/sys/net/no/such/knob") != std::string::npos);

  spec = pause_spec();
  spec.pause_binary = "/nonexistent/deckhand-pause";
  r = runtime::start_pause(spec);
  REQUIRE(!r);
  CHECK(r.error().message.find("exec") != std::string::npos);
  CHECK(r.error().sys_errno == ENOENT);
}

TEST_CASE("start_pause joins the cgroup it is given") {
  std::string cg = "/sys/fs/cgroup/pids/" + test::unique_name("deckhand-test-pause", 40);
  REQUIRE(::mkdir(cg.c_str(), 0755) == 0);
  auto spec = pause_spec();
  spec.cgroup_procs = cg + "/cgroup.procs";
  {
    RunningPause p(spec);
    auto procs = fs::read_file(cg + "/cgroup.procs");
    REQUIRE(procs);
    CHECK(*procs == fmt::format("{}\n", p.started.pid));
    REQUIRE(runtime::stop_pause(p.started.pid, p.started.start_time));
  }
  CHECK(test::eventually([&] { return ::rmdir(cg.c_str()) == 0; }, 5s));
}

TEST_CASE("stop_pause never signals a pid that names another process now") {
  RunningPause p(pause_spec());
  // A wrong start time stands for a reused pid: nothing is signalled.
  REQUIRE(runtime::stop_pause(p.started.pid, p.started.start_time + 1));
  CHECK(process_matches(p.started.pid, p.started.start_time));
  REQUIRE(runtime::stop_pause(p.started.pid, p.started.start_time));
  REQUIRE(runtime::stop_pause(p.started.pid, p.started.start_time));  // gone already: fine
}

TEST_CASE("stop_process escalates to SIGKILL after the grace period") {
  test::TempDir dir;
  runtime::DetachedSpec d;
  // Ignores SIGTERM; exec'd sleep keeps the ignored disposition.
  d.argv = {"/bin/busybox", "sh", "-c", "trap '' TERM; exec busybox sleep 1000"};
  auto pid = runtime::spawn_detached(d);
  REQUIRE(pid);
  auto start = process_start_time(*pid);
  REQUIRE(start);
  test::KillOnExit guard{*pid, *start};
  // Let the trap take effect: wait until sh has exec'd sleep.
  REQUIRE(test::eventually([&] {
    auto cmd = fs::read_file(fmt::format("/proc/{}/cmdline", *pid));
    return cmd && cmd->starts_with(std::string("busybox\0sleep", 13));
  }));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(runtime::stop_process(*pid, *start, 300ms));
  CHECK(std::chrono::steady_clock::now() - t0 >= 250ms);  // poll's timeout is in whole ms
  CHECK(!process_matches(*pid, *start));
}

TEST_CASE("a pinned netns outlives pause; unpin leaves no mount and no file") {
  test::TempDir dir;
  std::string pin = dir.sub("netns/deep/" + test::unique_name("pin", 30));
  ino_t ns_inode = 0;
  {
    RunningPause p(pause_spec());
    ns_inode = inode_of(fmt::format("/proc/{}/ns/net", p.started.pid));
    REQUIRE(runtime::pin_netns(p.started.pid, pin));
    REQUIRE(runtime::stop_pause(p.started.pid, p.started.start_time));
  }
  CHECK(inode_of(pin) == ns_inode);
  struct statfs sfs {};
  REQUIRE(::statfs(pin.c_str(), &sfs) == 0);
  CHECK(sfs.f_type == 0x6e736673);  // NSFS_MAGIC
  CHECK(fs::read_file("/proc/self/mountinfo")->find(pin) != std::string::npos);
  REQUIRE(runtime::unpin_netns(pin));
  CHECK(fs::read_file("/proc/self/mountinfo")->find(pin) == std::string::npos);
  CHECK(!fs::exists(pin));
  CHECK(runtime::unpin_netns(pin));  // missing is fine
}
