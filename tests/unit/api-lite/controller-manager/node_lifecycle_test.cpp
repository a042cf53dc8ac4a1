// The node lifecycle controller's decisions: taint/toleration eviction
// timing, the Unknown conditions, and which lifecycle taints a node wants.
#include <doctest/doctest.h>

#include "deckhand/controllers/node_lifecycle_controller.h"
#include "deckhand/controllers/taints.h"

using namespace deckhand;
using namespace deckhand::controllers;
using namespace std::chrono_literals;

namespace {

const Clock::time_point kNow = Clock::from_time_t(1700000000);

Taint unreachable_since(Clock::time_point t) { return {kTaintUnreachable, "", "NoExecute", format_time(t)}; }

Json node_with_ready(const std::string& status) {
  return {{"metadata", {{"name", "n1"}}},
          {"spec", Json::object()},
          {"status",
           {{"conditions", Json::array({{{"type", "Ready"}, {"status", status}},
                                        {{"type", "MemoryPressure"}, {"status", "False"}},
                                        {{"type", "NetworkUnavailable"}, {"status", "False"}}})}}}};
}

}  // namespace

TEST_CASE("a NoExecute taint the pod does not tolerate evicts it at once") {
  auto at = eviction_time({}, {unreachable_since(kNow)});
  REQUIRE(at);
  CHECK(*at == Clock::time_point::min());
  // A toleration of another key or effect does not help.
  Toleration other{"node.kubernetes.io/not-ready", "Exists", "", "NoExecute", 5};
  Toleration no_schedule{kTaintUnreachable, "Exists", "", "NoSchedule", std::nullopt};
  CHECK(*eviction_time({other, no_schedule}, {unreachable_since(kNow)}) == Clock::time_point::min());
}

TEST_CASE("tolerationSeconds counts from the taint's timeAdded; no limit means never") {
  Toleration for_300s{kTaintUnreachable, "Exists", "", "NoExecute", 300};
  auto at = eviction_time({for_300s}, {unreachable_since(kNow)});
  REQUIRE(at);
  CHECK(*at == kNow + 300s);
  Toleration forever{kTaintUnreachable, "Exists", "", "NoExecute", std::nullopt};
  CHECK_FALSE(eviction_time({forever}, {unreachable_since(kNow)}));
  // The shortest limit among matching tolerations wins.
  Toleration for_1s{"", "Exists", "", "", 1};
  CHECK(*eviction_time({forever, for_300s, for_1s}, {unreachable_since(kNow)}) == kNow + 1s);
  // NoSchedule taints never evict; the earliest of several taints counts.
  Taint no_schedule{"x", "", "NoSchedule", ""};
  CHECK_FALSE(eviction_time({}, {no_schedule}));
  Taint not_ready{kTaintNotReady, "", "NoExecute", format_time(kNow - 10s)};
  CHECK(*eviction_time({for_1s}, {unreachable_since(kNow), not_ready}) == kNow - 9s);
}

TEST_CASE("a pod's tolerations and a node's taints are read from their objects") {
  auto parsed = pod_tolerations(Json{{"tolerations", Json::array({{{"key", "a"}, {"tolerationSeconds", 7}}, 3})}});
  REQUIRE(parsed.size() == 1);
  CHECK(parsed[0].op == "Equal");
  CHECK(parsed[0].seconds == 7);
  // A taint without timeAdded counts from the epoch: its time has passed.
  Toleration for_1s{"", "Exists", "", "", 1};
  Taint undated{kTaintUnreachable, "", "NoExecute", ""};
  CHECK(*eviction_time({for_1s}, {undated}) == Clock::time_point{} + 1s);
}

TEST_CASE("a node that stopped posting gets Ready and the pressure conditions Unknown, once") {
  Json node = node_with_ready("True");
  REQUIRE(mark_node_status_unknown(node, kNow));
  const Json* ready = find_condition(node, "Ready");
  REQUIRE(ready);
  CHECK((*ready)["status"] == "Unknown");
  CHECK((*ready)["reason"] == "NodeStatusUnknown");
  CHECK((*ready)["message"] == "Kubelet stopped posting node status.");
  CHECK((*find_condition(node, "MemoryPressure"))["status"] == "Unknown");
  CHECK((*find_condition(node, "NetworkUnavailable"))["status"] == "False");
  CHECK_FALSE(mark_node_status_unknown(node, kNow));
  Json bare = {{"metadata", {{"name", "n2"}}}};
  CHECK(mark_node_status_unknown(bare, kNow));
  CHECK((*find_condition(bare, "Ready"))["status"] == "Unknown");
}

TEST_CASE("lifecycle taints follow the Ready condition and keep their timeAdded") {
  CHECK(wanted_lifecycle_taints(node_with_ready("True")).empty());
  CHECK(wanted_lifecycle_taints(node_with_ready("False")) == std::vector<std::string>{kTaintNotReady});
  CHECK(wanted_lifecycle_taints(node_with_ready("Unknown")) == std::vector<std::string>{kTaintUnreachable});
  CHECK(wanted_lifecycle_taints(Json{{"metadata", {{"name", "new"}}}}).empty());

  Json node = node_with_ready("Unknown");
  node["spec"]["taints"] = Json::array({{{"key", "dedicated"}, {"value", "x"}, {"effect", "NoSchedule"}}});
  auto added = reconcile_lifecycle_taints(node, {kTaintUnreachable}, kNow);
  REQUIRE(added);
  REQUIRE(added->size() == 2);
  CHECK((*added)[1]["key"] == kTaintUnreachable);
  CHECK((*added)[1]["effect"] == "NoExecute");
  CHECK((*added)[1]["timeAdded"] == format_time(kNow));
  node["spec"]["taints"] = *added;
  CHECK_FALSE(reconcile_lifecycle_taints(node, {kTaintUnreachable}, kNow + 10s));  // kept as is
  auto removed = reconcile_lifecycle_taints(node, {}, kNow + 20s);
  REQUIRE(removed);
  REQUIRE(removed->size() == 1);
  CHECK((*removed)[0]["key"] == "dedicated");
  auto parsed = node_taints(Json{{"spec", {{"taints", *added}}}});
  REQUIRE(parsed.size() == 2);
  CHECK(parsed[1].time_added == format_time(kNow));
}
