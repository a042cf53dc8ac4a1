// Every object of the store, parsed, in memory, plus a window of recent
// changes: serves get, list and watch without touching the store. The store
// feeds it through one store watch, in revision order.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"
#include "deckhand/store/store.h"

namespace deckhand::apiserver {

using ObjectPtr = std::shared_ptr<const Json>;

struct WatchEvent {
  enum class Type { Added, Modified, Deleted };
  Type type = Type::Added;
  std::string key;
  ObjectPtr object;    // for Deleted: the last state, resourceVersion = the delete's revision
  ObjectPtr previous;  // for Modified: the state before (selectors need it); else null
  store::Revision revision = 0;
  // The object as JSON text, made once for all watchers that send it as is.
  std::shared_ptr<const std::string> text;
};

const char* watch_event_type_name(WatchEvent::Type t);

// The events of one watch, queued by the cache and taken by the watch's
// HTTP thread.
class CacheWatcher {
 public:
  // Waits up to timeout for events; returns what is queued (maybe nothing).
  // closed() turns true when the cache drops a watcher that fell too far
  // behind (its queue emptied) or shuts down (its queue kept, to be sent).
  std::vector<WatchEvent> next(std::chrono::milliseconds timeout);
  bool closed();

 private:
  friend class WatchCache;
  std::string prefix_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> queue_;
  bool closed_ = false;
};

class WatchCache {
 public:
  // Loads everything under "/registry/" and follows the store from there.
  static Result<std::unique_ptr<WatchCache>> start(store::Store& store, size_t window_events = 20000);
  ~WatchCache();

  // Waits until every write up to rev is in the cache.
  bool wait_for(store::Revision rev, std::chrono::milliseconds timeout);
  store::Revision revision();

  ObjectPtr get(const std::string& key);
  struct Item {
    std::string key;
    ObjectPtr object;
    std::shared_ptr<const std::string> text;  // the object as JSON text
  };
  struct Snapshot {
    std::vector<Item> items;  // by key
    store::Revision revision = 0;
  };
  Snapshot list(const std::string& prefix);

  // A watch of prefix for changes after `after`; FailedPrecondition (410
  // Gone for the client) when the window no longer reaches back to it.
  Result<std::shared_ptr<CacheWatcher>> watch(const std::string& prefix, store::Revision after);
  // A watch that starts with an Added event for every object under prefix now.
  std::shared_ptr<CacheWatcher> watch_with_initial_state(const std::string& prefix);
  void unwatch(const std::shared_ptr<CacheWatcher>& w);
  // For a clean shutdown: once every committed write is in the cache, ends
  // every watch (each still sends what it has queued) and waits until their
  // threads have let go. False when that took longer than timeout.
  bool close_watches(std::chrono::milliseconds timeout);

 private:
  WatchCache(store::Store& store, size_t window) : store_(store), window_(window) {}
  void apply(const std::vector<store::Event>& events);
  // Queues events for the watchers they concern; returns those to wake.
  std::vector<std::shared_ptr<CacheWatcher>> deliver(const std::vector<WatchEvent>& events);
  void close_all_locked();

  store::Store& store_;
  size_t window_;
  std::mutex mu_;
  std::condition_variable advanced_;  // revision_ grew, or a watcher left
  struct Cached {
    ObjectPtr object;
    std::shared_ptr<const std::string> text;
  };
  std::map<std::string, Cached> objects_;
  std::deque<WatchEvent> recent_;
  store::Revision revision_ = 0;
  store::Revision oldest_reachable_ = 0;  // watches may start at this revision or later
  std::set<std::shared_ptr<CacheWatcher>> watchers_;
  std::unique_ptr<store::WatchHandle> store_watch_;
};

// The object as stored, with metadata.resourceVersion set to rev.
Result<ObjectPtr> object_from_store(const std::string& value, store::Revision rev);

}  // namespace deckhand::apiserver
