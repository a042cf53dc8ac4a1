// deckhand-scheduler against a real deckhand-apiserver in this process
// (plain HTTP on loopback): three Ready nodes, pods that get bound and spread,
// an oversized pod that gets FailedScheduling, and that pod's retry when a
// big enough node appears.
#include "deckhand/scheduler/scheduler.h"

#include <doctest/doctest.h>

#include <map>

#include "deckhand/apiserver/api_server.h"
#include "local_api.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::client;
using deckhand::test::eventually;
using namespace std::chrono_literals;

namespace {

#define REQUIRE_OK(r) REQUIRE_MESSAGE((r), ((r) ? "" : (r).error().message))

void create_node(ApiClient& api, const std::string& name, const std::string& cpu) {
  Json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata", {{"name", name}, {"labels", {{"kubernetes.io/hostname", name}}}}},
               {"spec", Json::object()}};
  auto created = api.create(resources::kNodes, "", node);
  REQUIRE_OK(created);
  Json with_status = *created;
  with_status["status"] = {{"allocatable", {{"cpu", cpu}, {"memory", "8Gi"}, {"pods", "110"}}},
                           {"capacity", {{"cpu", cpu}, {"memory", "8Gi"}, {"pods", "110"}}},
                           {"conditions", {{{"type", "Ready"}, {"status", "True"}, {"reason", "KubeletReady"}}}}};
  auto updated = api.update_status(resources::kNodes, with_status);
  REQUIRE_OK(updated);
}

Json pod(const std::string& name, const std::string& cpu, const Json& owner = nullptr) {
  Json meta = {{"name", name}, {"namespace", "default"}, {"labels", {{"app", "web"}}}};
  if (!owner.is_null()) meta["ownerReferences"] = Json::array({owner});
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", meta},
              {"spec",
               {{"containers",
                 {{{"name", "c"}, {"image", "busybox:1.36"}, {"resources", {{"requests", {{"cpu", cpu}}}}}}}}}}};
}

std::string node_of(ApiClient& api, const std::string& name) {
  auto p = api.get(resources::kPods, "default", name);
  if (!p) return "";
  return (*p)["spec"].value("nodeName", "");
}

}  // namespace

TEST_CASE("scheduler: binds and spreads pods, reports and retries one that fits nowhere") {
  test::LocalApi api{"deckhand-sched"};
  for (const char* n : {"node-a", "node-b", "node-c"}) create_node(*api.client, n, "2");
  scheduler::SchedulerOptions options;
  options.backoff_initial = 200ms;
  options.backoff_max = 1000ms;
  options.bind_threads = 2;
  auto started = scheduler::Scheduler::start(api.client, options);
  REQUIRE_OK(started);
  auto sched = std::move(*started);
  REQUIRE(sched->wait_for_sync(10s));

  Json owner = {{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "web"}, {"uid", "rs-uid-1"},
                {"controller", true}};
  for (int i = 0; i < 6; ++i) REQUIRE_OK(api.client->create(resources::kPods, "default", pod("web-" + std::to_string(i), "100m", owner)));
  // Another scheduler's pod is left alone.
  Json foreign = pod("foreign", "100m");
  foreign["spec"]["schedulerName"] = "someone-else";
  REQUIRE_OK(api.client->create(resources::kPods, "default", foreign));

  REQUIRE(eventually([&] {
    for (int i = 0; i < 6; ++i)
      if (node_of(*api.client, "web-" + std::to_string(i)).empty()) return false;
    return true;
  }));
  std::map<std::string, int> per_node;
  for (int i = 0; i < 6; ++i) ++per_node[node_of(*api.client, "web-" + std::to_string(i))];
  CHECK(per_node.size() == 3);  // spread: two on each
  for (const auto& [node, count] : per_node) CHECK_MESSAGE(count == 2, node);
  auto bound = api.client->get(resources::kPods, "default", "web-0");
  REQUIRE_OK(bound);
  bool scheduled_true = false;
  for (const auto& c : (*bound)["status"]["conditions"])
    if (c.value("type", "") == "PodScheduled" && c.value("status", "") == "True") scheduled_true = true;
  CHECK(scheduled_true);
  CHECK(node_of(*api.client, "foreign").empty());

  // Bigger than any node: a FailedScheduling event and PodScheduled=False.
  REQUIRE_OK(api.client->create(resources::kPods, "default", pod("huge", "3")));
  const std::string expected =
      "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims "
      "found for incoming pod.";
  Json event;
  REQUIRE(eventually([&] {
    ListOptions opts;
    opts.field_selector = "involvedObject.name=huge";
    auto events = api.client->list(resources::kEvents, "default", opts);
    if (!events || (*events)["items"].empty()) return false;
    event = (*events)["items"][0];
    return true;
  }));
  CHECK(event["reason"] == "FailedScheduling");
  CHECK(event["type"] == "Warning");
  CHECK(event["message"] == expected);
  CHECK(event["involvedObject"]["kind"] == "Pod");
  CHECK(event["source"]["component"] == "default-scheduler");
  REQUIRE(eventually([&] {
    auto p = api.client->get(resources::kPods, "default", "huge");
    if (!p) return false;
    for (const auto& c : (*p)["status"].value("conditions", Json::array()))
      if (c.value("type", "") == "PodScheduled" && c.value("status", "") == "False" &&
          c.value("reason", "") == "Unschedulable" && c.value("message", "") == expected)
        return true;
    return false;
  }));
  CHECK(node_of(*api.client, "huge").empty());

  // A node big enough appears: the pod is bound without waiting for a periodic retry.
  create_node(*api.client, "node-big", "8");
  REQUIRE(eventually([&] { return node_of(*api.client, "huge") == "node-big"; }, 5s));
  CHECK(sched->stats().bound == 7);
  CHECK(sched->stats().bind_errors == 0);
}
