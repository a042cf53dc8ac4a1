// deckhand-scheduler as a library: informers on pods and nodes, the
// scheduling queue, one scheduling loop over the cluster cache, and a few
// binder threads that post pods/binding (or, for a pod that fits nowhere,
// the FailedScheduling event and PodScheduled=False condition) so that the
// loop never waits for the API server.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "deckhand/client/api_client.h"

namespace deckhand::scheduler {

struct SchedulerOptions {
  std::string scheduler_name = "default-scheduler";
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{10000};
  int bind_threads = 8;
  std::string identity;  // reportingInstance of events; optional
};

struct SchedulerStats {
  uint64_t attempts = 0;
  uint64_t bound = 0;
  uint64_t bind_errors = 0;
  uint64_t unschedulable = 0;
};

class Scheduler {
 public:
  // Starts the informers, the loop (which waits for their first lists) and the binders.
  static Result<std::unique_ptr<Scheduler>> start(std::shared_ptr<client::ApiClient> api, SchedulerOptions options);
  virtual ~Scheduler() = default;
  virtual bool wait_for_sync(std::chrono::milliseconds timeout) = 0;
  virtual SchedulerStats stats() = 0;
};

}  // namespace deckhand::scheduler
