#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"
#include "deckhand/runtime/monitor.h"
#include "deckhand/runtime/oci_runtime.h"
#include "test_bundle.h"
#include "test_env.h"

using namespace deckhand;
using namespace std::chrono_literals;

namespace {

struct Running {
  runtime::MonitorStarted m;
  test::KillOnExit guard;
};

Running run_container(test::TestBundle& b) {
  auto r = runtime::start_monitor(b.monitor_spec());
  if (!r) FAIL(r.error().message);
  auto st = b.runtime().start(b.id());
  if (!st) FAIL(st.error().message);  // ~TestBundle removes the container and its monitor
  // start returns once the init may exec the command, not once it has: until
  // then a signal meets the runtime's init (runc's exits 2 on SIGTERM).
  auto state = b.runtime().state(b.id());
  REQUIRE(state);
  char real[PATH_MAX] = {};
  std::string runtime_exe = ::realpath(b.runtime().binary().c_str(), real) ? real : b.runtime().binary();
  bool execd = test::eventually([&] {
    char exe[4096] = {};
    ssize_t n = ::readlink(fmt::format("/proc/{}/exe", state->pid).c_str(), exe, sizeof exe - 1);
    return n <= 0 || std::string(exe, size_t(n)) != runtime_exe;
  });
  REQUIRE_MESSAGE(execd, "the container's init did not exec its command");
  return {*r, {r->monitor_pid, r->monitor_start_time}};
}

}  // namespace

TEST_CASE("default_binary finds runc on this host") {
  auto bin = runtime::OciRuntime::default_binary();
  CHECK(bin.ends_with("/runc"));
}

TEST_CASE("exec returns stdout, stderr and the exit code") {
  for (const auto& binary : test::oci_runtime_binaries()) {
    INFO("runtime: " << binary);
    test::TestBundle b({"sleep", "1000"}, {}, binary);
    auto c = run_container(b);
    auto st = b.runtime().state(b.id());
    REQUIRE(st);
    CHECK(st->status == "running");
    auto r = b.runtime().exec(b.id(), {"sh", "-c", "echo out; echo err >&2; hostname; exit 4"}, 10s);
    REQUIRE(r);
    CHECK(r->out == "out\nctr\n");
    CHECK(r->err == "err\n");
    CHECK(r->exit_code == 4);
    CHECK(!r->timed_out);
  }
}

TEST_CASE("exec past its timeout fails and kills the exec'd process") {
  test::TestBundle b({"sleep", "1000"});
  auto c = run_container(b);
  auto r = b.runtime().exec(b.id(), {"sh", "-c", "exec sleep 777"}, 500ms);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::DeadlineExceeded);
  CHECK(test::eventually([&] {
    auto ps = b.runtime().exec(b.id(), {"ps"}, 10s);
    return ps && ps->out.find("sleep 777") == std::string::npos;
  }));
}

TEST_CASE("exec in a missing container is an error naming the command") {
  for (const auto& binary : test::oci_runtime_binaries()) {
    INFO("runtime: " << binary);
    test::TempDir dir;
    runtime::OciRuntime rt(binary, dir.path());
    auto r = rt.exec("no-such-container", {"true"}, 5s);
    REQUIRE(!r);
    CHECK(r.error().message.find("no-such-container") != std::string::npos);
  }
}

TEST_CASE("stop: SIGTERM is ignored by a PID 1 without handler, SIGKILL after the timeout") {
  for (const auto& binary : test::oci_runtime_binaries()) {
    INFO("runtime: " << binary);
    test::TestBundle b({"sleep", "1000"}, {}, binary);
    auto c = run_container(b);
    REQUIRE(b.runtime().kill(b.id(), SIGTERM));
    CHECK(!test::wait_exit(b.state_dir(), 500ms));
    REQUIRE(b.runtime().kill(b.id(), SIGKILL, true));
    auto exit = test::wait_exit(b.state_dir());
    REQUIRE(exit);
    CHECK(exit->exit_code == 137);
    auto st = b.runtime().state(b.id());
    REQUIRE(st);
    CHECK(st->status == "stopped");
    REQUIRE(b.runtime().remove(b.id(), false));
    auto gone = b.runtime().state(b.id());
    REQUIRE(!gone);
    CHECK(gone.error().kind == ErrorKind::NotFound);
    CHECK(b.runtime().remove(b.id(), false));  // does not exist: fine
    CHECK(test::cgroup_dirs_left(b.cgroup_path()).empty());
  }
}

TEST_CASE("a container with a TERM handler exits on SIGTERM with its own code") {
  for (const auto& binary : test::oci_runtime_binaries()) {
    INFO("runtime: " << binary);
    test::TestBundle b({"sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.05; done"}, {}, binary);
    auto c = run_container(b);
    REQUIRE(b.runtime().kill(b.id(), SIGTERM));
    auto exit = test::wait_exit(b.state_dir());
    REQUIRE(exit);
    CHECK(exit->exit_code == 7);
  }
}

TEST_CASE("remove --force kills a running container") {
  for (const auto& binary : test::oci_runtime_binaries()) {
    INFO("runtime: " << binary);
    test::TestBundle b({"sleep", "1000"}, {}, binary);
    auto c = run_container(b);
    REQUIRE(b.runtime().remove(b.id(), true));
    CHECK(!b.runtime().state(b.id()));
    CHECK(test::wait_exit(b.state_dir()).has_value());
  }
}

TEST_CASE("update changes cpu shares and the memory limit in the container's cgroup") {
  for (const auto& binary : test::oci_runtime_binaries()) {
    INFO("runtime: " << binary);
    test::TestBundle b({"sleep", "1000"}, {}, binary);
    auto c = run_container(b);
    runtime::ResourceSpec res;
    res.cpu_shares = 512;
    res.memory_limit = 64 << 20;
    auto st = b.runtime().update(b.id(), res);
    REQUIRE_MESSAGE(st, (st ? "" : st.error().message));
    CHECK(fs::read_file("/sys/fs/cgroup/cpu" + b.cgroup_path() + "/cpu.shares").value_or("") == "512\n");
    CHECK(fs::read_file("/sys/fs/cgroup/memory" + b.cgroup_path() + "/memory.limit_in_bytes").value_or("") ==
          fmt::format("{}\n", 64 << 20));
  }
}

TEST_CASE("errors of the runtime carry the command and its stderr") {
  for (const auto& binary : test::oci_runtime_binaries()) {
    INFO("runtime: " << binary);
    test::TempDir dir;
    runtime::OciRuntime rt(binary, dir.path());
    auto st = rt.start("no-such-container");
    REQUIRE(!st);
    CHECK(st.error().message.find("start no-such-container") != std::string::npos);
    CHECK(st.error().message.find("does not exist") != std::string::npos);
    CHECK(st.error().kind == ErrorKind::NotFound);
  }
}
