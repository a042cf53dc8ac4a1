// What the container sees: namespaces (new and joined), mounts, masked and
// read-only paths, its user and capabilities, and its cgroup.
#include <sched.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "deckhand/common/fs.h"
#include "oci_cli.h"

using namespace deckhand;
using namespace std::chrono_literals;

namespace {

// Runs the container to its end and returns what it wrote to stdout.
std::string run_to_end(test::OciBundle& b, int expected_code = 0) {
  REQUIRE_MESSAGE(b.create() == 0, b.err());
  REQUIRE(b.cli({"start", b.id()}).exit_code == 0);
  auto code = b.wait_init();
  REQUIRE(code);
  INFO("stderr: " << b.err());
  CHECK(*code == expected_code);
  return b.out();
}

std::string ns_link(pid_t pid, const char* ns) {
  char buf[256];
  ssize_t n = ::readlink(fmt::format("/proc/{}/ns/{}", pid, ns).c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// A process of ours holding a network namespace of its own, as a pod's pause process does.
struct NetnsHolder {
  pid_t pid = -1;
  NetnsHolder() {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(ready[0]);
      if (::unshare(CLONE_NEWNET) != 0) ::_exit(1);
      (void)!::write(ready[1], "x", 1);
      ::pause();
      ::_exit(0);
    }
    ::close(ready[1]);
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
  }
  ~NetnsHolder() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
};

}  // namespace

TEST_CASE("a container joins the network namespace given by path; new ones are its own") {
  NetnsHolder holder;
  std::string netns = fmt::format("/proc/{}/ns/net", holder.pid);
  test::OciBundle b({"sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; readlink /proc/self/ns/pid; hostname"},
                    [&](auto& s) {
                      s.namespaces.new_net_ns = false;
                      s.namespaces.net = netns;
                    });
  auto out = run_to_end(b);
  auto lines = std::vector<std::string>();
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\n', pos);
    lines.push_back(out.substr(pos, end - pos));
    pos = end + 1;
  }
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == ns_link(holder.pid, "net"));
  CHECK(lines[1] != ns_link(::getpid(), "uts"));
  CHECK(lines[2] != ns_link(::getpid(), "pid"));
  CHECK(lines[3] == "ctr");
}

TEST_CASE("mounts: proc, devices, a bind mount, masked and read-only paths, read-only root") {
  test::TempDir host;
  REQUIRE(fs::make_dirs(host.sub("data")));
  REQUIRE(fs::write_file_atomic(host.sub("data/hello"), "from the host\n"));
  test::OciBundle b({"sh", "-c",
                     "cat /proc/self/comm; echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c; "
                     "cat /data/hello; (echo y > /data/new) 2>/dev/null || echo bind-ro; "
                     "stat -c %F /proc/timer_list; ls /proc/acpi 2>/dev/null | wc -l; "
                     "(echo 1 > /proc/sys/kernel/domainname) 2>/dev/null || echo proc-sys-ro; "
                     "(touch /newfile) 2>/dev/null || echo root-ro; "
                     "touch /dev/shm/ok && echo shm-rw; ls -l /dev/fd | grep -c proc; "
                     "readlink /dev/stdout; grep -c ' /sys/fs/cgroup/memory ' /proc/self/mountinfo"},
                    [&](auto& s) {
                      s.readonly_rootfs = true;
                      s.mounts.push_back({.destination = "/data", .source = host.sub("data"), .options = {"ro"}});
                    });
  REQUIRE(::symlink("busybox", (b.rootfs() + "/bin/wc").c_str()) == 0);
  auto out = run_to_end(b);
  CHECK(out ==
        "cat\nnull-ok\n4\nfrom the host\nbind-ro\ncharacter special file\n0\nproc-sys-ro\nroot-ro\nshm-rw\n1\n"
        "/proc/self/fd/1\n1\n");
  CHECK(!fs::exists(host.sub("data/new")));
  CHECK(!fs::exists(b.rootfs() + "/newfile"));
  REQUIRE(b.cli({"delete", b.id()}).exit_code == 0);
  CHECK(test::mounts_with(b.rootfs()).empty());
  CHECK(test::mounts_with(host.sub("data")).empty());
}

TEST_CASE("user 1000:1000 and the configured capabilities") {
  test::OciBundle root({"sh", "-c", "id -u; grep -E '^Cap(Eff|Bnd)' /proc/self/status; grep NoNewPrivs /proc/self/status"},
                       [](auto& s) {
                         s.cap_drop = {"ALL"};
                         s.cap_add = {"CHOWN", "NET_RAW"};
                         s.no_new_privs = true;
                       });
  // CAP_CHOWN is bit 0, CAP_NET_RAW bit 13.
  CHECK(run_to_end(root) == "0\nCapEff:\t0000000000002001\nCapBnd:\t0000000000002001\nNoNewPrivs:\t1\n");

  test::OciBundle user({"sh", "-c", "id -u; id -g; id -G; grep -E '^Cap(Eff|Bnd)' /proc/self/status; touch /tmp/f; stat -c %u:%g /tmp/f"},
                       [](auto& s) {
                         s.uid = 1000;
                         s.gid = 1000;
                         s.additional_gids = {1000, 2000};
                         s.cap_drop = {"ALL"};
                         s.cap_add = {"CHOWN", "NET_RAW"};
                       });
  REQUIRE(::chmod((user.rootfs() + "/tmp").c_str(), 01777) == 0);
  // A non-root user keeps no effective capabilities across exec (no ambient set), as with runc.
  CHECK(run_to_end(user) == "1000\n1000\n1000 2000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000002001\n1000:1000\n");
}

TEST_CASE("the container's processes are in its cgroup with its limits applied") {
  test::OciBundle b({"sh", "-c", "grep -E ':(memory|pids):' /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes"},
                    [](auto& s) {
                      s.resources.memory_limit = 48 << 20;
                      s.resources.pids_limit = 32;
                      s.resources.cpu_shares = 300;
                    });
  REQUIRE_MESSAGE(b.create() == 0, b.err());
  pid_t init = b.init_pid();
  // Placed before anything of the image runs.
  auto cg = fs::read_file(fmt::format("/proc/{}/cgroup", init)).value_or("");
  CHECK(cg.find(":memory:" + b.cgroup_path() + "\n") != std::string::npos);
  CHECK(cg.find(":pids:" + b.cgroup_path() + "\n") != std::string::npos);
  CHECK(cg.find(":cpu:" + b.cgroup_path() + "\n") != std::string::npos);
  CHECK(fs::read_file("/sys/fs/cgroup/memory" + b.cgroup_path() + "/memory.limit_in_bytes").value_or("") ==
        fmt::format("{}\n", 48 << 20));
  CHECK(fs::read_file("/sys/fs/cgroup/pids" + b.cgroup_path() + "/pids.max").value_or("") == "32\n");
  CHECK(fs::read_file("/sys/fs/cgroup/cpu" + b.cgroup_path() + "/cpu.shares").value_or("") == "300\n");
  auto devices = fs::read_file("/sys/fs/cgroup/devices" + b.cgroup_path() + "/devices.list").value_or("");
  CHECK(devices.find("c 1:3 rwm") != std::string::npos);
  CHECK(devices.find("a *:* rwm") == std::string::npos);
  REQUIRE(b.cli({"start", b.id()}).exit_code == 0);
  REQUIRE(b.wait_init() == 0);
  // Inside, /sys/fs/cgroup/memory is the container's own cgroup (no cgroup namespace: paths are the host's).
  CHECK(b.out().find(fmt::format("{}\n", 48 << 20)) != std::string::npos);
  CHECK(b.out().find(":memory:" + b.cgroup_path()) != std::string::npos);
}
