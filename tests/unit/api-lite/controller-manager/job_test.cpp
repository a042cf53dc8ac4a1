#include <doctest/doctest.h>

#include "deckhand/controllers/job_controller.h"

using namespace deckhand;
using namespace deckhand::controllers;
using namespace std::chrono_literals;

namespace {

Json job(Json spec, Json status = Json::object()) {
  return {{"metadata", {{"name", "j"}, {"namespace", "default"}, {"uid", "u1"}}}, {"spec", spec}, {"status", status}};
}

Json pod(const std::string& phase, bool ready = false) {
  Json p = {{"metadata", {{"name", "p"}}}, {"status", {{"phase", phase}}}};
  if (ready) p["status"]["conditions"] = Json::array({{{"type", "Ready"}, {"status", "True"}}});
  return p;
}

}  // namespace

TEST_CASE("job pods counted: active and ready, succeeded and failed never below the status") {
  auto n = count_job_pods(job({}, {{"succeeded", 3}, {"failed", 0}}),
                          {pod("Running", true), pod("Pending"), pod("Succeeded"), pod("Failed")});
  CHECK(n.active == 2);
  CHECK(n.ready == 1);
  CHECK(n.succeeded == 3);  // the status says 3; one pod is left
  CHECK(n.failed == 1);
  CHECK(n.last_failure.has_value() == false);  // no finish time and no creation time
}

TEST_CASE("job plan: parallelism bounded by the completions left; complete at completions") {
  auto now = Clock::now();
  Json j = job({{"completions", 5}, {"parallelism", 2}, {"backoffLimit", 6}});
  CHECK(plan_job(j, {0, 0, 0, 0, {}}, now, 10s).want_active == 2);
  CHECK(plan_job(j, {0, 0, 4, 0, {}}, now, 10s).want_active == 1);
  auto done = plan_job(j, {0, 0, 5, 0, {}}, now, 10s);
  REQUIRE(done.finished);
  CHECK(*done.finished == "Complete");
  // Without completions: done once one succeeded and none runs.
  Json queue = job({{"parallelism", 3}});
  CHECK(plan_job(queue, {0, 0, 0, 0, {}}, now, 10s).want_active == 3);
  CHECK(plan_job(queue, {1, 0, 1, 0, {}}, now, 10s).want_active == 0);
  CHECK(!plan_job(queue, {1, 0, 1, 0, {}}, now, 10s).finished);
  CHECK(*plan_job(queue, {0, 0, 1, 0, {}}, now, 10s).finished == "Complete");
  // Suspended: nothing runs.
  CHECK(plan_job(job({{"completions", 1}, {"parallelism", 1}, {"suspend", true}}), {}, now, 10s).want_active == 0);
}

TEST_CASE("job plan: failures past backoffLimit or activeDeadlineSeconds end it; failed pods are replaced after a doubling back-off") {
  auto now = Clock::now();
  Json j = job({{"completions", 1}, {"parallelism", 1}, {"backoffLimit", 2}});
  auto failed = plan_job(j, {0, 0, 0, 3, now}, now, 10s);
  REQUIRE(failed.finished);
  CHECK(*failed.finished == "Failed");
  CHECK(failed.reason == "BackoffLimitExceeded");
  // 1 failure: 10 s after it; 2 failures: 20 s.
  CHECK(plan_job(j, {0, 0, 0, 1, now - 4s}, now, 10s).wait == 6s);
  CHECK(plan_job(j, {0, 0, 0, 2, now - 4s}, now, 10s).wait == 16s);
  CHECK(plan_job(j, {0, 0, 0, 1, now - 11s}, now, 10s).wait == 0s);
  Json timed = job({{"completions", 1}, {"parallelism", 1}, {"activeDeadlineSeconds", 5}},
                   {{"startTime", format_time(now - 6s)}});
  auto late = plan_job(timed, {1, 0, 0, 0, {}}, now, 10s);
  REQUIRE(late.finished);
  CHECK(late.reason == "DeadlineExceeded");
}

TEST_CASE("job status: counts, start and completion times, conditions kept once set") {
  auto now = Clock::now();
  Json j = job({{"completions", 1}, {"parallelism", 1}});
  JobCounts n{0, 0, 1, 0, {}};
  auto plan = plan_job(j, n, now, 10s);
  Json s = job_status(j, n, plan, now);
  CHECK(s["succeeded"] == 1);
  CHECK(s["active"] == 0);
  CHECK(s.contains("startTime"));
  CHECK(s.contains("completionTime"));
  REQUIRE(s["conditions"].size() == 2);
  CHECK(s["conditions"][0]["type"] == "SuccessCriteriaMet");
  CHECK(s["conditions"][1]["type"] == "Complete");
  // Synced again: the same conditions, not two more.
  Json again = job_status(job(j["spec"], s), n, plan, now + 5s);
  CHECK(again["conditions"].size() == 2);
  CHECK(again["completionTime"] == s["completionTime"]);
}

TEST_CASE("a job's pod: its template, generateName, the job as controller") {
  Json j = job({{"template",
                 {{"metadata", {{"labels", {{"job-name", "j"}}}}},
                  {"spec", {{"restartPolicy", "Never"}, {"containers", Json::array({{{"name", "c"}}})}}}}}});
  Json p = pod_from_job(j);
  CHECK(p["metadata"]["generateName"] == "j-");
  CHECK(p["metadata"]["labels"]["job-name"] == "j");
  CHECK(p["metadata"]["ownerReferences"][0]["kind"] == "Job");
  CHECK(p["metadata"]["ownerReferences"][0]["apiVersion"] == "batch/v1");
  CHECK(p["metadata"]["ownerReferences"][0]["controller"] == true);
  CHECK(p["spec"]["restartPolicy"] == "Never");
}
