#include <doctest/doctest.h>

#include <cstdio>

#include "deckhand/common/fs.h"
#include "deckhand/runtime/monitor.h"
#include "log_writer.h"
#include "test_env.h"

using namespace deckhand;
using deckhand::monitor::format_chunk;
using deckhand::runtime::cri_log_line;

// 2023-11-14T22:13:20.123456789Z
constexpr int64_t kTime = 1700000000123456789;

TEST_CASE("cri_log_line: RFC3339 UTC with nine fraction digits, stream, tag, content") {
  CHECK(cri_log_line(kTime, "stdout", false, "hello") == "2023-11-14T22:13:20.123456789Z stdout F hello\n");
  CHECK(cri_log_line(kTime, "stderr", true, "par") == "2023-11-14T22:13:20.123456789Z stderr P par\n");
}

TEST_CASE("cri_log_line keeps trailing zeros and pads small fractions") {
  CHECK(cri_log_line(0, "stdout", false, "") == "1970-01-01T00:00:00.000000000Z stdout F \n");
  CHECK(cri_log_line(1000000000LL * 86400 + 5, "stdout", false, "x") ==
        "1970-01-02T00:00:00.000000005Z stdout F x\n");
  CHECK(cri_log_line(1700000000100000000, "stdout", false, "x") ==
        "2023-11-14T22:13:20.100000000Z stdout F x\n");
}

TEST_CASE("format_chunk: complete lines are F, a trailing piece is P") {
  std::string prefix = "2023-11-14T22:13:20.123456789Z stdout ";
  CHECK(format_chunk(kTime, "stdout", "a\nb\n") == prefix + "F a\n" + prefix + "F b\n");
  CHECK(format_chunk(kTime, "stdout", "a\npart") == prefix + "F a\n" + prefix + "P part\n");
  CHECK(format_chunk(kTime, "stdout", "part") == prefix + "P part\n");
  CHECK(format_chunk(kTime, "stdout", "\n") == prefix + "F \n");
  CHECK(format_chunk(kTime, "stdout", "a\n\nb") == prefix + "F a\n" + prefix + "F \n" + prefix + "P b\n");
  CHECK(format_chunk(kTime, "stdout", "") == "");
}

TEST_CASE("format_chunk keeps carriage returns and tabs as content") {
  CHECK(format_chunk(kTime, "stderr", "a\r\n\tb\n") ==
        "2023-11-14T22:13:20.123456789Z stderr F a\r\n2023-11-14T22:13:20.123456789Z stderr F \tb\n");
}

TEST_CASE("CriLogWriter appends, and reopen starts a new file after a rename") {
  test::TempDir dir;
  std::string path = dir.sub("c.log");
  monitor::CriLogWriter w(path);
  REQUIRE(w.open());
  REQUIRE(w.write(kTime, "stdout", "one\n"));
  REQUIRE(std::rename(path.c_str(), dir.sub("c.log.1").c_str()) == 0);
  REQUIRE(w.write(kTime, "stdout", "two\n"));  // still the renamed file
  REQUIRE(w.reopen());
  REQUIRE(w.write(kTime, "stderr", "three"));
  CHECK(*fs::read_file(dir.sub("c.log.1")) ==
        "2023-11-14T22:13:20.123456789Z stdout F one\n2023-11-14T22:13:20.123456789Z stdout F two\n");
  CHECK(*fs::read_file(path) == "2023-11-14T22:13:20.123456789Z stderr P three\n");
}

TEST_CASE("CriLogWriter with an empty path discards") {
  monitor::CriLogWriter w("");
  REQUIRE(w.open());
  CHECK(w.write(kTime, "stdout", "x\n"));
}

TEST_CASE("monitor::now_ns is the realtime clock") {
  int64_t t = monitor::now_ns();
  CHECK(t > kTime);
  CHECK(cri_log_line(t, "stdout", false, "").size() == std::string("2023-11-14T22:13:20.123456789Z stdout F \n").size());
}
