// ContainerdRuntime, the private containerd of the agent's acceptance test:
// a busybox pod runs on it with our CNI plugins in its own /24 and cgroup
// parent, and destroying it leaves no shim, bridge, mount, cgroup or
// directory behind, also when a pod is still running.
#include "containerd_runtime.h"

#include <doctest/doctest.h>
#include <signal.h>

#include "deckhand/common/fs.h"
#include "test_env.h"

namespace deckhand::test {
namespace {

constexpr const char* kBusybox = "deckhand.test/busybox:1.36";

::runtime::v1::PodSandboxConfig pod_config(const ContainerdRuntime& rt, const std::string& name,
                                           const std::string& log_dir) {
  ::runtime::v1::PodSandboxConfig c;
  c.mutable_metadata()->set_name(name);
  c.mutable_metadata()->set_namespace_("test");
  c.mutable_metadata()->set_uid(unique_name("uid-" + name + "-", 60));
  c.set_hostname(name);
  c.set_log_directory(log_dir);
  // A nameserver inside the test's network: without one containerd copies the host's.
  c.mutable_dns_config()->add_servers(rt.subnet_prefix() + "1");
  c.mutable_linux()->set_cgroup_parent(rt.cgroup_parent() + "/pod-" + name);
  return c;
}

// Runs a pod with one busybox container sleeping in it; returns the pod's id.
std::string run_sleeping_pod(ContainerdRuntime& rt, const ::runtime::v1::PodSandboxConfig& pod) {
  auto pod_id = rt.client().run_pod_sandbox(pod);
  REQUIRE_MESSAGE(pod_id, (pod_id ? "" : pod_id.error().message) << "\n" << rt.log_tail());
  ::runtime::v1::ContainerConfig c;
  c.mutable_metadata()->set_name("sleeper");
  c.mutable_image()->set_image(kBusybox);
  c.add_command("sleep");
  c.add_command("3600");
  c.set_log_path("sleeper.log");
  auto cid = rt.client().create_container(*pod_id, c, pod);
  REQUIRE_MESSAGE(cid, (cid ? "" : cid.error().message) << "\n" << rt.log_tail());
  auto started = rt.client().start_container(*cid);
  REQUIRE_MESSAGE(started, (started ? "" : started.error().message) << "\n" << rt.log_tail());
  auto status = rt.client().container_status(*cid, false);
  REQUIRE(status);
  CHECK(status->status().state() == ::runtime::v1::CONTAINER_RUNNING);
  return *pod_id;
}

struct Leftovers {
  std::string root, bridge, socket, cgroup_parent;
  std::vector<std::string> bridge_ports;  // the host ends of the pods' veths
  std::vector<std::string> pod_ids;       // libcni caches results under their names
};

Leftovers what_must_go(const ContainerdRuntime& rt, std::vector<std::string> pod_ids) {
  return {rt.root(),
          rt.bridge(),
          rt.socket(),
          rt.cgroup_parent(),
          fs::list_dir("/sys/class/net/" + rt.bridge() + "/brif").value_or(std::vector<std::string>{}),
          std::move(pod_ids)};
}

void check_nothing_left(const Leftovers& l) {
  CHECK(processes_with(l.socket + std::string(1, '\0')).empty());  // containerd and its shims
  CHECK_FALSE(fs::exists("/sys/class/net/" + l.bridge));
  // A veth goes with its pod's network namespace, which the kernel frees in the background.
  for (auto& port : l.bridge_ports)
    CHECK_MESSAGE(eventually([&] { return !fs::exists("/sys/class/net/" + port); }), port << " stays");
  CHECK_FALSE(fs::exists(l.root));
  auto mountinfo = fs::read_file("/proc/self/mountinfo");
  REQUIRE(mountinfo);
  CHECK(mountinfo->find(l.root) == std::string::npos);
  CHECK(cgroup_dirs_left(l.cgroup_parent).empty());
  for (auto& f : fs::list_dir("/var/lib/cni/results").value_or(std::vector<std::string>{})) {
    CHECK(f.find(l.bridge) == std::string::npos);
    for (auto& id : l.pod_ids) CHECK(f.find(id) == std::string::npos);
  }
}

}  // namespace

TEST_CASE("a busybox pod runs on the private containerd, which leaves nothing behind") {
  std::string why_not;
  auto rt = ContainerdRuntime::start(&why_not);
  if (!rt) {
    MESSAGE("SKIPPED: " << why_not);
    return;
  }
  CHECK(rt->endpoint() == "unix://" + rt->socket());
  rt->import_image(build_path("tests/fixtures/busybox-1.36-oci.tar"));
  TempDir logs("deckhand-ctrd-logs");
  auto pod = pod_config(*rt, "web", logs.path());
  std::string pod_id = run_sleeping_pod(*rt, pod);

  auto status = rt->client().pod_sandbox_status(pod_id, false);
  REQUIRE(status);
  std::string ip = status->status().network().ip();
  CHECK_MESSAGE(ip.rfind(rt->subnet_prefix(), 0) == 0, ip << " is not in " << rt->subnet_prefix() << "0/24");
  CHECK(fs::exists("/sys/class/net/" + rt->bridge()));
  CHECK_FALSE(rt->shims().empty());
  // The pod's cgroup is below ours (runc with cgroupfs takes the parent as a path).
  CHECK_FALSE(cgroup_dirs_left(rt->cgroup_parent() + "/pod-web").empty());

  REQUIRE(rt->client().stop_pod_sandbox(pod_id));
  REQUIRE(rt->client().remove_pod_sandbox(pod_id));
  auto left = rt->client().list_pod_sandbox();
  REQUIRE(left);
  CHECK(left->empty());

  Leftovers l = what_must_go(*rt, {pod_id});
  rt.reset();
  check_nothing_left(l);
}

TEST_CASE("destroying the private containerd with a pod still running cleans up all the same") {
  std::string why_not;
  auto rt = ContainerdRuntime::start(&why_not);
  if (!rt) {
    MESSAGE("SKIPPED: " << why_not);
    return;
  }
  rt->import_image(build_path("tests/fixtures/busybox-1.36-oci.tar"));
  TempDir logs("deckhand-ctrd-logs");
  std::string pod_id = run_sleeping_pod(*rt, pod_config(*rt, "left", logs.path()));
  REQUIRE_FALSE(rt->mounts_under_root().empty());  // netns pin, rootfs: what the cleanup must undo
  Leftovers l = what_must_go(*rt, {pod_id});
  rt.reset();
  check_nothing_left(l);
}

TEST_CASE("after containerd dies, destroying it kills its shims and pods and undoes their mounts") {
  std::string why_not;
  auto rt = ContainerdRuntime::start(&why_not);
  if (!rt) {
    MESSAGE("SKIPPED: " << why_not);
    return;
  }
  rt->import_image(build_path("tests/fixtures/busybox-1.36-oci.tar"));
  TempDir logs("deckhand-ctrd-logs");
  std::string pod_id = run_sleeping_pod(*rt, pod_config(*rt, "orphan", logs.path()));
  auto daemon = processes_with(rt->root() + "/config.toml");
  REQUIRE(daemon.size() == 1);
  REQUIRE(::kill(daemon[0], SIGKILL) == 0);
  Leftovers l = what_must_go(*rt, {pod_id});
  CHECK_FALSE(l.bridge_ports.empty());
  CHECK_FALSE(rt->shims().empty());  // shims outlive containerd
  rt.reset();
  check_nothing_left(l);
}

}  // namespace deckhand::test
