// The Endpoints controller: for each Service with a selector, an Endpoints
// object of the same name listing the IPs of the pods it selects (ready ones
// under addresses, the others under notReadyAddresses) with the service's
// ports resolved against each pod (targetPort by number, or by the name of a
// container port). Pods whose ports resolve differently land in different
// subsets.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "deckhand/client/api_client.h"
#include "deckhand/client/work_queue.h"
#include "deckhand/controllers/controller.h"
#include "deckhand/controllers/shared_informers.h"

namespace deckhand::controllers {

// The subsets of a service's Endpoints for these pods (already selected).
Json endpoint_subsets(const Json& service, const std::vector<Json>& pods);

class EndpointsController : public Controller {
 public:
  EndpointsController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers);
  ~EndpointsController() override;
  std::string name() const override { return "endpoint"; }
  void run(int workers) override;
  void stop() override;

  Result<SyncResult> sync(const std::string& key);

 private:
  void enqueue_services_of(const Json& pod);

  std::shared_ptr<client::ApiClient> api_;
  SharedInformers& informers_;
  client::WorkQueue queue_;
  QueueWorkers workers_;
};

}  // namespace deckhand::controllers
