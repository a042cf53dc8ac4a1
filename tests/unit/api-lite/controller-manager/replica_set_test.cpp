// The ReplicaSet controller's decisions: deletion ranking, slow start,
// status, pod template, expectations, claiming.
#include <doctest/doctest.h>

#include "deckhand/api/selector.h"
#include "deckhand/controllers/expectations.h"
#include "deckhand/controllers/ownership.h"
#include "deckhand/controllers/replica_set_controller.h"

using namespace deckhand;
using namespace deckhand::controllers;
using namespace std::chrono_literals;

namespace {

const Clock::time_point kNow = Clock::from_time_t(1700000000);

Json pod(const std::string& name, const std::string& created = "2024-01-01T00:00:00Z") {
  return Json{{"metadata", {{"name", name}, {"namespace", "default"}, {"creationTimestamp", created}, {"labels", {{"app", "web"}}}}},
              {"spec", Json::object()},
              {"status", {{"phase", "Pending"}}}};
}

Json& bound(Json& p) {
  p["spec"]["nodeName"] = "n1";
  return p;
}

Json& running_ready(Json& p, Clock::time_point since = kNow - 3600s) {
  bound(p);
  p["status"]["phase"] = "Running";
  p["status"]["conditions"] = Json::array({{{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", format_time(since)}}});
  return p;
}

std::vector<std::string> names(const std::vector<Json>& pods) {
  std::vector<std::string> out;
  for (const auto& p : pods) out.push_back(name_of(p));
  return out;
}

}  // namespace

TEST_CASE("pods are deleted unscheduled first, then by phase, readiness, restarts and age") {
  Json unscheduled = pod("unscheduled");
  Json pending = pod("pending");
  bound(pending);
  Json running = pod("running");
  bound(running)["status"]["phase"] = "Running";
  Json unknown = pod("unknown");
  bound(unknown)["status"]["phase"] = "Unknown";
  Json ready_old = pod("ready-old");
  running_ready(ready_old, kNow - 3600s);
  Json ready_new = pod("ready-new");
  running_ready(ready_new, kNow - 60s);
  std::vector<Json> all = {ready_old, running, ready_new, unknown, pending, unscheduled};
  CHECK(names(pods_to_delete(all, 6)) ==
        std::vector<std::string>{"unscheduled", "pending", "unknown", "running", "ready-new", "ready-old"});
  CHECK(names(pods_to_delete(all, 2)) == std::vector<std::string>{"unscheduled", "pending"});

  Json young = pod("young", "2024-01-02T00:00:00Z"), old = pod("old", "2024-01-01T00:00:00Z");
  CHECK(delete_before(young, old));
  CHECK_FALSE(delete_before(old, young));
  Json restarted = pod("restarted", "2023-01-01T00:00:00Z");
  restarted["status"]["containerStatuses"] = Json::array({{{"restartCount", 4}}});
  CHECK(delete_before(restarted, young));  // restarts count before age
  Json cheap = pod("cheap", "2020-01-01T00:00:00Z");
  cheap["metadata"]["annotations"]["controller.kubernetes.io/pod-deletion-cost"] = "-5";
  CHECK(delete_before(cheap, restarted));
}

TEST_CASE("slow start creates in batches of 1, 2, 4, ...") {
  CHECK(slow_start_batches(0).empty());
  CHECK(slow_start_batches(1) == std::vector<int>{1});
  CHECK(slow_start_batches(10) == std::vector<int>{1, 2, 4, 3});
  CHECK(slow_start_batches(15) == std::vector<int>{1, 2, 4, 8});
}

TEST_CASE("replica set status counts labelled, ready and available pods") {
  Json rs = {{"metadata", {{"name", "web"}, {"generation", 3}}},
             {"spec", {{"replicas", 3}, {"minReadySeconds", 30},
                       {"template", {{"metadata", {{"labels", {{"app", "web"}, {"tier", "front"}}}}}}}}}};
  Json a = pod("a"), b = pod("b"), c = pod("c");
  a["metadata"]["labels"]["tier"] = "front";
  running_ready(a, kNow - 60s);  // available
  running_ready(b, kNow - 10s);  // ready, not yet available
  Json status = replica_set_status(rs, {a, b, c}, kNow);
  CHECK(status["replicas"] == 3);
  CHECK(status["fullyLabeledReplicas"] == 1);
  CHECK(status["readyReplicas"] == 2);
  CHECK(status["availableReplicas"] == 1);
  CHECK(status["observedGeneration"] == 3);
  CHECK(replica_set_status(rs, {a, b, c}, kNow + 30s)["availableReplicas"] == 2);
}

TEST_CASE("a pod from the template is owned by the replica set and named after it") {
  Json rs = {{"metadata", {{"name", "web-abc"}, {"namespace", "prod"}, {"uid", "u1"}}},
             {"spec", {{"template", {{"metadata", {{"labels", {{"app", "web"}}}, {"annotations", {{"a", "b"}}}}},
                                     {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "x:1"}}})}}}}}}}};
  Json p = pod_from_template(rs);
  CHECK(p["metadata"]["generateName"] == "web-abc-");
  CHECK(p["metadata"]["namespace"] == "prod");
  CHECK(p["metadata"]["labels"]["app"] == "web");
  CHECK(p["metadata"]["annotations"]["a"] == "b");
  CHECK(p["spec"]["containers"][0]["image"] == "x:1");
  Json ref = p["metadata"]["ownerReferences"][0];
  CHECK(ref == Json{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", "web-abc"}, {"uid", "u1"},
                    {"controller", true}, {"blockOwnerDeletion", true}});
}

TEST_CASE("expectations hold a second sync back until the informer saw the changes") {
  Expectations e(1h);
  CHECK(e.satisfied("ns/rs"));
  e.expect_creations("ns/rs", 2);
  CHECK_FALSE(e.satisfied("ns/rs"));
  e.creation_observed("ns/rs");
  CHECK_FALSE(e.satisfied("ns/rs"));
  e.creation_observed("ns/rs");
  CHECK(e.satisfied("ns/rs"));

  e.expect_deletions("ns/rs", {"ns/a", "ns/b"});
  e.deletion_observed("ns/rs", "ns/a");
  e.deletion_observed("ns/rs", "ns/a");  // terminating, then gone: counts once
  CHECK_FALSE(e.satisfied("ns/rs"));
  e.deletion_observed("ns/rs", "ns/b");
  CHECK(e.satisfied("ns/rs"));

  Expectations short_lived(-1ms);  // every expectation is past its TTL: treated as met
  short_lived.expect_creations("k", 5);
  CHECK(short_lived.satisfied("k"));
}

TEST_CASE("claiming keeps, adopts, releases and ignores") {
  Json rs = {{"metadata", {{"name", "web"}, {"uid", "rs-uid"}}}};
  auto sel = api::LabelSelector::parse("app=web");
  REQUIRE(sel);
  Json orphan = pod("orphan");
  CHECK(claim_action(rs, *sel, orphan) == ClaimAction::Adopt);
  Json mine = pod("mine");
  mine["metadata"]["ownerReferences"] = Json::array({make_controller_ref(rs, "apps/v1", "ReplicaSet")});
  CHECK(claim_action(rs, *sel, mine) == ClaimAction::Keep);
  Json relabelled = mine;
  relabelled["metadata"]["labels"]["app"] = "other";
  CHECK(claim_action(rs, *sel, relabelled) == ClaimAction::Release);
  Json others = pod("others");
  others["metadata"]["ownerReferences"] = Json::array({{{"uid", "x"}, {"controller", true}}});
  CHECK(claim_action(rs, *sel, others) == ClaimAction::Ignore);
  Json dying = orphan;
  dying["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  CHECK(claim_action(rs, *sel, dying) == ClaimAction::Ignore);
  Json dying_rs = rs;
  dying_rs["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  CHECK(claim_action(dying_rs, *sel, orphan) == ClaimAction::Ignore);
  CHECK(claim_action(dying_rs, *sel, relabelled) == ClaimAction::Ignore);
}

TEST_CASE("timestamps round-trip") {
  CHECK(format_time(kNow) == "2023-11-14T22:13:20Z");
  CHECK(parse_time("2023-11-14T22:13:20Z") == kNow);
  CHECK(parse_time("2023-11-14T22:13:20.123456Z") == kNow);
  CHECK_FALSE(parse_time("yesterday"));
}
