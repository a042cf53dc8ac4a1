// The PodManager against a real deckhand-apiserver (as the node's own
// identity) and a real deckhand-cri with our CNI plugins: pods bound to the
// node run, report status, crash-loop with back-off, stop on deletion, and
// survive a restart of the manager untouched.
#include <doctest/doctest.h>

#include "api_world.h"
#include "cri_world.h"
#include "deckhand/agent/pod_manager.h"
#include "deckhand/client/kubeconfig.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"

using namespace deckhand;
using namespace deckhand::test;
using namespace std::chrono_literals;
namespace v1 = ::runtime::v1;

namespace {

const char* kImage = "deckhand.test/busybox:latest";  // the fixture's only tag: never pulled (IfNotPresent)

std::string issue_node_kubeconfig(ApiWorld& w, const std::string& node) {
  return w.issue_kubeconfig("system:node:" + node, {"system:nodes"});
}

// An apiserver, a deckhand-cri, and a PodManager for one node, as that node.
struct AgentWorld {
  TempDir dir{"deckhand-agent-pods"};
  ApiWorld api;
  CriWorld cri;
  std::string node = unique_name("podnode", 40);
  agent::AgentConfig config;
  std::shared_ptr<client::ApiClient> node_api;
  std::shared_ptr<cri::CriClient> node_cri;
  std::unique_ptr<agent::PodManager> manager;

  AgentWorld() {
    cri.start();
    cri.import_busybox();
    config.node_name = node;
    config.pod_log_dir = dir.sub("pods");
    config.root_dir = dir.sub("state");
    config.cgroup_root = cri.cgroup_parent();
    // No nameserver: pods must not send DNS queries off the machine.
    config.resolv_conf = dir.sub("resolv.conf");
    REQUIRE(fs::write_file_atomic(config.resolv_conf, "search agent.test\n"));
    config.relist_interval = 200ms;
    config.backoff_base = 200ms;
    config.backoff_max = 1000ms;
    auto kc = client::load_kubeconfig(issue_node_kubeconfig(api, node));
    REQUIRE_MESSAGE(kc, (kc ? "" : kc.error().message));
    auto a = client::ApiClient::create(*kc);
    REQUIRE(a);
    node_api = *a;
    auto c = cri::CriClient::connect("unix://" + cri.root() + "/cri.sock");
    REQUIRE(c);
    node_cri = std::move(*c);
    start_manager();
  }

  ~AgentWorld() {
    // Pods go first through the API (the manager confirms), then CriWorld removes whatever is left.
    try {
      api.kubectl({"delete", "pods", "--all", "--grace-period=1", "--wait=false"});
      eventually([&] { return api.kubectl({"get", "pods", "-o", "name"}).out.empty(); }, 15s);
    } catch (...) {  // a failed check in kubectl() while unwinding must not end the run
    }
    manager.reset();
  }

  void start_manager() {
    auto m = agent::PodManager::start(config, node_api, node_cri, "127.0.0.1");
    REQUIRE_MESSAGE(m, (m ? "" : m.error().message));
    manager = std::move(*m);
  }

  void create(const std::string& name, Json spec) {
    spec["nodeName"] = node;
    Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}}}, {"spec", spec}};
    auto r = api.kubectl({"create", "-f", "-"}, pod.dump());
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  }

  std::optional<Json> get(const std::string& name) {
    auto r = api.kubectl({"get", "pod", name, "-o", "json"});
    if (r.exit_code != 0) return std::nullopt;
    auto j = parse_json(r.out, "pod");
    return j ? std::optional<Json>(*j) : std::nullopt;
  }

  // Polls the pod until pred holds; fails with the last status seen.
  Json wait_for(const std::string& name, const std::function<bool(const Json&)>& pred,
                std::chrono::seconds timeout = 20s) {
    Json last;
    bool ok = eventually(
        [&] {
          auto p = get(name);
          if (!p) return false;
          last = *p;
          return pred(last);
        },
        timeout);
    REQUIRE_MESSAGE(ok, "pod " << name << " did not get there; last seen:\n"
                               << last.dump(2) << "\ncri log:\n"
                               << cri.daemon_log().substr(
                                      cri.daemon_log().size() > 3000 ? cri.daemon_log().size() - 3000 : 0));
    return last;
  }

  std::vector<v1::PodSandbox> sandboxes_of(const std::string& uid) {
    v1::PodSandboxFilter f;
    (*f.mutable_label_selector())["io.kubernetes.pod.uid"] = uid;
    auto s = cri.client().list_pod_sandbox(f);
    REQUIRE(s);
    return *s;
  }
};

Json container(const std::string& name, std::vector<std::string> command) {
  return {{"name", name}, {"image", kImage}, {"imagePullPolicy", "IfNotPresent"}, {"command", command}};
}

const Json& status_of(const Json& pod, const char* list, size_t i) { return pod["status"][list][i]; }

bool running(const Json& pod) {
  if (pod["status"].value("phase", "") != "Running") return false;
  for (auto& c : pod["status"].value("containerStatuses", Json::array()))
    if (!c["state"].contains("running")) return false;
  return true;
}

}  // namespace

TEST_CASE(
    "pods bound to the node run, initialize in order, crash-loop with back-off, and stop when deleted") {
  AgentWorld w;
  Json sleeper_main = container("main", {"sleep", "3600"});
  sleeper_main["env"] = {
      {{"name", "POD_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}},
      {{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}};
  w.create("sleeper", {{"containers", {sleeper_main}}});
  w.create("initialized", {{"initContainers", {container("setup", {"sh", "-c", "sleep 0.5; echo ready"})}},
                           {"containers", {container("main", {"sleep", "3600"})}}});
  w.create("crasher", {{"containers", {container("main", {"sh", "-c", "exit 1"})}}});
  w.create("oneshot", {{"restartPolicy", "Never"}, {"containers", {container("main", {"true"})}}});
  Json absent = container("main", {"true"});
  absent["image"] = "deckhand.test/absent:1.0";
  absent["imagePullPolicy"] = "Never";
  w.create("absent", {{"containers", {absent}}});

  Json sleeper =
      w.wait_for("sleeper", [](const Json& p) { return running(p) && p["status"].contains("podIP"); });
  CHECK(sleeper["status"]["podIP"].get<std::string>().rfind(w.cri.subnet_prefix(), 0) == 0);
  CHECK(sleeper["status"]["hostIP"] == "127.0.0.1");
  const Json& main = status_of(sleeper, "containerStatuses", 0);
  CHECK(main["ready"] == true);
  CHECK(main["restartCount"] == 0);
  CHECK(main["containerID"].get<std::string>().rfind("deckhand-cri://", 0) == 0);
  for (auto& c : sleeper["status"]["conditions"]) CHECK_MESSAGE(c["status"] == "True", c.dump());
  std::string sleeper_uid = sleeper["metadata"]["uid"];
  REQUIRE(w.sandboxes_of(sleeper_uid).size() == 1);
  // Inside: the environment from fieldRefs, and a resolv.conf without a nameserver.
  std::string id = main["containerID"].get<std::string>().substr(std::string("deckhand-cri://").size());
  auto env = w.cri.client().exec_sync(id, {"sh", "-c", "echo $POD_NAME $POD_IP"}, 10);
  REQUIRE(env);
  CHECK(env->stdout() == "sleeper " + sleeper["status"]["podIP"].get<std::string>() + "\n");
  auto resolv = w.cri.client().exec_sync(id, {"cat", "/etc/resolv.conf"}, 10);
  REQUIRE(resolv);
  CHECK(resolv->stdout().find("search agent.test") != std::string::npos);
  CHECK(resolv->stdout().find("nameserver") == std::string::npos);
  CHECK(fs::exists(w.config.pod_log_dir + "/default_sleeper_" + sleeper_uid + "/main/0.log"));

  Json init = w.wait_for("initialized", running);
  const Json& setup = status_of(init, "initContainerStatuses", 0);
  CHECK(setup["state"]["terminated"]["reason"] == "Completed");
  CHECK(setup["state"]["terminated"]["exitCode"] == 0);
  CHECK(setup["state"]["terminated"]["finishedAt"] <=
        status_of(init, "containerStatuses", 0)["state"]["running"]["startedAt"]);

  Json crasher = w.wait_for(
      "crasher",
      [](const Json& p) {
        const Json& c = p["status"].value("containerStatuses", Json::array());
        return !c.empty() && c[0].value("restartCount", 0) >= 2 && c[0]["state"].contains("waiting") &&
               c[0]["state"]["waiting"].value("reason", "") == "CrashLoopBackOff";
      },
      30s);
  const Json& crashed = status_of(crasher, "containerStatuses", 0);
  CHECK(crashed["lastState"]["terminated"]["exitCode"] == 1);
  std::string message = crashed["state"]["waiting"]["message"];
  CHECK(message.find("restarting failed container=main pod=crasher_default(") != std::string::npos);
  CHECK(crasher["status"]["phase"] == "Running");

  // A finished pod keeps its status; its sandbox is stopped.
  Json oneshot =
      w.wait_for("oneshot", [](const Json& p) { return p["status"].value("phase", "") == "Succeeded"; });
  CHECK(status_of(oneshot, "containerStatuses", 0)["state"]["terminated"]["reason"] == "Completed");
  CHECK(eventually([&] {
    auto s = w.sandboxes_of(oneshot["metadata"]["uid"]);
    return s.size() == 1 && s[0].state() == v1::SANDBOX_NOTREADY;
  }));

  Json never = w.wait_for("absent", [](const Json& p) {
    const Json& c = p["status"].value("containerStatuses", Json::array());
    return !c.empty() && c[0]["state"].contains("waiting") &&
           c[0]["state"]["waiting"].value("reason", "") == "ErrImageNeverPull";
  });
  CHECK(never["status"]["phase"] == "Pending");

  auto deleted = w.api.kubectl({"delete", "pod", "sleeper", "--grace-period=2", "--wait=false"});
  REQUIRE_MESSAGE(deleted.exit_code == 0, deleted.err);
  REQUIRE(eventually([&] { return !w.get("sleeper"); }, 15s));
  CHECK(w.sandboxes_of(sleeper_uid).empty());
}

TEST_CASE("a restarted PodManager adopts the running containers instead of restarting them") {
  AgentWorld w;
  w.create("steady", {{"containers", {container("main", {"sleep", "3600"})}}});
  Json before = w.wait_for("steady", running);
  std::string id = status_of(before, "containerStatuses", 0)["containerID"];

  w.manager.reset();
  w.start_manager();
  // Once a pod created after the restart runs, the new manager has synced the old one too.
  w.create("later", {{"containers", {container("main", {"sleep", "3600"})}}});
  w.wait_for("later", running);
  Json after = w.wait_for("steady", running);
  CHECK(status_of(after, "containerStatuses", 0)["containerID"] == id);
  CHECK(status_of(after, "containerStatuses", 0)["restartCount"] == 0);
  std::string uid = after["metadata"]["uid"];
  CHECK(w.sandboxes_of(uid).size() == 1);
  v1::ContainerFilter f;
  (*f.mutable_label_selector())["io.kubernetes.pod.uid"] = uid;
  auto containers = w.cri.client().list_containers(f);
  REQUIRE(containers);
  CHECK(containers->size() == 1);
}
