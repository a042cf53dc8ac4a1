// The Job controller (batch/v1): runs pods of spec.template to completion,
// up to spec.parallelism at a time, until spec.completions have succeeded
// (Complete), or more than spec.backoffLimit have failed (Failed,
// BackoffLimitExceeded) or activeDeadlineSeconds passed (Failed,
// DeadlineExceeded); then its running pods are deleted. A failed pod is
// replaced after a back-off that doubles per failure. Reports active,
// ready, succeeded, failed, startTime, completionTime and the conditions.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/client/api_client.h"
#include "deckhand/client/work_queue.h"
#include "deckhand/controllers/controller.h"
#include "deckhand/controllers/expectations.h"
#include "deckhand/controllers/objects.h"
#include "deckhand/controllers/shared_informers.h"

namespace deckhand::controllers {

// --- the decisions, without I/O ---

struct JobCounts {
  int64_t active = 0, ready = 0, succeeded = 0, failed = 0;
  std::optional<Clock::time_point> last_failure;  // when the newest failed pod ended
};
// The job's pods counted; succeeded and failed never fall below what the
// status already says (finished pods may have been deleted since).
JobCounts count_job_pods(const Json& job, const std::vector<Json>& pods);

struct JobPlan {
  std::optional<std::string> finished;  // "Complete", or "Failed" with the reason below
  std::string reason, message;
  int64_t want_active = 0;              // pods that should be running now
  std::chrono::milliseconds wait{0};    // > 0: replace failed pods only after this
};
JobPlan plan_job(const Json& job, const JobCounts& counts, Clock::time_point now,
                 std::chrono::milliseconds backoff_base);

// The status to report (conditions of a finished job are added, never removed).
Json job_status(const Json& job, const JobCounts& counts, const JobPlan& plan, Clock::time_point now);

// A new pod from the job's template (generateName "<job>-").
Json pod_from_job(const Json& job);

// --- the controller ---

struct JobControllerOptions {
  std::chrono::milliseconds backoff_base{10000};
};

class JobController : public Controller {
 public:
  JobController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers, JobControllerOptions options = {});
  ~JobController() override;
  std::string name() const override { return "job"; }
  void run(int workers) override;
  void stop() override;

  Result<SyncResult> sync(const std::string& key);

 private:
  std::optional<Json> owner_of(const Json& pod);
  void on_pod_change(const Json& pod);
  Result<std::vector<Json>> claim_pods(const Json& job);
  Status create_pods(const std::string& key, const Json& job, int64_t count);
  Status delete_pods(const std::string& key, const std::vector<Json>& pods);
  Status update_status(const Json& job, const Json& status);

  std::shared_ptr<client::ApiClient> api_;
  SharedInformers& informers_;
  JobControllerOptions options_;
  client::WorkQueue queue_;
  Expectations expectations_;
  QueueWorkers workers_;
};

}  // namespace deckhand::controllers
