// deckhand-cri under failure: a CNI plugin or the OCI runtime failing half
// way, many pods at once, and a simulated reboot.
#include <signal.h>
#include <sys/mount.h>

#include <atomic>
#include <fstream>
#include <thread>

#include <doctest/doctest.h>

#include "cri_world.h"
#include "deckhand/common/fs.h"

using namespace deckhand;
using namespace deckhand::test;
namespace v1 = ::runtime::v1;

namespace {

// A CNI plugin that always fails with the spec's error JSON.
std::string write_failing_plugin(const std::string& dir) {
  std::string path = dir + "/deckhand-test-fail";
  REQUIRE(fs::write_file_atomic(path,
                                "#!/bin/sh\n"
                                "if [ \"$CNI_COMMAND\" = ADD ]; then\n"
                                "  echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"injected failure\"}'\n"
                                "  exit 1\n"
                                "fi\n"
                                "echo '{}'\n",
                                0755));
  return path;
}

// Kills every process in the cgroup hierarchy under path (v1 memory controller).
void kill_cgroup_tree(const std::string& path) {
  std::string base = "/sys/fs/cgroup/memory" + path;
  std::ifstream procs(base + "/cgroup.procs");
  int pid;
  while (procs >> pid) ::kill(pid, SIGKILL);
  for (auto& child : fs::list_dir(base).value_or(std::vector<std::string>{})) {
    if (fs::exists(base + "/" + child + "/cgroup.procs")) kill_cgroup_tree(path + "/" + child);
  }
}

}  // namespace

TEST_CASE("a CNI plugin failing half-way leaves no netns, veth, lease, cgroup or state") {
  TempDir bin("deckhand-cni-bin");
  write_failing_plugin(bin.path());
  WorldOptions o;
  o.extra_bin_dir = bin.path();
  o.extra_plugins = {R"({"type": "deckhand-test-fail"})"};
  CriWorld w(o);
  w.start();
  auto pod = w.pod_config("cnifail");
  auto id = w.client().run_pod_sandbox(pod);
  REQUIRE(!id);
  CHECK(id.error().message.find("injected failure") != std::string::npos);
  CHECK(w.bridge_ports().empty());
  CHECK(w.ip_leases().empty());
  CHECK(w.netns_pins().empty());
  CHECK(w.mounts_under_root().empty());
  CHECK(!w.cgroup_exists(pod.linux().cgroup_parent()));
  CHECK(fs::list_dir(w.state_dir() + "/sandboxes").value().empty());
  auto pods = w.client().list_pod_sandbox();
  REQUIRE(pods);
  CHECK(pods->empty());
}

TEST_CASE("an OCI runtime failing at create leaves no container behind") {
  TempDir bin("deckhand-fake-runc");
  std::string fake = bin.path() + "/runc";
  // Fails "create"; forwards everything else (delete, kill, state) to the real runc.
  REQUIRE(fs::write_file_atomic(fake,
                                "#!/bin/sh\n"
                                "for a in \"$@\"; do [ \"$a\" = create ] && { echo 'injected runtime failure' >&2; exit 1; }; done\n"
                                "exec runc \"$@\"\n",
                                0755));
  WorldOptions o;
  o.runtime = fake;
  CriWorld w(o);
  w.start();
  w.import_busybox();
  auto pod = w.pod_config("rtfail");
  auto pod_id = w.client().run_pod_sandbox(pod);
  REQUIRE(pod_id);
  auto cid = w.client().create_container(*pod_id, w.container_config("c", {"true"}), pod);
  REQUIRE(!cid);
  CHECK(cid.error().message.find("injected runtime failure") != std::string::npos);
  CHECK(fs::list_dir(w.state_dir() + "/containers").value().empty());
  auto containers = w.client().list_containers();
  REQUIRE(containers);
  CHECK(containers->empty());
  // Only the pod's /dev/shm and netns pin remain mounted, nothing of the container.
  for (auto& m : w.mounts_under_root()) CHECK(m.find("/containers/") == std::string::npos);
  REQUIRE(w.client().remove_pod_sandbox(*pod_id));
  CHECK(w.mounts_under_root().empty());
}

TEST_CASE("many pods started and removed concurrently") {
  const int pods = std::getenv("DECKHAND_TEST_PODS") ? std::atoi(std::getenv("DECKHAND_TEST_PODS")) : 50;
  CriWorld w;
  w.start();
  w.import_busybox();
  std::atomic<int> failures{0};
  std::vector<std::string> errors(static_cast<size_t>(pods));
  auto run_one = [&](int i) {
    auto c = cri::CriClient::connect("unix://" + w.root() + "/cri.sock");
    if (!c) {
      errors[size_t(i)] = c.error().message;
      ++failures;
      return;
    }
    auto& cl = **c;
    auto pod = w.pod_config("p" + std::to_string(i));
    auto id = cl.run_pod_sandbox(pod);
    auto cid = id ? cl.create_container(*id, w.container_config("c", {"sleep", "1000"}), pod) : Result<std::string>(tl::unexpected(id.error()));
    auto started = cid ? cl.start_container(*cid) : Status(tl::unexpected(cid.error()));
    Status removed = id ? cl.remove_pod_sandbox(*id) : Status();
    if (!started || !removed) {
      errors[size_t(i)] = !started ? started.error().message : removed.error().message;
      ++failures;
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < pods; ++i) threads.emplace_back(run_one, i);
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (!e.empty()) FAIL_CHECK(e);
  CHECK(failures == 0);
  CHECK(w.bridge_ports().empty());
  CHECK(w.ip_leases().empty());
  CHECK(w.netns_pins().empty());
  CHECK(w.mounts_under_root().empty());
  CHECK(fs::list_dir(w.state_dir() + "/sandboxes").value().empty());
  CHECK(fs::list_dir(w.state_dir() + "/containers").value().empty());
}

TEST_CASE("after a reboot, old sandboxes are NOTREADY and stopping them releases their leases") {
  CriWorld w;
  w.start();
  w.import_busybox();
  auto pod = w.pod_config("rebooted");
  auto pod_id = w.client().run_pod_sandbox(pod);
  REQUIRE(pod_id);
  auto cid = w.client().create_container(*pod_id, w.container_config("c", {"sleep", "1000"}), pod);
  REQUIRE(cid);
  REQUIRE(w.client().start_container(*cid));
  REQUIRE(w.ip_leases().size() == 1);

  // The "reboot": every process gone, every mount gone, /run emptied.
  w.crash();
  kill_cgroup_tree(pod.linux().cgroup_parent());
  for (auto& m : w.mounts_under_root()) REQUIRE(::umount2(m.c_str(), MNT_DETACH) == 0);
  REQUIRE(fs::remove_all(w.run_dir()));
  RunOptions del;
  del.argv = {"ip", "link", "del", w.bridge()};
  (void)run_process(del);

  w.start();
  auto status = w.client().pod_sandbox_status(*pod_id, false);
  REQUIRE(status);
  CHECK(status->status().state() == v1::SANDBOX_NOTREADY);
  auto cs = w.client().container_status(*cid, false);
  REQUIRE(cs);
  CHECK(cs->status().state() == v1::CONTAINER_EXITED);
  CHECK(w.ip_leases().size() == 1);
  REQUIRE(w.client().stop_pod_sandbox(*pod_id));
  CHECK(w.ip_leases().empty());
  REQUIRE(w.client().remove_pod_sandbox(*pod_id));
  CHECK(fs::list_dir(w.state_dir() + "/containers").value().empty());
}
