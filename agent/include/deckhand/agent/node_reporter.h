// The agent's Node object: registered on start, its status (conditions,
// capacity, nodeInfo, addresses) refreshed every status_interval, and its
// Lease in kube-node-lease renewed every lease_interval.
#pragma once

#include <memory>

#include "deckhand/agent/config.h"
#include "deckhand/client/api_client.h"
#include "deckhand/cri/client.h"

namespace deckhand::agent {

class NodeReporter {
 public:
  // Registers (or takes over) the Node, then keeps it and the Lease fresh on
  // a thread of its own until destroyed. Fails when the Node cannot be
  // registered (the error says why: 403, unreachable, ...).
  static Result<std::unique_ptr<NodeReporter>> start(const AgentConfig& config,
                                                     std::shared_ptr<client::ApiClient> api,
                                                     std::shared_ptr<cri::CriClient> cri);
  virtual ~NodeReporter() = default;
  // The Node's address that pods see as status.hostIP.
  virtual std::string host_ip() const = 0;
};

}  // namespace deckhand::agent
