// The rest of the CRI surface: images, host-network pods, log reopening,
// resource updates, one daemon per socket, and a crash in the middle of
// RunPodSandbox.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <doctest/doctest.h>

#include "cri_world.h"
#include "deckhand/common/fs.h"

using namespace deckhand;
using namespace deckhand::test;
namespace v1 = ::runtime::v1;

namespace {

// A CNI plugin, appended to the chain, that holds ADD until the test opens the
// gate: lets a test act while a RunPodSandbox is half-way.
struct GatedPlugin {
  TempDir bin{"deckhand-cni-gate"};
  std::string gate = bin.path() + "/release";
  std::string entered = bin.path() + "/entered";

  GatedPlugin() {
    REQUIRE(fs::write_file_atomic(bin.path() + "/deckhand-test-gate",
                                  "#!/bin/sh\n"
                                  "if [ \"$CNI_COMMAND\" = ADD ]; then\n"
                                  "  touch " + entered + "\n"
                                  "  while [ ! -e " + gate + " ]; do sleep 0.02; done\n"
                                  "fi\n"
                                  "cat >/dev/null; echo '{\"cniVersion\":\"1.0.0\"}'\n",
                                  0755));
  }
  WorldOptions world_options() const {
    WorldOptions o;
    o.extra_bin_dir = bin.path();
    o.extra_plugins = {R"({"type": "deckhand-test-gate"})"};
    return o;
  }
  bool wait_entered() const { return eventually([&] { return fs::exists(entered); }, std::chrono::seconds(20)); }
  void open() const { REQUIRE(fs::write_file_atomic(gate, "")); }
};

}  // namespace

TEST_CASE("ImageService: list, status, remove and fs info") {
  CriWorld w;
  w.start();
  auto name = w.import_busybox();
  auto images = w.client().list_images();
  REQUIRE(images);
  REQUIRE(images->size() == 1);
  CHECK((*images)[0].repo_tags(0) == "deckhand.test/busybox:latest");
  CHECK((*images)[0].size() > 0);
  auto st = w.client().image_status(name, true);
  REQUIRE(st);
  CHECK(st->image().id() == (*images)[0].id());
  CHECK(st->info().count("info") == 1);
  auto by_id = w.client().image_status((*images)[0].id().substr(7, 12), false);
  REQUIRE(by_id);
  CHECK(by_id->image().id() == (*images)[0].id());
  auto missing = w.client().image_status("deckhand.test/nothing:here", false);
  REQUIRE(missing);
  CHECK(missing->image().id().empty());  // absent is an empty answer, not an error
  auto fsinfo = w.client().image_fs_info();
  REQUIRE(fsinfo);
  REQUIRE(fsinfo->image_filesystems_size() == 1);
  CHECK(fsinfo->image_filesystems(0).used_bytes().value() > 0);
  REQUIRE(w.client().remove_image(name));
  REQUIRE(w.client().remove_image(name));  // removed already: still success
  CHECK(w.client().list_images().value().empty());
}

TEST_CASE("a host-network pod has no netns of its own and no IP from CNI") {
  CriWorld w;
  w.start();
  w.import_busybox();
  auto pod = w.pod_config("hostnet");
  pod.mutable_linux()->mutable_security_context()->mutable_namespace_options()->set_network(v1::NODE);
  auto pod_id = w.client().run_pod_sandbox(pod);
  REQUIRE_MESSAGE(pod_id, (pod_id ? "" : pod_id.error().message));
  CHECK(w.netns_pins().empty());
  CHECK(w.ip_leases().empty());
  auto cid = w.client().create_container(*pod_id, w.container_config("c", {"sleep", "1000"}), pod);
  REQUIRE_MESSAGE(cid, (cid ? "" : cid.error().message));
  REQUIRE(w.client().start_container(*cid));
  auto ns = w.client().exec_sync(*cid, {"readlink", "/proc/self/ns/net"}, 10);
  REQUIRE(ns);
  char self[64] = {};
  REQUIRE(::readlink("/proc/self/ns/net", self, sizeof self - 1) > 0);
  CHECK(ns->stdout() == std::string(self) + "\n");
  REQUIRE(w.client().remove_pod_sandbox(*pod_id));
}

TEST_CASE("ReopenContainerLog starts a new file after rotation; UpdateContainerResources applies limits") {
  CriWorld w;
  w.start();
  w.import_busybox();
  auto pod = w.pod_config("rotate");
  auto pod_id = w.client().run_pod_sandbox(pod);
  REQUIRE(pod_id);
  auto cid = w.client().create_container(
      *pod_id, w.container_config("ticker", {"sh", "-c", "while true; do echo tick; sleep 0.05; done"}), pod);
  REQUIRE(cid);
  REQUIRE(w.client().start_container(*cid));
  std::string log = w.root() + "/logs/rotate/ticker.log";
  REQUIRE(eventually([&] { return fs::exists(log); }));
  REQUIRE(::rename(log.c_str(), (log + ".1").c_str()) == 0);
  REQUIRE(w.client().reopen_container_log(*cid));
  REQUIRE(eventually([&] {
    auto s = fs::read_file(log);
    return s && s->find("stdout F tick") != std::string::npos;
  }));

  v1::LinuxContainerResources r;
  r.set_memory_limit_in_bytes(64 << 20);
  r.set_cpu_shares(512);
  REQUIRE(w.client().update_container_resources(*cid, r));
  auto status = w.client().container_status(*cid, true);
  REQUIRE(status);
  CHECK(status->status().resources().linux().memory_limit_in_bytes() == 64 << 20);
  REQUIRE(w.client().remove_pod_sandbox(*pod_id));
}

TEST_CASE("a second deckhand-cri on the same socket refuses to start") {
  CriWorld w;
  w.start();
  RunOptions o;
  o.argv = {build_path("cri/server/deckhand-cri"), "--socket", w.root() + "/cri.sock", "--state-dir",
            w.root() + "/state2", "--run-dir", w.root() + "/run2", "--config", w.root() + "/absent.toml"};
  REQUIRE(fs::write_file_atomic(w.root() + "/absent.toml", ""));
  o.timeout = std::chrono::seconds(20);
  auto r = run_process(o);
  REQUIRE(r);
  CHECK(r->exit_code == 1);
  CHECK(r->err.find("another deckhand-cri is serving") != std::string::npos);
  CHECK(w.client().version());  // the first one still serves
  struct stat st {};
  REQUIRE(::stat((w.root() + "/cri.sock").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
}

TEST_CASE("a sandbox half-made when deckhand-cri crashed is cleaned up on restart") {
  GatedPlugin plugin;  // holds ADD, so that the daemon can be killed mid-way
  CriWorld w(plugin.world_options());
  w.start();
  auto pod = w.pod_config("halfmade");
  auto own = cri::CriClient::connect("unix://" + w.root() + "/cri.sock");  // crash() drops w's client
  REQUIRE(own);
  std::thread caller([&] { (void)(*own)->run_pod_sandbox(pod); });
  REQUIRE(plugin.wait_entered());
  CHECK(w.ip_leases().size() == 1);  // the bridge plugin ran before the slow one
  w.crash();
  caller.join();
  plugin.open();
  w.start();
  auto pods = w.client().list_pod_sandbox();
  REQUIRE(pods);
  CHECK(pods->empty());
  CHECK(w.ip_leases().empty());
  CHECK(w.netns_pins().empty());
  CHECK(w.bridge_ports().empty());
  CHECK(w.mounts_under_root().empty());
  CHECK(!w.cgroup_exists(pod.linux().cgroup_parent()));
  CHECK(fs::list_dir(w.state_dir() + "/sandboxes").value().empty());
  // The name is free again (the plugin now lets ADD through).
  auto again = w.client().run_pod_sandbox(pod);
  REQUIRE_MESSAGE(again, (again ? "" : again.error().message));
  REQUIRE(w.client().remove_pod_sandbox(*again));
  CHECK(w.ip_leases().empty());
}

TEST_CASE("a RunPodSandbox retried while the first call is still running gets the first call's sandbox") {
  GatedPlugin plugin;
  CriWorld w(plugin.world_options());
  w.start();
  auto pod = w.pod_config("inflight");
  auto first_client = cri::CriClient::connect("unix://" + w.root() + "/cri.sock");
  auto retry_client = cri::CriClient::connect("unix://" + w.root() + "/cri.sock");
  REQUIRE(first_client);
  REQUIRE(retry_client);
  Result<std::string> first = fail(ErrorKind::Internal, "not run"), retry = fail(ErrorKind::Internal, "not run");
  std::thread a([&] { first = (*first_client)->run_pod_sandbox(pod); });
  REQUIRE(plugin.wait_entered());
  std::thread b([&] { retry = (*retry_client)->run_pod_sandbox(pod); });  // the first is still in CNI ADD
  auto conflicting = pod;
  (*conflicting.mutable_annotations())["other"] = "config";
  auto refused = w.client().run_pod_sandbox(conflicting);  // answered at once, not after the first call
  plugin.open();
  a.join();
  b.join();
  REQUIRE_MESSAGE(first, (first ? "" : first.error().message));
  REQUIRE_MESSAGE(retry, (retry ? "" : retry.error().message));
  CHECK(*first == *retry);
  REQUIRE(!refused);
  CHECK(refused.error().kind == ErrorKind::AlreadyExists);
  CHECK(w.client().list_pod_sandbox().value().size() == 1);
  CHECK(w.ip_leases().size() == 1);
  REQUIRE(w.client().remove_pod_sandbox(*first));
  CHECK(w.ip_leases().empty());
}
