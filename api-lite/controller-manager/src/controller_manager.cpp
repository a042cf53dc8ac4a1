#include "deckhand/controllers/controller_manager.h"

#include "deckhand/common/log.h"
#include "deckhand/controllers/deployment_controller.h"
#include "deckhand/controllers/endpoints_controller.h"
#include "deckhand/controllers/garbage_collector.h"
#include "deckhand/controllers/job_controller.h"
#include "deckhand/controllers/daemon_set_controller.h"
#include "deckhand/controllers/namespace_controller.h"
#include "deckhand/controllers/node_lifecycle_controller.h"
#include "deckhand/controllers/replica_set_controller.h"
#include "deckhand/controllers/shared_informers.h"

namespace deckhand::controllers {

namespace {

class ControllerManagerImpl : public ControllerManager {
 public:
  explicit ControllerManagerImpl(std::shared_ptr<client::ApiClient> api)
      : informers_(std::make_unique<SharedInformers>(std::move(api))) {}
  ~ControllerManagerImpl() override {
    for (auto& c : controllers_) c->stop();
    informers_->stop();  // no handler runs after this, so the controllers may go
    controllers_.clear();
  }

  Status start(std::shared_ptr<client::ApiClient> api, const ControllerManagerConfig& config,
               std::chrono::milliseconds sync_timeout) {
    DH_TRY(names, enabled_controllers(config.controllers));
    for (const auto& name : names) {
      if (name == "replicaset") controllers_.push_back(std::make_unique<ReplicaSetController>(api, *informers_));
      else if (name == "deployment") controllers_.push_back(std::make_unique<DeploymentController>(api, *informers_));
      else if (name == "garbagecollector") controllers_.push_back(std::make_unique<GarbageCollector>(api, *informers_));
      else if (name == "namespace") controllers_.push_back(std::make_unique<NamespaceController>(api, *informers_));
      else if (name == "endpoint") controllers_.push_back(std::make_unique<EndpointsController>(api, *informers_));
      else if (name == "nodelifecycle")
        controllers_.push_back(std::make_unique<NodeLifecycleController>(
            api, *informers_, NodeLifecycleOptions{config.node_monitor_grace_period, config.node_monitor_period}));
      else if (name == "daemonset") controllers_.push_back(std::make_unique<DaemonSetController>(api, *informers_));
      else if (name == "job")
        controllers_.push_back(std::make_unique<JobController>(api, *informers_, JobControllerOptions{config.job_backoff_base}));
    }
    informers_->start();
    if (!informers_->wait_for_sync(sync_timeout))
      return fail(ErrorKind::DeadlineExceeded, "informers did not sync within {} ms", sync_timeout.count());
    for (auto& c : controllers_) {
      auto it = config.concurrent_syncs.find(c->name());
      int workers = it == config.concurrent_syncs.end() ? 1 : it->second;
      log::get("controller-manager")->info("starting controller {} with {} workers", c->name(), workers);
      c->run(workers);
    }
    return {};
  }

 private:
  std::unique_ptr<SharedInformers> informers_;
  std::vector<std::unique_ptr<Controller>> controllers_;
};

}  // namespace

Result<std::unique_ptr<ControllerManager>> ControllerManager::start(std::shared_ptr<client::ApiClient> api,
                                                                    const ControllerManagerConfig& config,
                                                                    std::chrono::milliseconds sync_timeout) {
  auto manager = std::make_unique<ControllerManagerImpl>(api);
  DH_CHECK(manager->start(api, config, sync_timeout));
  return std::unique_ptr<ControllerManager>(std::move(manager));
}

}  // namespace deckhand::controllers
