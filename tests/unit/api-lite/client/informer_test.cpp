#include "deckhand/client/informer.h"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "test_env.h"

using namespace deckhand;
using namespace deckhand::client;
using deckhand::test::eventually;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

Json object(const std::string& ns, const std::string& name, const std::string& version) {
  Json meta = {{"name", name}, {"resourceVersion", version}};
  if (!ns.empty()) meta["namespace"] = ns;
  return Json{{"kind", "Pod"}, {"metadata", meta}};
}

Json list_of(const std::string& version, std::vector<Json> items) {
  return Json{{"kind", "PodList"}, {"metadata", {{"resourceVersion", version}}}, {"items", items}};
}

WatchEvent event(const std::string& type, Json obj) { return WatchEvent{type, std::move(obj)}; }

WatchEvent gone() {
  return event("ERROR", {{"kind", "Status"}, {"code", 410}, {"reason", "Expired"}, {"message", "too old"}});
}

// One watch as the test feeds it: events, then (maybe) its end.
struct FakeStreamState {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<WatchEvent> events;
  bool ended = false;
  std::vector<std::chrono::milliseconds> waits;  // what next() was asked to wait

  void send(WatchEvent ev) {
    std::lock_guard lock(mu);
    events.push_back(std::move(ev));
    cv.notify_all();
  }
  void end() {
    std::lock_guard lock(mu);
    ended = true;
    cv.notify_all();
  }
};

class FakeStream final : public WatchStream {
 public:
  explicit FakeStream(std::shared_ptr<FakeStreamState> s) : s_(std::move(s)) {}
  Result<std::optional<WatchEvent>> next(std::chrono::milliseconds wait) override {
    std::unique_lock lock(s_->mu);
    s_->waits.push_back(wait);
    s_->cv.wait_for(lock, wait, [&] { return !s_->events.empty() || s_->ended; });
    if (!s_->events.empty()) {
      WatchEvent ev = std::move(s_->events.front());
      s_->events.pop_front();
      return ev;
    }
    if (s_->ended) return fail(ErrorKind::Unavailable, "watch stream ended");
    return std::optional<WatchEvent>();
  }

 private:
  std::shared_ptr<FakeStreamState> s_;
};

// The API as the test scripts it: list answers in order (an error when none
// is left), watches that fail a set number of times, then open streams the
// test feeds. Records every call.
struct FakeApi {
  std::mutex mu;
  std::deque<Result<Json>> list_answers;
  int watch_failures = 0;
  Error watch_error{ErrorKind::Unavailable, 0, "connection refused"};  // what failing watches return
  std::vector<ListOptions> list_calls;
  std::vector<Clock::time_point> list_times;
  std::vector<WatchOptions> watch_calls;
  std::vector<Clock::time_point> watch_times;
  std::vector<std::shared_ptr<FakeStreamState>> streams;

  void answer_list(Result<Json> r) {
    std::lock_guard lock(mu);
    list_answers.push_back(std::move(r));
  }
  size_t lists() {
    std::lock_guard lock(mu);
    return list_calls.size();
  }
  size_t watches() {
    std::lock_guard lock(mu);
    return watch_calls.size();
  }
  WatchOptions watch_call(size_t i) {
    std::lock_guard lock(mu);
    return watch_calls.at(i);
  }
  std::shared_ptr<FakeStreamState> stream(size_t i) {
    std::lock_guard lock(mu);
    return streams.at(i);
  }
};

class FakeListWatcher final : public ListWatcher {
 public:
  explicit FakeListWatcher(std::shared_ptr<FakeApi> api) : api_(std::move(api)) {}

  Result<Json> list(const ListOptions& opts) override {
    std::lock_guard lock(api_->mu);
    api_->list_calls.push_back(opts);
    api_->list_times.push_back(Clock::now());
    if (api_->list_answers.empty())
      return fail(ErrorKind::Unavailable, "503 ServiceUnavailable: not scripted");
    auto r = std::move(api_->list_answers.front());
    api_->list_answers.pop_front();
    return r;
  }

  Result<std::unique_ptr<WatchStream>> watch(const WatchOptions& opts) override {
    std::lock_guard lock(api_->mu);
    api_->watch_calls.push_back(opts);
    api_->watch_times.push_back(Clock::now());
    if (api_->watch_failures > 0) {
      --api_->watch_failures;
      return tl::unexpected(api_->watch_error);
    }
    auto state = std::make_shared<FakeStreamState>();
    api_->streams.push_back(state);
    return std::unique_ptr<WatchStream>(std::make_unique<FakeStream>(state));
  }

 private:
  std::shared_ptr<FakeApi> api_;
};

// What the handlers heard, as lines: "add ns/a 1", "update ns/a 1->2", "delete ns/a 2".
struct Recorder {
  std::mutex mu;
  std::vector<std::string> lines;

  static std::string describe(const Json& obj) {
    return object_key(obj) + " " + obj["metadata"]["resourceVersion"].get<std::string>();
  }
  void record(std::string line) {
    std::lock_guard lock(mu);
    lines.push_back(std::move(line));
  }
  InformerHandlers handlers() {
    InformerHandlers h;
    h.on_add = [this](const Json& o) { record("add " + describe(o)); };
    h.on_update = [this](const Json& o, const Json& n) {
      record("update " + describe(o) + "->" + n["metadata"]["resourceVersion"].get<std::string>());
    };
    h.on_delete = [this](const Json& o) { record("delete " + describe(o)); };
    return h;
  }
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mu);
    return lines;
  }
  size_t size() {
    std::lock_guard lock(mu);
    return lines.size();
  }
  bool wait_for(size_t n) {
    return eventually([&] { return size() >= n; }, 5s);
  }
};

InformerOptions fast_options() {
  InformerOptions o;
  o.min_backoff = 10ms;
  o.max_backoff = 100ms;
  return o;
}

std::chrono::milliseconds between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a);
}

}  // namespace

TEST_CASE("object_key: namespace/name or name") {
  CHECK(object_key(object("ns", "a", "1")) == "ns/a");
  CHECK(object_key(object("", "node1", "1")) == "node1");
  CHECK(object_key(Json{{"metadata", {{"namespace", "ns"}}}}) == "");
  CHECK(object_key(Json{{"metadata", {{"name", 5}}}}) == "");
  CHECK(object_key(Json::array()) == "");
}

TEST_CASE("informer: initial list calls on_add per object, syncs, then watches from its version") {
  auto api = std::make_shared<FakeApi>();
  Recorder rec;
  auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), rec.handlers(), fast_options());
  // The list fails until it is scripted: not synced meanwhile.
  REQUIRE(eventually([&] { return api->lists() >= 1; }, 5s));
  CHECK_FALSE(informer->has_synced());
  CHECK_FALSE(informer->wait_for_sync(20ms));
  api->answer_list(list_of("10", {object("ns", "b", "2"), object("", "a", "1")}));

  REQUIRE(informer->wait_for_sync(5s));
  CHECK(informer->has_synced());
  CHECK(rec.snapshot() == std::vector<std::string>{"add a 1", "add ns/b 2"});
  CHECK(informer->resource_version() == "10");
  CHECK(informer->list().size() == 2);
  auto b = informer->get("ns/b");
  REQUIRE(b);
  CHECK((*b)["metadata"]["resourceVersion"] == "2");
  CHECK_FALSE(informer->get("b"));

  REQUIRE(eventually([&] { return api->watches() == 1; }, 5s));
  auto opts = api->watch_call(0);
  CHECK(opts.resource_version == "10");
  CHECK(opts.allow_bookmarks);
  CHECK(opts.timeout == fast_options().watch_timeout);
}

TEST_CASE("informer: an empty list (items null) syncs") {
  auto api = std::make_shared<FakeApi>();
  api->answer_list(Json{{"metadata", {{"resourceVersion", "3"}}}, {"items", nullptr}});
  Recorder rec;
  auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), rec.handlers(), fast_options());
  REQUIRE(informer->wait_for_sync(5s));
  CHECK(informer->list().empty());
  CHECK(informer->resource_version() == "3");
}

TEST_CASE("informer: watch events update the copy and call handlers in order") {
  auto api = std::make_shared<FakeApi>();
  api->answer_list(list_of("10", {object("ns", "a", "1"), object("ns", "b", "2")}));
  Recorder rec;
  std::atomic<Informer*> self{nullptr};
  std::vector<std::string> seen_in_copy;  // written on the informer thread only
  auto handlers = rec.handlers();
  auto record_add = handlers.on_add;
  handlers.on_add = [&](const Json& o) {
    // The copy reflects a change before handlers hear of it (and get() does not deadlock).
    if (Informer* i = self.load()) {
      auto got = i->get(object_key(o));
      seen_in_copy.push_back(got ? (*got)["metadata"]["resourceVersion"].get<std::string>() : "missing");
    }
    record_add(o);
  };
  auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), handlers, fast_options());
  REQUIRE(informer->wait_for_sync(5s));
  REQUIRE(rec.wait_for(2));
  self = informer.get();
  REQUIRE(eventually([&] { return api->watches() == 1; }, 5s));
  auto stream = api->stream(0);

  stream->send(event("ADDED", object("ns", "c", "11")));
  stream->send(event("MODIFIED", object("ns", "a", "12")));
  stream->send(event("DELETED", object("ns", "b", "13")));
  stream->send(event("ADDED", object("ns", "a", "14")));                             // known: an update
  stream->send(event("MODIFIED", object("ns", "d", "15")));                          // unknown: an add
  stream->send(event("DELETED", object("ns", "zz", "16")));                          // never seen: no handler
  stream->send(event("MODIFIED", Json{{"metadata", {{"resourceVersion", "17"}}}}));  // no name: ignored
  REQUIRE(eventually([&] { return informer->resource_version() == "16"; }, 5s));
  REQUIRE(rec.wait_for(7));

  CHECK(rec.snapshot() == std::vector<std::string>{"add ns/a 1", "add ns/b 2", "add ns/c 11",
                                                   "update ns/a 1->12", "delete ns/b 13",
                                                   "update ns/a 12->14", "add ns/d 15"});
  CHECK(seen_in_copy == std::vector<std::string>{"11", "15"});
  CHECK(informer->list().size() == 3);
  CHECK_FALSE(informer->get("ns/b"));
  CHECK((*informer->get("ns/a"))["metadata"]["resourceVersion"] == "14");
  CHECK(api->lists() == 1);
}

TEST_CASE("informer: a broken watch resumes from the last version seen, bookmarks included") {
  auto api = std::make_shared<FakeApi>();
  api->answer_list(list_of("10", {object("ns", "a", "1")}));
  Recorder rec;
  auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), rec.handlers(), fast_options());
  REQUIRE(informer->wait_for_sync(5s));
  REQUIRE(eventually([&] { return api->watches() == 1; }, 5s));

  api->stream(0)->send(event("MODIFIED", object("ns", "a", "11")));
  api->stream(0)->end();
  REQUIRE(eventually([&] { return api->watches() == 2; }, 5s));
  CHECK(api->watch_call(1).resource_version == "11");

  // A bookmark moves the version on without telling handlers.
  api->stream(1)->send(event("BOOKMARK", Json{{"kind", "Pod"}, {"metadata", {{"resourceVersion", "25"}}}}));
  REQUIRE(eventually([&] { return informer->resource_version() == "25"; }, 5s));
  api->stream(1)->end();
  REQUIRE(eventually([&] { return api->watches() == 3; }, 5s));
  CHECK(api->watch_call(2).resource_version == "25");

  // Watch calls that fail are retried from the same version, without a relist.
  {
    std::lock_guard lock(api->mu);
    api->watch_failures = 2;
  }
  api->stream(2)->end();
  REQUIRE(eventually([&] { return api->watches() == 6; }, 5s));
  for (size_t i = 3; i < 6; ++i) CHECK(api->watch_call(i).resource_version == "25");
  CHECK(api->lists() == 1);
  CHECK(rec.snapshot() == std::vector<std::string>{"add ns/a 1", "update ns/a 1->11"});
}

TEST_CASE("informer: ERROR 410 relists; deletes vanished objects and updates changed ones") {
  auto api = std::make_shared<FakeApi>();
  api->answer_list(list_of("10", {object("ns", "a", "1"), object("ns", "b", "2"), object("ns", "c", "3")}));
  Recorder rec;
  auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), rec.handlers(), fast_options());
  REQUIRE(informer->wait_for_sync(5s));
  REQUIRE(rec.wait_for(3));
  REQUIRE(eventually([&] { return api->watches() == 1; }, 5s));

  api->answer_list(list_of("30", {object("ns", "a", "1"), object("ns", "b", "5"), object("ns", "d", "6")}));
  api->stream(0)->send(gone());
  REQUIRE(eventually([&] { return api->lists() == 2; }, 5s));
  REQUIRE(rec.wait_for(6));
  auto lines = rec.snapshot();
  CHECK(std::vector<std::string>(lines.begin() + 3, lines.end()) ==
        std::vector<std::string>{"update ns/b 2->5", "add ns/d 6", "delete ns/c 3"});
  CHECK(informer->resource_version() == "30");
  CHECK(informer->list().size() == 3);
  CHECK_FALSE(informer->get("ns/c"));
  CHECK(informer->has_synced());

  REQUIRE(eventually([&] { return api->watches() == 2; }, 5s));
  CHECK(api->watch_call(1).resource_version == "30");
  CHECK(rec.size() == 6);  // "a" did not change: no handler call
}

TEST_CASE("informer: a watch refused with 410 (as ApiClient reports it) relists") {
  auto api = std::make_shared<FakeApi>();
  api->answer_list(list_of("10", {object("ns", "a", "1")}));
  Recorder rec;
  auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), rec.handlers(), fast_options());
  REQUIRE(informer->wait_for_sync(5s));
  REQUIRE(eventually([&] { return api->watches() == 1; }, 5s));
  {
    std::lock_guard lock(api->mu);
    api->watch_failures = 1;
    // The form api_client.h documents for a 410.
    api->watch_error =
        Error{ErrorKind::FailedPrecondition, 0, "410 Expired: too old resource version: 10 (40)"};
  }
  api->answer_list(list_of("40", {}));
  api->stream(0)->end();
  REQUIRE(eventually([&] { return api->watches() == 3; }, 5s));
  CHECK(api->lists() == 2);
  CHECK(api->watch_call(2).resource_version == "40");
  CHECK(rec.snapshot() == std::vector<std::string>{"add ns/a 1", "delete ns/a 1"});
}

TEST_CASE("informer: a paged list follows continue tokens") {
  auto api = std::make_shared<FakeApi>();
  Json page1 = list_of("", {object("ns", "a", "1")});
  page1["metadata"]["continue"] = "page2";
  api->answer_list(page1);
  api->answer_list(list_of("20", {object("ns", "b", "2")}));
  Recorder rec;
  auto opts = fast_options();
  opts.name = "pods";
  auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), rec.handlers(), opts);
  REQUIRE(informer->wait_for_sync(5s));
  CHECK(rec.snapshot() == std::vector<std::string>{"add ns/a 1", "add ns/b 2"});
  CHECK(informer->resource_version() == "20");
  std::lock_guard lock(api->mu);
  REQUIRE(api->list_calls.size() == 2);
  CHECK(api->list_calls[0].continue_token == "");
  CHECK(api->list_calls[1].continue_token == "page2");
}

TEST_CASE("informer: another ERROR watches again after a back-off, without a relist") {
  auto api = std::make_shared<FakeApi>();
  api->answer_list(list_of("10", {}));
  Recorder rec;
  auto opts = fast_options();
  opts.min_backoff = 50ms;
  auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), rec.handlers(), opts);
  REQUIRE(informer->wait_for_sync(5s));
  REQUIRE(eventually([&] { return api->watches() == 1; }, 5s));
  api->stream(0)->send(event("ADDED", object("", "n", "12")));
  api->stream(0)->send(event("ERROR", {{"kind", "Status"}, {"code", 500}, {"message", "internal"}}));
  REQUIRE(eventually([&] { return api->watches() == 2; }, 5s));
  CHECK(api->watch_call(1).resource_version == "12");
  std::lock_guard lock(api->mu);
  CHECK(between(api->watch_times[0], api->watch_times[1]) >= 50ms);
  CHECK(api->list_calls.size() == 1);
}

TEST_CASE("informer: list failures back off, doubling, and recover; success resets the back-off") {
  auto api = std::make_shared<FakeApi>();
  for (int i = 0; i < 4; ++i) api->answer_list(fail(ErrorKind::Unavailable, "503 ServiceUnavailable: down"));
  api->answer_list(list_of("7", {object("", "n1", "7")}));
  {
    std::lock_guard lock(api->mu);
    api->watch_failures = 1;
  }
  Recorder rec;
  InformerOptions opts;
  opts.min_backoff = 20ms;
  opts.max_backoff = 2000ms;
  auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), rec.handlers(), opts);
  REQUIRE(informer->wait_for_sync(10s));
  CHECK(rec.snapshot() == std::vector<std::string>{"add n1 7"});
  REQUIRE(eventually([&] { return api->watches() == 2; }, 10s));

  std::lock_guard lock(api->mu);
  REQUIRE(api->list_times.size() == 5);
  std::vector<std::chrono::milliseconds> expected = {20ms, 40ms, 80ms, 160ms};
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(between(api->list_times[i], api->list_times[i + 1]) >= expected[i]);
  }
  // The failed watch after the successful list waits min_backoff again, not 320 ms.
  auto retry = between(api->watch_times[0], api->watch_times[1]);
  CHECK(retry >= 20ms);
  CHECK(retry < 300ms);
}

TEST_CASE("informer: the back-off stops at max_backoff") {
  auto api = std::make_shared<FakeApi>();  // every list fails
  Recorder rec;
  InformerOptions opts;
  opts.min_backoff = 10ms;
  opts.max_backoff = 40ms;
  auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), rec.handlers(), opts);
  REQUIRE(eventually([&] { return api->lists() >= 7; }, 10s));
  std::lock_guard lock(api->mu);
  // Waits 10, 20, 40, 40, 40, 40: uncapped, the last would be 320 ms.
  auto last = between(api->list_times[5], api->list_times[6]);
  CHECK(last >= 40ms);
  CHECK(last < 300ms);
}

TEST_CASE("informer: resync calls on_update(obj, obj) for every object periodically") {
  auto api = std::make_shared<FakeApi>();
  api->answer_list(list_of("10", {object("ns", "a", "1"), object("ns", "b", "2")}));
  Recorder rec;
  auto opts = fast_options();
  opts.resync_period = 50ms;
  auto start = Clock::now();
  auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), rec.handlers(), opts);
  REQUIRE(informer->wait_for_sync(5s));
  REQUIRE(rec.wait_for(6));
  auto first_resync = Clock::now();
  auto lines = rec.snapshot();
  CHECK(std::vector<std::string>(lines.begin(), lines.begin() + 6) ==
        std::vector<std::string>{"add ns/a 1", "add ns/b 2", "update ns/a 1->1", "update ns/b 2->2",
                                 "update ns/a 1->1", "update ns/b 2->2"});
  CHECK(between(start, first_resync) >= 100ms);  // two periods
}

TEST_CASE("informer: destruction is prompt while watching and while backing off") {
  SUBCASE("blocked in a watch") {
    auto api = std::make_shared<FakeApi>();
    api->answer_list(list_of("10", {}));
    Recorder rec;
    InformerOptions opts;
    opts.watch_timeout = 300s;
    auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), rec.handlers(), opts);
    REQUIRE(informer->wait_for_sync(5s));
    REQUIRE(eventually([&] { return api->watches() == 1; }, 5s));
    auto stream = api->stream(0);
    REQUIRE(eventually(
        [&] {
          std::lock_guard lock(stream->mu);
          return !stream->waits.empty();
        },
        5s));
    auto start = Clock::now();
    informer.reset();
    CHECK(between(start, Clock::now()) < 1s);
    std::lock_guard lock(stream->mu);
    for (auto w : stream->waits) CHECK(w <= 200ms);
  }
  SUBCASE("waiting out a long back-off") {
    auto api = std::make_shared<FakeApi>();  // every list fails
    Recorder rec;
    InformerOptions opts;
    opts.min_backoff = 30s;
    auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), rec.handlers(), opts);
    REQUIRE(eventually([&] { return api->lists() == 1; }, 5s));
    auto start = Clock::now();
    informer.reset();
    CHECK(between(start, Clock::now()) < 1s);
  }
}

TEST_CASE("informer: a throwing handler does not stop the informer") {
  auto api = std::make_shared<FakeApi>();
  api->answer_list(list_of("10", {object("", "a", "1")}));
  std::atomic<int> adds{0};
  InformerHandlers h;
  h.on_add = [&](const Json&) {
    ++adds;
    throw std::runtime_error("handler bug");
  };
  auto informer = Informer::start(std::make_unique<FakeListWatcher>(api), h, fast_options());
  REQUIRE(informer->wait_for_sync(5s));
  REQUIRE(eventually([&] { return api->watches() == 1; }, 5s));
  api->stream(0)->send(event("ADDED", object("", "b", "11")));
  CHECK(eventually([&] { return adds == 2 && informer->get("b").has_value(); }, 5s));
}

namespace {

// An ApiClient that records what make_list_watcher asks of it.
class RecordingClient final : public ApiClient {
 public:
  Resource resource;
  std::string ns;
  ListOptions list_opts;
  WatchOptions watch_opts;

  Result<Json> list(const Resource& r, const std::string& n, const ListOptions& opts) override {
    resource = r;
    ns = n;
    list_opts = opts;
    return list_of("1", {});
  }
  Result<std::unique_ptr<WatchStream>> watch(const Resource& r, const std::string& n,
                                             const WatchOptions& opts) override {
    resource = r;
    ns = n;
    watch_opts = opts;
    return fail(ErrorKind::Unavailable, "not in this test");
  }
  Result<Json> get(const Resource&, const std::string&, const std::string&) override { return unused(); }
  Result<Json> create(const Resource&, const std::string&, const Json&) override { return unused(); }
  Result<Json> update(const Resource&, const Json&) override { return unused(); }
  Result<Json> update_status(const Resource&, const Json&) override { return unused(); }
  Result<Json> patch(const Resource&, const std::string&, const std::string&, PatchType, const Json&,
                     const std::string&) override {
    return unused();
  }
  Status remove(const Resource&, const std::string&, const std::string&, const Json&) override {
    return fail(ErrorKind::Unimplemented, "unused");
  }
  Result<Json> create_subresource(const Resource&, const std::string&, const std::string&, const std::string&,
                                  const Json&) override {
    return unused();
  }
  Result<std::string> get_raw(const std::string&) override {
    return fail(ErrorKind::Unimplemented, "unused");
  }

 private:
  static Result<Json> unused() { return fail(ErrorKind::Unimplemented, "unused"); }
};

}  // namespace

TEST_CASE("make_list_watcher passes resource, namespace and selectors to the client") {
  auto client = std::make_shared<RecordingClient>();
  Resource pods{"", "v1", "pods", true, "Pod"};
  auto lw = make_list_watcher(client, pods, "kube-system", "app=dns", "spec.nodeName=n1");

  ListOptions lo;
  lo.limit = 500;
  auto listed = lw->list(lo);
  REQUIRE(listed);
  CHECK(client->resource.plural == "pods");
  CHECK(client->ns == "kube-system");
  CHECK(client->list_opts.label_selector == "app=dns");
  CHECK(client->list_opts.field_selector == "spec.nodeName=n1");
  CHECK(client->list_opts.limit == 500);

  WatchOptions wo;
  wo.resource_version = "42";
  CHECK_FALSE(lw->watch(wo));
  CHECK(client->watch_opts.label_selector == "app=dns");
  CHECK(client->watch_opts.field_selector == "spec.nodeName=n1");
  CHECK(client->watch_opts.resource_version == "42");
}
