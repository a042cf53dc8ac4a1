#include "node_proxy.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "deckhand/api/status.h"
#include "deckhand/client/curl.h"
#include "deckhand/common/log.h"

namespace deckhand::apiserver {

namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;

using client::EasyHandle;

void send_status(http::Responder& out, const ApiError& e) {
  out.send({e.code, {{"Content-Type", "application/json"}}, e.status.dump() + "\n"});
}

std::string escaped(CURL* curl, const std::string& s) {
  char* e = curl_easy_escape(curl, s.data(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
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

// The state of one proxied request, shared with curl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  http::Responder* out = nullptr;
  http::ResponseStream* stream = nullptr;  // opened at the first byte of a 2xx answer
  long code = 0;
  std::string error_body;
  bool client_gone = false;

  long response_code() {
    if (code == 0) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    return code;
  }
  bool success() { return response_code() >= 200 && response_code() < 300; }
  void open_stream() {
    if (!stream) stream = &out->stream(static_cast<int>(response_code()), {{"Content-Type", "text/plain"}});
  }
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t bytes = size * n;
  if (!t->success()) {
    t->error_body.append(data,
                         std::min(bytes, kMaxErrorBody - std::min(kMaxErrorBody, t->error_body.size())));
    return bytes;
  }
  t->open_stream();
  if (!t->stream->write(std::string_view(data, bytes))) {
    t->client_gone = true;
    return 0;  // aborts the transfer
  }
  return bytes;
}

// Called about once a second even when the node sends nothing (a quiet
// follow): a client that went away ends the transfer.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->stream && t->stream->client_gone()) {
    t->client_gone = true;
    return 1;
  }
  return 0;
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
  if (auto ok = client::init_curl(); !ok) return api_fail(500, "InternalError", ok.error().message);
  EasyHandle curl(curl_easy_init());
  if (!curl) return api_fail(500, "InternalError", "curl_easy_init failed");
  std::string url = "https://" + address + ":" + std::to_string(agent_port(*node)) + "/containerLogs/" +
                    escaped(curl.get(), ns) + "/" + escaped(curl.get(), name) + "/" +
                    escaped(curl.get(), container);
  char separator = '?';
  for (const char* param :
       {"follow", "previous", "timestamps", "tailLines", "sinceSeconds", "sinceTime", "limitBytes"}) {
    auto value = req.query_param(param);
    if (!value || value->empty()) continue;
    url += separator + std::string(param) + "=" + escaped(curl.get(), *value);
    separator = '&';
  }
  return url;
}

void proxy_node_stream(const NodeProxyConfig& config, const std::string& url, http::Responder& out) {
  if (auto ok = client::init_curl(); !ok)
    return send_status(out, api_fail(500, "InternalError", ok.error().message).value());
  EasyHandle curl(curl_easy_init());
  if (!curl) return send_status(out, api_fail(500, "InternalError", "curl_easy_init failed").value());
  Transfer t;
  t.curl = curl.get();
  t.out = &out;
  char error_text[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config.connect_timeout.count()));
  // Without a CA for node agents there is nothing to check their
  // self-signed serving certificates against (kube-apiserver's default).
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  if (!config.client_cert_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, config.client_cert_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, config.client_key_file.c_str());
  }
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  CURLcode rc = curl_easy_perform(c);
  if (t.client_gone) return;
  if (t.stream) {
    // The answer was cut off after it began: all that is left is to end it.
    if (rc != CURLE_OK) log::get("apiserver")->warn("node stream {} ended early: {}", url, error_text);
    return;
  }
  if (rc != CURLE_OK) {
    std::string why = error_text[0] ? error_text : curl_easy_strerror(rc);
    return send_status(
        out,
        api_fail(503, "ServiceUnavailable", "cannot reach the node agent at " + url + ": " + why).value());
  }
  if (!t.success()) return send_status(out, node_error(t.response_code(), t.error_body, url));
  t.open_stream();  // a 2xx answer with an empty body
}

}  // namespace deckhand::apiserver
