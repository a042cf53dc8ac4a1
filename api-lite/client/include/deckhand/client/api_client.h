// A client of deckhand-apiserver (or any Kubernetes API server) for the
// agent, scheduler and controller-manager: JSON objects over HTTPS with a
// client certificate or token, one keep-alive connection per calling thread,
// and watches as streams of events.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "deckhand/client/kubeconfig.h"
#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::client {

// A resource as the REST paths name it.
struct Resource {
  std::string group;    // "" for core
  std::string version;  // "v1"
  std::string plural;   // "pods"
  bool namespaced = true;
  std::string kind;     // "Pod"

  // "/api/v1/namespaces/<ns>/pods[/name[/sub]]" or "/apis/<g>/<v>/...".
  std::string path(const std::string& ns, const std::string& name = "", const std::string& sub = "") const;
};

// The resources our components use.
namespace resources {
extern const Resource kPods, kNodes, kNamespaces, kServices, kEndpoints, kEvents, kConfigMaps, kSecrets,
    kServiceAccounts, kLeases, kDeployments, kReplicaSets, kDaemonSets, kControllerRevisions, kJobs;
}

// A failed call: the HTTP code and the Status the server sent. The Error
// returned to callers carries it in its message ("<code> <reason>: <message>")
// and in its kind: 404 NotFound, 409 AlreadyExists (reason AlreadyExists) or
// FailedPrecondition (Conflict), 410 FailedPrecondition ("Expired"/"Gone"),
// 401/403 PermissionDenied, 422/400 InvalidArgument, 5xx/transport Unavailable.
struct ApiStatus {
  int code = 0;
  std::string reason;
  std::string message;
};
// The status of the last failed call on this thread (code 0 = transport error).
const ApiStatus& last_status();
bool is_conflict(const Error& e);   // 409 Conflict: re-read and retry
bool is_gone(const Error& e);       // 410: relist

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;
  std::string continue_token;
  std::string resource_version;
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // watch changes after this one
  bool allow_bookmarks = true;
  std::chrono::seconds timeout{300};  // the server ends the watch then
};

struct WatchEvent {
  std::string type;  // ADDED MODIFIED DELETED BOOKMARK ERROR
  Json object;
};

// One open watch. next() blocks up to `wait` for the next event; nullopt when
// nothing came in time; an error when the stream ended or broke (then open a
// new watch from the last resourceVersion seen).
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  virtual Result<std::optional<WatchEvent>> next(std::chrono::milliseconds wait) = 0;
};

enum class PatchType { Merge, Strategic, Json };

class ApiClient {
 public:
  static Result<std::shared_ptr<ApiClient>> create(ClientConfig config);
  virtual ~ApiClient() = default;

  // Namespaces: for list and watch, "" means all namespaces; elsewhere "" means
  // the object's metadata.namespace (create, update) or else the config's
  // default_namespace. Cluster-scoped resources ignore ns.

  virtual Result<Json> get(const Resource& r, const std::string& ns, const std::string& name) = 0;
  // A list object (items, metadata.resourceVersion and continue).
  virtual Result<Json> list(const Resource& r, const std::string& ns, const ListOptions& opts = {}) = 0;
  virtual Result<Json> create(const Resource& r, const std::string& ns, const Json& object) = 0;
  // PUT of the whole object (metadata.resourceVersion makes it conditional).
  virtual Result<Json> update(const Resource& r, const Json& object) = 0;
  virtual Result<Json> update_status(const Resource& r, const Json& object) = 0;
  virtual Result<Json> patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type,
                             const Json& patch, const std::string& subresource = "") = 0;
  // DELETE with options: {"gracePeriodSeconds": 0, "preconditions": {"uid": ...}}.
  virtual Status remove(const Resource& r, const std::string& ns, const std::string& name,
                        const Json& delete_options = Json::object()) = 0;
  // POST to a subresource (pods/x/binding, pods/x/eviction).
  virtual Result<Json> create_subresource(const Resource& r, const std::string& ns, const std::string& name,
                                          const std::string& sub, const Json& body) = 0;
  virtual Result<std::unique_ptr<WatchStream>> watch(const Resource& r, const std::string& ns,
                                                     const WatchOptions& opts) = 0;
  // GET of any path (/version, /healthz), the body as text.
  virtual Result<std::string> get_raw(const std::string& path) = 0;
};

}  // namespace deckhand::client
