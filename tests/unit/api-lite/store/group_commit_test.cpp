#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "store_test_support.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::store;
using namespace deckhand::store::test_support;

TEST_CASE("concurrent writers share commits, get distinct revisions and read their own writes") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  constexpr int kThreads = 32;
  constexpr int kWritesEach = 40;
  std::mutex mu;
  std::vector<Revision> revisions;
  std::atomic<int> write_errors{0};
  std::atomic<int> unseen_writes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesEach; ++i) {
        std::string key = fmt::format("/g/{}/{}", t, i);
        auto rev = store->create(key, key + "=value");
        if (!rev) {
          ++write_errors;
          continue;
        }
        // An acknowledged write is visible to the next read, from any connection.
        auto kv = store->get(key);
        if (!kv || !*kv || (*kv)->mod_revision != *rev) ++unseen_writes;
        std::lock_guard lock(mu);
        revisions.push_back(*rev);
      }
    });
  }
  for (auto& t : threads) t.join();
  constexpr int kWrites = kThreads * kWritesEach;
  CHECK(write_errors == 0);
  CHECK(unseen_writes == 0);
  std::sort(revisions.begin(), revisions.end());
  REQUIRE(revisions.size() == kWrites);
  CHECK(std::adjacent_find(revisions.begin(), revisions.end()) == revisions.end());
  CHECK(revisions.front() == 1);
  CHECK(revisions.back() == kWrites);

  auto stats = sqlite_store_stats(*store);
  REQUIRE(stats);
  CHECK(stats->writes == kWrites);
  CHECK(stats->commits < kWrites);  // writers that queued together shared a commit
  CHECK(stats->commits > 0);

  auto all = must(store->range("/g/", "", 0));
  CHECK(all.kvs.size() == kWrites);
  for (const auto& kv : all.kvs) CHECK(kv.value == kv.key + "=value");
}

TEST_CASE("a failed precondition fails only its own write in a shared commit") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  constexpr int kThreads = 16;
  constexpr int kRounds = 30;
  for (int t = 0; t < kThreads; ++t) must(store->create(fmt::format("/p/{}", t), "0"));
  Revision before = store->current_revision();
  auto stats_before = *sqlite_store_stats(*store);
  std::atomic<int> unexpected{0};
  std::atomic<int> stale_rejected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string key = fmt::format("/p/{}", t);
      Revision mine = t + 1;  // the create above
      for (int i = 0; i < kRounds; ++i) {
        // A stale update and a good one, queued back to back by every thread.
        auto stale = store->update(key, "stale", Precondition{mine + 1000000});
        if (!stale && stale.error().kind == ErrorKind::FailedPrecondition) {
          ++stale_rejected;
        } else {
          ++unexpected;
        }
        auto good = store->update(key, std::to_string(i), Precondition{mine});
        if (!good) {
          ++unexpected;
          return;
        }
        mine = *good;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(unexpected == 0);
  CHECK(stale_rejected == kThreads * kRounds);
  CHECK(store->current_revision() == before + kThreads * kRounds);
  CHECK(sqlite_store_stats(*store)->writes - stats_before.writes == kThreads * kRounds);
  for (int t = 0; t < kThreads; ++t) {
    CHECK(must(store->get(fmt::format("/p/{}", t)))->value == std::to_string(kRounds - 1));
  }
}
