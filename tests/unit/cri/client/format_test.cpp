// deckhandctl's formatting and CRI log parsing, without a server.
#include "deckhand/ctl/format.h"

#include <doctest/doctest.h>

#include <sstream>

#include "deckhand/ctl/logs.h"

using namespace deckhand;
using namespace deckhand::ctl;
using namespace std::chrono_literals;

TEST_CASE("short_id drops sha256: and keeps 13 characters") {
  CHECK(short_id("sha256:0123456789abcdef0123") == "0123456789abc");
  CHECK(short_id("c0ffee00112233445566") == "c0ffee0011223");
  CHECK(short_id("abc") == "abc");
}

TEST_CASE("human_size uses decimal units with three significant digits") {
  CHECK(human_size(0) == "0B");
  CHECK(human_size(512) == "512B");
  CHECK(human_size(4096) == "4.1kB");
  CHECK(human_size(2'100'000) == "2.1MB");
  CHECK(human_size(1'234'567'890) == "1.23GB");
  CHECK(human_size(999) == "999B");
}

TEST_CASE("human_duration and created_ago read like crictl's CREATED column") {
  CHECK(human_duration(500ms) == "Less than a second");
  CHECK(human_duration(1s) == "1 second");
  CHECK(human_duration(42s) == "42 seconds");
  CHECK(human_duration(90s) == "About a minute");
  CHECK(human_duration(5min) == "5 minutes");
  CHECK(human_duration(65min) == "About an hour");
  CHECK(human_duration(2h) == "2 hours");
  CHECK(human_duration(72h) == "3 days");
  int64_t now = 1'000'000'000'000'000'000;
  CHECK(created_ago(now - 30'000'000'000, now) == "30 seconds ago");
  CHECK(created_ago(now + 5, now) == "Less than a second ago");
}

TEST_CASE("parse_duration accepts Go-like durations and bare seconds") {
  CHECK(*parse_duration("2m") == 120000ms);
  CHECK(*parse_duration("30s") == 30000ms);
  CHECK(*parse_duration("1h30m") == 5400000ms);
  CHECK(*parse_duration("250ms") == 250ms);
  CHECK(*parse_duration("1.5s") == 1500ms);
  CHECK(*parse_duration("10") == 10000ms);
  CHECK(!parse_duration(""));
  CHECK(!parse_duration("5x"));
  CHECK(!parse_duration("abc"));
  CHECK(parse_duration("5x").error().kind == ErrorKind::InvalidArgument);
}

TEST_CASE("Table pads columns to at least 20 and 3 past the widest cell, not the last") {
  Table t({"A", "B", "C"});
  t.add({"short", "a-cell-that-is-longer-than-20", "last column is not padded"});
  std::ostringstream out;
  t.print(out);
  CHECK(out.str() == "A" + std::string(19, ' ') + "B" + std::string(31, ' ') + "C\n" + "short" +
                         std::string(15, ' ') +
                         "a-cell-that-is-longer-than-20   last column is not padded\n");
}

TEST_CASE("cpu_percent is the usage delta over the timestamp delta") {
  CHECK(*cpu_percent(0, 1'000'000'000, 500'000'000, 2'000'000'000) == doctest::Approx(50.0));
  CHECK(*cpu_percent(100, 0, 50, 10) == 0.0);  // counter reset
  auto frozen = cpu_percent(1, 5, 2, 5);
  REQUIRE(!frozen);
  CHECK(frozen.error().kind == ErrorKind::FailedPrecondition);
  CHECK(frozen.error().message.find("did not move") != std::string::npos);
}

TEST_CASE("parse_label and base64_encode") {
  CHECK(parse_label("app=web", "--label")->first == "app");
  CHECK(parse_label("app=", "--label")->second == "");
  CHECK(!parse_label("app", "--label"));
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("bar baz") == "YmFyIGJheg==");
}

TEST_CASE("parse_cri_log_line splits time, stream, tag and content") {
  auto l = parse_cri_log_line("2024-01-01T00:00:00.1Z stderr P some text  with spaces");
  REQUIRE(l);
  CHECK(l->timestamp == "2024-01-01T00:00:00.1Z");
  CHECK(l->stderr_stream);
  CHECK(l->partial);
  CHECK(l->content == "some text  with spaces");
  auto empty = parse_cri_log_line("2024-01-01T00:00:00.1Z stdout F ");
  REQUIRE(empty);
  CHECK(empty->content.empty());
  CHECK(!empty->partial);
  CHECK(parse_cri_log_line("2024-01-01T00:00:00.1Z stdout F:x y")->content == "y");
  CHECK(!parse_cri_log_line("garbage"));
  CHECK(!parse_cri_log_line("2024 stdin F x"));
  CHECK(!parse_cri_log_line("2024 stdout Q x"));
}

namespace {
std::vector<CriLogLine> lines_of(const std::vector<std::pair<bool, std::string>>& parts) {
  std::vector<CriLogLine> lines;
  for (const auto& [partial, content] : parts) lines.push_back({"t", false, partial, content});
  return lines;
}
}  // namespace

TEST_CASE("tail_start counts whole lines, a P... F group being one") {
  auto lines = lines_of({{false, "a"}, {true, "b1"}, {true, "b2"}, {false, "b3"}, {false, "c"}});
  CHECK(tail_start(lines, -1) == 0);
  CHECK(tail_start(lines, 0) == 5);
  CHECK(tail_start(lines, 1) == 4);
  CHECK(tail_start(lines, 2) == 1);
  CHECK(tail_start(lines, 3) == 0);
  CHECK(tail_start(lines, 10) == 0);
  auto unfinished = lines_of({{false, "a"}, {false, "b"}, {true, "c1"}});
  CHECK(tail_start(unfinished, 1) == 2);
  CHECK(tail_start(unfinished, 2) == 1);
}

TEST_CASE("CriLogPrinter joins partial lines and stamps whole ones") {
  std::ostringstream out, err;
  CriLogPrinter p(out, err, true);
  p.print({"T1", false, true, "ab"});
  p.print({"T2", true, false, "oops"});
  p.print({"T3", false, false, "cd"});
  CHECK(out.str() == "T1 abcd\n");
  CHECK(err.str() == "T2 oops\n");
}
