// The deckhand-agent program itself, as an operator runs it: flags, a node
// certificate from issue-cert, deckhand-cri over its socket; pods made with
// kubectl. Runs as root in a world of its own (apiserver, deckhand-cri, bridge).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include "agent_process.h"
#include "api_world.h"
#include "cri_world.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"

using namespace deckhand;
using namespace deckhand::test;
using namespace std::chrono_literals;

namespace {

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
  AgentProcess agent(api, {node, "unix://" + cri.root() + "/cri.sock", cri.cgroup_parent(), {}});
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
