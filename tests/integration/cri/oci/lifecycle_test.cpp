// create -> start -> exit -> delete, signals, exec and update, through the CLI
// and through OciRuntime (deckhand-cri's view of an OCI runtime binary).
#include <signal.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "deckhand/common/fs.h"
#include "oci_cli.h"

using namespace deckhand;
using namespace std::chrono_literals;

namespace {

std::string exe_of(pid_t pid) {
  char buf[4096];
  ssize_t n = ::readlink(fmt::format("/proc/{}/exe", pid).c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

void create_and_start(test::OciBundle& b) {
  REQUIRE_MESSAGE(b.create() == 0, b.err());
  auto st = b.runtime().start(b.id());
  REQUIRE_MESSAGE(st, (st ? "" : st.error().message));
}

}  // namespace

TEST_CASE("create, start, output on our stdio, exit, delete leaves nothing") {
  test::OciBundle b({"sh", "-c", "echo out; echo err >&2; read line; exit 3"},
                    [](auto& s) { s.resources.memory_limit = 64 << 20; });
  // stdin of create is /dev/null: `read` returns at once, but only after start.
  REQUIRE_MESSAGE(b.create() == 0, b.err());
  CHECK(b.err().empty());
  pid_t init = b.init_pid();
  REQUIRE(init > 0);
  CHECK(b.status() == "created");
  // Not yet the container's command: still our init, waiting for start.
  CHECK(exe_of(init).ends_with("deckhand-oci"));
  CHECK(b.out().empty());
  auto state = b.cli({"state", b.id()});
  auto j = parse_json(state.out, "state");
  REQUIRE(j);
  CHECK((*j)["pid"] == init);
  CHECK((*j)["bundle"] == b.bundle());
  CHECK((*j)["rootfs"] == b.rootfs());
  CHECK((*j)["ociVersion"] == "1.0.2");
  CHECK(!(*j)["created"].get<std::string>().empty());

  REQUIRE(b.runtime().start(b.id()));
  auto code = b.wait_init();
  REQUIRE(code);
  CHECK(*code == 3);
  CHECK(b.out() == "out\n");
  CHECK(b.err() == "err\n");
  CHECK(b.status() == "stopped");
  auto again = b.cli({"start", b.id()});
  CHECK(again.exit_code == 1);

  REQUIRE(b.runtime().remove(b.id(), false));
  CHECK(!fs::exists(b.state_root() + "/" + b.id()));
  CHECK(test::cgroup_dirs_left(b.cgroup_path()).empty());
  CHECK(test::mounts_with(b.rootfs()).empty());
  auto gone = b.cli({"state", b.id()});
  CHECK(gone.exit_code == 1);
  CHECK(gone.err.find("container does not exist") != std::string::npos);
  auto del = b.cli({"delete", b.id()});
  CHECK(del.exit_code == 1);
  CHECK(del.err.find("container does not exist") != std::string::npos);
}

TEST_CASE("a running container is running until it exits; delete refuses it without --force") {
  test::OciBundle b({"sleep", "1000"});
  create_and_start(b);
  CHECK(b.status() == "running");
  CHECK(exe_of(b.init_pid()).ends_with("busybox"));
  auto del = b.cli({"delete", b.id()});
  CHECK(del.exit_code == 1);
  CHECK(del.err.find("not stopped") != std::string::npos);
  REQUIRE(b.runtime().remove(b.id(), true));
  CHECK(b.wait_init() == 137);
  CHECK(!fs::exists(b.state_root() + "/" + b.id()));
  CHECK(test::cgroup_dirs_left(b.cgroup_path()).empty());
}

TEST_CASE("a created container can be deleted before it ever ran") {
  test::OciBundle b({"sleep", "1000"});
  REQUIRE_MESSAGE(b.create() == 0, b.err());
  REQUIRE(b.runtime().remove(b.id(), false));
  CHECK(b.wait_init().has_value());
  CHECK(test::cgroup_dirs_left(b.cgroup_path()).empty());
}

TEST_CASE("kill sends to the init; kill --all reaches every process of the cgroup") {
  test::OciBundle b({"sh", "-c", "trap 'exit 7' TERM; sleep 1000 & while true; do sleep 0.05; done"});
  create_and_start(b);
  REQUIRE(b.cli({"kill", b.id(), "TERM"}).exit_code == 0);
  CHECK(b.wait_init() == 7);
  // The backgrounded sleep went with the pid namespace of its init.
  std::string first_procs = "/sys/fs/cgroup/pids" + b.cgroup_path() + "/cgroup.procs";
  CHECK(test::eventually([&] { return fs::read_file(first_procs).value_or("x").empty(); }));

  test::OciBundle all({"sh", "-c", "sleep 1000 & sleep 1001 & wait"},
                      [](auto& s) { s.namespaces.new_pid_ns = false; });  // no pid namespace to kill them for us
  create_and_start(all);
  std::string procs = "/sys/fs/cgroup/pids" + all.cgroup_path() + "/cgroup.procs";
  REQUIRE(test::eventually([&] {
    auto text = fs::read_file(procs).value_or("");
    return std::count(text.begin(), text.end(), '\n') == 3;
  }));
  REQUIRE(all.cli({"kill", "--all", all.id(), "SIGKILL"}).exit_code == 0);
  CHECK(all.wait_init() == 137);
  CHECK(test::eventually([&] { return fs::read_file(procs).value_or("x").empty(); }));
  auto bad = all.cli({"kill", all.id(), "NOSUCHSIG"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find("unknown signal") != std::string::npos);
}

TEST_CASE("exec runs in the container and returns its exit code; not in a stopped one") {
  test::OciBundle b({"sleep", "1000"});
  create_and_start(b);
  auto r = b.runtime().exec(b.id(), {"sh", "-c", "echo out; echo err >&2; hostname; ps -o pid,comm | grep sleep; exit 4"}, 10s);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(r->out == "out\nctr\n    1 sleep\n");
  CHECK(r->err == "err\n");
  CHECK(r->exit_code == 4);
  auto env = b.cli({"exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "1000:1000", b.id(), "sh", "-c",
                    "echo $FOO; pwd; id -u; id -g"});
  CHECK(env.exit_code == 0);
  CHECK(env.out == "bar\n/tmp\n1000\n1000\n");
  auto killed = b.runtime().exec(b.id(), {"sh", "-c", "kill -9 $$"}, 10s);
  REQUIRE(killed);
  CHECK(killed->exit_code == 137);
  auto missing = b.runtime().exec(b.id(), {"no-such-command"}, 10s);
  REQUIRE(missing);
  CHECK(missing->exit_code != 0);
  CHECK(missing->err.find("no-such-command") != std::string::npos);

  REQUIRE(b.cli({"kill", b.id(), "KILL"}).exit_code == 0);
  CHECK(b.wait_init() == 137);
  auto stopped = b.runtime().exec(b.id(), {"true"}, 10s);
  REQUIRE(!stopped);
  CHECK(stopped.error().message.find("cannot exec in a stopped container") != std::string::npos);
}

// cpu shares and memory through OciRuntime::update are tested for runc and
// deckhand-oci alike in tests/integration/cri/runtime; here the CLI with pids.
TEST_CASE("update sets the pids limit in the container's cgroup") {
  test::OciBundle b({"sleep", "1000"});
  create_and_start(b);
  RunOptions ro{.argv = {test::oci_binary(), "--root", b.state_root(), "update", "--resources", "-", b.id()},
                .stdin_data = R"({"pids": {"limit": 42}})"};
  auto out = run_process(ro);
  REQUIRE(out);
  CHECK(out->exit_code == 0);
  CHECK(fs::read_file("/sys/fs/cgroup/pids" + b.cgroup_path() + "/pids.max").value_or("") == "42\n");
}

TEST_CASE("an id that exists is refused and the first container is left alone") {
  test::OciBundle b({"sleep", "1000"});
  REQUIRE_MESSAGE(b.create() == 0, b.err());
  pid_t first = b.init_pid();
  CHECK(b.create() == 1);
  CHECK(b.err().find("container with id exists") != std::string::npos);
  CHECK(b.status() == "created");
  CHECK(::kill(first, 0) == 0);
  CHECK(!test::cgroup_dirs_left(b.cgroup_path()).empty());
}

TEST_CASE("version") {
  RunOptions ro{.argv = {test::oci_binary(), "--version"}};
  auto out = run_process(ro);
  REQUIRE(out);
  CHECK(out->out.find("deckhand-oci version 0.1.0") != std::string::npos);
  CHECK(out->out.find("1.0.2") != std::string::npos);
}
