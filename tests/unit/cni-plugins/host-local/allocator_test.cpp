#include "allocator.h"

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "test_env.h"
#include "test_util.h"

namespace deckhand::cni::host_local {
namespace {

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

RangeSet range_set(const char* json) {
  auto s = parse_range_set(Json::parse(json), "s");
  REQUIRE_MESSAGE(s, (s ? "" : s.error().msg));
  return *s;
}

// A store in a temp dir, created and locked as the commands hold it.
struct Fixture {
  test::TempDir tmp;
  LeaseStore store{tmp.path(), "net"};
  std::optional<StoreLock> lock;
  Fixture() {
    REQUIRE(store.create());
    lock.emplace(store.lock().value());
  }
};

std::string take(IpAllocator& a, const std::string& id, const std::string& ifname = "eth0") {
  auto r = a.allocate({id, ifname});
  REQUIRE_MESSAGE(r, (r ? "" : r.error().msg));
  return r->address.str();
}

}  // namespace

TEST_CASE("addresses are handed out in order, skipping the gateway") {
  Fixture f;
  RangeSet set = range_set(R"([{"subnet":"10.1.0.0/24"}])");
  IpAllocator a(set, 0, f.store);
  auto r = a.allocate({"c1", "eth0"});
  REQUIRE(r);
  CHECK(r->address.str() == "10.1.0.2/24");
  CHECK(r->gateway == ip("10.1.0.1"));
  ResultIp result = r->result_ip();
  CHECK(result.address == "10.1.0.2/24");
  CHECK(result.gateway == "10.1.0.1");
  CHECK_FALSE(result.interface.has_value());
  CHECK(take(a, "c2") == "10.1.0.3/24");
  CHECK(take(a, "c3") == "10.1.0.4/24");
  CHECK(f.store.last_reserved(0) == ip("10.1.0.4"));
  CHECK(fs::read_file(f.tmp.sub("net/10.1.0.3")).value() == "c2\r\neth0");
}

TEST_CASE("a released address is not reused at once; allocation wraps round") {
  Fixture f;
  // 10.1.0.1-10.1.0.6 with .1 the gateway: five addresses.
  RangeSet set = range_set(R"([{"subnet":"10.1.0.0/29"}])");
  IpAllocator a(set, 0, f.store);
  CHECK(take(a, "c1") == "10.1.0.2/29");
  CHECK(take(a, "c2") == "10.1.0.3/29");
  REQUIRE(release_owner(f.store, {"c1", "eth0"}).value() == 1);
  CHECK(take(a, "c3") == "10.1.0.4/29");  // not .2, released just now
  CHECK(take(a, "c4") == "10.1.0.5/29");
  CHECK(take(a, "c5") == "10.1.0.6/29");
  CHECK(take(a, "c6") == "10.1.0.2/29");  // wrapped round to the start

  auto full = a.allocate({"c7", "eth0"});
  REQUIRE_FALSE(full);
  CHECK(full.error().code == kTryAgainLater);
  CHECK(full.error().msg == "no IP addresses available in range set: 10.1.0.1-10.1.0.6");
  CHECK(testing::lease_files(f.store.dir()) ==
        std::vector<std::string>{"10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"});
}

TEST_CASE("the round-robin starts after last_reserved_ip, or at rangeStart when it is outside") {
  Fixture f;
  RangeSet set = range_set(R"([{"subnet":"10.1.0.0/24","rangeStart":"10.1.0.10","rangeEnd":"10.1.0.20"}])");
  IpAllocator a(set, 0, f.store);
  REQUIRE(f.store.set_last_reserved(0, ip("10.1.0.15")));
  CHECK(take(a, "c1") == "10.1.0.16/24");
  REQUIRE(f.store.set_last_reserved(0, ip("10.1.0.20")));
  CHECK(take(a, "c2") == "10.1.0.10/24");
  REQUIRE(f.store.set_last_reserved(0, ip("10.9.9.9")));
  CHECK(take(a, "c3") == "10.1.0.11/24");
  // Each range set has its own record.
  IpAllocator b(set, 1, f.store);
  REQUIRE(release_owner(f.store, {"c2", "eth0"}));
  CHECK(take(b, "c4") == "10.1.0.10/24");
  CHECK(f.store.last_reserved(0) == ip("10.1.0.11"));
  CHECK(f.store.last_reserved(1) == ip("10.1.0.10"));
}

TEST_CASE("a set of several ranges moves on to the next range and wraps to the first") {
  Fixture f;
  RangeSet set = range_set(R"([{"subnet":"10.1.0.0/30"},{"subnet":"10.2.0.0/30"}])");
  IpAllocator a(set, 0, f.store);
  CHECK(take(a, "c1") == "10.1.0.2/30");
  auto second = a.allocate({"c2", "eth0"});
  REQUIRE(second);
  CHECK(second->address.str() == "10.2.0.2/30");
  CHECK(second->gateway == ip("10.2.0.1"));
  auto full = a.allocate({"c3", "eth0"});
  REQUIRE_FALSE(full);
  CHECK(full.error().msg == "no IP addresses available in range set: 10.1.0.1-10.1.0.2,10.2.0.1-10.2.0.2");
  REQUIRE(release_owner(f.store, {"c1", "eth0"}));
  CHECK(take(a, "c3") == "10.1.0.2/30");
}

TEST_CASE("an owner holding an address of the set gets the reference's error") {
  Fixture f;
  RangeSet set = range_set(R"([{"subnet":"10.1.0.0/24"}])");
  IpAllocator a(set, 0, f.store);
  take(a, "c1");
  auto dup = a.allocate({"c1", "eth0"});
  REQUIRE_FALSE(dup);
  CHECK(dup.error().msg == "10.1.0.2 has been allocated to c1, duplicate allocation is not allowed");
  CHECK(take(a, "c1", "eth1") == "10.1.0.3/24");  // another interface of the container is another owner
}

TEST_CASE("a requested address is given when free, refused when taken or the gateway") {
  Fixture f;
  RangeSet set = range_set(R"([{"subnet":"10.1.0.0/24"}])");
  IpAllocator a(set, 0, f.store);
  auto r = a.allocate({"c1", "eth0"}, ip("10.1.0.50"));
  REQUIRE(r);
  CHECK(r->address.str() == "10.1.0.50/24");
  auto taken = a.allocate({"c2", "eth0"}, ip("10.1.0.50"));
  REQUIRE_FALSE(taken);
  CHECK(taken.error().msg == "requested IP address 10.1.0.50 is not available in range set 10.1.0.1-10.1.0.254");
  auto gw = a.allocate({"c2", "eth0"}, ip("10.1.0.1"));
  REQUIRE_FALSE(gw);
  CHECK(gw.error().msg == "requested ip 10.1.0.1 is subnet's gateway");
  CHECK(take(a, "c2") == "10.1.0.51/24");  // the round-robin goes on from the requested one
}

TEST_CASE("IPv6 ranges allocate with the subnet's prefix length") {
  Fixture f;
  RangeSet set = range_set(R"([{"subnet":"fd00:10::/120"}])");
  IpAllocator a(set, 0, f.store);
  auto r = a.allocate({"c1", "eth0"});
  REQUIRE(r);
  CHECK(r->address.str() == "fd00:10::2/120");
  CHECK(r->gateway == ip("fd00:10::1"));
  CHECK(fs::exists(f.tmp.sub("net/fd00:10::2")));
  // The last address of an IPv6 subnet is an ordinary address.
  REQUIRE(f.store.set_last_reserved(0, ip("fd00:10::fe")));
  CHECK(take(a, "c2") == "fd00:10::ff/120");
  CHECK(take(a, "c3") == "fd00:10::3/120");  // wrapped, ::1 the gateway and ::2 taken
}

TEST_CASE("release_owner releases (id, ifname) only, with the old id-only format as fallback") {
  Fixture f;
  RangeSet v4 = range_set(R"([{"subnet":"10.1.0.0/24"}])");
  RangeSet v6 = range_set(R"([{"subnet":"fd00::/120"}])");
  IpAllocator a(v4, 0, f.store), b(v6, 1, f.store);
  take(a, "c1");
  take(b, "c1");
  take(a, "c1", "eth1");
  take(a, "c2");
  CHECK(release_owner(f.store, {"c1", "eth0"}).value() == 2);
  CHECK(testing::lease_files(f.store.dir()) == std::vector<std::string>{"10.1.0.3", "10.1.0.4"});
  CHECK(release_owner(f.store, {"c1", "eth0"}).value() == 0);

  REQUIRE(fs::write_file_atomic(f.tmp.sub("net/10.1.0.99"), "c9"));
  CHECK(release_owner(f.store, {"c9", "eth0"}).value() == 1);
  CHECK_FALSE(fs::exists(f.tmp.sub("net/10.1.0.99")));
}

TEST_CASE("release_all_but keeps the valid attachments' leases only") {
  Fixture f;
  RangeSet set = range_set(R"([{"subnet":"10.1.0.0/24"}])");
  IpAllocator a(set, 0, f.store);
  take(a, "c1");
  take(a, "c2");
  take(a, "c3");
  take(a, "c3", "eth1");
  REQUIRE(fs::write_file_atomic(f.tmp.sub("net/10.1.0.99"), "c2"));  // old format, a valid container
  REQUIRE(fs::write_file_atomic(f.tmp.sub("net/10.1.0.98"), ""));    // what a crash could leave
  auto n = release_all_but(f.store, {{"c2", "eth0"}, {"c3", "eth1"}});
  REQUIRE(n);
  CHECK(*n == 3);
  CHECK(testing::lease_files(f.store.dir()) == std::vector<std::string>{"10.1.0.3", "10.1.0.5", "10.1.0.99"});
}

}  // namespace deckhand::cni::host_local
