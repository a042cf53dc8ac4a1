#include "node_proxy.h"

#include <memory>

#include "deckhand/api/status.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"
#include "deckhand/http/client.h"
#include "deckhand/http/request_target.h"

namespace deckhand::apiserver {

namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;

// How often a quiet stream (a follow with nothing new) checks that its client is still there.
constexpr std::chrono::seconds kClientCheck{1};

void send_status(http::Responder& out, const ApiError& e) {
  out.send({e.code, {{"Content-Type", "application/json"}}, e.status.dump() + "\n"});
}

std::vector<std::string> container_names(const Json& spec, const char* list) {
  std::vector<std::string> names;
  if (!spec.contains(list) || !spec[list].is_array()) return names;
  for (const auto& c : spec[list])
    if (c.is_object() && c.contains("name") && c["name"].is_string())
      names.push_back(c["name"].get<std::string>());
  return names;
}

std::string bracketed_list(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size(); ++i) out += (i ? " " : "") + names[i];
  return out + "]";
}

// The container a log request is about: the one named, or the only one.
ApiResult<std::string> log_container(const Json& pod, const std::string& pod_name, const http::Request& req) {
  Json spec = pod.contains("spec") && pod["spec"].is_object() ? pod["spec"] : Json::object();
  auto containers = container_names(spec, "containers");
  auto init = container_names(spec, "initContainers");
  auto ephemeral = container_names(spec, "ephemeralContainers");
  std::string name = req.query_param("container").value_or("");
  if (name.empty()) {
    if (containers.size() == 1) return containers[0];
    std::string message = "a container name must be specified for pod " + pod_name +
                          ", choose one of: " + bracketed_list(containers);
    if (!init.empty()) message += " or one of the init containers: " + bracketed_list(init);
    return api_fail(400, "BadRequest", message);
  }
  for (const auto* names : {&containers, &init, &ephemeral})
    if (std::find(names->begin(), names->end(), name) != names->end()) return name;
  return api_fail(400, "BadRequest", "container " + name + " is not valid for pod " + pod_name);
}

// The node's address for the agent: InternalIP first, then Hostname.
std::string node_address(const Json& node) {
  if (!node.contains("status") || !node["status"].is_object()) return "";
  const Json& status = node["status"];
  if (!status.contains("addresses") || !status["addresses"].is_array()) return "";
  for (const char* type : {"InternalIP", "Hostname", "ExternalIP"})
    for (const auto& a : status["addresses"])
      if (a.is_object() && a.value("type", "") == type && a.contains("address") && a["address"].is_string() &&
          !a["address"].get<std::string>().empty())
        return a["address"].get<std::string>();
  return "";
}

int agent_port(const Json& node) {
  const Json* at = &node;
  for (const char* key : {"status", "daemonEndpoints", "kubeletEndpoint", "Port"}) {
    if (!at->is_object() || !at->contains(key)) return kDefaultAgentPort;
    at = &(*at)[key];
  }
  if (!at->is_number_integer()) return kDefaultAgentPort;
  int port = at->get<int>();
  return port > 0 && port < 65536 ? port : kDefaultAgentPort;
}

// What the node said, as a Status kubectl shows ("Error from server (BadRequest): ...").
ApiError node_error(long code, std::string body, const std::string& node_url) {
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  // An agent that answers with a Status of its own: keep its message.
  if (auto j = parse_json(body, "node answer");
      j && j->is_object() && j->contains("message") && (*j)["message"].is_string())
    body = (*j)["message"].get<std::string>();
  // The node refusing the apiserver is not the caller's credentials failing: 403, not 401.
  int status = code == 401 ? 403 : code >= 400 && code < 600 ? static_cast<int>(code) : 502;
  const char* reason = status == 400   ? "BadRequest"
                       : status == 404 ? "NotFound"
                       : status == 403 ? "Forbidden"
                       : status == 503 ? "ServiceUnavailable"
                                       : "InternalError";
  if (status == 403)
    body = "the node agent at " + node_url + " refused the apiserver (" + std::to_string(code) + "): " + body;
  return api_fail(status, reason, body).value();
}

}  // namespace

ApiResult<std::string> pod_log_url(const Json& pod, const std::optional<Json>& node,
                                   const http::Request& req) {
  Json meta = pod.contains("metadata") && pod["metadata"].is_object() ? pod["metadata"] : Json::object();
  std::string name = meta.value("name", ""), ns = meta.value("namespace", "");
  std::string node_name =
      pod.contains("spec") && pod["spec"].is_object() ? pod["spec"].value("nodeName", "") : "";
  API_TRY(container, log_container(pod, name, req));
  if (node_name.empty()) return api_fail(400, "BadRequest", "pod " + name + " does not have a host assigned");
  if (!node) return api_fail(api::not_found("nodes", "", node_name));
  std::string address = node_address(*node);
  if (address.empty())
    return api_fail(503, "ServiceUnavailable", "node " + node_name + " has no address to reach its agent at");
  if (address.find(':') != std::string::npos) address = "[" + address + "]";
  std::string url = "https://" + address + ":" + std::to_string(agent_port(*node)) + "/containerLogs/" +
                    http::percent_encode(ns) + "/" + http::percent_encode(name) + "/" +
                    http::percent_encode(container);
  char separator = '?';
  for (const char* param :
       {"follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes"}) {
    auto value = req.query_param(param);
    if (!value || value->empty()) continue;
    url += separator + std::string(param) + "=" + http::percent_encode(*value);
    separator = '&';
  }
  return url;
}

namespace {

ApiError unreachable(const std::string& url, const std::string& why) {
  return api_fail(503, "ServiceUnavailable", "cannot reach the node agent at " + url + ": " + why).value();
}

Result<std::unique_ptr<http::HttpClient>> agent_client(const NodeProxyConfig& config, const http::ServerAddress& node) {
  http::ClientOptions options;
  // Without a CA for node agents there is nothing to check their
  // self-signed serving certificates against (kube-apiserver's default).
  options.verify_server = false;
  options.connect_timeout = config.connect_timeout;
  options.max_idle_connections = 0;
  if (!config.client_cert_file.empty()) {
    DH_TRY(cert, fs::read_file(config.client_cert_file));
    DH_TRY(key, fs::read_file(config.client_key_file));
    options.cert_pem = std::move(cert);
    options.key_pem = std::move(key);
  }
  return http::HttpClient::create(node, std::move(options));
}

}  // namespace

void proxy_node_stream(const NodeProxyConfig& config, const std::string& url, http::Responder& out) {
  auto split = http::split_url(url);
  if (!split) return send_status(out, api_fail(500, "InternalError", split.error().message).value());
  auto client = agent_client(config, split->first);
  if (!client) return send_status(out, unreachable(url, client.error().message));
  http::ClientRequest request;
  request.target = split->second;
  auto response = (*client)->open(request, std::chrono::milliseconds(0));
  if (!response) return send_status(out, unreachable(url, response.error().message));
  http::StreamedResponse& in = **response;
  if (in.status() < 200 || in.status() >= 300) return send_status(out, node_error(in.status(), http::read_short_body(in, kMaxErrorBody, std::chrono::seconds(5)), url));
  http::ResponseStream& stream = out.stream(in.status(), {{"Content-Type", "text/plain"}});
  for (;;) {
    std::string chunk;
    auto more = in.read_some(chunk, kClientCheck);
    if (!chunk.empty() && !stream.write(chunk)) return;  // the client went
    if (!more) {
      // The answer was cut off after it began: all that is left is to end it.
      log::get("apiserver")->warn("node stream {} ended early: {}", url, more.error().message);
      return;
    }
    if (!*more || (chunk.empty() && stream.client_gone())) return;
  }
}

}  // namespace deckhand::apiserver
