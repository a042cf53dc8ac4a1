// Issue 6's acceptance run: a whole single-node cluster of real processes
// (apiserver, two schedulers, controller-manager, deckhand-cri, agent)
// driven by the real kubectl: a Deployment created, scaled, healed, rolled
// forward within maxUnavailable and back; unschedulable pods with their
// FailedScheduling messages; taints; cascading and namespace deletion; and
// the standby scheduler taking over from a killed leader. Every wait polls
// with a deadline and fails with what it last saw and the processes' logs.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "cluster_world.h"

using namespace deckhand;
using namespace deckhand::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const char* kImage = "deckhand.test/busybox:1.36";  // tagged: imagePullPolicy defaults to IfNotPresent
const char* kNewImage = "deckhand.test/busybox:1.36.1";  // the same image under another tag

// `kubectl create deployment` as the issue writes it, with a grace period of
// 1 s in the template: busybox httpd as PID 1 ignores SIGTERM, and the
// default 30 s would make every deletion wait that long.
void create_web_deployment(ClusterWorld& c, const std::string& name, const std::string& ns, int replicas) {
  auto dry = c.kubectl_ok({"create", "deployment", name, "-n", ns, std::string("--image=") + kImage,
                           "--replicas=" + std::to_string(replicas), "--dry-run=client", "-o", "json", "--",
                           "httpd", "-f", "-p", "8080"});
  auto deployment = parse_json(dry.out, "deployment");
  REQUIRE_MESSAGE(deployment, dry.out);
  Json& pod_spec = (*deployment)["spec"]["template"]["spec"];
  REQUIRE(pod_spec["containers"][0]["name"] == "busybox");
  pod_spec["terminationGracePeriodSeconds"] = 1;
  c.kubectl_ok({"create", "-f", "-"}, deployment->dump());
}

// Polls until exactly `want` pods (not being deleted) match the selector,
// each Running, Ready, with a pod IP of the node's network, bound to the
// node; returns them.
std::vector<Json> wait_running(ClusterWorld& c, const std::string& selector, size_t want, const std::string& what,
                               std::chrono::seconds timeout = 40s, const std::string& ns = "default",
                               const std::function<bool(const std::vector<Json>&)>& also = nullptr) {
  std::vector<Json> active;
  bool ok = eventually(
      [&] {
        active.clear();
        for (auto& p : c.pods(selector, ns))
          if (!pod_terminating(p)) active.push_back(p);
        if (active.size() != want) return false;
        for (const auto& p : active) {
          const Json& status = p.value("status", Json::object());
          if (pod_phase(p) != "Running" || !pod_ready(p) || !status.contains("podIP")) return false;
          if (status.value("podIP", "").rfind(c.subnet_prefix(), 0) != 0) return false;
          if (p.value("spec", Json::object()).value("nodeName", "") != c.node()) return false;
        }
        return !also || also(active);
      },
      timeout);
  REQUIRE_MESSAGE(ok, what << " did not happen: " << active.size() << " active pods of " << selector << ":\n"
                           << c.api().kubectl({"get", "pods", "-n", ns, "-o", "wide"}).out << c.logs());
  return active;
}

std::set<std::string> names_of(const std::vector<Json>& pods) {
  std::set<std::string> names;
  for (const auto& p : pods) names.insert(pod_name(p));
  return names;
}

// The image of the pod's first container.
std::string container_image(const Json& pod) {
  const Json& containers = pod.value("spec", Json::object()).value("containers", Json::array());
  return containers.empty() ? "" : containers[0].value("image", "");
}

std::string template_hash(const Json& obj) {
  return obj.value("metadata", Json::object()).value("labels", Json::object()).value("pod-template-hash", "");
}

// Follows a rollout of deployment/web with a watch on its pods until it is
// finished (every replica updated and available), checking after every
// event (every state the pods go through) that at least replicas -
// maxUnavailable pods are ready and at most replicas + maxSurge exist, as
// the controller counts them (pods being deleted are not counted).
void watch_rollout(ClusterWorld& c, int replicas, int max_surge, int max_unavailable, const std::string& what) {
  client::ApiClient& api = c.client();
  client::ListOptions list_options;
  list_options.label_selector = "app=web";
  auto listed = api.list(client::resources::kPods, "default", list_options);
  REQUIRE_MESSAGE(listed, (listed ? "" : listed.error().message));
  std::map<std::string, Json> pods;
  for (const auto& p : listed->value("items", Json::array())) pods[pod_name(p)] = p;
  client::WatchOptions watch_options;
  watch_options.label_selector = "app=web";
  watch_options.resource_version = listed->value("metadata", Json::object()).value("resourceVersion", "");
  auto stream = api.watch(client::resources::kPods, "default", watch_options);
  REQUIRE_MESSAGE(stream, (stream ? "" : stream.error().message));

  int fewest_ready = replicas, most_active = 0, events = 0, ready = 0, active = 0;
  std::string last_event, dip;  // what the first state below the limit looked like
  auto look = [&] {
    ready = active = 0;
    for (const auto& [name, p] : pods) {
      if (pod_terminating(p)) continue;
      ++active;
      ready += pod_ready(p) ? 1 : 0;
    }
    fewest_ready = std::min(fewest_ready, ready);
    most_active = std::max(most_active, active);
    if (ready < replicas - max_unavailable && dip.empty()) {
      dip = "after " + last_event + ":\n";
      for (const auto& [name, p] : pods)
        dip += "  " + name + " phase=" + pod_phase(p) + " ready=" + (pod_ready(p) ? "yes" : "no") +
               (pod_terminating(p) ? " terminating" : "") + " rv=" +
               p["metadata"].value("resourceVersion", "") + "\n";
    }
  };
  look();
  auto finished = [&] {
    auto d = api.get(client::resources::kDeployments, "default", "web");
    if (!d) return false;
    const Json& s = d->value("status", Json::object());
    return s.value("observedGeneration", -1) == d->value("metadata", Json::object()).value("generation", 0) &&
           s.value("updatedReplicas", 0) == replicas && s.value("availableReplicas", 0) == replicas &&
           s.value("replicas", 0) == replicas && ready == replicas && active == replicas;
  };
  auto deadline = Clock::now() + 60s;
  auto last_check = Clock::now() - 1s;
  for (;;) {
    REQUIRE_MESSAGE(Clock::now() < deadline, what << " did not finish: " << ready << " ready of " << active << "\n"
                                                   << c.api().kubectl({"get", "deploy,rs,pods", "-o", "wide"}).out
                                                   << c.logs());
    auto event = (*stream)->next(50ms);
    REQUIRE_MESSAGE(event, what << ": the watch broke: " << (event ? "" : event.error().message));
    if (*event) {
      const client::WatchEvent& e = **event;
      REQUIRE_MESSAGE(e.type != "ERROR", e.object.dump());
      if (e.type == "ADDED" || e.type == "MODIFIED") pods[pod_name(e.object)] = e.object;
      if (e.type == "DELETED") pods.erase(pod_name(e.object));
      last_event = e.type + " " + pod_name(e.object);
      ++events;
      look();
    }
    if (Clock::now() - last_check < 200ms) continue;
    last_check = Clock::now();
    if (finished()) break;
  }
  MESSAGE(what << ": " << events << " pod events, fewest ready " << fewest_ready << ", most pods " << most_active);
  CHECK_MESSAGE(fewest_ready >= replicas - max_unavailable, what << ": only " << fewest_ready << " ready pods seen, first " << dip);
  CHECK_MESSAGE(most_active <= replicas + max_surge, what << ": " << most_active << " pods seen");
  CHECK_MESSAGE(events >= 2 * replicas, what << ": too few pod events (" << events << ") to have seen the rollout");
}

// spec.replicas of web's ReplicaSet for a template hash; -1 when there is none.
int replica_set_size(ClusterWorld& c, const std::string& hash) {
  for (const auto& rs : c.get_json({"replicasets", "-l", "app=web"}).value("items", Json::array()))
    if (template_hash(rs) == hash) return rs.value("spec", Json::object()).value("replicas", -1);
  return -1;
}

Json bare_pod(const std::string& name, Json spec_extra = Json::object()) {
  Json container = {{"name", "main"}, {"image", kImage}, {"command", {"sleep", "3600"}}};
  if (spec_extra.contains("resources")) {
    container["resources"] = spec_extra["resources"];
    spec_extra.erase("resources");
  }
  Json spec = {{"containers", {container}}, {"terminationGracePeriodSeconds", 1}};
  spec.update(spec_extra);
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}, {"labels", {{"app", name}}}}},
          {"spec", spec}};
}

// Polls until the pod has a FailedScheduling event whose message contains want.
void wait_failed_scheduling(ClusterWorld& c, const std::string& pod, const std::string& want) {
  std::string seen;
  bool found = eventually(
      [&] {
        seen.clear();
        for (const auto& e : c.events_for(pod)) {
          if (e.value("reason", "") != "FailedScheduling") continue;
          std::string message = e.value("message", "");
          seen += message + "\n";
          if (message.find(want) != std::string::npos) return true;
        }
        return false;
      },
      20s);
  REQUIRE_MESSAGE(found, "no FailedScheduling event for " << pod << " with '" << want << "'; seen:\n"
                                                           << seen << c.logs());
  Json p = c.get_json({"pod", pod});
  CHECK(pod_phase(p) == "Pending");
  CHECK(p.value("spec", Json::object()).value("nodeName", "").empty());
}

}  // namespace

TEST_CASE("a single-node cluster driven by kubectl") {
  auto t0 = Clock::now();
  ClusterWorld c;
  MESSAGE("cluster up after " << std::chrono::duration<double>(Clock::now() - t0).count() << " s");

  // 1. A Deployment of 3: pods placed on the node by the scheduler, Running with pod IPs.
  create_web_deployment(c, "web", "default", 3);
  auto first = wait_running(c, "app=web", 3, "3 Running pods of web");
  std::string first_hash = template_hash(first[0]);
  REQUIRE(!first_hash.empty());

  // 2. Scale to 5; a deleted pod is replaced by a new one.
  c.kubectl_ok({"scale", "deployment", "web", "--replicas=5"});
  auto five = wait_running(c, "app=web", 5, "5 Running pods after scaling");
  std::string victim = pod_name(five[0]);
  c.kubectl_ok({"delete", "pod", victim, "--wait=false"});
  auto before = names_of(five);
  wait_running(c, "app=web", 5, "a replacement for " + victim, 40s, "default", [&](const std::vector<Json>& pods) {
    auto now = names_of(pods);
    if (now.count(victim)) return false;
    return std::any_of(now.begin(), now.end(), [&](const std::string& n) { return !before.count(n); });
  });

  // 3. A new image rolls out to a new ReplicaSet within maxUnavailable =
  // 25% of 5 = 1 and maxSurge = 2; undo rolls back to the first.
  c.kubectl_ok({"set", "image", "deployment/web", std::string("busybox=") + kNewImage});
  watch_rollout(c, 5, 2, 1, "the rolling update");
  auto rolled = wait_running(c, "app=web", 5, "5 pods of the new template");
  std::string second_hash = template_hash(rolled[0]);
  CHECK(second_hash != first_hash);
  for (const auto& p : rolled) {
    CHECK(template_hash(p) == second_hash);
    CHECK(container_image(p) == kNewImage);
  }
  CHECK(replica_set_size(c, first_hash) == 0);

  c.kubectl_ok({"rollout", "undo", "deployment/web"});
  watch_rollout(c, 5, 2, 1, "the rollback");
  auto back = wait_running(c, "app=web", 5, "5 pods of the first template");
  for (const auto& p : back) {
    CHECK(template_hash(p) == first_hash);
    CHECK(container_image(p) == kImage);
  }
  CHECK(replica_set_size(c, first_hash) == 5);
  CHECK(replica_set_size(c, second_hash) == 0);

  // 4. More cpu than the node has: Pending, with the scheduler's reason.
  c.kubectl_ok({"create", "-f", "-"},
               bare_pod("big", {{"resources", {{"requests", {{"cpu", "1000"}}}}}}).dump());
  wait_failed_scheduling(c, "big", "0/1 nodes are available: 1 Insufficient cpu.");

  // 5. A tainted node takes only tolerating pods; without the taint the other one runs too.
  c.kubectl_ok({"taint", "node", c.node(), "dedicated=x:NoSchedule"});
  c.kubectl_ok({"create", "-f", "-"}, bare_pod("intolerant").dump());
  Json toleration = {{"key", "dedicated"}, {"operator", "Equal"}, {"value", "x"}, {"effect", "NoSchedule"}};
  c.kubectl_ok({"create", "-f", "-"}, bare_pod("tolerant", {{"tolerations", {toleration}}}).dump());
  wait_running(c, "app=tolerant", 1, "the tolerating pod Running on the tainted node");
  wait_failed_scheduling(c, "intolerant", "untolerated taint {dedicated: x}");
  c.kubectl_ok({"taint", "node", c.node(), "dedicated=x:NoSchedule-"});
  wait_running(c, "app=intolerant", 1, "the other pod Running once the taint is gone", 20s);
  CHECK(c.get_json({"pod", "big"}).value("spec", Json::object()).value("nodeName", "").empty());

  // 7. The leading scheduler dies; the standby leads within 20 s and schedules.
  auto& scheds = c.schedulers();
  auto leader = std::find_if(scheds.begin(), scheds.end(), [](const auto& s) { return s->leading(); });
  REQUIRE(leader != scheds.end());
  auto& standby = scheds[leader == scheds.begin() ? 1 : 0];
  REQUIRE_MESSAGE(!standby->leading(), "both schedulers say they lead:\n" << c.logs());
  (*leader)->stop(SIGKILL);
  auto killed_at = Clock::now();
  bool took_over = eventually([&] { return standby->leading(); }, 20s);
  REQUIRE_MESSAGE(took_over, "the standby scheduler did not take over:\n" << c.logs());
  MESSAGE("standby leads after " << std::chrono::duration<double>(Clock::now() - killed_at).count() << " s");
  c.kubectl_ok({"create", "-f", "-"}, bare_pod("after-failover").dump());
  wait_running(c, "app=after-failover", 1, "a pod scheduled by the new leader", 20s);

  // 6. Deleting the deployment deletes its ReplicaSets and pods; deleting a namespace empties it.
  std::string ns = unique_name("team-", 40);
  c.kubectl_ok({"create", "namespace", ns});
  create_web_deployment(c, "web", ns, 1);
  wait_running(c, "app=web", 1, "the namespace's pod", 40s, ns);

  c.kubectl_ok({"delete", "deployment", "web"});
  bool collected = eventually(
      [&] {
        return c.get_json({"replicasets", "-l", "app=web"}).value("items", Json::array()).empty() &&
               c.pods("app=web").empty();
      },
      30s);
  CHECK_MESSAGE(collected, "ReplicaSets or pods of web left:\n"
                               << c.api().kubectl({"get", "rs,pods", "-o", "wide"}).out << c.logs());

  c.kubectl_ok({"delete", "namespace", ns, "--wait=false"});
  bool ns_gone = eventually([&] { return c.api().kubectl({"get", "namespace", ns}).exit_code != 0; }, 40s);
  CHECK_MESSAGE(ns_gone, "namespace " << ns << " is still there:\n"
                                      << c.api().kubectl({"get", "namespace", ns, "-o", "yaml"}).out
                                      << c.api().kubectl({"get", "all", "-n", ns}).out << c.logs());
  CHECK(c.api().kubectl({"get", "pods", "-n", ns, "-o", "name"}).out.empty());

  // 8. A Job (kubectl's own generator) runs its pod to completion on the node; kubectl waits for it.
  c.kubectl_ok({"create", "job", "once", std::string("--image=") + kImage, "--", "sh", "-c", "echo job-done"});
  auto waited = c.api().kubectl({"wait", "--for=condition=complete", "job/once", "--timeout=60s"});
  CHECK_MESSAGE(waited.exit_code == 0, waited.err << c.api().kubectl({"get", "jobs,pods", "-o", "wide"}).out << c.logs());
  CHECK(c.api().kubectl({"logs", "job/once"}).out.find("job-done") != std::string::npos);
  auto jobs = c.api().kubectl({"get", "jobs"}).out;
  CHECK_MESSAGE((jobs.find("Complete") != std::string::npos && jobs.find("1/1") != std::string::npos), jobs);

  c.kubectl_ok({"delete", "pods", "big", "intolerant", "tolerant", "after-failover", "--wait=false"});
  MESSAGE("checks done after " << std::chrono::duration<double>(Clock::now() - t0).count() << " s");
}
