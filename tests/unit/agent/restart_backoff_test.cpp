#include "restart_backoff.h"

#include <doctest/doctest.h>

using namespace deckhand::agent;
using namespace std::chrono_literals;

TEST_CASE("back-off: none at first, then base doubling to max, fresh after 2 * max untouched") {
  RestartBackoff b(10s, 40s);
  auto t0 = Clock::now();
  CHECK(b.remaining("c", t0, t0) == 0ms);  // the first restart is immediate
  CHECK(b.delay("c") == 0ms);
  b.retry("c", t0);
  CHECK(b.delay("c") == 10s);
  CHECK(b.remaining("c", t0, t0 + 4s) == 6s);
  CHECK(b.remaining("c", t0, t0 + 10s) == 0ms);
  b.retry("c", t0 + 10s);
  CHECK(b.delay("c") == 20s);
  b.retry("c", t0 + 30s);
  CHECK(b.delay("c") == 40s);
  b.retry("c", t0 + 70s);
  CHECK(b.delay("c") == 40s);  // capped
  CHECK(b.remaining("other", t0, t0) == 0ms);
  b.retry("c", t0 + 70s + 81s);  // untouched for more than 2 * max
  CHECK(b.delay("c") == 10s);
  b.reset("c");
  CHECK(b.delay("c") == 0ms);
}

TEST_CASE("durations print as Go prints them") {
  CHECK(go_duration(0ms) == "0s");
  CHECK(go_duration(200ms) == "200ms");
  CHECK(go_duration(1s) == "1s");
  CHECK(go_duration(1500ms) == "1.5s");
  CHECK(go_duration(10s) == "10s");
  CHECK(go_duration(80s) == "1m20s");
  CHECK(go_duration(300s) == "5m0s");
  CHECK(go_duration(3725s) == "1h2m5s");
}
