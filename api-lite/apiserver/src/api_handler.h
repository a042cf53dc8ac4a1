// The REST API: routes a request to discovery, health, or a resource verb,
// after authenticating and authorizing it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "access.h"
#include "admission.h"
#include "api_error.h"
#include "deckhand/http/server.h"
#include "deckhand/store/store.h"
#include "node_proxy.h"
#include "resources.h"
#include "watch_cache.h"

namespace deckhand::apiserver {

struct HandlerConfig {
  std::optional<TokenFile> tokens;
  std::chrono::seconds bookmark_interval{60};
  std::chrono::seconds max_watch_timeout{1800};
  // Without TLS (tests, loopback only): requests without credentials act as this user.
  std::optional<UserInfo> insecure_user;
  // How pods/log reaches node agents.
  NodeProxyConfig node_proxy;
};

class ApiHandler {
 public:
  ApiHandler(store::Store& store, WatchCache& cache, ClusterIpAllocator& ips, HandlerConfig config);
  void handle(const http::Request& req, http::Responder& out);

  // Creates an object as the server itself (namespaces on start).
  ApiResult<Json> create_internal(const ResourceInfo& info, const std::string& ns, Json object);

 private:
  struct Call;
  void serve_resource(Call& call, http::Responder& out);
  ApiResult<Json> get_object(Call& call);
  // pods/<name>/log, streamed from the pod's node.
  void proxy_pod_log(Call& call, http::Responder& out);
  // The objects a list selects (selectors, paging), read consistently.
  struct Listing {
    std::vector<WatchCache::Item> items;
    Json metadata;  // resourceVersion, continue
  };
  ApiResult<Listing> select_objects(Call& call);
  // The list body as JSON text, built from the cached texts of the objects.
  ApiResult<std::string> list_objects(Call& call);
  void watch_objects(Call& call, http::Responder& out);
  ApiResult<std::pair<int, Json>> create_object(Call& call);
  ApiResult<Json> update_object(Call& call);
  ApiResult<Json> patch_object(Call& call);
  ApiResult<std::pair<int, Json>> delete_object(Call& call);
  ApiResult<Json> delete_collection(Call& call);
  ApiResult<std::pair<int, Json>> post_subresource(Call& call);
  // Reads the object, lets `change` make the new version from the old, and
  // writes it with compare-and-swap, retrying on a race unless the change
  // itself carried a resourceVersion.
  ApiResult<Json> read_modify_write(Call& call, const std::function<ApiResult<Json>(const Json& old)>& change);
  ApiResult<Json> commit(Call& call, const Json& old, Json updated, store::Revision rev);
  ApiResult<std::pair<int, Json>> delete_with(Call& call, const Json& options);

  store::Store& store_;
  WatchCache& cache_;
  ClusterIpAllocator& ips_;
  HandlerConfig config_;
};

}  // namespace deckhand::apiserver
