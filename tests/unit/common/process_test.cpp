#include <unistd.h>

#include <doctest/doctest.h>

#include "deckhand/common/process.h"

using namespace deckhand;
using namespace std::chrono_literals;

TEST_CASE("run_process feeds stdin and separates stdout from stderr") {
  RunOptions o;
  o.argv = {"/bin/sh", "-c", "cat; echo oops >&2; exit 3"};
  o.stdin_data = "hello";
  auto r = run_process(o);
  REQUIRE(r);
  CHECK(r->out == "hello");
  CHECK(r->err == "oops\n");
  CHECK(r->exit_code == 3);
  CHECK(!r->timed_out);
}

TEST_CASE("run_process passes the environment it is given, and only that") {
  RunOptions o;
  o.argv = {"/usr/bin/env"};
  o.env = std::vector<std::string>{"A=1", "B=two"};
  auto r = run_process(o);
  REQUIRE(r);
  CHECK(r->out == "A=1\nB=two\n");
}

TEST_CASE("run_process kills a child that outlives its timeout") {
  RunOptions o;
  o.argv = {"/bin/sleep", "30"};
  o.timeout = 100ms;
  auto start = std::chrono::steady_clock::now();
  auto r = run_process(o);
  REQUIRE(r);
  CHECK(r->timed_out);
  CHECK(r->exit_code == 128 + 9);
  CHECK(std::chrono::steady_clock::now() - start < 10s);
}

TEST_CASE("run_process of a missing program fails with the program's name") {
  RunOptions o;
  o.argv = {"/nonexistent/deckhand-program"};
  auto r = run_process(o);
  REQUIRE(!r);
  CHECK(r.error().message.find("/nonexistent/deckhand-program") != std::string::npos);
  CHECK(r.error().sys_errno == ENOENT);
}

TEST_CASE("process_matches tells our own process from a dead one") {
  auto st = process_start_time(::getpid());
  REQUIRE(st);
  CHECK(process_matches(::getpid(), *st));
  CHECK(!process_matches(::getpid(), *st + 1));
  CHECK(!process_matches(999999999, 1));
}
