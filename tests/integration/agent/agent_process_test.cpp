// The deckhand-agent program itself, as an operator runs it: flags, a node
// certificate from issue-cert, deckhand-cri over its socket; pods made with
// kubectl. Runs as root in a world of its own (apiserver, deckhand-cri, bridge).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include "api_world.h"
#include "cri_world.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"

using namespace deckhand;
using namespace deckhand::test;
using namespace std::chrono_literals;

namespace {

class AgentProcess {
 public:
  AgentProcess(ApiWorld& api, CriWorld& cri, std::string node) : api_(api), cri_(cri), node_(std::move(node)) {
    kubeconfig_ = api.issue_kubeconfig("system:node:" + node_, {"system:nodes"});
    // No nameserver: pods must not send DNS queries off the machine.
    REQUIRE(fs::write_file_atomic(dir_.sub("resolv.conf"), "search agent.test\n"));
    REQUIRE(fs::write_file_atomic(dir_.sub("empty.toml"), ""));
  }
  ~AgentProcess() { stop(SIGTERM); }

  void start() {
    std::vector<std::string> args = {build_path("agent/deckhand-agent"),
                                     "--config", dir_.sub("empty.toml"),
                                     "--node-name", node_,
                                     "--kubeconfig", kubeconfig_,
                                     "--cri-endpoint", "unix://" + cri_.root() + "/cri.sock",
                                     "--root-dir", dir_.sub("state"),
                                     "--pod-log-dir", dir_.sub("pods"),
                                     "--cgroup-root", cri_.cgroup_parent(),
                                     "--resolv-conf", dir_.sub("resolv.conf"),
                                     "--lease-interval-ms", "300",
                                     "--status-interval-ms", "300",
                                     "--relist-interval-ms", "200",
                                     "--log-level", "info"};
    ::unlink(dir_.sub("stdout").c_str());
    pid_ = start_daemon(args, dir_.sub("stdout"), dir_.sub("agent.log"));
    REQUIRE(pid_ > 0);
    bool exited = false;
    bool up = eventually([&] {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) exited = true;
      auto out = fs::read_file(dir_.sub("stdout"));
      return exited || (out && out->find("ready") != std::string::npos);
    }, 20s);
    if (exited) pid_ = -1;
    bool started = up && !exited;
    REQUIRE_MESSAGE(started, "deckhand-agent did not come up:\n" << log());
  }

  void stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    if (!eventually([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; }, 10s)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }

  std::string log() const {
    auto s = fs::read_file(dir_.sub("agent.log"));
    return s ? *s : "";
  }

 private:
  ApiWorld& api_;
  CriWorld& cri_;
  std::string node_;
  TempDir dir_{"deckhand-agent"};
  std::string kubeconfig_;
  pid_t pid_ = -1;
};

Json get_json(ApiWorld& api, const std::vector<std::string>& args) {
  auto r = api.kubectl(args);
  if (r.exit_code != 0) return Json();
  auto j = parse_json(r.out, "kubectl output");
  return j ? *j : Json();
}

std::string ready_status(const Json& node) {
  for (const auto& c : node.value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == "Ready") return c.value("status", "");
  return "";
}

}  // namespace

TEST_CASE("deckhand-agent: registers its node, runs a kubectl-made pod, survives kill -9 without restarting it") {
  ApiWorld api;
  CriWorld cri;
  cri.start();
  std::string image = cri.import_busybox();
  std::string node = unique_name("agent", 40);
  AgentProcess agent(api, cri, node);
  agent.start();
  bool registered =
      eventually([&] { return ready_status(get_json(api, {"get", "node", node, "-o", "json"})) == "True"; }, 20s);
  REQUIRE_MESSAGE(registered, agent.log());
  CHECK(api.kubectl({"get", "nodes"}).out.find(node) != std::string::npos);

  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "web"}}},
              {"spec",
               {{"nodeName", node},
                {"terminationGracePeriodSeconds", 1},
                {"containers", {{{"name", "main"}, {"image", image}, {"imagePullPolicy", "IfNotPresent"},
                                 {"command", {"sleep", "3600"}}}}}}}};
  REQUIRE(api.kubectl({"create", "-f", "-"}, pod.dump()).exit_code == 0);
  Json running;
  bool ok = eventually([&] {
    running = get_json(api, {"get", "pod", "web", "-o", "json"});
    return running.contains("status") && running["status"].value("phase", "") == "Running" &&
           running["status"].contains("podIP");
  }, 30s);
  REQUIRE_MESSAGE(ok, running.dump(2) << "\n" << agent.log());
  CHECK(running["status"]["podIP"].get<std::string>().rfind(cri.subnet_prefix(), 0) == 0);
  std::string container_id = running["status"]["containerStatuses"][0].value("containerID", "");
  CHECK(container_id.rfind("deckhand-cri://", 0) == 0);
  CHECK(api.kubectl({"get", "pods", "-o", "wide"}).out.find(node) != std::string::npos);

  // A crash of the agent: the restarted one adopts the running container.
  agent.stop(SIGKILL);
  auto lease_before = get_json(api, {"get", "lease", "-n", "kube-node-lease", node, "-o", "json"})["spec"]["renewTime"];
  agent.start();
  REQUIRE(eventually([&] {
    return get_json(api, {"get", "lease", "-n", "kube-node-lease", node, "-o", "json"})["spec"]["renewTime"] != lease_before;
  }, 20s));
  // The restarted agent has synced the pod (its first sync is what would
  // restart a container it failed to adopt): the container is the same one.
  auto again = get_json(api, {"get", "pod", "web", "-o", "json"});
  CHECK(again["status"]["containerStatuses"][0].value("containerID", "") == container_id);
  CHECK(again["status"]["containerStatuses"][0].value("restartCount", -1) == 0);

  // Deleting through the API stops the pod, and the agent confirms.
  REQUIRE(api.kubectl({"delete", "pod", "web", "--wait=false"}).exit_code == 0);
  CHECK_MESSAGE(eventually([&] { return api.kubectl({"get", "pod", "web"}).exit_code != 0; }, 20s), agent.log());
  CHECK(eventually([&] {
    auto s = cri.client().list_pod_sandbox();
    return s && s->empty();
  }, 10s));
}
