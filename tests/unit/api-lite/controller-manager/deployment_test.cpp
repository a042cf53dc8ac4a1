// The Deployment controller's arithmetic: limits, hash, rollout steps,
// proportional scaling, status and conditions.
#include <doctest/doctest.h>

#include "deckhand/controllers/deployment_controller.h"

using namespace deckhand;
using namespace deckhand::controllers;
using namespace std::chrono_literals;

namespace {

const Clock::time_point kNow = Clock::from_time_t(1700000000);

Json deployment(int64_t replicas, Json surge = "25%", Json unavailable = "25%") {
  return Json{{"metadata", {{"name", "web"}, {"generation", 2}}},
              {"spec",
               {{"replicas", replicas},
                {"progressDeadlineSeconds", 600},
                {"strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxSurge", surge}, {"maxUnavailable", unavailable}}}}},
                {"template", {{"metadata", {{"labels", {{"app", "web"}}}}},
                              {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "x:1"}}})}}}}}}},
              {"status", Json::object()}};
}

Json rs(const std::string& name, int64_t replicas, int64_t available, const std::string& created = "2024-01-01T00:00:00Z") {
  return Json{{"metadata", {{"name", name}, {"creationTimestamp", created}}},
              {"spec", {{"replicas", replicas}}},
              {"status", {{"replicas", replicas}, {"readyReplicas", available}, {"availableReplicas", available}}}};
}

}  // namespace

TEST_CASE("int-or-percent values scale and round as Kubernetes") {
  CHECK(scaled_value(Json("25%"), 10, true) == 3);
  CHECK(scaled_value(Json("25%"), 10, false) == 2);
  CHECK(scaled_value(Json("100%"), 7, false) == 7);
  CHECK(scaled_value(Json(3), 10, true) == 3);
  CHECK_FALSE(scaled_value(Json("25"), 10, true));
  CHECK_FALSE(scaled_value(Json("x%"), 10, true));
  CHECK_FALSE(scaled_value(Json(true), 10, true));
}

TEST_CASE("rollout limits: surge rounds up, unavailable down, never both zero") {
  auto four = rollout_limits(deployment(4));
  CHECK(four.max_surge == 1);
  CHECK(four.max_unavailable == 1);
  auto five = rollout_limits(deployment(5));
  CHECK(five.max_surge == 2);
  CHECK(five.max_unavailable == 1);
  auto one = rollout_limits(deployment(1, 0, "25%"));
  CHECK(one.max_surge == 0);
  CHECK(one.max_unavailable == 1);  // 25% of 1 is 0, and surge is 0 too
  Json d = deployment(3);
  d["spec"]["strategy"] = {{"type", "RollingUpdate"}};  // defaults
  CHECK(rollout_limits(d).max_surge == 1);
  CHECK(rollout_limits(d).max_unavailable == 0);
  CHECK(max_unavailable(deployment(3, 0, 5)) == 3);  // capped at replicas
  Json recreate = deployment(3);
  recreate["spec"]["strategy"] = {{"type", "Recreate"}};
  CHECK(rollout_limits(recreate).max_surge == 0);
  CHECK(max_unavailable(recreate) == 0);
}

TEST_CASE("the template hash is stable, ignores its own label and changes with the template") {
  Json t = deployment(1)["spec"]["template"];
  std::string h = pod_template_hash(t, std::nullopt);
  CHECK(!h.empty());
  CHECK(h.find_first_not_of("bcdfghjklmnpqrstvwxz2456789") == std::string::npos);
  Json same = Json::parse(t.dump());
  CHECK(pod_template_hash(same, std::nullopt) == h);
  Json labelled = t;
  labelled["metadata"]["labels"]["pod-template-hash"] = h;
  CHECK(pod_template_hash(labelled, std::nullopt) == h);
  CHECK(templates_equal_ignoring_hash(labelled, t));
  Json changed = t;
  changed["spec"]["containers"][0]["image"] = "x:2";
  CHECK(pod_template_hash(changed, std::nullopt) != h);
  CHECK_FALSE(templates_equal_ignoring_hash(changed, t));
  CHECK(pod_template_hash(t, 1) != h);
  CHECK(pod_template_hash(t, 1) != pod_template_hash(t, 2));
}

TEST_CASE("a rolling update grows the new set up to replicas + maxSurge") {
  Json d = deployment(5);  // surge 2, unavailable 1
  Json old_rs = rs("old", 5, 5), new_rs = rs("new", 0, 0);
  CHECK(new_rs_replicas(d, {old_rs, new_rs}, new_rs) == 2);
  new_rs = rs("new", 2, 0);
  CHECK(new_rs_replicas(d, {old_rs, new_rs}, new_rs) == 2);  // at 7 already
  old_rs = rs("old", 3, 3);
  CHECK(new_rs_replicas(d, {old_rs, new_rs}, new_rs) == 4);
  old_rs = rs("old", 0, 0);
  new_rs = rs("new", 4, 4);
  CHECK(new_rs_replicas(d, {old_rs, new_rs}, new_rs) == 5);  // never above replicas
}

TEST_CASE("a rolling update shrinks old sets without going below minimum availability") {
  Json d = deployment(5);  // min available 4
  // New pods not available yet: only one old pod may go.
  CHECK(old_rs_scale_down(d, {rs("old", 5, 5)}, rs("new", 2, 0)) == std::vector<int64_t>{4});
  // Two new pods available: two more old ones may go.
  CHECK(old_rs_scale_down(d, {rs("old", 4, 4)}, rs("new", 2, 2)) == std::vector<int64_t>{2});
  // Nothing available to spare.
  CHECK(old_rs_scale_down(d, {rs("old", 4, 4)}, rs("new", 3, 0)) == std::vector<int64_t>{4});
  // Unhealthy old pods go first, oldest set first, without counting against availability.
  Json broken = rs("older", 2, 0, "2023-01-01T00:00:00Z");
  CHECK(old_rs_scale_down(d, {broken, rs("old", 4, 4)}, rs("new", 1, 0)) == std::vector<int64_t>{0, 4});
  CHECK(old_rs_scale_down(d, {rs("old", 0, 0)}, rs("new", 5, 5)) == std::vector<int64_t>{0});
}

TEST_CASE("proportional scaling shares a resize between the active sets") {
  Json d = deployment(20, 5, 0);  // allowed 25
  Json a = rs("a", 8, 8), b = rs("b", 5, 5);
  a["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] = "13";
  b["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] = "13";
  CHECK(proportional_sizes(d, {a, b}) == std::vector<int64_t>{15, 10});
  Json down = deployment(5, 1, 0);  // allowed 6
  a["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] = "13";
  auto sizes = proportional_sizes(down, {a, b});
  CHECK(sizes[0] + sizes[1] == 6);
  CHECK(sizes[0] >= sizes[1]);
}

TEST_CASE("deployment status sums its sets and sets Available") {
  Json d = deployment(4);  // max unavailable 1
  Json status = deployment_status(d, {rs("old", 1, 1), rs("new", 3, 2)}, rs("new", 3, 2), kNow);
  CHECK(status["replicas"] == 4);
  CHECK(status["updatedReplicas"] == 3);
  CHECK(status["readyReplicas"] == 3);
  CHECK(status["availableReplicas"] == 3);
  CHECK(status["unavailableReplicas"] == 1);
  CHECK(status["observedGeneration"] == 2);
  CHECK(status["conditions"][0]["type"] == "Available");
  CHECK(status["conditions"][0]["status"] == "True");
  status = deployment_status(d, {rs("new", 4, 2)}, rs("new", 4, 2), kNow);
  CHECK(status["conditions"][0]["reason"] == "MinimumReplicasUnavailable");
}

TEST_CASE("Progressing: updated, complete, and past the deadline") {
  Json d = deployment(2);
  Json new_rs = rs("web-abc", 2, 1);
  Json status = deployment_status(d, {new_rs}, new_rs, kNow);
  update_progressing(d, status, new_rs, kNow);
  const Json* cond = nullptr;
  for (const auto& c : status["conditions"])
    if (c["type"] == "Progressing") cond = &c;
  REQUIRE(cond != nullptr);
  CHECK((*cond)["reason"] == "ReplicaSetUpdated");
  CHECK((*cond)["message"] == "ReplicaSet \"web-abc\" is progressing.");

  d["status"] = status;  // no further progress, 11 minutes later
  Json later = deployment_status(d, {new_rs}, new_rs, kNow + 660s);
  update_progressing(d, later, new_rs, kNow + 660s);
  CHECK(later["conditions"][1]["reason"] == "ProgressDeadlineExceeded");
  CHECK(later["conditions"][1]["status"] == "False");

  Json done_rs = rs("web-abc", 2, 2);
  Json done = deployment_status(d, {done_rs}, done_rs, kNow + 10s);
  update_progressing(d, done, done_rs, kNow + 10s);
  CHECK(deployment_complete(d, done));
  CHECK(done["conditions"][1]["reason"] == "NewReplicaSetAvailable");
  CHECK(done["conditions"][1]["message"] == "ReplicaSet \"web-abc\" has successfully progressed.");
}

TEST_CASE("set_condition keeps a condition that did not change") {
  Json status = Json::object();
  set_condition(status, "Available", "True", "A", "m", kNow);
  set_condition(status, "Available", "True", "A", "m2", kNow + 10s);
  CHECK(status["conditions"][0]["message"] == "m");
  set_condition(status, "Available", "True", "B", "m3", kNow + 20s);
  CHECK(status["conditions"][0]["reason"] == "B");
  CHECK(status["conditions"][0]["lastTransitionTime"] == format_time(kNow));
  CHECK(status["conditions"][0]["lastUpdateTime"] == format_time(kNow + 20s));
  set_condition(status, "Available", "False", "C", "m4", kNow + 30s);
  CHECK(status["conditions"][0]["lastTransitionTime"] == format_time(kNow + 30s));
  CHECK(status["conditions"].size() == 1);
}

TEST_CASE("revisions and replicas read from objects") {
  Json r = rs("a", 3, 0);
  CHECK(replicas_of(r) == 3);
  CHECK(replicas_of(Json::object()) == 1);
  CHECK(revision_of(r) == 0);
  r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "7";
  CHECK(revision_of(r) == 7);
  r["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "x";
  CHECK(revision_of(r) == 0);
}
