// The informer: one thread that lists, then watches from the list's
// resourceVersion, keeping a local copy and telling handlers of each change.
// Only that thread writes the copy (under the lock, so other threads can
// read it) and it calls handlers without the lock held, so a handler may call
// get() or list().
#include "deckhand/client/informer.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "deckhand/common/log.h"

namespace deckhand::client {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long one WatchStream::next waits, so that stopping is noticed quickly.
constexpr milliseconds kWatchPoll{200};

std::shared_ptr<spdlog::logger> logger() { return log::get("client"); }

// obj[section][field] when it is a string, else "".
std::string string_field(const Json& obj, const char* section, const char* field) {
  if (!obj.is_object()) return "";
  auto s = obj.find(section);
  if (s == obj.end() || !s->is_object()) return "";
  auto f = s->find(field);
  if (f == s->end() || !f->is_string()) return "";
  return f->get<std::string>();
}

std::string resource_version_of(const Json& obj) { return string_field(obj, "metadata", "resourceVersion"); }

// The code of the Status an ERROR event carries (0 if none).
int status_code(const Json& status) {
  if (!status.is_object()) return 0;
  auto c = status.find("code");
  return c != status.end() && c->is_number_integer() ? c->get<int>() : 0;
}

class ClientListWatcher final : public ListWatcher {
 public:
  ClientListWatcher(std::shared_ptr<ApiClient> client, Resource resource, std::string ns, std::string label,
                    std::string field)
      : client_(std::move(client)),
        resource_(std::move(resource)),
        ns_(std::move(ns)),
        label_(std::move(label)),
        field_(std::move(field)) {}

  Result<Json> list(const ListOptions& opts) override {
    ListOptions o = opts;
    o.label_selector = label_;
    o.field_selector = field_;
    return client_->list(resource_, ns_, o);
  }

  Result<std::unique_ptr<WatchStream>> watch(const WatchOptions& opts) override {
    WatchOptions o = opts;
    o.label_selector = label_;
    o.field_selector = field_;
    return client_->watch(resource_, ns_, o);
  }

 private:
  std::shared_ptr<ApiClient> client_;
  Resource resource_;
  std::string ns_, label_, field_;
};

// What the informer does after a watch event or the end of a watch.
enum class Next {
  Continue,  // keep reading this watch
  Rewatch,   // watch again from the last version, now
  BackOff,   // watch again after the back-off
  Relist,    // the version is gone: list again
  Stop,      // the informer is being destroyed
};

class InformerImpl final : public Informer {
 public:
  InformerImpl(std::unique_ptr<ListWatcher> source, InformerHandlers handlers, InformerOptions options)
      : source_(std::move(source)),
        handlers_(std::move(handlers)),
        options_(options),
        label_(options.name.empty() ? "" : " " + options.name),
        backoff_(options.min_backoff) {}

  ~InformerImpl() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void start_thread() {
    thread_ = std::thread([this] { run(); });
  }

  bool has_synced() override {
    std::lock_guard lock(mu_);
    return synced_;
  }

  bool wait_for_sync(milliseconds timeout) override {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return synced_; });
  }

  std::optional<Json> get(const std::string& key) override {
    std::lock_guard lock(mu_);
    auto it = store_.find(key);
    if (it == store_.end()) return std::nullopt;
    return it->second;
  }

  std::vector<Json> list() override {
    std::lock_guard lock(mu_);
    std::vector<Json> out;
    out.reserve(store_.size());
    for (const auto& [key, obj] : store_) out.push_back(obj);
    return out;
  }

  std::string resource_version() override {
    std::lock_guard lock(mu_);
    return resource_version_;
  }

 private:
  void run();
  Next list_and_watch();
  Status list_and_replace();
  void replace(std::map<std::string, Json> fresh, std::string version);
  Next watch_once();
  Next apply(const WatchEvent& ev);
  void resync_if_due();
  milliseconds next_wait() const;
  bool back_off();  // false when stopping
  bool stopping() {
    std::lock_guard lock(mu_);
    return stop_;
  }

  // Handler calls: a throwing handler is logged, never ends the thread.
  template <typename F, typename... Args>
  void call(const F& handler, const char* what, const Args&... args) {
    if (!handler) return;
    try {
      handler(args...);
    } catch (const std::exception& e) {
      logger()->error("informer{} {} handler threw: {}", label_, what, e.what());
    } catch (...) {
      logger()->error("informer{} {} handler threw", label_, what);
    }
  }

  std::unique_ptr<ListWatcher> source_;
  InformerHandlers handlers_;
  InformerOptions options_;
  std::string label_;     // " <name>" for logs, or ""
  milliseconds backoff_;  // the next wait after a failure
  Clock::time_point next_resync_;

  std::mutex mu_;
  std::condition_variable cv_;  // synced_ and stop_
  bool stop_ = false;
  bool synced_ = false;
  std::map<std::string, Json> store_;
  std::string resource_version_;

  std::thread thread_;  // runs run(); joined by the destructor
};

void InformerImpl::run() {
  while (true) {
    Next next;
    try {
      next = list_and_watch();
    } catch (const std::exception& e) {  // a bug or bad data must not end the process
      logger()->error("informer{}: {} (relist in {} ms)", label_, e.what(), backoff_.count());
      next = Next::BackOff;
    }
    if (next == Next::Stop || (next == Next::BackOff && !back_off())) return;
  }
}

// Lists, then watches until a relist is needed (Relist), the list failed
// (BackOff) or the informer stops (Stop).
Next InformerImpl::list_and_watch() {
  if (stopping()) return Next::Stop;
  if (auto listed = list_and_replace(); !listed) {
    logger()->warn("informer{} list failed (retry in {} ms): {}", label_, backoff_.count(),
                   listed.error().message);
    return Next::BackOff;
  }
  backoff_ = options_.min_backoff;
  while (true) {
    Next next = watch_once();
    if (next == Next::Relist || next == Next::Stop) return next;
    if (next == Next::BackOff && !back_off()) return Next::Stop;
  }
}

bool InformerImpl::back_off() {
  std::unique_lock lock(mu_);
  bool stopped = cv_.wait_for(lock, backoff_, [this] { return stop_; });
  backoff_ = std::min(backoff_ * 2, options_.max_backoff);
  return !stopped;
}

Status InformerImpl::list_and_replace() {
  std::map<std::string, Json> items;
  std::string version;
  ListOptions opts;
  do {
    DH_TRY(page, source_->list(opts));
    if (!page.is_object())
      return fail(ErrorKind::Internal, "list returned {}, not an object", page.type_name());
    auto it = page.find("items");  // null for an empty list
    if (it != page.end() && it->is_array()) {
      for (auto& item : *it) {
        std::string key = object_key(item);
        if (key.empty()) {
          logger()->warn("informer{}: listed object without metadata.name, ignored", label_);
          continue;
        }
        items[key] = std::move(item);
      }
    }
    version = resource_version_of(page);
    opts.continue_token = string_field(page, "metadata", "continue");
  } while (!opts.continue_token.empty());
  replace(std::move(items), std::move(version));
  return {};
}

// Replaces the copy with a fresh list and tells handlers the difference:
// on_add for new keys, on_update when the resourceVersion changed, on_delete
// for keys no longer there.
void InformerImpl::replace(std::map<std::string, Json> fresh, std::string version) {
  std::map<std::string, Json> previous;
  {
    std::lock_guard lock(mu_);
    previous = std::exchange(store_, std::move(fresh));
    resource_version_ = std::move(version);
  }
  // Only this thread writes store_, so it reads it without the lock.
  for (const auto& [key, obj] : store_) {
    auto old = previous.find(key);
    if (old == previous.end()) {
      call(handlers_.on_add, "add", obj);
    } else if (resource_version_of(old->second) != resource_version_of(obj)) {
      call(handlers_.on_update, "update", old->second, obj);
    }
  }
  for (const auto& [key, obj] : previous) {
    if (!store_.count(key)) call(handlers_.on_delete, "delete", obj);
  }
  next_resync_ = Clock::now() + options_.resync_period;
  {
    std::lock_guard lock(mu_);
    synced_ = true;
  }
  cv_.notify_all();
}

Next InformerImpl::watch_once() {
  WatchOptions opts;
  opts.resource_version = resource_version();
  opts.allow_bookmarks = true;
  opts.timeout = options_.watch_timeout;
  auto stream = source_->watch(opts);
  if (!stream) {
    if (is_gone(stream.error())) return Next::Relist;
    logger()->warn("informer{} watch from {} failed (retry in {} ms): {}", label_, opts.resource_version,
                   backoff_.count(), stream.error().message);
    return Next::BackOff;
  }
  bool got_event = false;
  while (true) {
    if (stopping()) return Next::Stop;
    resync_if_due();
    auto ev = (*stream)->next(next_wait());
    if (!ev) {
      if (is_gone(ev.error())) return Next::Relist;
      logger()->debug("informer{} watch ended: {}", label_, ev.error().message);
      // A watch that ended without a single event may be failing at once: back off.
      return got_event ? Next::Rewatch : Next::BackOff;
    }
    if (!*ev) continue;
    got_event = true;
    backoff_ = options_.min_backoff;
    if (Next next = apply(**ev); next != Next::Continue) return next;
  }
}

Next InformerImpl::apply(const WatchEvent& ev) {
  if (ev.type == "ERROR") {
    int code = status_code(ev.object);
    if (code == 410) return Next::Relist;
    logger()->warn("informer{} watch error {}: {}", label_, code,
                   ev.object.dump(-1, ' ', false, Json::error_handler_t::replace));
    return Next::BackOff;
  }
  std::string version = resource_version_of(ev.object);
  if (ev.type == "BOOKMARK") {
    if (!version.empty()) {
      std::lock_guard lock(mu_);
      resource_version_ = std::move(version);
    }
    return Next::Continue;
  }
  bool deleted = ev.type == "DELETED";
  if (!deleted && ev.type != "ADDED" && ev.type != "MODIFIED") {
    logger()->warn("informer{}: unknown watch event type '{}', ignored", label_, ev.type);
    return Next::Continue;
  }
  std::string key = object_key(ev.object);
  if (key.empty()) {
    logger()->warn("informer{}: {} event for an object without metadata.name, ignored", label_, ev.type);
    return Next::Continue;
  }
  std::optional<Json> old;
  {
    std::lock_guard lock(mu_);
    auto it = store_.find(key);
    if (it != store_.end()) {
      old = std::move(it->second);
      store_.erase(it);
    }
    if (!deleted) store_.emplace(key, ev.object);
    if (!version.empty()) resource_version_ = std::move(version);
  }
  if (deleted) {
    if (old) call(handlers_.on_delete, "delete", ev.object);
  } else if (old) {
    call(handlers_.on_update, "update", *old, ev.object);
  } else {
    call(handlers_.on_add, "add", ev.object);
  }
  return Next::Continue;
}

void InformerImpl::resync_if_due() {
  if (options_.resync_period <= milliseconds::zero() || Clock::now() < next_resync_) return;
  for (const auto& [key, obj] : store_) call(handlers_.on_update, "resync", obj, obj);
  next_resync_ = Clock::now() + options_.resync_period;
}

milliseconds InformerImpl::next_wait() const {
  if (options_.resync_period <= milliseconds::zero()) return kWatchPoll;
  auto until = std::chrono::ceil<milliseconds>(next_resync_ - Clock::now());
  return std::clamp(until, milliseconds(1), kWatchPoll);
}

}  // namespace

std::unique_ptr<ListWatcher> make_list_watcher(std::shared_ptr<ApiClient> client, Resource resource,
                                               std::string ns, std::string label_selector,
                                               std::string field_selector) {
  return std::make_unique<ClientListWatcher>(std::move(client), std::move(resource), std::move(ns),
                                             std::move(label_selector), std::move(field_selector));
}

std::unique_ptr<Informer> Informer::start(std::unique_ptr<ListWatcher> source, InformerHandlers handlers,
                                          InformerOptions options) {
  auto informer = std::make_unique<InformerImpl>(std::move(source), std::move(handlers), options);
  informer->start_thread();
  return informer;
}

std::string object_key(const Json& obj) {
  std::string name = string_field(obj, "metadata", "name");
  if (name.empty()) return "";
  std::string ns = string_field(obj, "metadata", "namespace");
  return ns.empty() ? name : ns + "/" + name;
}

}  // namespace deckhand::client
