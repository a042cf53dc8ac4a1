// The namespace controller: a namespace being deleted (deletionTimestamp
// set, `kubernetes` in spec.finalizers) has every object of every
// namespaced resource the server lists deleted; once none is left, the
// `kubernetes` finalizer is cleared through the finalize subresource and
// the apiserver removes the namespace.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "deckhand/client/api_client.h"
#include "deckhand/client/work_queue.h"
#include "deckhand/controllers/controller.h"
#include "deckhand/controllers/shared_informers.h"

namespace deckhand::controllers {

// The namespaced resources in discovery documents (/api/v1 and an
// /apis/<group>/<version> APIResourceList) that can be listed and deleted.
std::vector<client::Resource> deletable_resources(const Json& resource_list, const std::string& group,
                                                  const std::string& version);

class NamespaceController : public Controller {
 public:
  NamespaceController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers);
  ~NamespaceController() override;
  std::string name() const override { return "namespace"; }
  void run(int workers) override;
  void stop() override;

  Result<SyncResult> sync(const std::string& key);

 private:
  Result<std::vector<client::Resource>> discover();
  // Deletes what is left; the number of objects still there.
  Result<size_t> delete_contents(const std::string& ns);

  std::shared_ptr<client::ApiClient> api_;
  SharedInformers& informers_;
  client::WorkQueue queue_;
  QueueWorkers workers_;
};

}  // namespace deckhand::controllers
