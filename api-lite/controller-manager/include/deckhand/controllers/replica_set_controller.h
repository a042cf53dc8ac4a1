// The ReplicaSet controller: keeps spec.replicas pods of spec.template,
// owned by the ReplicaSet (controller owner references), adopting orphans
// its selector matches and releasing pods it no longer matches; creates in
// slow-start batches and deletes the least useful pods first; reports
// replicas, fullyLabeledReplicas, readyReplicas, availableReplicas
// (minReadySeconds) and observedGeneration.
#pragma once

#include <atomic>
#include <memory>
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

// Whether pod a should be deleted before pod b, as kube-controller-manager
// ranks them: unscheduled before scheduled; Pending before Unknown before
// Running; not ready before ready; lower pod-deletion-cost first; ready for
// less time before ready longer; more restarts before fewer; newer before older.
bool delete_before(const Json& a, const Json& b);
// The `count` pods to delete, in that order.
std::vector<Json> pods_to_delete(std::vector<Json> pods, size_t count);

// Sizes of the creation batches for `total` pods: 1, 2, 4, ... (the last one cut).
std::vector<int> slow_start_batches(int total);

// The status a ReplicaSet should report for its (active, owned) pods.
Json replica_set_status(const Json& rs, const std::vector<Json>& pods, Clock::time_point now);

// A new pod from the ReplicaSet's template (generateName "<rs>-").
Json pod_from_template(const Json& rs);

// --- the controller ---

struct ReplicaSetControllerOptions {
  int burst_replicas = 500;  // most pods created or deleted in one sync
};

class ReplicaSetController : public Controller {
 public:
  // Subscribes to replicasets and pods; call before informers.start().
  ReplicaSetController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers,
                       ReplicaSetControllerOptions options = {});
  ~ReplicaSetController() override;
  std::string name() const override { return "replicaset"; }
  void run(int workers) override;
  void stop() override;

  Result<SyncResult> sync(const std::string& key);

 private:
  void on_pod_add(const Json& pod);
  void on_pod_update(const Json& old_pod, const Json& new_pod);
  void on_pod_delete(const Json& pod);
  std::optional<Json> owner_of(const Json& pod);
  void enqueue_matching(const Json& pod);
  Result<std::vector<Json>> claim_pods(const Json& rs, const std::vector<Json>& pods);
  Status manage_replicas(const std::string& key, const Json& rs, const std::vector<Json>& pods);
  Status create_pods(const std::string& key, const Json& rs, int count);
  Status update_status(const Json& rs, const std::vector<Json>& pods);

  std::shared_ptr<client::ApiClient> api_;
  SharedInformers& informers_;
  ReplicaSetControllerOptions options_;
  client::WorkQueue queue_;
  Expectations expectations_;
  QueueWorkers workers_;
};

}  // namespace deckhand::controllers
