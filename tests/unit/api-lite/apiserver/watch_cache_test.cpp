// WatchCache over a real SQLite store in a temporary directory.
#include <doctest/doctest.h>

#include <thread>

#include "deckhand/store/sqlite_store.h"
#include "test_env.h"
#include "watch_cache.h"

using namespace deckhand;
using namespace deckhand::apiserver;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  test::TempDir dir{"deckhand-wc"};
  std::unique_ptr<store::Store> db;
  Fixture() {
    auto s = store::open_sqlite_store({dir.sub("store.db")});
    REQUIRE(s);
    db = std::move(*s);
  }
  store::Revision put(const std::string& key, const std::string& name) {
    auto r = db->create(key, Json{{"metadata", {{"name", name}}}}.dump());
    REQUIRE(r);
    return *r;
  }
};

std::vector<WatchEvent> collect(CacheWatcher& w, size_t n) {
  std::vector<WatchEvent> all;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (all.size() < n && std::chrono::steady_clock::now() < deadline) {
    auto more = w.next(100ms);
    all.insert(all.end(), more.begin(), more.end());
  }
  return all;
}

}  // namespace

TEST_CASE("the cache loads what the store holds and follows its writes") {
  Fixture f;
  f.put("/registry/core/pods/a/x", "x");
  auto cache = WatchCache::start(*f.db);
  REQUIRE(cache);
  auto& c = **cache;
  REQUIRE(c.get("/registry/core/pods/a/x"));
  CHECK((*c.get("/registry/core/pods/a/x"))["metadata"]["resourceVersion"] == "1");
  auto rev = f.put("/registry/core/pods/b/y", "y");
  REQUIRE(c.wait_for(rev, 5s));
  auto all = c.list("/registry/core/pods/");
  REQUIRE(all.items.size() == 2);
  CHECK(all.items[0].key == "/registry/core/pods/a/x");
  CHECK(c.list("/registry/core/pods/b/").items.size() == 1);
  CHECK(all.revision == rev);
  auto del = f.db->remove("/registry/core/pods/a/x", {});
  REQUIRE(del);
  REQUIRE(c.wait_for(*del, 5s));
  CHECK_FALSE(c.get("/registry/core/pods/a/x"));
}

TEST_CASE("a watch from a revision gets exactly the later changes under its prefix, in order") {
  Fixture f;
  auto cache = WatchCache::start(*f.db);
  REQUIRE(cache);
  auto& c = **cache;
  auto r1 = f.put("/registry/core/pods/a/x", "x");
  f.put("/registry/core/pods/a/y", "y");
  f.put("/registry/core/nodes/n", "n");
  auto upd = f.db->update("/registry/core/pods/a/x", Json{{"metadata", {{"name", "x"}, {"labels", {{"l", "1"}}}}}}.dump(), {});
  REQUIRE(upd);
  auto del = f.db->remove("/registry/core/pods/a/y", {});
  REQUIRE(del);
  REQUIRE(c.wait_for(*del, 5s));
  auto w = c.watch("/registry/core/pods/", r1);
  REQUIRE(w);
  auto events = collect(**w, 3);
  REQUIRE(events.size() == 3);
  CHECK(events[0].type == WatchEvent::Type::Added);
  CHECK(events[0].key == "/registry/core/pods/a/y");
  CHECK(events[1].type == WatchEvent::Type::Modified);
  REQUIRE(events[1].previous);
  CHECK_FALSE((*events[1].previous)["metadata"].contains("labels"));
  CHECK(events[2].type == WatchEvent::Type::Deleted);
  CHECK((*events[2].object)["metadata"]["resourceVersion"] == std::to_string(*del));
  // Live changes follow.
  auto later = f.put("/registry/core/pods/a/z", "z");
  auto live = collect(**w, 1);
  REQUIRE(live.size() == 1);
  CHECK(live[0].revision == later);
  CHECK((*w)->next(50ms).empty());
  c.unwatch(*w);
}

TEST_CASE("a watch with initial state starts with every object as Added") {
  Fixture f;
  f.put("/registry/core/pods/a/x", "x");
  f.put("/registry/core/pods/a/y", "y");
  auto cache = WatchCache::start(*f.db);
  REQUIRE(cache);
  auto w = (*cache)->watch_with_initial_state("/registry/core/pods/a/");
  auto events = collect(*w, 2);
  REQUIRE(events.size() == 2);
  for (auto& e : events) CHECK(e.type == WatchEvent::Type::Added);
}

TEST_CASE("watches from before the window are refused (410 Gone for clients)") {
  Fixture f;
  auto first = f.put("/registry/core/pods/a/0", "p0");
  auto cache = WatchCache::start(*f.db, 3);
  REQUIRE(cache);
  auto& c = **cache;
  CHECK_FALSE(c.watch("/registry/", 0));  // older than the revision the cache started at
  CHECK(c.watch("/registry/", first));
  store::Revision last = 0;
  for (int i = 1; i <= 6; ++i) last = f.put("/registry/core/pods/a/" + std::to_string(i), "p");
  REQUIRE(c.wait_for(last, 5s));
  auto old = c.watch("/registry/", first);
  REQUIRE_FALSE(old);
  CHECK(old.error().kind == ErrorKind::FailedPrecondition);
  CHECK(c.watch("/registry/", last - 2));
}

TEST_CASE("closing the watches for a shutdown keeps what was written before it") {
  Fixture f;
  auto cache = WatchCache::start(*f.db);
  REQUIRE(cache);
  auto& c = **cache;
  auto w = c.watch("/registry/core/pods/", 0);
  REQUIRE(w);
  // Written but maybe not yet in the cache: the close waits for it.
  auto rev = f.put("/registry/core/pods/a/x", "x");
  std::vector<WatchEvent> events;
  std::thread handler([&] {
    // As a watch's HTTP thread does: one more round after seeing the close.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (bool last = false; !last && std::chrono::steady_clock::now() < deadline;) {
      last = (*w)->closed();
      auto more = (*w)->next(100ms);
      events.insert(events.end(), more.begin(), more.end());
    }
    c.unwatch(*w);
  });
  CHECK(c.close_watches(5s));
  handler.join();
  REQUIRE(events.size() == 1);
  CHECK(events[0].revision == rev);
}

TEST_CASE("closing the watches gives up after its timeout on a watch nobody reads") {
  Fixture f;
  auto cache = WatchCache::start(*f.db);
  REQUIRE(cache);
  auto w = (*cache)->watch("/registry/", 0);
  REQUIRE(w);
  CHECK_FALSE((*cache)->close_watches(50ms));
  CHECK((*w)->closed());
}
