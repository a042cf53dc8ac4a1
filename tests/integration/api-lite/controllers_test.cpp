// deckhand-controller-manager against a real deckhand-apiserver, driven by
// the real kubectl: Deployments (create, scale, replace a deleted pod,
// rolling update within maxUnavailable, rollout status, undo, delete),
// ReplicaSet adoption and release, cascading deletion (background,
// foreground, orphan) and namespace deletion. There is no scheduler or
// agent here: pods stay unbound, and the test marks them ready itself.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "api_world.h"
#include "deckhand/client/api_client.h"
#include "deckhand/client/kubeconfig.h"
#include "deckhand/common/fs.h"

using namespace deckhand;
using namespace deckhand::client;
using namespace deckhand::test;
using namespace std::chrono_literals;

namespace {

// A deckhand-controller-manager process for a world (no leader election
// unless asked), stopped with SIGTERM on destruction.
class ControllerManagerProcess {
 public:
  ControllerManagerProcess(ApiWorld& world, std::vector<std::string> extra = {"--leader-elect=false"})
      : world_(world), out_(world.dir() + "/cm-" + std::to_string(++count_) + ".out") {
    std::vector<std::string> args = {build_path("api-lite/controller-manager/deckhand-controller-manager"),
                                     "--config", world.file("cm.toml", ""), "--kubeconfig", world.kubeconfig(),
                                     "--log-level", "info"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = start_daemon(args, out_, out_);
    REQUIRE(pid_ > 0);
  }
  ~ControllerManagerProcess() { stop(); }
  bool leading(std::chrono::milliseconds within = 20s) {
    return eventually([&] { return output().find("deckhand-controller-manager: leading") != std::string::npos; }, within);
  }
  std::string output() const {
    auto s = fs::read_file(out_);
    return s ? *s : "";
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    bool exited = eventually([&] { return ::waitpid(pid_, &status, WNOHANG) == pid_; }, 15s);
    if (!exited) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
    CHECK_MESSAGE(exited, "controller-manager did not stop on SIGTERM:\n" << output());
    CHECK_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), "controller-manager exit status " << status << ":\n"
                                                                                                << output());
  }

 private:
  ApiWorld& world_;
  std::string out_;
  pid_t pid_ = -1;
  static inline int count_ = 0;
};

std::shared_ptr<ApiClient> client_for(ApiWorld& w) {
  auto config = load_kubeconfig(w.kubeconfig());
  REQUIRE_MESSAGE(config, config.error().message);
  auto client = ApiClient::create(*config);
  REQUIRE_MESSAGE(client, client.error().message);
  return *client;
}

std::vector<Json> items(ApiClient& api, const Resource& r, const std::string& ns, const std::string& selector) {
  ListOptions o;
  o.label_selector = selector;
  auto list = api.list(r, ns, o);
  REQUIRE_MESSAGE(list, list.error().message);
  std::vector<Json> out;
  for (const auto& i : (*list)["items"]) out.push_back(i);
  return out;
}

bool is_ready(const Json& pod) {
  if (!pod.contains("status") || !pod["status"].contains("conditions")) return false;
  for (const auto& c : pod["status"]["conditions"])
    if (c.value("type", "") == "Ready" && c.value("status", "") == "True") return true;
  return false;
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// What a node agent would report for a started pod; conflicts are left to the next call.
void mark_ready(ApiClient& api, Json pod) {
  pod["status"]["phase"] = "Running";
  pod["status"]["conditions"] =
      Json::array({{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", now_rfc3339()}}});
  auto r = api.update_status(resources::kPods, pod);
  if (!r) CHECK_MESSAGE((is_conflict(r.error()) || r.error().kind == ErrorKind::NotFound), r.error().message);
}

void mark_all_ready(ApiClient& api, const std::string& ns, const std::string& selector) {
  for (auto& pod : items(api, resources::kPods, ns, selector))
    if (!is_ready(pod)) mark_ready(api, pod);
}

size_t count(ApiClient& api, const Resource& r, const std::string& ns, const std::string& selector) {
  return items(api, r, ns, selector).size();
}

std::string image_of(const Json& pod) { return pod["spec"]["containers"][0].value("image", ""); }

Json get(ApiClient& api, const Resource& r, const std::string& ns, const std::string& name) {
  auto obj = api.get(r, ns, name);
  REQUIRE_MESSAGE(obj, obj.error().message);
  return *obj;
}

#define KUBECTL_OK(w, ...)                                                          \
  do {                                                                              \
    auto kr = (w).kubectl(__VA_ARGS__);                                             \
    REQUIRE_MESSAGE(kr.exit_code == 0, "kubectl failed: " << kr.err << kr.out);     \
  } while (0)

// Drives a rollout to its end the way nodes would (new pods become ready),
// checking at every look that no more than max_unavailable of `replicas`
// are unready or missing and no more than max_surge extra pods exist.
void drive_rollout(ApiClient& api, const std::string& selector, int replicas, int max_surge, int max_unavailable,
                   const std::function<bool()>& done) {
  bool finished = eventually([&] {
    auto pods = items(api, resources::kPods, "default", selector);
    size_t ready = 0;
    for (const auto& p : pods) ready += is_ready(p) ? 1 : 0;
    CHECK_MESSAGE(static_cast<int>(ready) >= replicas - max_unavailable, "only " << ready << " ready pods");
    CHECK_MESSAGE(static_cast<int>(pods.size()) <= replicas + max_surge, pods.size() << " pods");
    for (auto& p : pods)
      if (!is_ready(p)) mark_ready(api, p);
    return done();
  }, 60s);
  REQUIRE(finished);
}

}  // namespace

TEST_CASE("a deployment is created, scaled, healed, rolled forward and back, and deleted") {
  ApiWorld w;
  ControllerManagerProcess cm(w);
  REQUIRE_MESSAGE(cm.leading(), cm.output());
  auto api = client_for(w);
  const std::string sel = "app=web";

  KUBECTL_OK(w, {"create", "deployment", "web", "--image=x:1", "--replicas=3"});
  REQUIRE_MESSAGE(eventually([&] { return count(*api, resources::kPods, "default", sel) == 3; }, 20s), cm.output());
  auto sets = items(*api, resources::kReplicaSets, "default", sel);
  REQUIRE(sets.size() == 1);
  Json rs1 = sets[0];
  std::string hash = rs1["metadata"]["labels"].value("pod-template-hash", "");
  CHECK(!hash.empty());
  CHECK(rs1["metadata"]["name"] == "web-" + hash);
  CHECK(rs1["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1");
  CHECK(rs1["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "3");
  CHECK(rs1["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "4");
  CHECK(rs1["metadata"]["ownerReferences"][0]["kind"] == "Deployment");
  CHECK(rs1["spec"]["selector"]["matchLabels"]["pod-template-hash"] == hash);
  for (const auto& pod : items(*api, resources::kPods, "default", sel)) {
    CHECK(pod["metadata"]["name"].get<std::string>().rfind("web-" + hash + "-", 0) == 0);
    CHECK(pod["metadata"]["labels"]["pod-template-hash"] == hash);
    CHECK(pod["metadata"]["ownerReferences"][0]["name"] == rs1["metadata"]["name"]);
    CHECK(pod["metadata"]["ownerReferences"][0]["controller"] == true);
  }

  // Ready pods make an available deployment that `kubectl rollout status` accepts.
  mark_all_ready(*api, "default", sel);
  REQUIRE(eventually([&] {
    Json d = get(*api, resources::kDeployments, "default", "web");
    return d["status"].value("availableReplicas", 0) == 3;
  }, 20s));
  auto status = w.kubectl({"rollout", "status", "deployment/web", "--timeout=20s"});
  CHECK_MESSAGE(status.exit_code == 0, status.err << status.out);
  CHECK(status.out.find("successfully rolled out") != std::string::npos);
  Json d = get(*api, resources::kDeployments, "default", "web");
  CHECK(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1");
  CHECK(d["status"]["observedGeneration"] == d["metadata"]["generation"]);

  // Scale to 5: two more pods, never more.
  KUBECTL_OK(w, {"scale", "deployment/web", "--replicas=5"});
  REQUIRE(eventually([&] {
    size_t n = count(*api, resources::kPods, "default", sel);
    CHECK(n <= 5);
    return n == 5;
  }, 20s));
  mark_all_ready(*api, "default", sel);

  // A deleted pod is replaced.
  std::string victim = items(*api, resources::kPods, "default", sel)[0]["metadata"]["name"];
  KUBECTL_OK(w, {"delete", "pod", victim});
  REQUIRE(eventually([&] {
    auto pods = items(*api, resources::kPods, "default", sel);
    for (const auto& p : pods)
      if (p["metadata"]["name"] == victim) return false;
    return pods.size() == 5;
  }, 20s));
  mark_all_ready(*api, "default", sel);
  REQUIRE(eventually([&] {
    return get(*api, resources::kDeployments, "default", "web")["status"].value("availableReplicas", 0) == 5;
  }, 20s));

  // A new image: a second ReplicaSet, rolled to within maxSurge 2 / maxUnavailable 1 (25% of 5).
  KUBECTL_OK(w, {"set", "image", "deployment/web", "x=x:2"});
  // Done: the deployment has seen its latest spec, and its 5 pods are all new and ready.
  auto rolled_to = [&](const std::string& image) {
    auto pods = items(*api, resources::kPods, "default", sel);
    if (pods.size() != 5) return false;
    Json dep = get(*api, resources::kDeployments, "default", "web");
    Json tmpl_annotations = dep["spec"]["template"]["metadata"].value("annotations", Json::object());
    for (const auto& p : pods)
      if (image_of(p) != image || !is_ready(p) || p["metadata"].value("annotations", Json::object()) != tmpl_annotations)
        return false;
    return dep["status"].value("updatedReplicas", 0) == 5 && dep["status"].value("availableReplicas", 0) == 5 &&
           dep["status"].value("replicas", 0) == 5 &&
           dep["status"].value("observedGeneration", 0) == dep["metadata"].value("generation", -1);
  };
  drive_rollout(*api, sel, 5, 2, 1, [&] { return rolled_to("x:2"); });
  status = w.kubectl({"rollout", "status", "deployment/web", "--timeout=20s"});
  CHECK_MESSAGE(status.exit_code == 0, status.err << status.out);
  sets = items(*api, resources::kReplicaSets, "default", sel);
  REQUIRE(sets.size() == 2);
  for (const auto& rs : sets) {
    bool is_old = rs["metadata"]["name"] == rs1["metadata"]["name"];
    CHECK(rs["spec"]["replicas"] == (is_old ? 0 : 5));
    CHECK(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == (is_old ? "1" : "2"));
  }
  CHECK(get(*api, resources::kDeployments, "default", "web")["metadata"]["annotations"]
           ["deployment.kubernetes.io/revision"] == "2");

  // Undo: back to the first ReplicaSet, now revision 3.
  auto undo = w.kubectl({"rollout", "undo", "deployment/web"});
  REQUIRE_MESSAGE(undo.exit_code == 0, undo.err << undo.out);
  drive_rollout(*api, sel, 5, 2, 1, [&] { return rolled_to("x:1"); });
  Json back = get(*api, resources::kReplicaSets, "default", rs1["metadata"]["name"]);
  CHECK(back["spec"]["replicas"] == 5);
  CHECK(back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3");
  CHECK(get(*api, resources::kDeployments, "default", "web")["metadata"]["annotations"]
           ["deployment.kubernetes.io/revision"] == "3");
  auto history = w.kubectl({"rollout", "history", "deployment/web"});
  CHECK_MESSAGE(history.exit_code == 0, history.err);
  CHECK(history.out.find("2 ") != std::string::npos);
  CHECK(history.out.find("3 ") != std::string::npos);

  // Restart: a template annotation, so a new ReplicaSet.
  KUBECTL_OK(w, {"rollout", "restart", "deployment/web"});
  REQUIRE(eventually([&] { return count(*api, resources::kReplicaSets, "default", sel) == 3; }, 20s));
  drive_rollout(*api, sel, 5, 2, 1, [&] { return rolled_to("x:1"); });
  auto restarted = items(*api, resources::kPods, "default", sel);
  REQUIRE(restarted.size() == 5);
  CHECK(restarted[0]["metadata"]["annotations"].contains("kubectl.kubernetes.io/restartedAt"));

  // Deleting the deployment takes its ReplicaSets and pods with it.
  KUBECTL_OK(w, {"delete", "deployment", "web"});
  REQUIRE_MESSAGE(eventually([&] {
    return count(*api, resources::kReplicaSets, "default", sel) == 0 && count(*api, resources::kPods, "default", sel) == 0;
  }, 20s), cm.output());
}

TEST_CASE("replica sets adopt matching orphans, release pods they no longer match, and cascade as asked") {
  ApiWorld w;
  auto api = client_for(w);
  Json orphan = {{"apiVersion", "v1"},
                 {"kind", "Pod"},
                 {"metadata", {{"name", "orphan"}, {"labels", {{"app", "db"}}}}},
                 {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "db:1"}}})}}}};
  REQUIRE(api->create(resources::kPods, "default", orphan));
  ControllerManagerProcess cm(w);
  REQUIRE_MESSAGE(cm.leading(), cm.output());
  const char* rs_yaml = R"(apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: db}
spec:
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: "db:1"}]}
)";
  KUBECTL_OK(w, {"apply", "-f", w.file("rs.yaml", rs_yaml)});
  Json rs = get(*api, resources::kReplicaSets, "default", "db");
  REQUIRE(eventually([&] {
    Json pod = get(*api, resources::kPods, "default", "orphan");
    auto refs = pod["metadata"].value("ownerReferences", Json::array());
    return refs.size() == 1 && refs[0]["uid"] == rs["metadata"]["uid"] && count(*api, resources::kPods, "default", "app=db") == 2;
  }, 20s));
  CHECK(count(*api, resources::kPods, "default", "app=db") == 2);  // one adopted, one created

  // Relabelled: released (no owner) and replaced.
  KUBECTL_OK(w, {"label", "pod", "orphan", "app=other", "--overwrite"});
  REQUIRE(eventually([&] {
    Json pod = get(*api, resources::kPods, "default", "orphan");
    return pod["metadata"].value("ownerReferences", Json::array()).empty() &&
           count(*api, resources::kPods, "default", "app=db") == 2;
  }, 20s));
  mark_all_ready(*api, "default", "app=db");
  REQUIRE(eventually([&] {
    Json s = get(*api, resources::kReplicaSets, "default", "db")["status"];
    return s.value("readyReplicas", 0) == 2 && s.value("availableReplicas", 0) == 2 &&
           s.value("fullyLabeledReplicas", 0) == 2 && s.value("replicas", 0) == 2;
  }, 20s));

  // Orphan cascade: the ReplicaSet goes, its pods stay, without owner.
  KUBECTL_OK(w, {"delete", "replicaset", "db", "--cascade=orphan"});
  REQUIRE(eventually([&] {
    if (count(*api, resources::kReplicaSets, "default", "") != 0) return false;
    auto pods = items(*api, resources::kPods, "default", "app=db");
    for (const auto& p : pods)
      if (!p["metadata"].value("ownerReferences", Json::array()).empty()) return false;
    return pods.size() == 2;
  }, 20s));

  // Foreground cascade: the deployment stays until its pods and ReplicaSet are gone.
  KUBECTL_OK(w, {"create", "deployment", "fg", "--image=x:1", "--replicas=2"});
  REQUIRE(eventually([&] { return count(*api, resources::kPods, "default", "app=fg") == 2; }, 20s));
  auto del = w.kubectl({"delete", "deployment", "fg", "--cascade=foreground", "--wait=false"});
  REQUIRE_MESSAGE(del.exit_code == 0, del.err);
  REQUIRE_MESSAGE(eventually([&] {
    auto gone = api->get(resources::kDeployments, "default", "fg");
    return !gone && count(*api, resources::kPods, "default", "app=fg") == 0 &&
           count(*api, resources::kReplicaSets, "default", "app=fg") == 0;
  }, 20s), cm.output());
}

TEST_CASE("deleting a namespace empties it, then it goes") {
  ApiWorld w;
  ControllerManagerProcess cm(w);
  REQUIRE_MESSAGE(cm.leading(), cm.output());
  auto api = client_for(w);
  KUBECTL_OK(w, {"create", "namespace", "doomed"});
  KUBECTL_OK(w, {"-n", "doomed", "create", "deployment", "web", "--image=x:1", "--replicas=2"});
  KUBECTL_OK(w, {"-n", "doomed", "create", "configmap", "settings", "--from-literal=a=b"});
  REQUIRE(eventually([&] { return count(*api, resources::kPods, "doomed", "app=web") == 2; }, 20s));
  KUBECTL_OK(w, {"delete", "namespace", "doomed", "--wait=false"});
  REQUIRE_MESSAGE(eventually([&] {
    auto ns = api->get(resources::kNamespaces, "", "doomed");
    return !ns && ns.error().kind == ErrorKind::NotFound;
  }, 30s), cm.output());
  CHECK(count(*api, resources::kPods, "doomed", "") == 0);
  CHECK(count(*api, resources::kConfigMaps, "doomed", "") == 0);
  CHECK(count(*api, resources::kDeployments, "doomed", "") == 0);
}

TEST_CASE("with leader election, one of two controller-managers leads, and the standby takes over") {
  ApiWorld w;
  std::vector<std::string> fast = {"--leader-elect=true", "--leader-elect-lease-duration-ms", "3000",
                                   "--leader-elect-renew-deadline-ms", "2000", "--leader-elect-retry-period-ms", "500"};
  auto first = std::make_unique<ControllerManagerProcess>(w, fast);
  REQUIRE_MESSAGE(first->leading(), first->output());
  ControllerManagerProcess second(w, fast);
  auto api = client_for(w);
  KUBECTL_OK(w, {"create", "deployment", "le", "--image=x:1", "--replicas=1"});
  REQUIRE(eventually([&] { return count(*api, resources::kPods, "default", "app=le") == 1; }, 20s));
  CHECK(second.output().find("leading") == std::string::npos);
  first.reset();  // SIGTERM: it releases the Lease
  REQUIRE_MESSAGE(second.leading(20s), second.output());
  KUBECTL_OK(w, {"scale", "deployment/le", "--replicas=2"});
  REQUIRE(eventually([&] { return count(*api, resources::kPods, "default", "app=le") == 2; }, 20s));
}

TEST_CASE("a service's endpoints follow its pods' IPs and readiness") {
  ApiWorld w;
  ControllerManagerProcess cm(w);
  REQUIRE_MESSAGE(cm.leading(), cm.output());
  auto api = client_for(w);
  KUBECTL_OK(w, {"create", "deployment", "ep", "--image=x:1", "--replicas=2"});
  KUBECTL_OK(w, {"expose", "deployment", "ep", "--port=80", "--target-port=8080"});
  REQUIRE(eventually([&] { return count(*api, resources::kPods, "default", "app=ep") == 2; }, 20s));
  // What an agent would report: IPs for both, one of them ready.
  auto pods = items(*api, resources::kPods, "default", "app=ep");
  std::map<std::string, std::string> ip_of;
  for (size_t i = 0; i < pods.size(); ++i) {
    Json p = pods[i];
    p["status"]["podIP"] = "10.88.0." + std::to_string(10 + i);
    p["status"]["phase"] = "Running";
    if (i == 0) p["status"]["conditions"] = Json::array({{{"type", "Ready"}, {"status", "True"}}});
    REQUIRE(api->update_status(resources::kPods, p));
    ip_of[p["metadata"]["name"]] = p["status"]["podIP"];
  }
  auto endpoints_are = [&](size_t ready, size_t not_ready) {
    auto ep = api->get(resources::kEndpoints, "default", "ep");
    if (!ep || !(*ep).contains("subsets") || (*ep)["subsets"].size() != 1) return false;
    const Json& s = (*ep)["subsets"][0];
    return s.value("addresses", Json::array()).size() == ready &&
           s.value("notReadyAddresses", Json::array()).size() == not_ready && s["ports"][0]["port"] == 8080;
  };
  REQUIRE_MESSAGE(eventually([&] { return endpoints_are(1, 1); }, 20s), cm.output());
  Json ep = get(*api, resources::kEndpoints, "default", "ep");
  CHECK(ep["subsets"][0]["addresses"][0]["ip"] == ip_of[pods[0]["metadata"]["name"]]);
  CHECK(ep["subsets"][0]["addresses"][0]["targetRef"]["name"] == pods[0]["metadata"]["name"]);
  mark_all_ready(*api, "default", "app=ep");
  REQUIRE(eventually([&] { return endpoints_are(2, 0); }, 20s));
  auto shown = w.kubectl({"get", "endpoints", "ep"});
  CHECK(shown.out.find("10.88.0.") != std::string::npos);
  KUBECTL_OK(w, {"delete", "service", "ep"});
  REQUIRE(eventually([&] { return !api->get(resources::kEndpoints, "default", "ep"); }, 20s));
}

namespace {

// A Lease renewTime as agents write it (microseconds, so that every renewal changes it).
std::string micro_time_now() {
  auto now = std::chrono::system_clock::now();
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::string secs = now_rfc3339();
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lldZ", static_cast<long long>(micros));
  return secs.substr(0, secs.size() - 1) + frac;
}

// A Node as an agent would register it (no agent runs here), with Ready True.
void make_node(ApiWorld& w, ApiClient& api, const std::string& name, const Json& taints = Json::array()) {
  Json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata", {{"name", name}, {"labels", {{"kubernetes.io/hostname", name}}}}},
               {"spec", {{"taints", taints}}}};
  KUBECTL_OK(w, {"apply", "-f", "-"}, node.dump());
  // A controller may write the node in between: retry on conflict.
  REQUIRE(eventually([&] {
    Json current = get(api, resources::kNodes, "", name);
    current["status"]["conditions"] = Json::array(
        {{{"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"}, {"lastTransitionTime", now_rfc3339()}}});
    auto r = api.update_status(resources::kNodes, current);
    if (!r) CHECK_MESSAGE(is_conflict(r.error()), r.error().message);
    return r.has_value();
  }, 10s));
}

void renew_lease(ApiClient& api, const std::string& node) {
  auto lease = api.get(resources::kLeases, "kube-node-lease", node);
  if (!lease) {
    Json fresh = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", node}, {"namespace", "kube-node-lease"}}},
                  {"spec", {{"holderIdentity", node}, {"leaseDurationSeconds", 40}, {"renewTime", micro_time_now()}}}};
    auto r = api.create(resources::kLeases, "kube-node-lease", fresh);
    REQUIRE_MESSAGE(r, r.error().message);
    return;
  }
  (*lease)["spec"]["renewTime"] = micro_time_now();
  auto r = api.update(resources::kLeases, *lease);
  REQUIRE_MESSAGE(r, r.error().message);
}

std::optional<Json> taint_of(ApiClient& api, const std::string& node, const std::string& key) {
  Json n = get(api, resources::kNodes, "", node);
  for (const auto& t : n["spec"].value("taints", Json::array()))
    if (t.value("key", "") == key) return t;
  return std::nullopt;
}

std::string ready_status(ApiClient& api, const std::string& node) {
  Json n = get(api, resources::kNodes, "", node);
  for (const auto& c : n["status"].value("conditions", Json::array()))
    if (c.value("type", "") == "Ready") return c.value("status", "");
  return "";
}

// Deleted, or being deleted: a bound pod waits for its node's agent, and there is none here.
bool deleted(ApiClient& api, const std::string& name) {
  auto pod = api.get(resources::kPods, "default", name);
  return !pod || (*pod)["metadata"].contains("deletionTimestamp");
}

Json pod_on_node(const std::string& name, const std::string& node, const Json& tolerations) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec",
           {{"nodeName", node},
            {"tolerations", tolerations},
            {"containers", Json::array({{{"name", "c"}, {"image", "x:1"}}})}}}};
}

}  // namespace

TEST_CASE("a node whose Lease stops is marked Unknown and tainted, its pods evicted by toleration, and it recovers") {
  ApiWorld w;
  ControllerManagerProcess cm(w, {"--leader-elect=false", "--controllers", "nodelifecycle",
                                  "--node-monitor-grace-period-ms", "2000", "--node-monitor-period-ms", "200"});
  REQUIRE_MESSAGE(cm.leading(), cm.output());
  auto api = client_for(w);
  make_node(w, *api, "n1");
  renew_lease(*api, "n1");
  auto toleration = [](Json seconds) {
    Json t = {{"key", "node.kubernetes.io/unreachable"}, {"operator", "Exists"}, {"effect", "NoExecute"}};
    if (!seconds.is_null()) t["tolerationSeconds"] = seconds;
    return Json::array({t});
  };
  KUBECTL_OK(w, {"apply", "-f", "-"}, pod_on_node("short", "n1", toleration(1)).dump());
  KUBECTL_OK(w, {"apply", "-f", "-"}, pod_on_node("forever", "n1", toleration(nullptr)).dump());
  // The admission default (300 s) keeps this one past the test.
  KUBECTL_OK(w, {"apply", "-f", "-"}, pod_on_node("default", "n1", Json::array()).dump());

  // While the Lease is renewed, well past the grace period, nothing happens.
  auto renewing_until = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < renewing_until) {
    renew_lease(*api, "n1");
    CHECK_FALSE(taint_of(*api, "n1", "node.kubernetes.io/unreachable"));
    std::this_thread::sleep_for(300ms);
  }
  CHECK(ready_status(*api, "n1") == "True");

  // Renewals stop: Unknown and the unreachable taint within grace + period.
  REQUIRE_MESSAGE(eventually([&] { return taint_of(*api, "n1", "node.kubernetes.io/unreachable").has_value(); }, 15s),
                  cm.output());
  auto taint = *taint_of(*api, "n1", "node.kubernetes.io/unreachable");
  CHECK(taint["effect"] == "NoExecute");
  CHECK(taint.value("timeAdded", "") != "");
  CHECK(ready_status(*api, "n1") == "Unknown");
  Json node = get(*api, resources::kNodes, "", "n1");
  for (const auto& c : node["status"]["conditions"])
    if (c["type"] == "Ready") {
      CHECK(c["reason"] == "NodeStatusUnknown");
      CHECK(c["message"] == "Kubelet stopped posting node status.");
    }
  REQUIRE_MESSAGE(eventually([&] { return deleted(*api, "short"); }, 15s), cm.output());
  CHECK_FALSE(deleted(*api, "forever"));
  CHECK_FALSE(deleted(*api, "default"));

  // Recovery: the Lease is renewed and Ready True posted again (as an agent
  // would keep doing; a conflict with the controller is retried next look).
  REQUIRE_MESSAGE(eventually([&] {
    renew_lease(*api, "n1");
    if (ready_status(*api, "n1") != "True") {
      Json current = get(*api, resources::kNodes, "", "n1");
      for (auto& c : current["status"]["conditions"])
        if (c["type"] == "Ready") c["status"] = "True";
      auto posted = api->update_status(resources::kNodes, current);
      if (!posted) CHECK_MESSAGE(is_conflict(posted.error()), posted.error().message);
      return false;
    }
    return !taint_of(*api, "n1", "node.kubernetes.io/unreachable").has_value();
  }, 15s), cm.output());
  CHECK(ready_status(*api, "n1") == "True");
  CHECK_FALSE(deleted(*api, "forever"));
}

TEST_CASE("a daemon set runs one pod per eligible node, pinned by matchFields, and rolls a template change") {
  ApiWorld w;
  ControllerManagerProcess cm(w, {"--leader-elect=false", "--controllers", "daemonset"});
  REQUIRE_MESSAGE(cm.leading(), cm.output());
  auto api = client_for(w);
  make_node(w, *api, "d1");
  make_node(w, *api, "d2");
  make_node(w, *api, "d3", Json::array({{{"key", "dedicated"}, {"value", "db"}, {"effect", "NoSchedule"}}}));
  Json ds = {{"apiVersion", "apps/v1"},
             {"kind", "DaemonSet"},
             {"metadata", {{"name", "agent"}, {"namespace", "default"}}},
             {"spec",
              {{"selector", {{"matchLabels", {{"app", "agent"}}}}},
               {"template",
                {{"metadata", {{"labels", {{"app", "agent"}}}}},
                 {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "x:1"}}})}}}}}}}};
  KUBECTL_OK(w, {"apply", "-f", "-"}, ds.dump());

  auto pinned_nodes = [&] {
    std::multiset<std::string> nodes;
    for (const auto& p : items(*api, resources::kPods, "default", "app=agent")) {
      const Json& terms =
          p["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
      if (terms.size() == 1 && terms[0]["matchFields"][0]["key"] == "metadata.name")
        nodes.insert(terms[0]["matchFields"][0]["values"][0].get<std::string>());
    }
    return nodes;
  };
  auto status_is = [&](int desired, int updated) {
    Json d = get(*api, resources::kDaemonSets, "default", "agent");
    const Json& s = d.value("status", Json::object());
    return s.value("observedGeneration", 0) == d["metadata"].value("generation", 0) &&
           s.value("desiredNumberScheduled", -1) == desired && s.value("currentNumberScheduled", -1) == desired &&
           s.value("updatedNumberScheduled", -1) == updated;
  };
  REQUIRE_MESSAGE(eventually([&] { return pinned_nodes() == std::multiset<std::string>{"d1", "d2"} && status_is(2, 2); },
                             20s),
                  cm.output());
  auto pods = items(*api, resources::kPods, "default", "app=agent");
  CHECK(pods[0]["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet");
  CHECK(pods[0]["metadata"]["labels"].contains("controller-revision-hash"));
  size_t tolerations = pods[0]["spec"]["tolerations"].size();
  CHECK(tolerations >= 6);

  // Ready pods count as ready (and available: no minReadySeconds).
  mark_all_ready(*api, "default", "app=agent");
  REQUIRE(eventually([&] {
    Json d = get(*api, resources::kDaemonSets, "default", "agent");
    return d["status"].value("numberReady", 0) == 2 && d["status"].value("numberAvailable", 0) == 2;
  }, 20s));

  // Tolerating the taint: a new template, rolled over all three nodes one
  // unavailable pod at a time (the test plays the node and readies them).
  KUBECTL_OK(w, {"patch", "daemonset", "agent", "--type=merge", "-p",
                 R"({"spec":{"template":{"spec":{"tolerations":[{"key":"dedicated","operator":"Exists"}]}}}})"});
  std::string old_hash = pods[0]["metadata"]["labels"]["controller-revision-hash"];
  bool rolled = eventually([&] {
    auto now_pods = items(*api, resources::kPods, "default", "app=agent");
    size_t ready_total = 0;
    for (const auto& p : now_pods) ready_total += is_ready(p) ? 1 : 0;
    // maxUnavailable 1 of 3 nodes: at least two ready at every look.
    CHECK_MESSAGE(ready_total >= 2, "only " << ready_total << " ready daemon pods");
    mark_all_ready(*api, "default", "app=agent");
    return pinned_nodes() == std::multiset<std::string>{"d1", "d2", "d3"} && status_is(3, 3);
  }, 30s);
  REQUIRE_MESSAGE(rolled, cm.output());
  for (const auto& p : items(*api, resources::kPods, "default", "app=agent"))
    CHECK(p["metadata"]["labels"]["controller-revision-hash"] != old_hash);
}

namespace {

// What a node agent reports for a pod that ran to its end.
void finish_pod(ApiClient& api, Json pod, const std::string& phase) {
  std::string now = now_rfc3339();
  pod["status"]["phase"] = phase;
  pod["status"]["containerStatuses"] = Json::array(
      {{{"name", pod["spec"]["containers"][0].value("name", "")},
        {"state", {{"terminated", {{"exitCode", phase == "Succeeded" ? 0 : 1}, {"finishedAt", now}}}}}}});
  auto r = api.update_status(resources::kPods, pod);
  CHECK_MESSAGE(r, (r ? "" : r.error().message));
}

std::vector<Json> active_pods(ApiClient& api, const std::string& selector) {
  std::vector<Json> out;
  for (auto& p : items(api, resources::kPods, "default", selector)) {
    std::string phase = p.value("status", Json::object()).value("phase", "");
    if (phase != "Succeeded" && phase != "Failed" && !p["metadata"].contains("deletionTimestamp")) out.push_back(p);
  }
  return out;
}

std::string job_condition(ApiClient& api, const std::string& name, const std::string& type) {
  for (auto& c : get(api, resources::kJobs, "default", name).value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == type) return c.value("status", "");
  return "";
}

}  // namespace

TEST_CASE("a job runs parallelism pods at a time to its completions, or fails past its backoff limit") {
  ApiWorld w;
  ControllerManagerProcess cm(w, {"--leader-elect=false", "--job-backoff-ms", "200"});
  auto api = client_for(w);

  // kubectl's own generator; then three completions, two at a time.
  KUBECTL_OK(w, {"create", "job", "batch", "--image=x:1", "--", "sh", "-c", "echo done"});
  Json job = get(*api, resources::kJobs, "default", "batch");
  std::string uid = job["metadata"].value("uid", "");
  CHECK(job["spec"]["selector"]["matchLabels"].value("batch.kubernetes.io/controller-uid", "") == uid);
  CHECK(job["spec"]["template"]["metadata"]["labels"].value("job-name", "") == "batch");
  // A patch: the controller may have written the Job's status since the get.
  auto patched = api->patch(resources::kJobs, "default", "batch", PatchType::Merge, {{"spec", {{"parallelism", 2}}}});
  REQUIRE_MESSAGE(patched, patched.error().message);
  std::string sel = "job-name=batch";
  // completions is 1 (kubectl create job): one pod at most even with parallelism 2.
  REQUIRE_MESSAGE(eventually([&] { return active_pods(*api, sel).size() == 1; }, 20s), cm.output());
  finish_pod(*api, active_pods(*api, sel)[0], "Succeeded");
  REQUIRE_MESSAGE(eventually([&] { return job_condition(*api, "batch", "Complete") == "True"; }, 20s), cm.output());
  Json done = get(*api, resources::kJobs, "default", "batch");
  CHECK(done["status"].value("succeeded", 0) == 1);
  CHECK(done["status"].contains("completionTime"));
  auto table = w.kubectl({"get", "jobs"});
  CHECK_MESSAGE(table.out.find("Complete") != std::string::npos, table.out);
  CHECK_MESSAGE(table.out.find("1/1") != std::string::npos, table.out);

  Json spec = {{"apiVersion", "batch/v1"},
               {"kind", "Job"},
               {"metadata", {{"name", "three"}}},
               {"spec",
                {{"completions", 3},
                 {"parallelism", 2},
                 {"template",
                  {{"spec",
                    {{"restartPolicy", "Never"},
                     {"containers", Json::array({{{"name", "c"}, {"image", "x:1"}}})}}}}}}}};
  KUBECTL_OK(w, {"create", "-f", "-"}, spec.dump());
  sel = "job-name=three";
  REQUIRE(eventually([&] { return active_pods(*api, sel).size() == 2; }, 20s));
  for (auto& p : active_pods(*api, sel)) finish_pod(*api, p, "Succeeded");
  // One completion left: one pod, not two.
  REQUIRE(eventually([&] { return active_pods(*api, sel).size() == 1; }, 20s));
  CHECK(eventually([&] { return get(*api, resources::kJobs, "default", "three")["status"].value("succeeded", 0) == 2; }, 10s));
  CHECK(job_condition(*api, "three", "Complete") != "True");
  finish_pod(*api, active_pods(*api, sel)[0], "Succeeded");
  REQUIRE(eventually([&] { return job_condition(*api, "three", "Complete") == "True"; }, 20s));
  CHECK(items(*api, resources::kPods, "default", sel).size() == 3);

  // backoffLimit 1: the second failure fails the job, with kube's reason.
  spec["metadata"]["name"] = "flaky";
  spec["spec"] = {{"backoffLimit", 1}, {"template", spec["spec"]["template"]}};
  KUBECTL_OK(w, {"create", "-f", "-"}, spec.dump());
  sel = "job-name=flaky";
  for (int failure = 0; failure < 2; ++failure) {
    REQUIRE_MESSAGE(eventually([&] { return active_pods(*api, sel).size() == 1; }, 20s), cm.output());
    finish_pod(*api, active_pods(*api, sel)[0], "Failed");
  }
  REQUIRE_MESSAGE(eventually([&] { return job_condition(*api, "flaky", "Failed") == "True"; }, 20s), cm.output());
  Json failed = get(*api, resources::kJobs, "default", "flaky");
  CHECK(failed["status"].value("failed", 0) == 2);
  for (auto& c : failed["status"]["conditions"])
    if (c.value("type", "") == "Failed") CHECK(c.value("reason", "") == "BackoffLimitExceeded");
  CHECK(active_pods(*api, sel).empty());

  // A template the API refuses: restartPolicy Always.
  spec["metadata"]["name"] = "bad";
  spec["spec"]["template"]["spec"]["restartPolicy"] = "Always";
  auto refused = w.kubectl({"create", "-f", "-"}, spec.dump());
  CHECK(refused.exit_code != 0);
  CHECK_MESSAGE(refused.err.find("spec.template.spec.restartPolicy: Unsupported value: \"Always\"") != std::string::npos,
                refused.err);

  // Deleting a job deletes its pods (garbage collector, by owner reference).
  KUBECTL_OK(w, {"delete", "job", "three"});
  CHECK(eventually([&] { return items(*api, resources::kPods, "default", "job-name=three").empty(); }, 20s));
}
