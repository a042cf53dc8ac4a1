// The sync of one pod: brings the runtime in line with the pod object (a
// sandbox, init containers one by one, app containers restarted per
// restartPolicy with back-off, image pulls per imagePullPolicy), reports its
// status when it changed, and on deletion stops everything and confirms.
// The runtime's sandboxes and containers, found by their CRI labels, are the
// truth: a worker made after an agent restart adopts what is running.
// One sync at a time per worker (the manager's queue sees to it).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "deckhand/client/api_client.h"
#include "deckhand/cri/client.h"
#include "pod_config.h"
#include "pod_status.h"
#include "probes.h"
#include "restart_backoff.h"

namespace deckhand::agent {

struct WorkerSettings {
  PodSettings pod;
  std::string runtime_name;  // from CRI Version: containerIDs are "<runtime_name>://<id>"
  std::string root_dir;      // pod directories (volumes) are <root_dir>/pods/<uid>
  std::chrono::milliseconds backoff_base{10000}, backoff_max{300000}, backoff_reset{600000};
  // ConfigMap, Secret and downward API volume contents are read again this often.
  std::chrono::milliseconds volume_refresh{10000};
};

struct SyncOutcome {
  // Look again this soon (a back-off ends); nullopt: the next relist will do.
  std::optional<std::chrono::milliseconds> requeue_after;
  bool finished = false;  // the deletion is confirmed: the worker may go
};

class PodWorker {
 public:
  // objects: where ConfigMaps and Secrets are read from (the manager's watches).
  PodWorker(const WorkerSettings& settings, std::shared_ptr<client::ApiClient> api,
            std::shared_ptr<cri::CriClient> cri, std::shared_ptr<ProbeManager> probes, ObjectGetter objects);

  // A static pod comes with its mirror pod when the apiserver has one. Without
  // an API client (no apiserver) the worker runs pods and reports nothing.
  Result<SyncOutcome> sync(const Json& pod, const Json* mirror = nullptr);
  // A ConfigMap or Secret the pod uses changed: its next sync writes its volumes again.
  void refresh_volumes() { volumes_stale_ = true; }

 private:
  struct Runtime;  // the pod's sandboxes and containers as the runtime lists them
  struct Pass;     // what one sync gathers and decides

  Result<SyncOutcome> sync_deleted(const Json& pod);
  Result<SyncOutcome> fail_past_deadline(Pass& p);
  Status stop_sandboxes(const std::string& uid);
  Result<std::string> ensure_sandbox(Pass& p);
  bool sync_volumes(Pass& p);
  void apply_probes(Pass& p);
  void run_post_start(Pass& p, const Json& spec, const std::string& id);
  Status read_containers(Pass& p);
  bool sync_init_container(Pass& p, const Json& spec);
  void sync_app_container(Pass& p, const Json& spec);
  void start_created(Pass& p, const std::string& name);
  void restart_after_backoff(Pass& p, const Json& spec);
  void start_container(Pass& p, const Json& spec, uint32_t attempt);
  bool ensure_image(Pass& p, const Json& spec);
  Result<std::string> pull(Pass& p, const std::string& image);
  void remove_older_instances(Pass& p, const std::string& name);
  Status report_status(Pass& p);

  WorkerSettings settings_;
  std::shared_ptr<client::ApiClient> api_;
  std::shared_ptr<cri::CriClient> cri_;
  std::shared_ptr<ProbeManager> probes_;
  ObjectGetter objects_;
  std::optional<Clock::time_point> volumes_set_up_at_;
  std::atomic<bool> volumes_stale_{false};
  RestartBackoff crash_backoff_, pull_backoff_;
  std::map<std::string, Clock::time_point> pull_failed_at_;  // by image
  std::optional<std::pair<std::string, Json>> last_written_;  // uid of the object written, status
};

// Gone already, or replaced by a pod of another uid: nothing of ours is left
// to confirm or delete. (The node authorizer answers 403, not 404, for a pod
// it cannot find bound to us, so a failed delete asks with this.)
bool pod_is_gone(client::ApiClient& api, const PodId& id);

// Stops one container as kubelet does: its preStop hook first (when the pod
// spec is known and grace allows), then StopContainer with what is left of
// the grace period (at least 2 s after a hook).
Status stop_container(cri::CriClient& cri, const std::string& container_id, const Json* container_spec,
                      const std::string& pod_ip, int64_t grace_seconds);

// Stops every container of the pod with this uid (preStop hooks from `pod`
// when given, all within grace_seconds), then stops and removes its
// sandboxes: a deleted pod, or one the API no longer has.
Status kill_pod(cri::CriClient& cri, const std::string& uid, int64_t grace_seconds, const Json* pod = nullptr);
// The containers only (preStop hooks and grace as kill_pod); the sandboxes stay.
Status stop_pod_containers(cri::CriClient& cri, const std::string& uid, int64_t grace_seconds, const Json* pod);

// kill_pod, then the pod's directory and volumes go: nothing of it is left on the node.
Status remove_pod(cri::CriClient& cri, const std::string& root_dir, const std::string& uid,
                  int64_t grace_seconds, const Json* pod = nullptr);

}  // namespace deckhand::agent
