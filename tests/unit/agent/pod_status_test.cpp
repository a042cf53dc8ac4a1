#include "pod_status.h"

#include <doctest/doctest.h>

using namespace deckhand;
using namespace deckhand::agent;
namespace v1 = ::runtime::v1;

namespace {

constexpr int64_t kSecond = 1000000000;
constexpr int64_t kT0 = 1767225600 * kSecond;  // 2026-01-01T00:00:00Z
const std::string kNow = "2026-01-01T01:00:00Z";

Json pod_json(Json spec, Json status = Json::object()) {
  return {{"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", "u-1"}}},
          {"spec", spec},
          {"status", status}};
}

Json containers(std::initializer_list<const char*> names) {
  Json out = Json::array();
  for (auto n : names) out.push_back({{"name", n}, {"image", "busybox:1.36"}});
  return out;
}

v1::ContainerStatus running(const std::string& id, uint32_t attempt = 0) {
  v1::ContainerStatus s;
  s.set_id(id);
  s.mutable_metadata()->set_attempt(attempt);
  s.set_state(v1::CONTAINER_RUNNING);
  s.set_started_at(kT0 + kSecond);
  s.set_image_ref("sha256:feed");
  return s;
}

v1::ContainerStatus exited(const std::string& id, int code, uint32_t attempt = 0) {
  v1::ContainerStatus s = running(id, attempt);
  s.set_state(v1::CONTAINER_EXITED);
  s.set_exit_code(code);
  s.set_finished_at(kT0 + 3 * kSecond);
  s.set_reason(code == 0 ? "Completed" : "Error");
  return s;
}

PodView view_with(std::map<std::string, ContainerView> c, bool ready = true) {
  PodView v;
  v.sandbox_ready = ready;
  if (ready) v.pod_ips = {"10.88.0.5"};
  v.containers = std::move(c);
  v.runtime_name = "deckhand-cri";
  v.host_ip = "192.0.2.10";
  return v;
}

ContainerView latest(v1::ContainerStatus s) {
  ContainerView v;
  v.latest = std::move(s);
  return v;
}

const Json& condition(const Json& status, const std::string& type) {
  for (const Json& c : status["conditions"])
    if (c["type"] == type) return c;
  FAIL("no condition " << type);
  static Json none;
  return none;
}

}  // namespace

TEST_CASE("rfc3339") { CHECK(rfc3339(kT0 + 61 * kSecond + 5) == "2026-01-01T00:01:01Z"); }

TEST_CASE("a pod whose containers do not exist yet is Pending with ContainerCreating") {
  Json pod = pod_json({{"containers", containers({"a"})}});
  auto st = make_pod_status(pod, view_with({}, false), kNow);
  CHECK(st["phase"] == "Pending");
  CHECK(st["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating");
  CHECK(st["containerStatuses"][0]["ready"] == false);
  CHECK(st["containerStatuses"][0]["restartCount"] == 0);
  CHECK(condition(st, "PodReadyToStartContainers")["status"] == "False");
  CHECK(condition(st, "Ready")["status"] == "False");
  CHECK(condition(st, "Ready")["reason"] == "ContainersNotReady");
  CHECK(condition(st, "Ready")["message"] == "containers with unready status: [a]");
  CHECK(condition(st, "PodScheduled")["status"] == "True");
  CHECK(st["startTime"] == kNow);
  CHECK(st["hostIP"] == "192.0.2.10");
  CHECK(!st.contains("podIP"));
  CHECK(st["qosClass"] == "BestEffort");
}

TEST_CASE("all containers running: Running, ready, IPs, container IDs with the runtime's name") {
  Json pod = pod_json({{"containers", containers({"a", "b"})}},
                      {{"qosClass", "Burstable"}, {"startTime", "2025-12-31T00:00:00Z"}});
  auto st = make_pod_status(pod, view_with({{"a", latest(running("ida"))}, {"b", latest(running("idb", 2))}}),
                            kNow);
  CHECK(st["phase"] == "Running");
  CHECK(st["podIP"] == "10.88.0.5");
  CHECK(st["podIPs"] == Json::array({{{"ip", "10.88.0.5"}}}));
  CHECK(st["hostIPs"] == Json::array({{{"ip", "192.0.2.10"}}}));
  CHECK(st["startTime"] == "2025-12-31T00:00:00Z");
  CHECK(st["qosClass"] == "Burstable");  // what the apiserver set stays
  const Json& a = st["containerStatuses"][0];
  CHECK(a["name"] == "a");
  CHECK(a["state"]["running"]["startedAt"] == "2026-01-01T00:00:01Z");
  CHECK(a["ready"] == true);
  CHECK(a["started"] == true);
  CHECK(a["containerID"] == "deckhand-cri://ida");
  CHECK(a["imageID"] == "sha256:feed");
  CHECK(a["image"] == "busybox:1.36");
  CHECK(st["containerStatuses"][1]["restartCount"] == 2);
  for (auto type : {"PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready", "PodScheduled"})
    CHECK(condition(st, type)["status"] == "True");
  CHECK(condition(st, "Ready")["lastTransitionTime"] == kNow);
}

TEST_CASE("conditions keep their transition time while they hold; a changed status is a different JSON") {
  Json pod = pod_json({{"containers", containers({"a"})}});
  auto view = view_with({{"a", latest(running("ida"))}});
  auto first = make_pod_status(pod, view, "2026-01-01T00:00:05Z");
  pod["status"] = first;
  auto again = make_pod_status(pod, view, kNow);
  CHECK(again == first);  // nothing to write
  auto stopped = make_pod_status(pod, view_with({{"a", latest(exited("ida", 0))}}), kNow);
  CHECK(condition(stopped, "PodScheduled")["lastTransitionTime"] == "2026-01-01T00:00:05Z");
  CHECK(condition(stopped, "Ready")["lastTransitionTime"] == kNow);
}

TEST_CASE(
    "crash loop: waiting CrashLoopBackOff with the last termination, restart count, Running under Always") {
  Json pod = pod_json({{"containers", containers({"a"})}});
  ContainerView cv = latest(exited("id3", 1, 3));
  cv.previous = exited("id2", 1, 2);
  cv.waiting_reason = "CrashLoopBackOff";
  cv.waiting_message = "back-off 20s restarting failed container=a pod=web_shop(u-1)";
  auto st = make_pod_status(pod, view_with({{"a", cv}}), kNow);
  const Json& a = st["containerStatuses"][0];
  CHECK(a["state"]["waiting"]["reason"] == "CrashLoopBackOff");
  CHECK(a["state"]["waiting"]["message"] == cv.waiting_message);
  CHECK(a["lastState"]["terminated"]["exitCode"] == 1);
  CHECK(a["lastState"]["terminated"]["reason"] == "Error");
  CHECK(a["lastState"]["terminated"]["containerID"] == "deckhand-cri://id3");
  CHECK(a["lastState"]["terminated"]["finishedAt"] == "2026-01-01T00:00:03Z");
  CHECK(a["restartCount"] == 3);
  CHECK(a["ready"] == false);
  CHECK(st["phase"] == "Running");

  ContainerView again = latest(running("id4", 4));
  again.previous = exited("id3", 1, 3);
  auto st2 = make_pod_status(pod, view_with({{"a", again}}), kNow);
  CHECK(st2["containerStatuses"][0]["lastState"]["terminated"]["containerID"] == "deckhand-cri://id3");
  CHECK(st2["containerStatuses"][0]["restartCount"] == 4);
}

TEST_CASE("phases by restart policy") {
  auto phase = [](const std::string& policy, std::map<std::string, ContainerView> c) {
    Json pod = pod_json({{"restartPolicy", policy}, {"containers", containers({"a", "b"})}});
    return pod_phase(pod, view_with(std::move(c)));
  };
  CHECK(phase("Never", {{"a", latest(exited("1", 0))}, {"b", latest(exited("2", 0))}}) == "Succeeded");
  CHECK(phase("Never", {{"a", latest(exited("1", 0))}, {"b", latest(exited("2", 2))}}) == "Failed");
  CHECK(phase("OnFailure", {{"a", latest(exited("1", 0))}, {"b", latest(exited("2", 2))}}) == "Running");
  CHECK(phase("OnFailure", {{"a", latest(exited("1", 0))}, {"b", latest(exited("2", 0))}}) == "Succeeded");
  CHECK(phase("Always", {{"a", latest(exited("1", 0))}, {"b", latest(exited("2", 0))}}) == "Running");
  CHECK(phase("Never", {{"a", latest(running("1"))}, {"b", latest(exited("2", 2))}}) == "Running");
  CHECK(phase("Never", {{"a", latest(running("1"))}}) == "Pending");  // b not started yet
  // A terminal phase is never left.
  Json done = pod_json({{"containers", containers({"a"})}}, {{"phase", "Succeeded"}});
  CHECK(pod_phase(done, view_with({})) == "Succeeded");
}

TEST_CASE(
    "init containers: one by one, app containers wait in PodInitializing, failure under Never fails the "
    "pod") {
  Json spec = {{"initContainers", containers({"i1", "i2"})}, {"containers", containers({"a"})}};
  Json pod = pod_json(spec);
  auto st = make_pod_status(pod, view_with({{"i1", latest(running("x"))}}), kNow);
  CHECK(st["phase"] == "Pending");
  CHECK(st["initContainerStatuses"][0]["state"].contains("running"));
  CHECK(st["initContainerStatuses"][0]["ready"] == false);
  CHECK(st["initContainerStatuses"][1]["state"]["waiting"]["reason"] == "PodInitializing");
  CHECK(st["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing");
  CHECK(condition(st, "Initialized")["status"] == "False");
  CHECK(condition(st, "Initialized")["reason"] == "ContainersNotInitialized");
  CHECK(condition(st, "Initialized")["message"] == "containers with incomplete status: [i1 i2]");

  auto done = make_pod_status(
      pod,
      view_with(
          {{"i1", latest(exited("x", 0))}, {"i2", latest(exited("y", 0))}, {"a", latest(running("z"))}}),
      kNow);
  CHECK(done["phase"] == "Running");
  CHECK(done["initContainerStatuses"][1]["state"]["terminated"]["reason"] == "Completed");
  CHECK(done["initContainerStatuses"][1]["ready"] == true);
  CHECK(condition(done, "Initialized")["status"] == "True");
  CHECK(condition(done, "Ready")["status"] == "True");

  Json never = pod_json({{"restartPolicy", "Never"},
                         {"initContainers", containers({"i1"})},
                         {"containers", containers({"a"})}});
  CHECK(pod_phase(never, view_with({{"i1", latest(exited("x", 3))}})) == "Failed");
  Json always = pod_json(spec);
  CHECK(pod_phase(always, view_with({{"i1", latest(exited("x", 3))}})) == "Pending");
}

TEST_CASE("a held-back container shows why: image pull errors before any instance exists") {
  Json pod = pod_json({{"containers", containers({"a"})}});
  ContainerView cv;
  cv.waiting_reason = "ErrImagePull";
  cv.waiting_message = "pull busybox:1.36: not found";
  auto st = make_pod_status(pod, view_with({{"a", cv}}), kNow);
  CHECK(st["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull");
  CHECK(st["containerStatuses"][0]["state"]["waiting"]["message"] == cv.waiting_message);
  CHECK(st["phase"] == "Pending");
}

TEST_CASE("a completed pod: Ready false with PodCompleted, IPs kept once the sandbox is gone") {
  Json pod =
      pod_json({{"restartPolicy", "Never"}, {"containers", containers({"a"})}}, {{"podIP", "10.88.0.5"}});
  auto st = make_pod_status(pod, view_with({{"a", latest(exited("1", 0))}}, false), kNow);
  CHECK(st["phase"] == "Succeeded");
  CHECK(condition(st, "Ready")["reason"] == "PodCompleted");
  CHECK(condition(st, "Initialized")["status"] == "True");
  CHECK(st["podIP"] == "10.88.0.5");
  CHECK(st["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0);
}

TEST_CASE("a sidecar (restartable init container) initializes the pod once it runs, and counts for readiness") {
  Json inits = containers({"proxy"});
  inits[0]["restartPolicy"] = "Always";
  Json pod = pod_json({{"initContainers", inits}, {"containers", containers({"app"})}});
  auto status_of = [&](std::map<std::string, ContainerView> c) { return make_pod_status(pod, view_with(c), kNow); };
  auto condition_of = [](const Json& s, const std::string& type) {
    for (const Json& c : s["conditions"])
      if (c["type"] == type) return c["status"].get<std::string>();
    return std::string();
  };

  Json waiting = status_of({{"proxy", latest(running("p1"))}});
  CHECK(waiting["phase"] == "Pending");
  CHECK(condition_of(waiting, "Initialized") == "True");
  CHECK(waiting["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating");
  CHECK(waiting["initContainerStatuses"][0]["ready"] == true);

  Json both = status_of({{"proxy", latest(running("p1"))}, {"app", latest(running("a1"))}});
  CHECK(both["phase"] == "Running");
  CHECK(condition_of(both, "Ready") == "True");

  ContainerView unready = latest(running("p1"));
  unready.ready = false;
  Json sidecar_unready = status_of({{"proxy", unready}, {"app", latest(running("a1"))}});
  CHECK(sidecar_unready["initContainerStatuses"][0]["ready"] == false);

  // One that has not started yet holds the pod in initialization.
  Json not_started = status_of({});
  CHECK(condition_of(not_started, "Initialized") == "False");
  CHECK(not_started["containerStatuses"][0]["state"]["waiting"]["reason"] == "PodInitializing");
}

TEST_CASE("probe verdicts: a running container is ready only when started and ready") {
  Json pod = pod_json({{"containers", containers({"app"})}});
  ContainerView v = latest(running("a1"));
  v.ready = false;
  Json s = make_pod_status(pod, view_with({{"app", v}}), kNow);
  CHECK(s["containerStatuses"][0]["ready"] == false);
  CHECK(s["containerStatuses"][0]["started"] == true);
  v.started = false;
  v.ready = true;
  s = make_pod_status(pod, view_with({{"app", v}}), kNow);
  CHECK(s["containerStatuses"][0]["ready"] == false);
  CHECK(s["containerStatuses"][0]["started"] == false);
  v.started = true;
  s = make_pod_status(pod, view_with({{"app", v}}), kNow);
  CHECK(s["containerStatuses"][0]["ready"] == true);
}
