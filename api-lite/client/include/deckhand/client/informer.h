// A shared informer: keeps a local copy of every object of one resource (in
// a namespace or all, narrowed by selectors) by list, then watch from the
// list's resourceVersion; after a broken watch it watches again from the
// last version seen, and relists on 410 Gone. Handlers hear of each change
// once the copy reflects it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/client/api_client.h"

namespace deckhand::client {

// What an informer reads from: an ApiClient in production, a fake in tests.
class ListWatcher {
 public:
  virtual ~ListWatcher() = default;
  virtual Result<Json> list(const ListOptions& opts) = 0;
  virtual Result<std::unique_ptr<WatchStream>> watch(const WatchOptions& opts) = 0;
};

// A ListWatcher of one resource in one namespace ("" = all) with selectors.
std::unique_ptr<ListWatcher> make_list_watcher(std::shared_ptr<ApiClient> client, Resource resource,
                                               std::string ns, std::string label_selector = "",
                                               std::string field_selector = "");

struct InformerHandlers {
  std::function<void(const Json& obj)> on_add;
  std::function<void(const Json& old_obj, const Json& new_obj)> on_update;
  std::function<void(const Json& last_known)> on_delete;
};

struct InformerOptions {
  std::chrono::milliseconds min_backoff{100};   // after a failed list or watch, doubling
  std::chrono::milliseconds max_backoff{10000};
  std::chrono::seconds watch_timeout{300};
  // Every resync_period, on_update(obj, obj) for every object (0 = never).
  std::chrono::milliseconds resync_period{0};
  std::string name;  // for logs ("pods on node1"); optional
};

class Informer {
 public:
  // Starts a thread that lists and watches until the informer is destroyed.
  // Handlers run on that thread, one at a time, in the order of changes.
  static std::unique_ptr<Informer> start(std::unique_ptr<ListWatcher> source, InformerHandlers handlers,
                                         InformerOptions options = {});
  virtual ~Informer() = default;

  // True once the first list has been loaded (and its on_add calls made).
  virtual bool has_synced() = 0;
  virtual bool wait_for_sync(std::chrono::milliseconds timeout) = 0;
  // Key: "<namespace>/<name>", or "<name>" for cluster-scoped objects.
  virtual std::optional<Json> get(const std::string& key) = 0;
  virtual std::vector<Json> list() = 0;
  // The resourceVersion the copy is at.
  virtual std::string resource_version() = 0;
};

// "<namespace>/<name>" or "<name>": the key informers and work queues use.
std::string object_key(const Json& obj);

}  // namespace deckhand::client
