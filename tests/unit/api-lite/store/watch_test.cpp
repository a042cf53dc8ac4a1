#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "store_test_support.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::store;
using namespace deckhand::store::test_support;

namespace {

// Collects what one watch delivers, and notices callbacks that overlap.
class Collector {
 public:
  std::function<void(const std::vector<Event>&)> callback() {
    return [this](const std::vector<Event>& events) {
      if (in_callback_.exchange(true)) overlapped_ = true;
      {
        std::lock_guard lock(mu_);
        events_.insert(events_.end(), events.begin(), events.end());
      }
      in_callback_ = false;
    };
  }
  std::vector<Event> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::vector<Revision> revisions() {
    std::vector<Revision> revs;
    for (const auto& e : events()) revs.push_back(e.kv.mod_revision);
    return revs;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return events_.size();
  }
  bool has_revision(Revision rev) {
    std::lock_guard lock(mu_);
    return !events_.empty() && events_.back().kv.mod_revision >= rev;
  }
  bool overlapped() const { return overlapped_; }

 private:
  std::mutex mu_;
  std::vector<Event> events_;
  std::atomic<bool> in_callback_{false};
  std::atomic<bool> overlapped_{false};
};

std::vector<Revision> span(Revision first, Revision last) {
  std::vector<Revision> revs;
  for (Revision r = first; r <= last; ++r) revs.push_back(r);
  return revs;
}

}  // namespace

TEST_CASE("watch replays history after a revision, then streams live events") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  must(store->create("/w/a", "a1"));                   // 1
  must(store->create("/w/b", "b1"));                   // 2
  must(store->update("/w/a", "a2", Precondition{1}));  // 3
  must(store->remove("/w/b", Precondition{}));         // 4

  Collector seen;
  auto handle = must(store->watch("/w/", 1, seen.callback()));
  REQUIRE(test::eventually([&] { return seen.size() == 3; }));
  must(store->create("/w/c", "c1"));             // 5
  must(store->remove("/w/a", Precondition{3}));  // 6
  REQUIRE(test::eventually([&] { return seen.size() == 5; }));

  auto events = seen.events();
  CHECK(seen.revisions() == span(2, 6));
  CHECK(events[0].type == EventType::Put);
  CHECK(events[0].kv.key == "/w/b");
  CHECK(events[0].kv.create_revision == 2);
  CHECK(events[1].type == EventType::Put);
  CHECK(events[1].kv.value == "a2");
  CHECK(events[1].kv.create_revision == 1);
  CHECK(events[2].type == EventType::Delete);
  CHECK(events[2].kv.key == "/w/b");
  CHECK(events[2].kv.value == "b1");  // the value before the delete
  CHECK(events[2].kv.create_revision == 2);
  CHECK(events[4].type == EventType::Delete);
  CHECK(events[4].kv.value == "a2");
  CHECK(events[4].kv.create_revision == 1);
  CHECK(events[4].kv.mod_revision == 6);
  CHECK(!seen.overlapped());
}

TEST_CASE("watch delivers only keys under its prefix") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  must(store->create("/a/1", "x"));
  must(store->create("/b/1", "x"));
  must(store->create("/a/2", "x"));
  Collector under_a;
  auto handle = must(store->watch("/a/", 0, under_a.callback()));
  must(store->create("/b/2", "x"));
  must(store->create("/ab", "x"));
  Revision last = must(store->create("/a/3", "x"));
  // Events come in revision order, so once /a/3 is here the others would be too.
  REQUIRE(test::eventually([&] { return under_a.has_revision(last); }));
  std::vector<std::string> keys;
  for (const auto& e : under_a.events()) keys.push_back(e.kv.key);
  CHECK(keys == std::vector<std::string>{"/a/1", "/a/2", "/a/3"});
}

TEST_CASE("watch from a compacted revision fails, naming the compaction") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  for (int i = 0; i < 5; ++i) must(store->create("/k/" + std::to_string(i), "v"));
  REQUIRE(store->compact(3));
  Collector seen;
  auto too_old = store->watch("/k/", 2, seen.callback());
  REQUIRE(!too_old);
  CHECK(too_old.error().kind == ErrorKind::FailedPrecondition);
  CHECK(too_old.error().message.find("compacted") != std::string::npos);
  auto handle = must(store->watch("/k/", 3, seen.callback()));
  REQUIRE(test::eventually([&] { return seen.size() == 2; }));
  CHECK(seen.revisions() == span(4, 5));
}

TEST_CASE("a watch from a future revision starts after it") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  Collector seen;
  auto handle = must(store->watch("/", 2, seen.callback()));
  for (int i = 0; i < 4; ++i) must(store->create("/k/" + std::to_string(i), "v"));
  REQUIRE(test::eventually([&] { return seen.has_revision(4); }));
  CHECK(seen.revisions() == span(3, 4));
}

TEST_CASE("watches started while writers run see every later revision exactly once, in order") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  constexpr int kWriters = 4;
  constexpr int kWritesEach = 250;
  std::atomic<int> write_errors{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kWritesEach; ++i) {
        if (!store->create(fmt::format("/c/{}/{}", w, i), "v")) ++write_errors;
      }
    });
  }
  constexpr int kWatches = 20;
  std::vector<std::unique_ptr<Collector>> collectors;
  std::vector<std::unique_ptr<WatchHandle>> handles;
  std::vector<Revision> starts;
  for (int i = 0; i < kWatches; ++i) {
    // Spread the starts over the run: wait for the writers to get ahead a bit.
    Revision target = i * (kWriters * kWritesEach) / (kWatches + 5);
    CHECK(test::eventually([&] { return store->current_revision() >= target; }));
    Revision after = std::max<Revision>(0, store->current_revision() - (i % 4) * 10);
    collectors.push_back(std::make_unique<Collector>());
    handles.push_back(must(store->watch("/c/", after, collectors.back()->callback())));
    starts.push_back(after);
  }
  for (auto& t : writers) t.join();
  CHECK(write_errors == 0);
  Revision last = store->current_revision();
  CHECK(last == kWriters * kWritesEach);
  for (int i = 0; i < kWatches; ++i) {
    CAPTURE(i);
    CAPTURE(starts[i]);
    REQUIRE(test::eventually([&] { return collectors[i]->has_revision(last); }));
    CHECK(collectors[i]->revisions() == span(starts[i] + 1, last));
    CHECK(!collectors[i]->overlapped());
  }
}

TEST_CASE("destroying a watch handle stops its delivery") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  Collector stopped;
  Collector running;
  auto stopped_handle = must(store->watch("/", 0, stopped.callback()));
  auto running_handle = must(store->watch("/", 0, running.callback()));
  must(store->create("/a", "v"));
  REQUIRE(test::eventually([&] { return stopped.size() == 1; }));
  stopped_handle.reset();
  Revision last = must(store->create("/b", "v"));
  // Both watches would get /b from the same commit; the running one has it.
  REQUIRE(test::eventually([&] { return running.has_revision(last); }));
  CHECK(stopped.size() == 1);
}

TEST_CASE("a watch handle may be destroyed from inside its own callback") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  std::mutex mu;
  std::unique_ptr<WatchHandle> handle;
  std::atomic<int> calls{0};
  auto callback = [&](const std::vector<Event>&) {
    ++calls;
    std::lock_guard lock(mu);
    handle.reset();
  };
  {
    auto h = must(store->watch("/", 0, callback));
    std::lock_guard lock(mu);
    handle = std::move(h);
  }
  must(store->create("/a", "v"));
  REQUIRE(test::eventually([&] {
    std::lock_guard lock(mu);
    return handle == nullptr;
  }));
  Revision last = must(store->create("/b", "v"));
  Collector later;
  auto later_handle = must(store->watch("/", last - 1, later.callback()));
  REQUIRE(test::eventually([&] { return later.has_revision(last); }));
  CHECK(calls == 1);
}

TEST_CASE("watch handles may outlive the store") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  Collector seen;
  auto handle = must(store->watch("/", 0, seen.callback()));
  must(store->create("/a", "v"));
  REQUIRE(test::eventually([&] { return seen.size() == 1; }));
  store.reset();
  handle.reset();
}
