#include <sys/wait.h>

#include <doctest/doctest.h>

#include "container_monitor.h"
#include "deckhand/common/fs.h"
#include "exit_record.h"
#include "options.h"
#include "test_env.h"

using namespace deckhand;

TEST_CASE("exit record round trip through read_exit_record") {
  test::TempDir dir;
  auto none = runtime::read_exit_record(dir.path());
  REQUIRE(none);
  CHECK(!none->has_value());
  runtime::ExitRecord r{137, 1700000000123456789, true};
  REQUIRE(fs::write_file_atomic(dir.sub("exit"), monitor::format_exit_record(r)));
  auto back = runtime::read_exit_record(dir.path());
  REQUIRE(back);
  REQUIRE(back->has_value());
  CHECK((*back)->exit_code == 137);
  CHECK((*back)->finished_at == 1700000000123456789);
  CHECK((*back)->oom_killed);
}

TEST_CASE("read_exit_record rejects a record without exit_code") {
  test::TempDir dir;
  REQUIRE(fs::write_file_atomic(dir.sub("exit"), "{\"finished_at\":1}"));
  CHECK(!runtime::read_exit_record(dir.path()));
}

TEST_CASE("exit_code_of: code, or 128+signal") {
  CHECK(monitor::exit_code_of(3 << 8) == 3);
  CHECK(monitor::exit_code_of(SIGKILL) == 137);
  CHECK(monitor::exit_code_of(SIGTERM) == 143);
}

TEST_CASE("parse_oom_kill reads v1 memory.oom_control and v2 memory.events") {
  CHECK(monitor::parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n") == 2);
  CHECK(monitor::parse_oom_kill("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n") == 1);
  CHECK(monitor::parse_oom_kill("oom_kill_disable 0\nunder_oom 0\n") == -1);
}

TEST_CASE("parse_options takes the flags start_monitor writes") {
  const char* argv[] = {"deckhand-monitor", "--id", "c1", "--bundle", "/b", "--runtime", "runc",
                        "--runtime-root", "/r", "--state-dir", "/s", "--sync-fd", "3", "--log-path", "/l"};
  auto o = monitor::parse_options(15, const_cast<char**>(argv));
  REQUIRE(o);
  CHECK(o->id == "c1");
  CHECK(o->bundle == "/b");
  CHECK(o->runtime == "runc");
  CHECK(o->runtime_root == "/r");
  CHECK(o->state_dir == "/s");
  CHECK(o->log_path == "/l");
  CHECK(o->sync_fd == 3);
}

TEST_CASE("parse_options rejects unknown flags, missing values and missing required flags") {
  const char* unknown[] = {"m", "--nope", "x"};
  CHECK(!monitor::parse_options(3, const_cast<char**>(unknown)));
  const char* dangling[] = {"m", "--id"};
  CHECK(!monitor::parse_options(2, const_cast<char**>(dangling)));
  const char* partial[] = {"m", "--id", "c1"};
  auto r = monitor::parse_options(3, const_cast<char**>(partial));
  REQUIRE(!r);
  CHECK(r.error().message.find("--bundle") != std::string::npos);
  const char* bad_fd[] = {"m", "--sync-fd", "x3"};
  CHECK(!monitor::parse_options(3, const_cast<char**>(bad_fd)));
}

TEST_CASE("sync messages") {
  CHECK(monitor::sync_ok(42) == "ok 42\n");
  CHECK(monitor::sync_error("runc said no") == "error runc said no");
}
