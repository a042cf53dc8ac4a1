// deckhand-cri end to end over gRPC: pods on our CNI plugins, containers run
// by deckhand-oci under deckhand-monitor (the first test on the stock parts
// instead, Debian's reference CNI plugins and runc, so that deckhand-cri keeps
// working with them), logs, exec, stats, and everything gone after removal.
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>

#include <regex>

#include <doctest/doctest.h>

#include "cri_world.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"

using namespace deckhand;
using namespace deckhand::test;
namespace v1 = ::runtime::v1;

namespace {

std::string log_of(CriWorld& w, const std::string& pod, const std::string& container) {
  auto s = fs::read_file(w.root() + "/logs/" + pod + "/" + container + ".log");
  return s ? *s : "";
}

v1::ContainerState state_of(CriWorld& w, const std::string& id) {
  auto s = w.client().container_status(id, false);
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  return s->status().state();
}

// Processes whose command line names id (a container's monitor does).
std::vector<std::string> processes_naming(const std::string& id) {
  std::vector<std::string> out;
  for (auto& pid : fs::list_dir("/proc").value_or(std::vector<std::string>{})) {
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmd = fs::read_file("/proc/" + pid + "/cmdline");
    if (cmd && cmd->find(id) != std::string::npos) out.push_back(pid);
  }
  return out;
}

void require_nothing_left(CriWorld& w, const std::string& pod_cgroup) {
  CHECK(w.bridge_ports().empty());
  CHECK(w.ip_leases().empty());
  CHECK(w.netns_pins().empty());
  CHECK(w.mounts_under_root().empty());
  CHECK(!w.cgroup_exists(pod_cgroup));
  CHECK(fs::list_dir(w.state_dir() + "/containers").value().empty());
  CHECK(fs::list_dir(w.state_dir() + "/sandboxes").value().empty());
}

}  // namespace

TEST_CASE("a pod runs, logs, execs, reports stats, stops and leaves nothing behind") {
  WorldOptions o;
  o.reference_plugins = true;
  o.runtime = "runc";
  CriWorld w(o);
  w.start();
  auto image = w.import_busybox();

  auto pod = w.pod_config("web");
  auto pod_id = w.client().run_pod_sandbox(pod);
  REQUIRE_MESSAGE(pod_id, (pod_id ? "" : pod_id.error().message + "\n" + w.daemon_log()));
  auto ps = w.client().pod_sandbox_status(*pod_id, true);
  REQUIRE(ps);
  CHECK(ps->status().state() == v1::SANDBOX_READY);
  CHECK(ps->status().network().ip().rfind(w.subnet_prefix(), 0) == 0);
  CHECK(w.bridge_ports().size() == 1);
  CHECK(w.ip_leases().size() == 1);
  // deckhand-pause joins its cgroup itself, just after it said ready.
  auto info = Json::parse(ps->info().at("info"));
  std::string procs = "/sys/fs/cgroup/memory" + info["pause_cgroup"].get<std::string>() + "/cgroup.procs";
  std::string pause_pid = std::to_string(info["pid"].get<int>());
  CHECK(eventually([&] {
    auto s = fs::read_file(procs);
    return s && s->find(pause_pid + "\n") != std::string::npos;
  }));

  auto cc = w.container_config("main", {"sh", "-c", "echo hello; echo oops >&2; printf partial; exec sleep 1000"});
  auto cid = w.client().create_container(*pod_id, cc, pod);
  REQUIRE_MESSAGE(cid, (cid ? "" : cid.error().message + "\n" + w.daemon_log()));
  CHECK(state_of(w, *cid) == v1::CONTAINER_CREATED);
  REQUIRE(w.client().start_container(*cid));
  CHECK(state_of(w, *cid) == v1::CONTAINER_RUNNING);

  REQUIRE(eventually([&] { return log_of(w, "web", "main").find("partial") != std::string::npos; }));
  std::string log = log_of(w, "web", "main");
  CHECK(std::regex_search(log, std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) stdout F hello\n)")));
  CHECK(std::regex_search(log, std::regex(R"( stderr F oops\n)")));
  CHECK(std::regex_search(log, std::regex(R"( stdout P partial)")));

  auto status = w.client().container_status(*cid, true);
  REQUIRE(status);
  CHECK(status->status().log_path() == w.root() + "/logs/web/main.log");
  CHECK(status->info().count("info") == 1);

  auto out = w.client().exec_sync(*cid, {"cat", "/etc/hostname"}, 10);
  REQUIRE_MESSAGE(out, (out ? "" : out.error().message));
  CHECK(out->stdout() == "web\n");
  CHECK(out->exit_code() == 0);
  auto lo = w.client().exec_sync(*cid, {"cat", "/sys/class/net/lo/flags"}, 10);
  REQUIRE(lo);
  CHECK(lo->stdout() == "0x9\n");  // IFF_UP | IFF_LOOPBACK
  auto code = w.client().exec_sync(*cid, {"sh", "-c", "echo e >&2; exit 7"}, 10);
  REQUIRE(code);
  CHECK(code->exit_code() == 7);
  CHECK(code->stderr() == "e\n");
  auto slow = w.client().exec_sync(*cid, {"sleep", "30"}, 1);
  REQUIRE(!slow);
  CHECK(slow.error().kind == ErrorKind::DeadlineExceeded);

  auto stats = w.client().list_container_stats();
  REQUIRE(stats);
  REQUIRE(stats->size() == 1);
  CHECK((*stats)[0].cpu().timestamp() > 0);
  CHECK((*stats)[0].memory().working_set_bytes().value() > 0);
  auto again = w.client().list_container_stats();
  REQUIRE(again);
  CHECK((*again)[0].cpu().timestamp() > (*stats)[0].cpu().timestamp());
  auto pstats = w.client().pod_sandbox_stats(*pod_id);
  REQUIRE(pstats);
  CHECK(pstats->linux().containers_size() == 1);

  // By a 13-character prefix, as crictl prints ids.
  REQUIRE(w.client().stop_container(cid->substr(0, 13), 2));
  auto stopped = w.client().container_status(*cid, false);
  REQUIRE(stopped);
  CHECK(stopped->status().state() == v1::CONTAINER_EXITED);
  CHECK(stopped->status().exit_code() == 128 + SIGTERM);
  CHECK(stopped->status().reason() == "Error");
  CHECK(stopped->status().finished_at() >= stopped->status().started_at());

  REQUIRE(w.client().remove_container(*cid));
  CHECK(processes_naming(*cid).empty());  // the monitor is gone too
  REQUIRE(w.client().stop_pod_sandbox(*pod_id));
  REQUIRE(w.client().stop_pod_sandbox(*pod_id));  // idempotent
  REQUIRE(w.client().remove_pod_sandbox(*pod_id));
  REQUIRE(w.client().remove_pod_sandbox(*pod_id));  // idempotent
  require_nothing_left(w, pod.linux().cgroup_parent());
}

TEST_CASE("exit codes and reasons are recorded") {
  CriWorld w;
  w.start();
  w.import_busybox();
  auto pod = w.pod_config("exits");
  auto pod_id = w.client().run_pod_sandbox(pod);
  REQUIRE_MESSAGE(pod_id, (pod_id ? "" : pod_id.error().message));
  auto fails = w.client().create_container(*pod_id, w.container_config("fails", {"sh", "-c", "exit 3"}), pod);
  auto works = w.client().create_container(*pod_id, w.container_config("works", {"true"}), pod);
  REQUIRE(fails);
  REQUIRE(works);
  REQUIRE(w.client().start_container(*fails));
  REQUIRE(w.client().start_container(*works));
  REQUIRE(eventually([&] { return state_of(w, *fails) == v1::CONTAINER_EXITED && state_of(w, *works) == v1::CONTAINER_EXITED; }));
  auto f = w.client().container_status(*fails, false);
  auto ok = w.client().container_status(*works, false);
  CHECK(f->status().exit_code() == 3);
  CHECK(f->status().reason() == "Error");
  CHECK(ok->status().exit_code() == 0);
  CHECK(ok->status().reason() == "Completed");
  auto again = w.client().start_container(*works);
  REQUIRE(!again);
  CHECK(again.error().kind == ErrorKind::FailedPrecondition);
  REQUIRE(w.client().remove_pod_sandbox(*pod_id));  // removes its containers too
  require_nothing_left(w, pod.linux().cgroup_parent());
}

TEST_CASE("kill -9 of deckhand-cri: pods keep running and are found again") {
  CriWorld w;
  w.start();
  w.import_busybox();
  auto pod = w.pod_config("survivor");
  auto pod_id = w.client().run_pod_sandbox(pod);
  REQUIRE(pod_id);
  auto ticker = w.client().create_container(*pod_id, w.container_config("ticker", {"sh", "-c", "while true; do echo tick; sleep 0.1; done"}), pod);
  auto quitter = w.client().create_container(*pod_id, w.container_config("quitter", {"sh", "-c", "exit 5"}), pod);
  REQUIRE(ticker);
  REQUIRE(quitter);
  REQUIRE(w.client().start_container(*ticker));
  REQUIRE(w.client().start_container(*quitter));
  REQUIRE(eventually([&] { return state_of(w, *quitter) == v1::CONTAINER_EXITED; }));

  w.crash();
  size_t before = log_of(w, "survivor", "ticker").size();
  REQUIRE(eventually([&] { return log_of(w, "survivor", "ticker").size() > before; }));  // logging goes on
  w.start();

  auto pods = w.client().list_pod_sandbox();
  REQUIRE(pods);
  REQUIRE(pods->size() == 1);
  CHECK((*pods)[0].state() == v1::SANDBOX_READY);
  CHECK(state_of(w, *ticker) == v1::CONTAINER_RUNNING);
  auto q = w.client().container_status(*quitter, false);
  REQUIRE(q);
  CHECK(q->status().state() == v1::CONTAINER_EXITED);
  CHECK(q->status().exit_code() == 5);
  auto out = w.client().exec_sync(*ticker, {"echo", "still here"}, 10);
  REQUIRE(out);
  CHECK(out->stdout() == "still here\n");

  REQUIRE(w.client().stop_container(*ticker, 1));
  REQUIRE(w.client().remove_container(*ticker));
  REQUIRE(w.client().stop_pod_sandbox(*pod_id));
  REQUIRE(w.client().remove_pod_sandbox(*pod_id));
  require_nothing_left(w, pod.linux().cgroup_parent());
}

TEST_CASE("a retried RunPodSandbox gets the first sandbox; a conflicting one is refused") {
  CriWorld w;
  w.start();
  auto pod = w.pod_config("retry");
  auto first = w.client().run_pod_sandbox(pod);
  REQUIRE(first);
  auto second = w.client().run_pod_sandbox(pod);
  REQUIRE(second);
  CHECK(*first == *second);
  (*pod.mutable_labels())["changed"] = "yes";
  auto conflict = w.client().run_pod_sandbox(pod);
  REQUIRE(!conflict);
  CHECK(conflict.error().kind == ErrorKind::AlreadyExists);
  CHECK(conflict.error().message.find(*first) != std::string::npos);
  REQUIRE(w.client().remove_pod_sandbox(*first));
  CHECK(w.ip_leases().empty());
}

TEST_CASE("bad requests get clear errors and leave nothing behind") {
  CriWorld w;
  w.start();
  w.import_busybox();

  auto missing = w.client().container_status("0123456789abcdef", false);
  REQUIRE(!missing);
  CHECK(missing.error().kind == ErrorKind::NotFound);
  CHECK(w.client().stop_container("feedface", 0).error().kind == ErrorKind::NotFound);

  v1::PodSandboxConfig empty;
  auto no_meta = w.client().run_pod_sandbox(empty);
  REQUIRE(!no_meta);
  CHECK(no_meta.error().kind == ErrorKind::InvalidArgument);
  CHECK(no_meta.error().message.find("metadata") != std::string::npos);

  auto pod = w.pod_config("bad");
  auto pod_id = w.client().run_pod_sandbox(pod);
  REQUIRE(pod_id);

  auto no_image = w.client().create_container(*pod_id, [&] {
    auto c = w.container_config("noimage", {"true"});
    c.mutable_image()->set_image("deckhand.test/does-not-exist:1");
    return c;
  }(), pod);
  REQUIRE(!no_image);
  CHECK(no_image.error().kind == ErrorKind::NotFound);
  CHECK(no_image.error().message.find("does-not-exist") != std::string::npos);

  auto bad_mount = w.container_config("badmount", {"true"});
  auto* m = bad_mount.add_mounts();
  m->set_container_path("/data");
  m->set_host_path(w.root() + "/no/such/dir");
  auto mounted = w.client().create_container(*pod_id, bad_mount, pod);
  REQUIRE(!mounted);
  CHECK(mounted.error().kind == ErrorKind::InvalidArgument);
  CHECK(mounted.error().message.find("mounts[0].host_path") != std::string::npos);

  auto no_name = w.container_config("", {"true"});
  auto unnamed = w.client().create_container(*pod_id, no_name, pod);
  REQUIRE(!unnamed);
  CHECK(unnamed.error().message.find("metadata.name") != std::string::npos);

  // Nothing of the failed creates is left: no records, no bundles, no rootfs mounts.
  CHECK(fs::list_dir(w.state_dir() + "/containers").value().empty());
  auto good = w.client().create_container(*pod_id, w.container_config("badmount", {"true"}), pod);
  CHECK_MESSAGE(good, "the name of a failed create is free again");
  REQUIRE(w.client().remove_pod_sandbox(*pod_id));
  require_nothing_left(w, pod.linux().cgroup_parent());
}

TEST_CASE("the containers and sandboxes directories spread their subdirectories over the disk") {
  CriWorld w;
  w.start();
  for (const char* dir : {"/containers", "/sandboxes"}) {
    std::string path = w.state_dir() + dir;
    auto fd = fs::open_fd(path, O_RDONLY | O_DIRECTORY);
    REQUIRE_MESSAGE(fd, path);
    struct statfs fsinfo {};
    REQUIRE(::fstatfs(fd->get(), &fsinfo) == 0);
    if (fsinfo.f_type != EXT4_SUPER_MAGIC) {
      MESSAGE(path << " is not on ext2/3/4, which alone has the flag");
      continue;
    }
    int flags = 0;
    REQUIRE(::ioctl(fd->get(), FS_IOC_GETFLAGS, &flags) == 0);
    CHECK_MESSAGE((flags & FS_TOPDIR_FL) != 0, path);
  }
}
