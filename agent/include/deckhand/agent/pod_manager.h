// Makes the pods bound to this node real through the CRI runtime: one worker
// per pod, driven by pod changes (an informer on spec.nodeName=<node>) and by
// a relist of the runtime; reports pod status to the apiserver when it
// changes; on deletion stops the pod within its grace period and confirms
// the deletion.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "deckhand/agent/config.h"
#include "deckhand/client/api_client.h"
#include "deckhand/cri/client.h"

namespace deckhand::agent {

class PodManager {
 public:
  static Result<std::unique_ptr<PodManager>> start(const AgentConfig& config, std::shared_ptr<client::ApiClient> api,
                                                   std::shared_ptr<cri::CriClient> cri, std::string host_ip);
  virtual ~PodManager() = default;  // stops the workers; pods keep running
  // The pods bound to this node as the agent last heard of them.
  virtual std::vector<Json> pods() const = 0;
};

}  // namespace deckhand::agent
