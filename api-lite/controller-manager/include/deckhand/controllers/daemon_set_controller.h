// The DaemonSet controller: one pod of spec.template on every eligible node
// (nodeSelector, required node affinity, taints the pod tolerates, with the
// tolerations Kubernetes adds to daemon pods), pinned to its node by
// required node affinity matchFields metadata.name (the scheduler binds it);
// owner references; RollingUpdate by the `controller-revision-hash` label
// within maxUnavailable; status counts and observedGeneration. No
// ControllerRevision objects are written.
#pragma once

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

// The template's tolerations plus those Kubernetes gives daemon pods.
Json daemon_pod_tolerations(const Json& pod_spec);
// Whether nodeSelector and required node affinity admit the node.
bool node_matches_pod_placement(const Json& pod_spec, const Json& node);
struct NodeEligibility {
  bool should_run = false;          // a new pod may go there
  bool should_keep_running = false;  // an existing one may stay
};
NodeEligibility daemon_node_eligibility(const Json& ds, const Json& node);
// A stable hash of the template (hex), the controller-revision-hash label.
std::string template_hash(const Json& ds);
// The new pod for `node_name`.
Json daemon_pod(const Json& ds, const std::string& node_name, const std::string& hash);
// The node a daemon pod is bound or pinned to ("" when neither).
std::string daemon_pod_node(const Json& pod);
// maxUnavailable of the rolling update against `desired` nodes (at least 1).
int max_unavailable(const Json& ds, int desired);

// --- the controller ---

class DaemonSetController : public Controller {
 public:
  DaemonSetController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers);
  ~DaemonSetController() override;
  std::string name() const override { return "daemonset"; }
  void run(int workers) override;
  void stop() override;

  Result<SyncResult> sync(const std::string& key);

 private:
  std::optional<Json> owner_of(const Json& pod);
  void enqueue_all();
  Status update_status(const Json& ds, const Json& status);

  std::shared_ptr<client::ApiClient> api_;
  SharedInformers& informers_;
  client::WorkQueue queue_;
  Expectations expectations_;
  QueueWorkers workers_;
};

}  // namespace deckhand::controllers
