// The Deployment controller: one ReplicaSet per pod template (named
// "<deployment>-<pod-template-hash>", labelled and selected by that hash),
// moved between by RollingUpdate (maxSurge, maxUnavailable) or Recreate;
// revisions in the `deployment.kubernetes.io/revision` annotation (on the
// ReplicaSets and the Deployment, so that `kubectl rollout undo` finds
// them), desired-replicas / max-replicas annotations for proportional
// scaling, revisionHistoryLimit, paused deployments, and the status and
// conditions (Available, Progressing with its deadline) that `kubectl
// rollout status` reads.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/client/api_client.h"
#include "deckhand/client/work_queue.h"
#include "deckhand/controllers/controller.h"
#include "deckhand/controllers/objects.h"
#include "deckhand/controllers/shared_informers.h"

namespace deckhand::controllers {

inline constexpr const char* kRevisionAnnotation = "deployment.kubernetes.io/revision";
inline constexpr const char* kDesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas";
inline constexpr const char* kMaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";
inline constexpr const char* kPodTemplateHashLabel = "pod-template-hash";

// --- the decisions, without I/O ---

// An IntOrString of `total`: an integer as is, "N%" of total rounded up or
// down. Anything else is an error.
Result<int64_t> scaled_value(const Json& int_or_percent, int64_t total, bool round_up);

// maxSurge (rounded up) and maxUnavailable (rounded down) of a RollingUpdate
// deployment, defaults 25%/25%; when both come to 0, maxUnavailable is 1
// (the rollout could not move otherwise). Recreate: both 0.
struct RolloutLimits {
  int64_t max_surge = 0;
  int64_t max_unavailable = 0;
};
RolloutLimits rollout_limits(const Json& deployment);
// maxUnavailable as the Available condition uses it: at most spec.replicas.
int64_t max_unavailable(const Json& deployment);

// A stable hash of a pod template (and the collision count, when set), in
// the alphabet Kubernetes uses for names ("bcdf...", no vowels).
std::string pod_template_hash(const Json& pod_template, std::optional<int64_t> collision_count);
// Equal templates, not counting the pod-template-hash label.
bool templates_equal_ignoring_hash(const Json& a, const Json& b);

int64_t replicas_of(const Json& obj);  // spec.replicas (default 1)
int64_t revision_of(const Json& obj);  // the revision annotation, 0 when absent or bad

// The new ReplicaSet's size for the next step of a rolling update (or the
// full size for Recreate), given every ReplicaSet of the deployment.
int64_t new_rs_replicas(const Json& deployment, const std::vector<Json>& all_rs, const Json& new_rs);

// How many replicas each old ReplicaSet loses in this step of a rolling
// update: first their unhealthy pods, then healthy ones down to the
// minimum availability. Old sets are taken oldest first; the result has
// their new sizes, in the same order.
std::vector<int64_t> old_rs_scale_down(const Json& deployment, const std::vector<Json>& old_rs,
                                       const std::optional<Json>& new_rs);

// Proportional scaling of a RollingUpdate deployment whose size changed in
// the middle of a rollout: the new sizes of its active ReplicaSets (given
// largest first), each growing or shrinking by its share of the change (its
// size over the max-replicas annotation); the rounding rest goes to the first.
std::vector<int64_t> proportional_sizes(const Json& deployment, const std::vector<Json>& active_rs);

// The status the deployment reports for these ReplicaSets (conditions:
// Available recomputed; the others kept as they were).
Json deployment_status(const Json& deployment, const std::vector<Json>& all_rs, const std::optional<Json>& new_rs,
                       Clock::time_point now);
// The Progressing condition after a rollout step (status from deployment_status).
void update_progressing(const Json& deployment, Json& status, const std::optional<Json>& new_rs,
                        Clock::time_point now);
bool deployment_complete(const Json& deployment, const Json& status);

// Sets a condition as Kubernetes does: a condition of the same status and
// reason is left alone; the same status keeps its lastTransitionTime.
void set_condition(Json& status, const std::string& type, const std::string& cond_status, const std::string& reason,
                   const std::string& message, Clock::time_point now);

// --- the controller ---

class DeploymentController : public Controller {
 public:
  // Subscribes to deployments, replicasets and pods; call before informers.start().
  DeploymentController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers);
  ~DeploymentController() override;
  std::string name() const override { return "deployment"; }
  void run(int workers) override;
  void stop() override;

  Result<SyncResult> sync(const std::string& key);

 private:
  struct Sets;
  void on_rs_change(const Json& rs);
  void on_rs_update(const Json& old_rs, const Json& new_rs);
  void on_pod_delete(const Json& pod);
  std::optional<Json> owner_of(const Json& rs);
  Result<std::vector<Json>> claim_replica_sets(const Json& d);
  Result<Sets> split_and_sync_revision(Json& d, std::vector<Json> owned, bool create);
  Result<Json> create_new_rs(Json& d, const std::vector<Json>& old_rs, int64_t revision);
  Result<Json> sync_existing_new_rs(const Json& d, Json rs, int64_t revision);
  Status scale_rs(const Json& d, Json& rs, int64_t replicas);
  Status scale_proportionally(const Json& d, Sets& sets);
  Status cleanup_history(const Json& d, const std::vector<Json>& old_rs);
  Result<SyncResult> write_status(const Json& d, Json status);
  Result<SyncResult> sync_scaling(Json& d, std::vector<Json> owned);
  Result<SyncResult> rollout_rolling(Json& d, std::vector<Json> owned);
  Result<SyncResult> rollout_recreate(Json& d, std::vector<Json> owned);
  Result<SyncResult> rollout_status(const Json& d, const Sets& sets);
  bool old_pods_running(const std::vector<Json>& old_rs);
  Status sync_paused_condition(Json& d);

  std::shared_ptr<client::ApiClient> api_;
  SharedInformers& informers_;
  client::WorkQueue queue_;
  QueueWorkers workers_;
};

}  // namespace deckhand::controllers
