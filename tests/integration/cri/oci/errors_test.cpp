// Bad bundles fail create with a message naming what is wrong, and leave
// nothing behind: no state directory, no cgroup, no process, no mount.
#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "oci_cli.h"

using namespace deckhand;

namespace {

void check_fails_cleanly(test::OciBundle& b, const std::string& expected) {
  CHECK(b.create() == 1);
  std::string err = b.err();
  INFO("stderr: " << err);
  CHECK(err.find(expected) != std::string::npos);
  CHECK(std::count(err.begin(), err.end(), '\n') == 1);
  CHECK(!fs::exists(b.state_root() + "/" + b.id()));
  CHECK(test::cgroup_dirs_left(b.cgroup_path()).empty());
  CHECK(test::processes_with(b.id()).empty());
  CHECK(test::mounts_with(b.rootfs()).empty());
  CHECK(!fs::exists(b.pid_file()));
}

}  // namespace

TEST_CASE("missing args") {
  test::OciBundle b({"true"}, {}, [](Json& c) { c["process"]["args"] = Json::array(); });
  check_fails_cleanly(b, "process.args");
}

TEST_CASE("a mount destination that is not absolute") {
  test::OciBundle b({"true"}, {}, [](Json& c) {
    c["mounts"].push_back({{"destination", "data"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  });
  check_fails_cleanly(b, "mounts[7].destination");
}

TEST_CASE("an unknown namespace type") {
  test::OciBundle b({"true"}, {}, [](Json& c) { c["linux"]["namespaces"].push_back({{"type", "teleport"}}); });
  check_fails_cleanly(b, "unknown namespace type \"teleport\"");
}

TEST_CASE("root.path missing") {
  test::OciBundle b({"true"}, {}, [](Json& c) { c["root"]["path"] = "/nonexistent/rootfs"; });
  check_fails_cleanly(b, "root.path");
}

TEST_CASE("seccomp and terminals are refused") {
  test::OciBundle seccomp({"true"}, {}, [](Json& c) { c["linux"]["seccomp"] = {{"defaultAction", "SCMP_ACT_ERRNO"}}; });
  check_fails_cleanly(seccomp, "linux.seccomp");
  test::OciBundle tty({"true"}, {}, [](Json& c) { c["process"]["terminal"] = true; });
  check_fails_cleanly(tty, "process.terminal");
}

// These pass validation and fail inside the init, after the cgroup and the
// state directory were made: both must go again, and the init with them.
TEST_CASE("a bind mount whose source is missing fails in the init") {
  test::OciBundle b({"true"}, [](auto& s) {
    s.mounts.push_back({.destination = "/data", .source = "/nonexistent/deckhand-oci-test"});
  });
  check_fails_cleanly(b, "bind mount source /nonexistent/deckhand-oci-test for /data: No such file or directory");
}

TEST_CASE("a command that is not in the rootfs fails create") {
  test::OciBundle b({"no-such-command"});
  check_fails_cleanly(b, "\"no-such-command\" not found");
}

TEST_CASE("a pid namespace path that does not exist") {
  test::OciBundle b({"true"}, [](auto& s) {
    s.namespaces.new_pid_ns = false;
    s.namespaces.pid = "/proc/999999999/ns/pid";
  });
  check_fails_cleanly(b, "pid namespace /proc/999999999/ns/pid");
}
