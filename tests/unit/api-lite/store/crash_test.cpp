// kill -9 during a write storm: every write the store acknowledged is there
// after reopening, and the database is consistent.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>
#include <thread>

#include "store_test_support.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::store;
using namespace deckhand::store::test_support;

namespace {

std::string value_for(const std::string& key) { return key + ":" + std::string(300, 'v'); }

void report(int fd, const std::string& line) {
  // Lines are shorter than PIPE_BUF, so concurrent writers never interleave.
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(4);
}

// The child: writes from several threads until killed, reporting "key revision"
// for each acknowledged create. Touches nothing of the test framework.
[[noreturn]] void write_until_killed(const std::string& path, int report_fd) {
  auto store = open_sqlite_store(options_at(path));
  if (!store) {
    report(report_fd, "ERR " + store.error().message + "\n");
    ::_exit(2);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0;; ++i) {
        std::string key = fmt::format("/crash/{}/{}", t, i);
        auto rev = (*store)->create(key, value_for(key));
        if (!rev) {
          report(report_fd, "ERR " + rev.error().message + "\n");
          ::_exit(3);
        }
        report(report_fd, fmt::format("{} {}\n", key, *rev));
      }
    });
  }
  for (auto& t : threads) t.join();
  ::_exit(5);
}

// Reads the child's reports until it has acknowledged at least want writes
// (true), or it stopped reporting or the deadline passed (false).
bool read_reports(int fd, std::string& out, size_t want, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (static_cast<size_t>(std::count(out.begin(), out.end(), '\n')) < want) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    out.append(buf, static_cast<size_t>(n));
    if (out.find("ERR") != std::string::npos) return false;
  }
  return true;
}

std::string drain(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

std::string integrity_check(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  std::string result = rc == SQLITE_OK ? "" : sqlite3_errstr(rc);
  sqlite3_stmt* stmt = nullptr;
  if (rc == SQLITE_OK && sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK) {
    while (sqlite3_step(stmt) == SQLITE_ROW)
      result += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  } else if (rc == SQLITE_OK) {
    result = sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

}  // namespace

TEST_CASE("kill -9 during a write storm loses no acknowledged write") {
  test::TempDir dir;
  auto path = dir.sub("db");
  int fds[2];
  REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  // Fork before this process opens any store: the child starts with one thread.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    write_until_killed(path, fds[1]);
  }
  ::close(fds[1]);
  std::string reports;
  bool enough = read_reports(fds[0], reports, 600, std::chrono::seconds(15));
  ::kill(pid, SIGKILL);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  reports += drain(fds[0]);
  ::close(fds[0]);
  INFO(reports.substr(0, 2000));
  REQUIRE(enough);
  CHECK(WIFSIGNALED(status));

  std::map<std::string, Revision> acknowledged;
  std::istringstream lines(reports);
  std::string key;
  Revision rev = 0;
  while (lines >> key >> rev) acknowledged[key] = rev;
  REQUIRE(acknowledged.size() >= 600);

  CHECK(integrity_check(path) == "ok");
  auto store = open_store(path);
  Revision newest = 0;
  int missing = 0;
  for (const auto& [k, r] : acknowledged) {
    auto kv = must(store->get(k));
    if (!kv || kv->value != value_for(k) || kv->mod_revision != r) ++missing;
    newest = std::max(newest, r);
  }
  CHECK(missing == 0);
  CHECK(store->current_revision() >= newest);
  CHECK(must(store->create("/after-crash", "v")) > newest);
}
