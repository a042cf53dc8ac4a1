#include "lease_store.h"

#include <sys/file.h>

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "test_env.h"
#include "test_util.h"

namespace deckhand::cni::host_local {
namespace {

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

}  // namespace

TEST_CASE("lease file content is the reference's id CRLF ifname") {
  CHECK(LeaseOwner{"c1", "eth0"}.file_content() == "c1\r\neth0");
  CHECK(LeaseOwner::from_file_content("c1\r\neth0") == LeaseOwner{"c1", "eth0"});
  CHECK(LeaseOwner::from_file_content("  c1\r\neth0\n") == LeaseOwner{"c1", "eth0"});
  // Old versions wrote the container id alone.
  CHECK(LeaseOwner::from_file_content("c1\n") == LeaseOwner{"c1", ""});
}

TEST_CASE("reserve takes an address once and writes the whole file") {
  test::TempDir tmp;
  LeaseStore store(tmp.path(), "net");
  CHECK_FALSE(store.exists());
  REQUIRE(store.create());
  CHECK(store.dir() == tmp.sub("net"));
  auto lock = store.lock();
  REQUIRE(lock);

  auto first = store.reserve(ip("10.1.0.2"), {"c1", "eth0"});
  REQUIRE(first);
  CHECK(*first);
  CHECK(fs::read_file(tmp.sub("net/10.1.0.2")).value() == "c1\r\neth0");
  auto again = store.reserve(ip("10.1.0.2"), {"c2", "eth0"});
  REQUIRE(again);
  CHECK_FALSE(*again);
  CHECK(fs::read_file(tmp.sub("net/10.1.0.2")).value() == "c1\r\neth0");
  REQUIRE(store.reserve(ip("fd00::2"), {"c2", "net1"}).value());
  CHECK(fs::read_file(tmp.sub("net/fd00::2")).value() == "c2\r\nnet1");
  CHECK(testing::lease_files(store.dir()) == std::vector<std::string>{"10.1.0.2", "fd00::2"});

  REQUIRE(store.release(ip("10.1.0.2")));
  REQUIRE(store.release(ip("10.1.0.2")));  // releasing twice is fine
  CHECK(testing::lease_files(store.dir()) == std::vector<std::string>{"fd00::2"});
}

TEST_CASE("leases lists only files named by an address") {
  test::TempDir tmp;
  LeaseStore store(tmp.path(), "net");
  REQUIRE(store.create());
  REQUIRE(store.reserve(ip("10.1.0.3"), {"c1", "eth0"}).value());
  REQUIRE(fs::write_file_atomic(tmp.sub("net/10.1.0.4"), "old-id\n"));
  REQUIRE(store.set_last_reserved(0, ip("10.1.0.3")));
  REQUIRE(fs::write_file_atomic(tmp.sub("net/notes"), "x"));
  REQUIRE(fs::make_dirs(tmp.sub("net/10.1.0.9")));  // a directory is not a lease
  auto lock = store.lock();
  auto leases = store.leases();
  REQUIRE(leases);
  REQUIRE(leases->size() == 2);
  std::sort(leases->begin(), leases->end(), [](const Lease& a, const Lease& b) { return a.ip < b.ip; });
  CHECK((*leases)[0].ip == ip("10.1.0.3"));
  CHECK((*leases)[0].owner == LeaseOwner{"c1", "eth0"});
  CHECK((*leases)[1].owner == LeaseOwner{"old-id", ""});
}

TEST_CASE("last_reserved_ip.<n> is per range set and written without a newline") {
  test::TempDir tmp;
  LeaseStore store(tmp.path(), "net");
  REQUIRE(store.create());
  CHECK_FALSE(store.last_reserved(0).has_value());
  REQUIRE(store.set_last_reserved(0, ip("10.1.0.7")));
  REQUIRE(store.set_last_reserved(1, ip("fd00::7")));
  CHECK(fs::read_file(tmp.sub("net/last_reserved_ip.0")).value() == "10.1.0.7");
  CHECK(store.last_reserved(0) == ip("10.1.0.7"));
  CHECK(store.last_reserved(1) == ip("fd00::7"));
  REQUIRE(fs::write_file_atomic(tmp.sub("net/last_reserved_ip.2"), "garbage"));
  CHECK_FALSE(store.last_reserved(2).has_value());  // round-robin restarts rather than failing
}

TEST_CASE("the lock excludes other holders until dropped") {
  test::TempDir tmp;
  LeaseStore store(tmp.path(), "net");
  REQUIRE(store.create());
  // flock conflicts between open file descriptions, even in one process.
  auto other = fs::open_fd(tmp.sub("net/lock"), O_RDONLY | O_CREAT, 0600);
  {
    auto lock = store.lock();
    REQUIRE(lock);
    REQUIRE(other);
    CHECK(::flock(other->get(), LOCK_EX | LOCK_NB) != 0);
    CHECK(errno == EWOULDBLOCK);
  }
  CHECK(::flock(other->get(), LOCK_EX | LOCK_NB) == 0);
}

TEST_CASE("stale temp files are removed, leases are not") {
  test::TempDir tmp;
  LeaseStore store(tmp.path(), "net");
  REQUIRE(store.create());
  REQUIRE(store.reserve(ip("10.1.0.3"), {"c1", "eth0"}).value());
  REQUIRE(fs::write_file_atomic(tmp.sub("net/.reserve.12345"), "c9\r\neth0"));
  REQUIRE(fs::write_file_atomic(tmp.sub("net/last_reserved_ip.0.tmp.12345.0"), "10.1.0.9"));
  REQUIRE(store.remove_stale_temp_files());
  CHECK(testing::lease_files(store.dir()) == std::vector<std::string>{"10.1.0.3"});
  CHECK_FALSE(fs::exists(tmp.sub("net/last_reserved_ip.0.tmp.12345.0")));
}

}  // namespace deckhand::cni::host_local
