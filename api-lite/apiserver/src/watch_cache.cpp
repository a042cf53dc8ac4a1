#include "watch_cache.h"

#include "deckhand/common/log.h"

namespace deckhand::apiserver {

namespace {
// A watcher whose client reads slower than this many events behind is dropped
// (the client re-lists), as Kubernetes does, so one slow reader cannot grow
// the server's memory without bound.
constexpr size_t kMaxQueuedEvents = 10000;
}  // namespace

const char* watch_event_type_name(WatchEvent::Type t) {
  switch (t) {
    case WatchEvent::Type::Added: return "ADDED";
    case WatchEvent::Type::Modified: return "MODIFIED";
    case WatchEvent::Type::Deleted: return "DELETED";
  }
  return "ERROR";
}

Result<ObjectPtr> object_from_store(const std::string& value, store::Revision rev) {
  DH_TRY(obj, parse_json(value, "stored object"));
  if (!obj.is_object()) return fail(ErrorKind::Internal, "stored object is not a JSON object");
  obj["metadata"]["resourceVersion"] = std::to_string(rev);
  return std::make_shared<const Json>(std::move(obj));
}

std::vector<WatchEvent> CacheWatcher::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || closed_; });
  std::vector<WatchEvent> out(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

bool CacheWatcher::closed() {
  std::lock_guard lock(mu_);
  return closed_;
}

Result<std::unique_ptr<WatchCache>> WatchCache::start(store::Store& store, size_t window_events) {
  std::unique_ptr<WatchCache> cache(new WatchCache(store, window_events));
  DH_TRY(all, store.range("/registry/", "", 0));
  for (auto& kv : all.kvs) {
    auto obj = object_from_store(kv.value, kv.mod_revision);
    if (!obj) {
      log::get("apiserver")->error("skipping unreadable object {}: {}", kv.key, obj.error().message);
      continue;
    }
    auto text = std::make_shared<const std::string>((*obj)->dump());
    cache->objects_.emplace(kv.key, Cached{std::move(*obj), std::move(text)});
  }
  cache->revision_ = all.revision;
  cache->oldest_reachable_ = all.revision;
  WatchCache* self = cache.get();
  DH_TRY(handle, store.watch("/registry/", all.revision,
                             [self](const std::vector<store::Event>& events) { self->apply(events); }));
  cache->store_watch_ = std::move(handle);
  return cache;
}

WatchCache::~WatchCache() {
  store_watch_.reset();  // no more apply() calls after this
  std::lock_guard lock(mu_);
  close_all_locked();
}

void WatchCache::close_all_locked() {
  for (auto& w : watchers_) {
    std::lock_guard wl(w->mu_);
    w->closed_ = true;
    w->cv_.notify_all();
  }
}

bool WatchCache::close_watches(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto committed = store_.current_revision();
  std::unique_lock lock(mu_);
  bool caught_up = advanced_.wait_until(lock, deadline, [&] { return revision_ >= committed; });
  close_all_locked();
  return advanced_.wait_until(lock, deadline, [&] { return watchers_.empty(); }) && caught_up;
}

void WatchCache::apply(const std::vector<store::Event>& events) {
  std::vector<WatchEvent> out;
  out.reserve(events.size());
  std::unique_lock lock(mu_);
  for (const auto& e : events) {
    WatchEvent we;
    we.key = e.kv.key;
    we.revision = e.kv.mod_revision;
    auto it = objects_.find(e.kv.key);
    auto obj = object_from_store(e.kv.value, e.kv.mod_revision);
    if (!obj) {
      log::get("apiserver")->error("unreadable object at {} revision {}: {}", e.kv.key, e.kv.mod_revision,
                                   obj.error().message);
      revision_ = std::max(revision_, e.kv.mod_revision);
      continue;
    }
    we.object = *obj;
    we.text = std::make_shared<const std::string>((*obj)->dump());
    if (e.type == store::EventType::Delete) {
      we.type = WatchEvent::Type::Deleted;
      if (it != objects_.end()) objects_.erase(it);
    } else if (it == objects_.end()) {
      we.type = WatchEvent::Type::Added;
      objects_.emplace(e.kv.key, Cached{*obj, we.text});
    } else {
      we.type = WatchEvent::Type::Modified;
      we.previous = it->second.object;
      it->second = Cached{*obj, we.text};
    }
    revision_ = std::max(revision_, e.kv.mod_revision);
    recent_.push_back(we);
    out.push_back(std::move(we));
  }
  while (recent_.size() > window_) {
    oldest_reachable_ = recent_.front().revision;
    recent_.pop_front();
  }
  auto woken = deliver(out);
  lock.unlock();
  advanced_.notify_all();
  // Woken outside every lock, so that a watcher's thread does not wake only
  // to block on a mutex we still hold.
  for (auto& w : woken) w->cv_.notify_one();
}

// Called with mu_ held.
std::vector<std::shared_ptr<CacheWatcher>> WatchCache::deliver(const std::vector<WatchEvent>& events) {
  std::vector<std::shared_ptr<CacheWatcher>> woken;
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    auto& w = *it;
    bool queued = false, drop = false;
    {
      std::lock_guard wl(w->mu_);
      for (const auto& e : events)
        if (e.key.compare(0, w->prefix_.size(), w->prefix_) == 0) {
          w->queue_.push_back(e);
          queued = true;
        }
      if (w->queue_.size() > kMaxQueuedEvents) {
        w->queue_.clear();  // the client re-lists; sending these would only keep it behind
        w->closed_ = drop = true;
      }
    }
    if (queued || drop) woken.push_back(w);
    it = drop ? watchers_.erase(it) : std::next(it);
  }
  return woken;
}

bool WatchCache::wait_for(store::Revision rev, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return advanced_.wait_for(lock, timeout, [&] { return revision_ >= rev; });
}

store::Revision WatchCache::revision() {
  std::lock_guard lock(mu_);
  return revision_;
}

ObjectPtr WatchCache::get(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second.object;
}

WatchCache::Snapshot WatchCache::list(const std::string& prefix) {
  Snapshot s;
  std::lock_guard lock(mu_);
  for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it)
    s.items.push_back(Item{it->first, it->second.object, it->second.text});
  s.revision = revision_;
  return s;
}

Result<std::shared_ptr<CacheWatcher>> WatchCache::watch(const std::string& prefix, store::Revision after) {
  auto w = std::make_shared<CacheWatcher>();
  w->prefix_ = prefix;
  std::lock_guard lock(mu_);
  if (after < oldest_reachable_)
    return fail(ErrorKind::FailedPrecondition, "too old resource version: {} ({})", after, oldest_reachable_ + 1);
  for (const auto& e : recent_)
    if (e.revision > after && e.key.compare(0, prefix.size(), prefix) == 0) w->queue_.push_back(e);
  watchers_.insert(w);
  return w;
}

std::shared_ptr<CacheWatcher> WatchCache::watch_with_initial_state(const std::string& prefix) {
  auto w = std::make_shared<CacheWatcher>();
  w->prefix_ = prefix;
  std::lock_guard lock(mu_);
  for (auto it = objects_.lower_bound(prefix); it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it)
    w->queue_.push_back(WatchEvent{WatchEvent::Type::Added, it->first, it->second.object, nullptr, revision_,
                                   it->second.text});
  watchers_.insert(w);
  return w;
}

void WatchCache::unwatch(const std::shared_ptr<CacheWatcher>& w) {
  {
    std::lock_guard lock(mu_);
    watchers_.erase(w);
  }
  advanced_.notify_all();
}

}  // namespace deckhand::apiserver
