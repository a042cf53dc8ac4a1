#include "deckhand/client/work_queue.h"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "test_env.h"

using deckhand::client::WorkQueue;
using deckhand::client::WorkQueueOptions;
using deckhand::test::eventually;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

}  // namespace

TEST_CASE("work queue: a key queued twice is handed out once, in FIFO order") {
  WorkQueue q;
  q.add("c");
  q.add("a");
  q.add("c");
  q.add("b");
  q.add("a");
  CHECK(q.size() == 3);
  CHECK(q.get() == "c");
  CHECK(q.get() == "a");
  CHECK(q.get() == "b");
  CHECK(q.get_for(20ms) == std::nullopt);
}

TEST_CASE("work queue: a key added while processing comes back once after done") {
  WorkQueue q;
  q.add("a");
  auto key = q.get();
  REQUIRE(key == "a");
  q.add("a");
  q.add("a");
  CHECK(q.size() == 0);  // not handed to a second worker
  CHECK(q.get_for(20ms) == std::nullopt);
  q.done("a");
  CHECK(q.size() == 1);
  CHECK(q.get_for(1s) == "a");
  q.done("a");
  CHECK(q.get_for(20ms) == std::nullopt);  // once, not twice
}

TEST_CASE("work queue: done without a re-add does not queue the key again") {
  WorkQueue q;
  q.add("a");
  REQUIRE(q.get() == "a");
  q.done("a");
  CHECK(q.size() == 0);
  q.add("a");  // a fresh add after done queues it
  CHECK(q.size() == 1);
}

TEST_CASE("work queue: add_after fires after the delay, not before") {
  WorkQueue q;
  auto start = Clock::now();
  q.add_after("k", 50ms);
  CHECK(q.size() == 0);
  auto key = q.get_for(5s);
  auto elapsed = since(start);
  CHECK(key == "k");
  CHECK(elapsed >= 50ms);
  CHECK(elapsed < 3s);
}

TEST_CASE("work queue: add_after twice keeps the earliest and fires once") {
  WorkQueue q;
  auto start = Clock::now();
  q.add_after("k", 300ms);
  q.add_after("k", 40ms);   // earlier: replaces
  q.add_after("k", 500ms);  // later: ignored
  auto key = q.get_for(5s);
  auto elapsed = since(start);
  REQUIRE(key == "k");
  CHECK(elapsed >= 40ms);
  CHECK(elapsed < 300ms);
  q.done("k");
  // The 300 ms and 500 ms adds must not fire later.
  CHECK(q.get_for(700ms) == std::nullopt);
}

TEST_CASE("work queue: a delayed add of a key still queued does not queue it twice") {
  WorkQueue q;
  q.add("k");
  q.add_after("k", 10ms);
  q.add_after("marker", 30ms);  // due later: once it is queued, k's timer has fired
  REQUIRE(eventually([&] { return q.size() >= 2; }));
  CHECK(q.size() == 2);
  CHECK(q.get_for(1s) == "k");
  CHECK(q.get_for(1s) == "marker");
}

TEST_CASE("work queue: add_after with no delay adds at once") {
  WorkQueue q;
  q.add_after("k", 0ms);
  CHECK(q.size() == 1);
}

TEST_CASE("work queue: rate-limited adds double per failure up to the cap; forget resets") {
  WorkQueue q(WorkQueueOptions{.base_delay = 20ms, .max_delay = 80ms});
  std::vector<std::chrono::milliseconds> expected = {20ms, 40ms, 80ms, 80ms, 80ms};
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(q.failures("k") == static_cast<int>(i));
    auto start = Clock::now();
    q.add_rate_limited("k");
    REQUIRE(q.get_for(5s) == "k");
    auto elapsed = since(start);
    CHECK(elapsed >= expected[i]);
    // Uncapped, the 5th would wait 320 ms.
    if (i == 4) CHECK(elapsed < 300ms);
    q.done("k");
  }
  CHECK(q.failures("other") == 0);
  q.forget("k");
  CHECK(q.failures("k") == 0);
  auto start = Clock::now();
  q.add_rate_limited("k");
  REQUIRE(q.get_for(5s) == "k");
  auto elapsed = since(start);
  CHECK(elapsed >= 20ms);
  CHECK(elapsed < 80ms * 4);
  CHECK(q.failures("k") == 1);
}

TEST_CASE("work queue: a large failure count caps without overflow") {
  WorkQueue q(WorkQueueOptions{.base_delay = 1ms, .max_delay = 30ms});
  for (int i = 0; i < 200; ++i) q.add_rate_limited("k");
  CHECK(q.failures("k") == 200);
  auto start = Clock::now();
  REQUIRE(q.get_for(5s) == "k");  // the first add (1 ms) is the earliest
  CHECK(since(start) < 3s);
}

TEST_CASE("work queue: 4 producers and 4 workers process every key, never twice at once") {
  WorkQueue q;
  constexpr int kKeys = 200;
  constexpr int kRounds = 5;
  std::mutex mu;
  std::set<std::string> in_progress;
  std::set<std::string> processed;
  std::atomic<int> overlaps{0};
  std::atomic<int> producers_left{4};

  std::vector<std::thread> threads;
  for (int p = 0; p < 4; ++p) {
    threads.emplace_back([&, p] {
      for (int round = 0; round < kRounds; ++round) {
        for (int k = 0; k < kKeys; ++k) {
          std::string key = "key-" + std::to_string((k + p * 37) % kKeys);
          if (k % 10 == 0) {
            q.add_after(key, 1ms);
          } else {
            q.add(key);
          }
        }
      }
      --producers_left;
    });
  }
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&] {
      while (auto key = q.get()) {
        {
          std::lock_guard lock(mu);
          if (!in_progress.insert(*key).second) ++overlaps;
        }
        std::this_thread::yield();  // widen the window in which a second worker could take it
        {
          std::lock_guard lock(mu);
          in_progress.erase(*key);
          processed.insert(*key);
        }
        q.done(*key);
      }
    });
  }
  bool all_done = eventually(
      [&] {
        std::lock_guard lock(mu);
        return producers_left == 0 && processed.size() == kKeys && q.size() == 0 && in_progress.empty();
      },
      15s);
  q.shut_down();
  for (auto& t : threads) t.join();
  CHECK(all_done);
  CHECK(overlaps == 0);
  CHECK(processed.size() == kKeys);
}

TEST_CASE("work queue: shut_down wakes every blocked get with nullopt; later adds are ignored") {
  WorkQueue q;
  std::atomic<int> woke_empty{0};
  std::vector<std::thread> getters;
  for (int i = 0; i < 3; ++i) {
    getters.emplace_back([&] {
      if (!q.get()) ++woke_empty;
    });
  }
  q.add_after("later", 10s);
  std::this_thread::sleep_for(20ms);  // let them block (the test holds either way)
  auto start = Clock::now();
  q.shut_down();
  bool woke = eventually([&] { return woke_empty == 3; }, 5s);
  CHECK(woke);
  CHECK(since(start) < 2s);
  REQUIRE(woke);  // else joining would hang
  for (auto& t : getters) t.join();
  q.add("x");
  q.add_after("y", 1ms);
  CHECK(q.size() == 0);
  CHECK(q.get() == std::nullopt);
  q.shut_down();  // twice is fine
}

TEST_CASE("work queue: destruction with a pending delayed add is prompt") {
  auto start = Clock::now();
  {
    WorkQueue q;
    q.add_after("k", 60s);
  }
  CHECK(since(start) < 2s);
}
