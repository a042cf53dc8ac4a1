// pods/<name>/log through the node agent's HTTPS server, as kube-apiserver
// does it: find the pod's node and its agent endpoint, call
// /containerLogs/<ns>/<pod>/<container> there with the apiserver's client
// certificate, and stream the answer back as it arrives (kubectl logs -f).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "api_error.h"
#include "deckhand/common/json.h"
#include "deckhand/http/server.h"

namespace deckhand::apiserver {

struct NodeProxyConfig {
  // The apiserver's identity toward node agents (<pki>/apiserver-agent-client.*);
  // empty: no client certificate (the agent will refuse).
  std::string client_cert_file;
  std::string client_key_file;
  std::chrono::milliseconds connect_timeout{10000};
};

// The agent's port when the Node does not say (status.daemonEndpoints.kubeletEndpoint.Port).
inline constexpr int kDefaultAgentPort = 10250;

// The URL of a pod container's logs on its node, carrying over the log
// options of the request (follow, previous, timestamps, tailLines,
// sinceSeconds, sinceTime, limitBytes). node is the pod's Node object,
// nullopt when it does not exist. Errors as kube-apiserver answers them: no
// node assigned, container missing or ambiguous, node without an address.
ApiResult<std::string> pod_log_url(const Json& pod, const std::optional<Json>& node,
                                   const http::Request& req);

// GETs url from the node agent (whose serving certificate is not checked, as
// kube-apiserver does without a kubelet CA) and streams a 2xx answer to out
// as it arrives, until the node ends it or the client goes. Any other answer
// becomes a Status with the node's code and text; an unreachable node, 503.
void proxy_node_stream(const NodeProxyConfig& config, const std::string& url, http::Responder& out);

}  // namespace deckhand::apiserver
