// The node lifecycle controller: a node whose Lease (kube-node-lease) has
// not changed for the grace period, as this controller observed it, gets
// Ready (and the pressure conditions) Unknown and the unreachable NoExecute
// taint; a node reporting Ready False gets the not-ready one. Pods on a node
// with NoExecute taints they do not tolerate are deleted at once, those
// tolerating them for tolerationSeconds then. Recovery removes the taints.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "deckhand/client/api_client.h"
#include "deckhand/client/work_queue.h"
#include "deckhand/controllers/controller.h"
#include "deckhand/controllers/objects.h"
#include "deckhand/controllers/shared_informers.h"
#include "deckhand/controllers/taints.h"

namespace deckhand::controllers {

// --- the decisions, without I/O ---

// The node's conditions after it stopped posting status: Ready,
// MemoryPressure, DiskPressure, PIDPressure Unknown (Ready added if absent).
// Returns false when they were so already.
bool mark_node_status_unknown(Json& node, Clock::time_point now);
// The NoExecute taints the node's Ready condition calls for: unreachable
// when Unknown, not-ready when False, none when True or not posted yet.
std::vector<std::string> wanted_lifecycle_taints(const Json& node);
// node.spec.taints with the lifecycle taints made to be `wanted` (new ones
// get timeAdded = now, kept ones keep theirs). nullopt: no change.
std::optional<Json> reconcile_lifecycle_taints(const Json& node, const std::vector<std::string>& wanted,
                                               Clock::time_point now);

// --- the controller ---

struct NodeLifecycleOptions {
  std::chrono::milliseconds grace_period{40000};
  std::chrono::milliseconds monitor_period{5000};
};

class NodeLifecycleController : public Controller {
 public:
  NodeLifecycleController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers,
                          NodeLifecycleOptions options = {});
  ~NodeLifecycleController() override;
  std::string name() const override { return "nodelifecycle"; }
  void run(int workers) override;
  void stop() override;

  Result<SyncResult> sync(const std::string& node_name);

 private:
  void observe_lease(const Json& lease);
  bool lease_stale(const std::string& node_name);
  Result<Json> update_node(Json node);
  Result<std::optional<Clock::time_point>> evict_pods(const Json& node);
  void tick();

  std::shared_ptr<client::ApiClient> api_;
  SharedInformers& informers_;
  NodeLifecycleOptions options_;
  client::WorkQueue queue_;
  QueueWorkers workers_;

  // Per node: the Lease's last renewTime, and when we saw it change.
  struct Observed {
    std::string renew_time;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex mu_;
  std::map<std::string, Observed> observed_;
  bool stopping_ = false;
  std::condition_variable wake_;
  std::thread ticker_;
};

}  // namespace deckhand::controllers
