#include "deckhand/controllers/job_controller.h"

#include <algorithm>
#include <mutex>
#include <set>

#include "deckhand/api/selector.h"
#include "deckhand/client/informer.h"
#include "deckhand/controllers/ownership.h"

namespace deckhand::controllers {

namespace res = client::resources;
using std::chrono::milliseconds;

constexpr milliseconds kMaxBackoff = std::chrono::minutes(6);

namespace {

bool condition_true(const Json& obj, const std::string& type) {
  const Json* c = find_condition(obj, type);
  return c && c->value("status", "") == "True";
}

bool is_finished(const Json& job) { return condition_true(job, "Complete") || condition_true(job, "Failed"); }

// When a failed pod's last container ended, else when it was created.
std::optional<Clock::time_point> ended_at(const Json& pod) {
  std::optional<Clock::time_point> last;
  for (const auto& c : field(pod, {"status", "containerStatuses"}).is_array() ? field(pod, {"status", "containerStatuses"})
                                                                              : Json::array()) {
    auto t = parse_time(string_field(c, {"state", "terminated", "finishedAt"}));
    if (t && (!last || *t > *last)) last = t;
  }
  return last ? last : creation_time(pod);
}

}  // namespace

JobCounts count_job_pods(const Json& job, const std::vector<Json>& pods) {
  JobCounts n;
  int64_t succeeded = 0, failed = 0;
  for (const auto& pod : pods) {
    std::string phase = pod_phase(pod);
    if (phase == "Succeeded") {
      ++succeeded;
    } else if (phase == "Failed") {
      ++failed;
      auto t = ended_at(pod);
      if (t && (!n.last_failure || *t > *n.last_failure)) n.last_failure = t;
    } else if (!is_terminating(pod)) {
      ++n.active;
      if (pod_is_ready(pod)) ++n.ready;
    }
  }
  n.succeeded = std::max(succeeded, int_field(job, {"status", "succeeded"}, 0));
  n.failed = std::max(failed, int_field(job, {"status", "failed"}, 0));
  return n;
}

JobPlan plan_job(const Json& job, const JobCounts& n, Clock::time_point now, milliseconds backoff_base) {
  JobPlan plan;
  const Json& completions = field(job, {"spec", "completions"});
  int64_t parallelism = int_field(job, {"spec", "parallelism"}, 1);
  int64_t backoff_limit = int_field(job, {"spec", "backoffLimit"}, 6);
  if (n.failed > backoff_limit) {
    plan.finished = "Failed";
    plan.reason = "BackoffLimitExceeded";
    plan.message = "Job has reached the specified backoff limit";
    return plan;
  }
  int64_t deadline = int_field(job, {"spec", "activeDeadlineSeconds"}, -1);
  auto started = parse_time(string_field(job, {"status", "startTime"}));
  if (deadline >= 0 && started && now - *started >= std::chrono::seconds(deadline)) {
    plan.finished = "Failed";
    plan.reason = "DeadlineExceeded";
    plan.message = "Job was active longer than specified deadline";
    return plan;
  }
  bool fixed = completions.is_number_integer();
  if (fixed ? n.succeeded >= completions.get<int64_t>() : n.succeeded > 0 && n.active == 0) {
    plan.finished = "Complete";
    return plan;
  }
  if (field(job, {"spec", "suspend"}) == true) return plan;
  // Without completions, once one pod succeeded no new one starts.
  plan.want_active = fixed ? std::min(parallelism, completions.get<int64_t>() - n.succeeded)
                           : (n.succeeded > 0 ? 0 : parallelism);
  if (n.failed > 0 && n.last_failure && n.active < plan.want_active) {
    milliseconds delay = backoff_base;
    for (int64_t i = 1; i < n.failed && delay < kMaxBackoff; ++i) delay *= 2;
    delay = std::min(delay, kMaxBackoff);
    auto ready_at = *n.last_failure + delay;
    if (ready_at > now) plan.wait = std::chrono::duration_cast<milliseconds>(ready_at - now);
  }
  return plan;
}

Json job_status(const Json& job, const JobCounts& n, const JobPlan& plan, Clock::time_point now) {
  Json status = field(job, {"status"}).is_object() ? field(job, {"status"}) : Json::object();
  status["active"] = plan.finished ? 0 : n.active;
  status["ready"] = plan.finished ? 0 : n.ready;
  status["succeeded"] = n.succeeded;
  status["failed"] = n.failed;
  if (!status.contains("startTime") && field(job, {"spec", "suspend"}) != true) status["startTime"] = format_time(now);
  if (plan.finished && !is_finished(job)) {
    std::string t = format_time(now);
    if (!status["conditions"].is_array()) status["conditions"] = Json::array();
    Json c = {{"type", *plan.finished}, {"status", "True"}, {"lastProbeTime", t}, {"lastTransitionTime", t}};
    if (!plan.reason.empty()) c["reason"] = plan.reason;
    if (!plan.message.empty()) c["message"] = plan.message;
    if (*plan.finished == "Complete") {
      // As Kubernetes 1.31+: SuccessCriteriaMet, then Complete.
      Json met = c;
      met["type"] = "SuccessCriteriaMet";
      met["reason"] = "CompletionsReached";
      met["message"] = "Reached expected number of succeeded pods";
      status["conditions"].push_back(met);
      c["reason"] = "CompletionsReached";
      c["message"] = "Reached expected number of succeeded pods";
      status["completionTime"] = t;
    }
    status["conditions"].push_back(c);
  }
  return status;
}

Json pod_from_job(const Json& job) { return pod_from_owner_template(job, "batch/v1", "Job"); }

JobController::JobController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers,
                             JobControllerOptions options)
    : api_(std::move(api)),
      informers_(informers),
      options_(options),
      workers_("job", queue_, [this](const std::string& key) { return sync(key); }) {
  auto enqueue = [this](const Json& job) { queue_.add(client::object_key(job)); };
  informers_.subscribe(res::kJobs, {enqueue, [enqueue](const Json&, const Json& job) { enqueue(job); },
                                    [this](const Json& job) {
                                      expectations_.forget(client::object_key(job));
                                      queue_.add(client::object_key(job));
                                    }});
  informers_.subscribe(res::kPods, {[this](const Json& p) {
                                      if (auto job = owner_of(p)) {
                                        expectations_.creation_observed(client::object_key(*job));
                                        queue_.add(client::object_key(*job));
                                      }
                                    },
                                    [this](const Json&, const Json& p) { on_pod_change(p); },
                                    [this](const Json& p) {
                                      if (auto job = owner_of(p)) {
                                        expectations_.deletion_observed(client::object_key(*job),
                                                                        client::object_key(p));
                                        queue_.add(client::object_key(*job));
                                      }
                                    }});
}

JobController::~JobController() { stop(); }
void JobController::run(int workers) { workers_.start(workers); }
void JobController::stop() { workers_.stop(); }

std::optional<Json> JobController::owner_of(const Json& pod) { return controlling_owner(informers_, res::kJobs, pod); }

void JobController::on_pod_change(const Json& pod) {
  auto job = owner_of(pod);
  if (!job) return;
  if (is_terminating(pod)) expectations_.deletion_observed(client::object_key(*job), client::object_key(pod));
  queue_.add(client::object_key(*job));
}

// Its pods, finished ones included: they count towards succeeded and failed.
Result<std::vector<Json>> JobController::claim_pods(const Json& job) {
  auto sel = api::LabelSelector::from_json(field(job, {"spec", "selector"}));
  if (!sel) return fail(ErrorKind::InvalidArgument, "job {}: selector: {}", name_of(job), sel.error().message);
  if (sel->empty()) return std::vector<Json>{};
  return claim_objects(*api_, res::kPods, job, {"batch/v1", "Job"}, *sel, informers_.list(res::kPods, namespace_of(job)));
}

Result<SyncResult> JobController::sync(const std::string& key) {
  auto job = informers_.get(res::kJobs, key);
  if (!job) {
    expectations_.forget(key);
    return SyncResult{};
  }
  if (is_terminating(*job)) return SyncResult{};
  bool may_act = expectations_.satisfied(key);
  DH_TRY(pods, claim_pods(*job));
  auto now = Clock::now();
  JobCounts counts = count_job_pods(*job, pods);
  JobPlan plan = plan_job(*job, counts, now, options_.backoff_base);
  SyncResult result;
  if (may_act && !is_finished(*job)) {
    std::vector<Json> active;
    for (const auto& p : pods)
      if (pod_is_active(p)) active.push_back(p);
    if (plan.finished) {
      DH_CHECK(delete_pods(key, active));  // a finished job runs nothing more
    } else if (counts.active > plan.want_active) {
      // The newest go first.
      std::sort(active.begin(), active.end(), [](const Json& a, const Json& b) {
        return creation_time(a).value_or(Clock::time_point{}) > creation_time(b).value_or(Clock::time_point{});
      });
      active.resize(static_cast<size_t>(counts.active - plan.want_active));
      DH_CHECK(delete_pods(key, active));
    } else if (counts.active < plan.want_active) {
      if (plan.wait.count() > 0) result.requeue_after = plan.wait;
      else DH_CHECK(create_pods(key, *job, plan.want_active - counts.active));
    }
  }
  int64_t deadline = int_field(*job, {"spec", "activeDeadlineSeconds"}, -1);
  if (deadline >= 0 && !plan.finished && result.requeue_after.count() == 0) result.requeue_after = std::chrono::seconds(1);
  DH_CHECK(update_status(*job, job_status(*job, counts, plan, now)));
  return result;
}

Status JobController::create_pods(const std::string& key, const Json& job, int64_t count) {
  expectations_.expect_creations(key, static_cast<int>(count));
  Json pod = pod_from_job(job);
  for (int64_t i = 0; i < count; ++i) {
    auto r = api_->create(res::kPods, namespace_of(job), pod);
    if (!r) {
      for (int64_t j = i; j < count; ++j) expectations_.creation_observed(key);  // will not be seen
      return tl::unexpected(r.error().context("create pods of job {}", key));
    }
  }
  return {};
}

Status JobController::delete_pods(const std::string& key, const std::vector<Json>& pods) {
  std::set<std::string> keys;
  for (const auto& p : pods) keys.insert(client::object_key(p));
  expectations_.expect_deletions(key, keys);
  return delete_expected_pods(*api_, expectations_, key, pods);
}

Status JobController::update_status(const Json& job, const Json& status) {
  if (field(job, {"status"}) == status) return {};
  Json updated = job;
  updated["status"] = status;
  auto r = api_->update_status(res::kJobs, updated);
  if (!r && r.error().kind == ErrorKind::NotFound) return {};
  if (!r) return tl::unexpected(r.error().context("update status of job {}", name_of(job)));
  return {};
}

}  // namespace deckhand::controllers
