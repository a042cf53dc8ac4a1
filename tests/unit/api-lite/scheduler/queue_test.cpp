#include "deckhand/scheduler/queue.h"

#include <doctest/doctest.h>

using namespace deckhand::scheduler;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::shared_ptr<PodInfo> pod(const std::string& name, int32_t priority = 0) {
  auto p = std::make_shared<PodInfo>();
  p->ns = "default";
  p->name = name;
  p->key = "default/" + name;
  p->priority = priority;
  return p;
}

}  // namespace

TEST_CASE("queue: back-off doubles up to the maximum") {
  SchedulingQueue q(1000ms, 10000ms);
  CHECK(q.backoff_for(1) == 1000ms);
  CHECK(q.backoff_for(2) == 2000ms);
  CHECK(q.backoff_for(4) == 8000ms);
  CHECK(q.backoff_for(5) == 10000ms);
  CHECK(q.backoff_for(50) == 10000ms);
}

TEST_CASE("queue: priority, then arrival; updates and removal") {
  SchedulingQueue q(100ms, 1000ms);
  q.add_or_update(pod("a"));
  q.add_or_update(pod("b"));
  q.add_or_update(pod("urgent", 100));
  q.add_or_update(pod("gone"));
  q.remove("default/gone");
  CHECK(q.pop(0ms)->name == "urgent");
  CHECK(q.pop(0ms)->name == "a");
  auto b2 = pod("b");
  b2->resource_version = "2";
  q.add_or_update(b2);  // keeps its place, with the new version
  auto b = q.pop(0ms);
  CHECK(b->resource_version == "2");
  CHECK(q.pop(0ms) == nullptr);
}

TEST_CASE("queue: an unschedulable pod waits for a cluster change, then for its back-off") {
  SchedulingQueue q(300ms, 1000ms);
  q.add_or_update(pod("p"));
  REQUIRE(q.pop(0ms));
  auto failed_at = Clock::now();
  q.unschedulable("default/p");
  CHECK(q.counts().unschedulable == 1);
  // No change: it stays parked (well past its back-off).
  CHECK(q.pop(500ms) == nullptr);
  q.move_all_to_active();
  CHECK(q.pop(1000ms) != nullptr);  // back-off (300 ms) passed already: at once
  CHECK(Clock::now() - failed_at >= 300ms);

  // Second failure: 600 ms back-off, even when a change comes at once.
  failed_at = Clock::now();
  q.unschedulable("default/p");
  q.move_all_to_active();
  CHECK(q.counts().backoff == 1);
  auto again = q.pop(2000ms);
  REQUIRE(again != nullptr);
  CHECK(Clock::now() - failed_at >= 600ms);
}

TEST_CASE("queue: a change during the attempt, a failed bind, close") {
  SchedulingQueue q(200ms, 1000ms);
  q.add_or_update(pod("p"));
  REQUIRE(q.pop(0ms));
  q.move_all_to_active();  // a node came while p was being tried
  q.unschedulable("default/p");
  CHECK(q.counts().unschedulable == 0);
  REQUIRE(q.pop(2000ms) != nullptr);

  q.scheduled("default/p");
  q.add_or_update(pod("p"));  // an update while the bind is on its way: not tried twice
  CHECK(q.pop(0ms) == nullptr);
  auto failed_at = Clock::now();
  q.retry_after_error("default/p");  // 2nd attempt: 400 ms
  REQUIRE(q.pop(3000ms) != nullptr);
  CHECK(Clock::now() - failed_at >= 400ms);

  // Unschedulable pods are retried after the flush interval without any change.
  SchedulingQueue flushing(10ms, 10ms, 100ms);
  flushing.add_or_update(pod("f"));
  REQUIRE(flushing.pop(0ms));
  flushing.unschedulable("default/f");
  CHECK(flushing.pop(3000ms) != nullptr);

  q.close();
  CHECK(q.pop(1000ms) == nullptr);
}
