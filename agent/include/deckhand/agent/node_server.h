// The node's HTTPS server, as kubelet's on port 10250: /healthz, /pods,
// /containerLogs/<ns>/<pod>/<container> and /stats/summary. Only clients with
// a certificate from the cluster CA whose user is allowed (the apiserver's
// own client identity, or a member of system:masters) get past /healthz.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"
#include "deckhand/cri/client.h"

namespace deckhand::agent {

struct NodeServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 10250;       // 0: a free port (see NodeServer::port())
  std::string cert_file;       // empty: a self-signed certificate made under state_dir, as kubelet does
  std::string key_file;
  std::string client_ca_file;  // required: who may call is decided by client certificates
  std::vector<std::string> allowed_users = {"deckhand-apiserver"};  // besides group system:masters
  std::string state_dir;       // where a self-signed certificate is kept
  std::string node_name;
};

// What the server reads of the agent's pods.
struct NodePodSource {
  std::function<std::vector<Json>()> pods;  // the pods bound to this node, as the agent knows them
};

class NodeServer {
 public:
  static Result<std::unique_ptr<NodeServer>> start(const NodeServerOptions& options,
                                                   std::shared_ptr<cri::CriClient> cri, NodePodSource source);
  virtual ~NodeServer() = default;
  virtual uint16_t port() const = 0;
};

}  // namespace deckhand::agent
