// The sync of one pod: brings the runtime in line with the pod object (a
// sandbox, init containers one by one, app containers restarted per
// restartPolicy with back-off, image pulls per imagePullPolicy), reports its
// status when it changed, and on deletion stops everything and confirms.
// The runtime's sandboxes and containers, found by their CRI labels, are the
// truth: a worker made after an agent restart adopts what is running.
// One sync at a time per worker (the manager's queue sees to it).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "deckhand/client/api_client.h"
#include "deckhand/cri/client.h"
#include "pod_config.h"
#include "pod_status.h"
#include "restart_backoff.h"

namespace deckhand::agent {

struct WorkerSettings {
  PodSettings pod;
  std::string runtime_name;  // from CRI Version: containerIDs are "<runtime_name>://<id>"
  std::chrono::milliseconds backoff_base{10000}, backoff_max{300000}, backoff_reset{600000};
};

struct SyncOutcome {
  // Look again this soon (a back-off ends); nullopt: the next relist will do.
  std::optional<std::chrono::milliseconds> requeue_after;
  bool finished = false;  // the deletion is confirmed: the worker may go
};

class PodWorker {
 public:
  PodWorker(const WorkerSettings& settings, std::shared_ptr<client::ApiClient> api,
            std::shared_ptr<cri::CriClient> cri);

  Result<SyncOutcome> sync(const Json& pod);

 private:
  struct Runtime;  // the pod's sandboxes and containers as the runtime lists them
  struct Pass;     // what one sync gathers and decides

  Result<SyncOutcome> sync_deleted(const Json& pod);
  bool pod_is_gone(const PodId& id);
  Status stop_sandboxes(const std::string& uid);
  Result<std::string> ensure_sandbox(Pass& p);
  Status read_containers(Pass& p);
  bool sync_init_container(Pass& p, const Json& spec);
  void sync_app_container(Pass& p, const Json& spec);
  void start_created(Pass& p, const std::string& name);
  void restart_after_backoff(Pass& p, const Json& spec);
  void start_container(Pass& p, const Json& spec, uint32_t attempt);
  bool ensure_image(Pass& p, const Json& spec);
  void remove_older_instances(Pass& p, const std::string& name);
  Status report_status(Pass& p);

  WorkerSettings settings_;
  std::shared_ptr<client::ApiClient> api_;
  std::shared_ptr<cri::CriClient> cri_;
  RestartBackoff crash_backoff_, pull_backoff_;
  std::map<std::string, Clock::time_point> pull_failed_at_;  // by image
  std::optional<Json> last_written_status_;
};

// Stops every container of the pod with this uid (grace_seconds each), then
// stops and removes its sandboxes: a deleted pod, or one the API no longer has.
Status kill_pod(cri::CriClient& cri, const std::string& uid, int64_t grace_seconds);

}  // namespace deckhand::agent
