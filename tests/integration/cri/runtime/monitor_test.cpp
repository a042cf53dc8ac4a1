#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"
#include "deckhand/runtime/monitor.h"
#include "test_bundle.h"
#include "test_env.h"

using namespace deckhand;
using namespace std::chrono_literals;

namespace {

struct LogLine {
  std::string stream;
  char tag;
  std::string content;
};

std::vector<LogLine> parse_log(const std::string& text) {
  std::vector<LogLine> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    REQUIRE(end != std::string::npos);
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    size_t s1 = line.find(' '), s2 = line.find(' ', s1 + 1), s3 = line.find(' ', s2 + 1);
    REQUIRE(s3 != std::string::npos);
    CHECK(line.substr(0, s1).size() == 30);  // 2023-11-14T22:13:20.123456789Z
    CHECK(line[s1 - 1] == 'Z');
    lines.push_back({line.substr(s1 + 1, s2 - s1 - 1), line[s2 + 1], line.substr(s3 + 1)});
  }
  return lines;
}

// The stream's text as a CRI reader rebuilds it: P pieces joined up to an F.
std::vector<std::string> stream_lines(const std::vector<LogLine>& log, const std::string& stream, bool& ended_partial) {
  std::vector<std::string> out;
  std::string cur;
  ended_partial = false;
  for (auto& l : log) {
    if (l.stream != stream) continue;
    cur += l.content;
    ended_partial = l.tag == 'P';
    if (l.tag == 'F') out.push_back(std::exchange(cur, {}));
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string log_text(const std::string& path) { return fs::read_file(path).value_or(""); }

// Monitor and container both cleaned at scope exit.
struct Started {
  runtime::MonitorStarted m;
  test::KillOnExit monitor_guard;
};

Started start(test::TestBundle& b) {
  auto r = runtime::start_monitor(b.monitor_spec());
  if (!r) FAIL(r.error().message);
  return {*r, {r->monitor_pid, r->monitor_start_time}};
}

}  // namespace

TEST_CASE("monitor logs stdout and stderr as CRI lines and records exit code 3") {
  std::string script =
      "echo out1; echo err1 >&2; head -c 20000 /dev/zero | tr '\\0' a; echo; echo err2 >&2; printf partial; exit 3";
  test::TestBundle b({"sh", "-c", script});
  auto s = start(b);
  CHECK(s.m.container_pid > 0);
  CHECK(process_matches(s.m.container_pid, s.m.container_start_time));
  auto st = b.runtime().state(b.id());
  REQUIRE(st);
  CHECK(st->status == "created");
  CHECK(st->pid == s.m.container_pid);
  CHECK(*fs::read_file(b.state_dir() + "/monitor.pid") == fmt::format("{}\n", s.m.monitor_pid));

  REQUIRE(b.runtime().start(b.id()));
  auto exit = test::wait_exit(b.state_dir());
  REQUIRE(exit);
  CHECK(exit->exit_code == 3);
  CHECK(!exit->oom_killed);
  CHECK(exit->finished_at > 0);
  CHECK(test::eventually([&] { return !process_matches(s.m.monitor_pid, s.m.monitor_start_time); }));

  auto log = parse_log(log_text(b.log_path()));
  bool out_partial = false, err_partial = false;
  auto out = stream_lines(log, "stdout", out_partial);
  auto err = stream_lines(log, "stderr", err_partial);
  REQUIRE(out.size() == 3);
  CHECK(out[0] == "out1");
  CHECK(out[1] == std::string(20000, 'a'));
  CHECK(out[2] == "partial");
  CHECK(out_partial);  // no newline ever came
  CHECK(err == std::vector<std::string>{"err1", "err2"});
  CHECK(!err_partial);
  // The 20000-byte line exceeded a 16 KiB read: at least one P piece before its F.
  size_t pieces = 0;
  for (auto& l : log)
    if (l.stream == "stdout" && l.tag == 'P') ++pieces;
  CHECK(pieces >= 2);
  for (auto& l : log) CHECK(l.content.size() <= 16 * 1024);
}

TEST_CASE("the monitor outlives its caller, and reopens its log after rotation") {
  test::TestBundle b({"sh", "-c", "i=0; while true; do echo line$i; i=$((i+1)); sleep 0.05; done"});
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t caller = ::fork();
  REQUIRE(caller >= 0);
  if (caller == 0) {
    ::close(fds[0]);
    auto r = runtime::start_monitor(b.monitor_spec());
    runtime::MonitorStarted m = r ? *r : runtime::MonitorStarted{};
    (void)!::write(fds[1], &m, sizeof m);
    ::pause();
    ::_exit(0);
  }
  ::close(fds[1]);
  ChildProcess caller_proc(caller);
  runtime::MonitorStarted m;
  REQUIRE(::read(fds[0], &m, sizeof m) == sizeof m);
  ::close(fds[0]);
  REQUIRE(m.monitor_pid > 0);
  test::KillOnExit guard{m.monitor_pid, m.monitor_start_time};
  ::kill(caller, SIGKILL);
  REQUIRE(caller_proc.wait());

  CHECK(process_matches(m.monitor_pid, m.monitor_start_time));
  REQUIRE(b.runtime().start(b.id()));
  CHECK(test::eventually([&] { return log_text(b.log_path()).find("line5\n") != std::string::npos; }));
  CHECK(process_matches(m.monitor_pid, m.monitor_start_time));

  std::string rotated = b.log_path() + ".1";
  REQUIRE(std::rename(b.log_path().c_str(), rotated.c_str()) == 0);
  REQUIRE(runtime::reopen_log(m.monitor_pid, m.monitor_start_time));
  CHECK(test::eventually([&] { return log_text(b.log_path()).find(" stdout F line") != std::string::npos; }));
  // Nothing is lost across the rotation: the old file ends where the new begins.
  auto old_lines = parse_log(log_text(rotated));
  auto new_lines = parse_log(log_text(b.log_path()));
  REQUIRE(!old_lines.empty());
  REQUIRE(!new_lines.empty());
  CHECK(std::stoi(new_lines.front().content.substr(4)) == std::stoi(old_lines.back().content.substr(4)) + 1);

  REQUIRE(b.runtime().kill(b.id(), SIGKILL));
  auto exit = test::wait_exit(b.state_dir());
  REQUIRE(exit);
  CHECK(exit->exit_code == 137);
}

TEST_CASE("a failing create: the runtime's message, and no monitor, runtime state or cgroup left") {
  test::TestBundle b({"sh", "-c", "exit 0"}, [](Json& c) {
    c["mounts"].push_back({{"destination", "/bogus"}, {"type", "deckhandbogusfs"}, {"source", "none"}});
  });
  auto r = runtime::start_monitor(b.monitor_spec());
  REQUIRE(!r);
  INFO(r.error().message);
  CHECK(r.error().message.find("create") != std::string::npos);
  CHECK(r.error().message.find("/bogus") != std::string::npos);
  CHECK(test::processes_with(b.id()).empty());
  CHECK(!fs::exists(b.state_dir() + "/monitor.pid"));
  CHECK(!fs::exists(b.runtime_root() + "/" + b.id()));
  CHECK(test::cgroup_dirs_left(b.cgroup_path()).empty());
  CHECK(!b.runtime().state(b.id()));
}

TEST_CASE("a monitor without a log path discards output and still records the exit") {
  test::TestBundle b({"sh", "-c", "echo hidden; exit 0"});
  auto spec = b.monitor_spec();
  spec.log_path.clear();
  auto r = runtime::start_monitor(spec);
  REQUIRE(r);
  test::KillOnExit guard{r->monitor_pid, r->monitor_start_time};
  REQUIRE(b.runtime().start(b.id()));
  auto exit = test::wait_exit(b.state_dir());
  REQUIRE(exit);
  CHECK(exit->exit_code == 0);
  CHECK(!fs::exists(b.log_path()));
}

TEST_CASE("a container killed by the OOM killer has oom_killed in its exit record") {
  // The shell grows one variable past the 16 MiB limit of the container's memory cgroup.
  test::TestBundle b({"sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"}, [](Json& c) {
    c["linux"]["resources"] = {{"memory", {{"limit", 16 << 20}}}};
  });
  auto s = start(b);
  REQUIRE(b.runtime().start(b.id()));
  auto exit = test::wait_exit(b.state_dir(), std::chrono::seconds(30));
  REQUIRE(exit);
  CHECK(exit->oom_killed);
  CHECK(exit->exit_code != 0);
  CHECK(log_text(b.log_path()).find("survived") == std::string::npos);
}
