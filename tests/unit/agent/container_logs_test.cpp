// CRI log files read as kubectl logs asks: joined partial lines, tail,
// since, timestamps, byte limits, malformed lines, and following a file
// through appends and a rotation.
#include "container_logs.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "deckhand/common/fs.h"

using namespace deckhand;
using namespace deckhand::agent;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/deckhand-logs-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { (void)fs::remove_all(path); }
};

void append(const std::string& path, std::string_view text) {
  auto fd = fs::open_fd(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  REQUIRE(fd);
  REQUIRE(fs::write_all(fd->get(), text, path));
}

std::string read_log(const std::string& path, const LogOptions& options = {}) {
  std::string out;
  auto st = stream_container_log(path, options, [&](std::string_view chunk) {
    out.append(chunk);
    return true;
  });
  REQUIRE_MESSAGE(st, (st ? "" : st.error().message));
  return out;
}

// "2026-01-02T03:04:05.000000001Z stdout F line<i>" for i in [from, to).
std::string numbered_lines(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += fmt::format("2026-01-02T03:04:05.{:09}Z stdout F line{}\n", i, i);
  return s;
}

std::string expected_lines(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += fmt::format("line{}\n", i);
  return s;
}

}  // namespace

TEST_CASE("parse_rfc3339_nanos reads UTC, offsets and fractions") {
  CHECK(parse_rfc3339_nanos("1970-01-01T00:00:00Z").value() == 0);
  CHECK(parse_rfc3339_nanos("1970-01-01T00:00:01.5Z").value() == 1'500'000'000);
  CHECK(parse_rfc3339_nanos("1970-01-01T00:00:00.000000001Z").value() == 1);
  CHECK(parse_rfc3339_nanos("1970-01-01T01:00:00+01:00").value() == 0);
  CHECK(parse_rfc3339_nanos("2026-11-22T03:04:05Z").value() == 1795316645LL * 1'000'000'000);
  CHECK(parse_rfc3339_nanos("1969-12-31T23:00:00-01:00").value() == 0);
  for (const char* bad :
       {"", "2026-11-22", "2026-11-22T03:04:05", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2026-11-22T03:04:05.Z", "2026-11-22T03:04:05Zjunk", "yesterday"})
    CHECK_MESSAGE(!parse_rfc3339_nanos(bad), bad);
}

TEST_CASE("whole lines are shown as written, partial lines joined, per stream") {
  TempDir dir;
  std::string path = dir.path + "/0.log";
  append(path,
         "2026-01-02T03:04:05.1Z stdout F hello world\n"
         "2026-01-02T03:04:05.2Z stdout P first \n"
         "2026-01-02T03:04:05.3Z stderr F an error\n"
         "2026-01-02T03:04:05.4Z stdout P second \n"
         "2026-01-02T03:04:05.5Z stdout F third\n"
         "2026-01-02T03:04:05.6Z stdout F \n"
         "2026-01-02T03:04:05.7Z stdout F:x tags after F\n");
  CHECK(read_log(path) == "hello world\nan error\nfirst second third\n\ntags after F\n");

  SUBCASE("timestamps prefix the time of each line's first part") {
    LogOptions o;
    o.timestamps = true;
    CHECK(read_log(path, o) ==
          "2026-01-02T03:04:05.1Z hello world\n"
          "2026-01-02T03:04:05.3Z an error\n"
          "2026-01-02T03:04:05.2Z first second third\n"
          "2026-01-02T03:04:05.6Z \n"
          "2026-01-02T03:04:05.7Z tags after F\n");
  }
}

TEST_CASE("an unfinished partial line at the end of a log is shown") {
  TempDir dir;
  std::string path = dir.path + "/0.log";
  append(path, "2026-01-02T03:04:05.1Z stdout F done\n2026-01-02T03:04:05.2Z stdout P not yet\n");
  CHECK(read_log(path) == "done\nnot yet\n");
}

TEST_CASE("malformed lines are passed through") {
  TempDir dir;
  std::string path = dir.path + "/0.log";
  append(path,
         "garbage without fields\n"
         "2026-01-02T03:04:05.1Z stdout F good\n"
         "2026-01-02T03:04:05.2Z stdnope F bad stream\n"
         "\n"
         "2026-01-02T03:04:05.3Z stdout X bad tag\n"
         "no newline at the end");
  CHECK(read_log(path) ==
        "garbage without fields\ngood\n2026-01-02T03:04:05.2Z stdnope F bad stream\n"
        "2026-01-02T03:04:05.3Z stdout X bad tag\nno newline at the end\n");
}

TEST_CASE("tailLines counts joined lines from the end") {
  TempDir dir;
  std::string path = dir.path + "/0.log";
  append(path,
         "2026-01-02T03:04:05.1Z stdout F one\n"
         "2026-01-02T03:04:05.2Z stdout P tw\n"
         "2026-01-02T03:04:05.3Z stdout F o\n"
         "2026-01-02T03:04:05.4Z stdout F three\n"
         "2026-01-02T03:04:05.5Z stdout P fo\n"
         "2026-01-02T03:04:05.6Z stdout P ur\n");
  LogOptions o;
  o.tail_lines = 1;
  CHECK(read_log(path, o) == "four\n");
  o.tail_lines = 2;
  CHECK(read_log(path, o) == "three\nfour\n");
  o.tail_lines = 3;
  CHECK(read_log(path, o) == "two\nthree\nfour\n");
  o.tail_lines = 100;
  CHECK(read_log(path, o) == "one\ntwo\nthree\nfour\n");
  o.tail_lines = 0;
  CHECK(read_log(path, o) == "");
}

TEST_CASE("tailLines on a file of many blocks reads only its end") {
  TempDir dir;
  std::string path = dir.path + "/0.log";
  // ~55 bytes a line: 20000 lines cross many 64 KiB blocks.
  append(path, numbered_lines(0, 20000));
  LogOptions o;
  for (int64_t n : {1, 7, 1191, 1192, 1193, 19999}) {
    o.tail_lines = n;
    CHECK(read_log(path, o) == expected_lines(static_cast<int>(20000 - n), 20000));
  }
  // A long partial run across a block boundary is still one line.
  for (int i = 0; i < 3000; ++i) append(path, fmt::format("2026-01-02T03:04:06Z stdout P {:040}\n", i));
  append(path, "2026-01-02T03:04:06Z stdout F end\n");
  o.tail_lines = 2;
  std::string out = read_log(path, o);
  CHECK(out.rfind("line19999\n", 0) == 0);
  CHECK(out.size() == 10 + 3000 * 40 + 4);
}

TEST_CASE("sinceTime and sinceSeconds filter by the lines' times") {
  TempDir dir;
  std::string path = dir.path + "/0.log";
  append(path,
         "2026-01-02T03:04:05Z stdout F old\n"
         "2026-01-02T03:04:06.5Z stdout F newer\n"
         "2026-01-02T03:04:07Z stdout F newest\n");
  LogOptions o;
  o.since_time = "2026-01-02T03:04:06Z";
  CHECK(read_log(path, o) == "newer\nnewest\n");
  o.since_time = "2026-01-02T04:04:07+01:00";
  CHECK(read_log(path, o) == "newest\n");
  o.since_time = "not a time";
  CHECK(!stream_container_log(path, o, [](std::string_view) { return true; }));

  LogOptions recent;
  recent.since_seconds = 3600;
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  append(path, fmt::format("{} stdout F just now\n", stamp));
  CHECK(read_log(path, recent) == "just now\n");
}

TEST_CASE("limitBytes cuts the output") {
  TempDir dir;
  std::string path = dir.path + "/0.log";
  append(path, numbered_lines(0, 10));
  LogOptions o;
  o.limit_bytes = 8;
  CHECK(read_log(path, o) == "line0\nli");
  o.limit_bytes = 12;
  CHECK(read_log(path, o) == "line0\nline1\n");
  o.limit_bytes = 1000;
  CHECK(read_log(path, o) == expected_lines(0, 10));
  o.tail_lines = 2;
  o.limit_bytes = 3;
  CHECK(read_log(path, o) == "lin");
}

TEST_CASE("a missing log file is NotFound") {
  auto st = stream_container_log("/nonexistent/deckhand/0.log", {}, [](std::string_view) { return true; });
  REQUIRE(!st);
  CHECK(st.error().kind == ErrorKind::NotFound);
}

TEST_CASE("follow sees appends and a rotation, and ends when the container stops") {
  TempDir dir;
  std::string path = dir.path + "/0.log";
  append(path, numbered_lines(0, 3));
  std::mutex mu;
  std::string out;
  std::atomic<bool> running{true};
  auto seen = [&] {
    std::lock_guard lock(mu);
    return out;
  };
  // Waits until the streamed text is `want`, with a deadline.
  auto wait_for = [&](const std::string& want) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (seen() != want && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(seen() == want);
  };
  LogOptions o;
  o.follow = true;
  o.tail_lines = 2;
  Status result;
  std::thread follower([&] {
    result = stream_container_log(
        path, o,
        [&](std::string_view chunk) {
          std::lock_guard lock(mu);
          out.append(chunk);
          return true;
        },
        [&] { return running.load(); });
  });
  wait_for(expected_lines(1, 3));
  append(path, numbered_lines(3, 5));
  wait_for(expected_lines(1, 5));
  // A partial line waits for its end.
  append(path, "2026-01-02T03:04:05Z stdout P half ");
  append(path, "and \n");
  append(path, "2026-01-02T03:04:05Z stdout F whole\n");
  wait_for(expected_lines(1, 5) + "half and whole\n");
  // The runtime rotates: the old file is renamed, a new one takes the path.
  append(path, numbered_lines(5, 6));
  REQUIRE(::rename(path.c_str(), (path + ".20260102-030405").c_str()) == 0);
  append(path, numbered_lines(6, 8));
  wait_for(expected_lines(1, 5) + "half and whole\n" + expected_lines(5, 8));
  // Lines written just before the exit are still shown.
  append(path, numbered_lines(8, 9));
  running = false;
  follower.join();
  CHECK(result);
  CHECK(seen() == expected_lines(1, 5) + "half and whole\n" + expected_lines(5, 9));
}

TEST_CASE("follow stops when the sink says so") {
  TempDir dir;
  std::string path = dir.path + "/0.log";
  append(path, numbered_lines(0, 3));
  LogOptions o;
  o.follow = true;
  int calls = 0;
  // still_following never turns false: only the sink can end this.
  auto st = stream_container_log(path, o, [&](std::string_view) { return ++calls < 1; });
  CHECK(st);
  CHECK(calls == 1);
}
