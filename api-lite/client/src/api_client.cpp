#include "deckhand/client/api_client.h"

#include <mutex>
#include <vector>

#include "api_http.h"
#include "watch_stream.h"

namespace deckhand::client {

std::string Resource::path(const std::string& ns, const std::string& name, const std::string& sub) const {
  std::string out = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) out += "/namespaces/" + ns;
  out += "/" + plural;
  if (!name.empty()) {
    out += "/" + name;
    if (!sub.empty()) out += "/" + sub;
  }
  return out;
}

namespace resources {
const Resource kPods{"", "v1", "pods", true, "Pod"};
const Resource kNodes{"", "v1", "nodes", false, "Node"};
const Resource kNamespaces{"", "v1", "namespaces", false, "Namespace"};
const Resource kServices{"", "v1", "services", true, "Service"};
const Resource kEndpoints{"", "v1", "endpoints", true, "Endpoints"};
const Resource kEvents{"", "v1", "events", true, "Event"};
const Resource kConfigMaps{"", "v1", "configmaps", true, "ConfigMap"};
const Resource kSecrets{"", "v1", "secrets", true, "Secret"};
const Resource kServiceAccounts{"", "v1", "serviceaccounts", true, "ServiceAccount"};
const Resource kLeases{"coordination.k8s.io", "v1", "leases", true, "Lease"};
const Resource kDeployments{"apps", "v1", "deployments", true, "Deployment"};
const Resource kReplicaSets{"apps", "v1", "replicasets", true, "ReplicaSet"};
const Resource kDaemonSets{"apps", "v1", "daemonsets", true, "DaemonSet"};
const Resource kJobs{"batch", "v1", "jobs", true, "Job"};
const Resource kControllerRevisions{"apps", "v1", "controllerrevisions", true, "ControllerRevision"};
}  // namespace resources

namespace {

constexpr const char* kJson = "application/json";

const char* patch_content_type(PatchType type) {
  switch (type) {
    case PatchType::Merge:
      return "application/merge-patch+json";
    case PatchType::Strategic:
      return "application/strategic-merge-patch+json";
    case PatchType::Json:
      return "application/json-patch+json";
  }
  return "application/merge-patch+json";
}

std::string metadata_string(const Json& object, const char* key) {
  if (!object.is_object() || !object.contains("metadata")) return "";
  const Json& meta = object["metadata"];
  if (!meta.is_object() || !meta.contains(key) || !meta[key].is_string()) return "";
  return meta[key].get<std::string>();
}

// Calls go through one HttpClient, whose idle keep-alive connections any
// thread may take for a call; concurrent calls each get their own.
class HttpApiClient final : public ApiClient {
 public:
  HttpApiClient(ClientConfig config, std::unique_ptr<http::HttpClient> http, std::string path_prefix)
      : config_(std::move(config)), http_(std::move(http)), path_prefix_(std::move(path_prefix)) {}

  Result<Json> get(const Resource& r, const std::string& ns, const std::string& name) override {
    return call_json("GET", r.path(ns_or_default(r, ns), name), nullptr, nullptr);
  }

  Result<Json> list(const Resource& r, const std::string& ns, const ListOptions& opts) override {
    std::string query = detail::query_string({{"labelSelector", opts.label_selector},
                                              {"fieldSelector", opts.field_selector},
                                              {"limit", opts.limit > 0 ? std::to_string(opts.limit) : ""},
                                              {"continue", opts.continue_token},
                                              {"resourceVersion", opts.resource_version}});
    return call_json("GET", with_query(r.path(ns), query), nullptr, nullptr);
  }

  Result<Json> create(const Resource& r, const std::string& ns, const Json& object) override {
    std::string where = ns.empty() ? metadata_string(object, "namespace") : ns;
    return call_json("POST", r.path(ns_or_default(r, where)), &object, kJson);
  }

  Result<Json> update(const Resource& r, const Json& object) override { return put(r, object, ""); }

  Result<Json> update_status(const Resource& r, const Json& object) override {
    return put(r, object, "status");
  }

  Result<Json> patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type,
                     const Json& patch, const std::string& subresource) override {
    if (name.empty()) return fail(ErrorKind::InvalidArgument, "patch of {} needs a name", r.plural);
    return call_json("PATCH", r.path(ns_or_default(r, ns), name, subresource), &patch,
                     patch_content_type(type));
  }

  Status remove(const Resource& r, const std::string& ns, const std::string& name,
                const Json& delete_options) override {
    if (name.empty()) return fail(ErrorKind::InvalidArgument, "delete of {} needs a name", r.plural);
    bool has_options = !delete_options.is_null() && !delete_options.empty();
    DH_CHECK(call("DELETE", r.path(ns_or_default(r, ns), name), has_options ? &delete_options : nullptr,
                  has_options ? kJson : nullptr, kJson));
    return {};
  }

  Result<Json> create_subresource(const Resource& r, const std::string& ns, const std::string& name,
                                  const std::string& sub, const Json& body) override {
    if (name.empty() || sub.empty()) {
      return fail(ErrorKind::InvalidArgument, "a subresource of {} needs a name and a subresource", r.plural);
    }
    return call_json("POST", r.path(ns_or_default(r, ns), name, sub), &body, kJson);
  }

  Result<std::unique_ptr<WatchStream>> watch(const Resource& r, const std::string& ns,
                                             const WatchOptions& opts) override {
    std::string query = detail::query_string(
        {{"watch", "1"},
         {"resourceVersion", opts.resource_version},
         {"allowWatchBookmarks", opts.allow_bookmarks ? "true" : ""},
         {"timeoutSeconds", opts.timeout.count() > 0 ? std::to_string(opts.timeout.count()) : ""},
         {"labelSelector", opts.label_selector},
         {"fieldSelector", opts.field_selector}});
    std::string target = with_query(r.path(ns), query);
    // The server ends the watch at its timeout; ours is a backstop for a server that never does.
    auto overall = opts.timeout.count() > 0
                       ? std::chrono::milliseconds(opts.timeout) + std::chrono::seconds(30)
                       : std::chrono::milliseconds(0);
    auto stream = detail::open_watch(*http_, config_, path_prefix_ + target, overall);
    if (!stream) stream.error().context("watch {}", target);
    return stream;
  }

  Result<std::string> get_raw(const std::string& path) override {
    return call("GET", path, nullptr, nullptr, "application/json, */*");
  }

 private:
  std::string ns_or_default(const Resource& r, const std::string& ns) const {
    if (!r.namespaced) return "";
    return ns.empty() ? config_.default_namespace : ns;
  }

  static std::string with_query(std::string path, const std::string& query) {
    if (!query.empty()) path += "?" + query;
    return path;
  }

  Result<Json> put(const Resource& r, const Json& object, const std::string& sub) {
    std::string name = metadata_string(object, "name");
    if (name.empty()) return fail(ErrorKind::InvalidArgument, "update of {} needs metadata.name", r.plural);
    return call_json("PUT", r.path(ns_or_default(r, metadata_string(object, "namespace")), name, sub),
                     &object, kJson);
  }

  Result<Json> call_json(const char* method, const std::string& target, const Json* body,
                         const char* content_type) {
    DH_TRY(text, call(method, target, body, content_type, kJson));
    auto parsed = parse_json(text, "response");
    if (!parsed) return tl::unexpected(parsed.error().context("{} {}", method, target));
    return parsed;
  }

  // One request; the body of a 2xx response, else the error the response or the transfer makes.
  Result<std::string> call(const char* method, const std::string& target, const Json* body,
                           const char* content_type, const char* accept) {
    auto result = perform(method, target, body, content_type, accept);
    if (!result) result.error().context("{} {}", method, target);
    return result;
  }

  Result<std::string> perform(const char* method, const std::string& target, const Json* body,
                              const char* content_type, const char* accept) {
    auto request = detail::api_request(config_, method, path_prefix_ + target, accept, content_type);
    if (body != nullptr) request.body = body->dump(-1, ' ', false, Json::error_handler_t::replace);
    auto response = http_->send(request);
    if (!response) return tl::unexpected(detail::transport_error(std::move(response.error().message)));
    if (response->status < 200 || response->status >= 300)
      return tl::unexpected(detail::http_error(response->status, response->body));
    return std::move(response->body);
  }

  const ClientConfig config_;
  std::unique_ptr<http::HttpClient> http_;
  const std::string path_prefix_;  // a server URL's path ("https://host/k8s"), without the last "/"
};

}  // namespace

Result<std::shared_ptr<ApiClient>> ApiClient::create(ClientConfig config) {
  auto split = http::split_url(config.server);
  if (!split) return fail(ErrorKind::InvalidArgument, "API server {}", split.error().message);
  auto& [server, prefix] = *split;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (prefix.find('?') != std::string::npos)
    return fail(ErrorKind::InvalidArgument, "API server URL \"{}\" has a query", config.server);
  http::ClientOptions options;
  options.ca_pem = config.ca_pem;
  options.cert_pem = config.cert_pem;
  options.key_pem = config.key_pem;
  options.verify_server = !config.insecure_skip_tls_verify;
  options.connect_timeout = config.connect_timeout;
  options.request_timeout = config.request_timeout;
  // The credentials are checked now, not at the first call.
  auto http = http::HttpClient::create(server, std::move(options));
  if (!http) return tl::unexpected(http.error().context("API server {}", config.server));
  return std::shared_ptr<ApiClient>(std::make_shared<HttpApiClient>(std::move(config), std::move(*http), prefix));
}

}  // namespace deckhand::client
