// The deckhand-agent program itself, as an operator runs it: flags, a node
// certificate from issue-cert, deckhand-cri over its socket; pods made with
// kubectl. Runs as root in a world of its own (apiserver, deckhand-cri, bridge).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

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

namespace {

// An apiserver, a deckhand-cri with the busybox image imported, and a
// deckhand-agent (not started yet) for one node of theirs; static_pods gives
// the agent a manifest directory (read every 200 ms).
struct NodeWorld {
  ApiWorld api;
  CriWorld cri;
  TempDir manifests{"deckhand-manifests"};
  std::string image, node;
  std::optional<AgentProcess> agent;

  explicit NodeWorld(const std::string& prefix, std::vector<std::string> flags = {}, bool static_pods = false)
      : node(unique_name(prefix, 40)) {
    cri.start();
    image = cri.import_busybox();
    if (static_pods)
      flags.insert(flags.end(), {"--pod-manifest-path", manifests.path(), "--file-check-frequency-ms", "200"});
    agent.emplace(api, AgentProcessOptions{node, "unix://" + cri.root() + "/cri.sock", cri.cgroup_parent(), flags});
  }
};

}  // namespace

TEST_CASE("deckhand-agent: registers its node, runs a kubectl-made pod, survives kill -9 without restarting it") {
  NodeWorld w("agent");
  w.agent->start();
  bool registered =
      eventually([&] { return ready_status(get_json(w.api, {"get", "node", w.node, "-o", "json"})) == "True"; }, 20s);
  REQUIRE_MESSAGE(registered, w.agent->log());
  CHECK(w.api.kubectl({"get", "nodes"}).out.find(w.node) != std::string::npos);

  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "web"}}},
              {"spec",
               {{"nodeName", w.node},
                {"terminationGracePeriodSeconds", 1},
                {"containers", {{{"name", "main"}, {"image", w.image}, {"imagePullPolicy", "IfNotPresent"},
                                 {"command", {"sleep", "3600"}}}}}}}};
  REQUIRE(w.api.kubectl({"create", "-f", "-"}, pod.dump()).exit_code == 0);
  Json running;
  bool ok = eventually([&] {
    running = get_json(w.api, {"get", "pod", "web", "-o", "json"});
    return running.contains("status") && running["status"].value("phase", "") == "Running" &&
           running["status"].contains("podIP");
  }, 30s);
  REQUIRE_MESSAGE(ok, running.dump(2) << "\n" << w.agent->log());
  CHECK(running["status"]["podIP"].get<std::string>().rfind(w.cri.subnet_prefix(), 0) == 0);
  std::string container_id = running["status"]["containerStatuses"][0].value("containerID", "");
  CHECK(container_id.rfind("deckhand-cri://", 0) == 0);
  CHECK(w.api.kubectl({"get", "pods", "-o", "wide"}).out.find(w.node) != std::string::npos);

  // A crash of the agent: the restarted one adopts the running container.
  w.agent->stop(SIGKILL);
  auto lease_before = get_json(w.api, {"get", "lease", "-n", "kube-node-lease", w.node, "-o", "json"})["spec"]["renewTime"];
  w.agent->start();
  REQUIRE(eventually([&] {
    return get_json(w.api, {"get", "lease", "-n", "kube-node-lease", w.node, "-o", "json"})["spec"]["renewTime"] != lease_before;
  }, 20s));
  // The restarted agent has synced the pod (its first sync is what would
  // restart a container it failed to adopt): the container is the same one.
  auto again = get_json(w.api, {"get", "pod", "web", "-o", "json"});
  CHECK(again["status"]["containerStatuses"][0].value("containerID", "") == container_id);
  CHECK(again["status"]["containerStatuses"][0].value("restartCount", -1) == 0);

  // Deleting through the API stops the pod, and the agent confirms.
  REQUIRE(w.api.kubectl({"delete", "pod", "web", "--wait=false"}).exit_code == 0);
  CHECK_MESSAGE(eventually([&] { return w.api.kubectl({"get", "pod", "web"}).exit_code != 0; }, 20s), w.agent->log());
  CHECK(eventually([&] {
    auto s = w.cri.client().list_pod_sandbox();
    return s && s->empty();
  }, 10s));
}

namespace {

// The running containers of the pod with this name, as the runtime lists them.
std::vector<runtime::v1::Container> running_containers(CriWorld& cri, const std::string& pod_name) {
  runtime::v1::ContainerFilter f;
  (*f.mutable_label_selector())["io.kubernetes.pod.name"] = pod_name;
  f.mutable_state()->set_state(runtime::v1::CONTAINER_RUNNING);
  auto list = cri.client().list_containers(f);
  return list ? *list : std::vector<runtime::v1::Container>{};
}

std::string annotation(const Json& pod, const std::string& key) {
  return pod.value("metadata", Json::object()).value("annotations", Json::object()).value(key, "");
}

std::string write_manifest(const std::string& path, const std::string& image, const std::string& env_value) {
  std::string yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {tier: static}\nspec:\n"
                     "  terminationGracePeriodSeconds: 1\n  containers:\n  - name: main\n    image: " + image +
                     "\n    imagePullPolicy: IfNotPresent\n    command: [sleep, \"3600\"]\n    env:\n    - {name: EDIT, value: \"" + env_value + "\"}\n";
  REQUIRE(fs::write_file_atomic(path, yaml));
  return yaml;
}

}  // namespace

TEST_CASE("static pods: run with the apiserver down, are mirrored once it is up, outlive mirror deletion, follow the manifest") {
  NodeWorld w("static", {}, true);
  std::string pod_name = "web-" + w.node;
  write_manifest(w.manifests.sub("web.yaml"), w.image, "one");
  REQUIRE(fs::write_file_atomic(w.manifests.sub("broken.yaml"), "apiVersion: v1\nkind: Pod\n"));

  // No apiserver: the agent starts all the same and runs the static pod.
  w.api.stop();
  w.agent->start();
  REQUIRE_MESSAGE(eventually([&] { return running_containers(w.cri, pod_name).size() == 1; }, 30s), w.agent->log());
  std::string container_id = running_containers(w.cri, pod_name)[0].id();
  CHECK(w.agent->log().find("broken.yaml: metadata.name is missing") != std::string::npos);

  // The apiserver comes up: the Node is registered and the mirror pod carries the status.
  w.api.start();
  Json mirror;
  auto mirror_running = [&] {
    mirror = get_json(w.api, {"get", "pod", pod_name, "-o", "json"});
    return mirror.contains("status") && mirror["status"].value("phase", "") == "Running" &&
           !mirror["status"].value("containerStatuses", Json::array()).empty();
  };
  REQUIRE_MESSAGE(eventually(mirror_running, 30s), mirror.dump(2) << "\n" << w.agent->log());
  std::string hash = annotation(mirror, "kubernetes.io/config.mirror");
  CHECK(hash.size() == 32);
  CHECK(annotation(mirror, "kubernetes.io/config.source") == "file");
  CHECK(mirror["metadata"]["ownerReferences"][0].value("kind", "") == "Node");
  CHECK(mirror["metadata"]["ownerReferences"][0].value("name", "") == w.node);
  CHECK(mirror["metadata"]["uid"] != hash);  // the mirror is an object of its own
  CHECK(mirror["status"]["containerStatuses"][0].value("containerID", "") == "deckhand-cri://" + container_id);
  CHECK(w.api.kubectl({"get", "pods", "-l", "tier=static"}).out.find(pod_name) != std::string::npos);

  // Deleting the mirror stops nothing: the agent makes it again.
  std::string first_mirror_uid = mirror["metadata"]["uid"];
  REQUIRE(w.api.kubectl({"delete", "pod", pod_name, "--wait=false"}).exit_code == 0);
  REQUIRE_MESSAGE(eventually([&] { return mirror_running() && mirror["metadata"]["uid"] != first_mirror_uid; }, 20s),
                  mirror.dump(2) << "\n" << w.agent->log());
  CHECK(mirror["status"]["containerStatuses"][0].value("containerID", "") == "deckhand-cri://" + container_id);
  CHECK(mirror["status"]["containerStatuses"][0].value("restartCount", -1) == 0);

  // kill -9 and restart: the same manifest is the same pod, its container untouched.
  w.agent->stop(SIGKILL);
  w.agent->start();
  auto lease_before = get_json(w.api, {"get", "lease", "-n", "kube-node-lease", w.node, "-o", "json"})["spec"]["renewTime"];
  REQUIRE(eventually([&] {
    return get_json(w.api, {"get", "lease", "-n", "kube-node-lease", w.node, "-o", "json"})["spec"]["renewTime"] != lease_before;
  }, 20s));
  auto after_restart = running_containers(w.cri, pod_name);
  REQUIRE(after_restart.size() == 1);
  CHECK(after_restart[0].id() == container_id);

  // An edited manifest is a new pod: a new container, a new mirror, the old sandbox gone.
  write_manifest(w.manifests.sub("web.yaml"), w.image, "two");
  REQUIRE_MESSAGE(eventually([&] {
    return mirror_running() && annotation(mirror, "kubernetes.io/config.mirror") != hash &&
           mirror["status"]["containerStatuses"][0].value("containerID", "") != "deckhand-cri://" + container_id;
  }, 30s), mirror.dump(2) << "\n" << w.agent->log());
  CHECK(mirror["spec"]["containers"][0]["env"][0].value("value", "") == "two");
  CHECK(eventually([&] {
    auto s = w.cri.client().list_pod_sandbox();
    return s && s->size() == 1;
  }, 10s));

  // A removed manifest: the pod stops and its mirror goes.
  REQUIRE(::unlink(w.manifests.sub("web.yaml").c_str()) == 0);
  CHECK_MESSAGE(eventually([&] { return w.api.kubectl({"get", "pod", pod_name}).exit_code != 0; }, 20s), w.agent->log());
  CHECK(eventually([&] {
    auto s = w.cri.client().list_pod_sandbox();
    return s && s->empty();
  }, 10s));
}

TEST_CASE("static pods with no kubeconfig at all: the agent runs them on its own") {
  NodeWorld w("alone", {"--kubeconfig", "", "--port", "-1"}, true);  // its apiserver is never used
  write_manifest(w.manifests.sub("web.yaml"), w.image, "one");
  w.agent->start();
  REQUIRE_MESSAGE(eventually([&] { return running_containers(w.cri, "web-" + w.node).size() == 1; }, 30s), w.agent->log());
  CHECK(w.api.kubectl({"get", "node", w.node}).exit_code != 0);

  REQUIRE(::unlink(w.manifests.sub("web.yaml").c_str()) == 0);
  CHECK_MESSAGE(eventually([&] {
    auto s = w.cri.client().list_pod_sandbox();
    return s && s->empty();
  }, 10s), w.agent->log());
}

TEST_CASE("a configMap volume follows its ConfigMap within seconds: the agent watches it") {
  NodeWorld w("watch");
  w.agent->start();
  REQUIRE(w.api.kubectl({"create", "configmap", "settings", "--from-literal=mode=one"}).exit_code == 0);
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "reader"}}},
              {"spec",
               {{"nodeName", w.node},
                {"terminationGracePeriodSeconds", 1},
                {"volumes", {{{"name", "cfg"}, {"configMap", {{"name", "settings"}}}}}},
                {"containers",
                 {{{"name", "main"},
                   {"image", w.image},
                   {"imagePullPolicy", "IfNotPresent"},
                   {"volumeMounts", {{{"name", "cfg"}, {"mountPath", "/cfg"}}}},
                   {"command", {"sh", "-c", "while true; do echo \"mode=$(cat /cfg/mode)\"; sleep 0.2; done"}}}}}}}};
  REQUIRE(w.api.kubectl({"create", "-f", "-"}, pod.dump()).exit_code == 0);
  std::string logs;
  REQUIRE_MESSAGE(eventually([&] {
    logs = w.api.kubectl({"logs", "reader"}).out;
    return logs.find("mode=one") != std::string::npos;
  }, 30s), logs << w.agent->log());

  // The periodic refresh is 10 s away: only the watch brings the change this soon.
  Json cm = get_json(w.api, {"get", "configmap", "settings", "-o", "json"});
  cm["data"]["mode"] = "two";
  REQUIRE(w.api.kubectl({"replace", "-f", "-"}, cm.dump()).exit_code == 0);
  CHECK_MESSAGE(eventually([&] {
    logs = w.api.kubectl({"logs", "reader", "--tail", "1"}).out;
    return logs.find("mode=two") != std::string::npos;
  }, 6s), logs << w.agent->log());
}
