#include "deckhand/cni/ip_address.h"

#include <doctest/doctest.h>

using namespace deckhand::cni;

TEST_CASE("IpAddress parses, prints and steps both families") {
  auto a = IpAddress::parse("10.1.0.255");
  REQUIRE(a);
  CHECK(a->is_v4());
  CHECK(a->next().str() == "10.1.1.0");
  CHECK(a->offset(-256).str() == "10.0.255.255");
  CHECK(IpAddress::parse("255.255.255.255")->next().str() == "0.0.0.0");  // wraps in the family
  auto b = IpAddress::parse("fd00::ffff");
  REQUIRE(b);
  CHECK(!b->is_v4());
  CHECK(b->next().str() == "fd00::1:0");
  CHECK(b->prev().str() == "fd00::fffe");
  CHECK(*IpAddress::parse("10.1.0.1") < *IpAddress::parse("10.1.0.2"));
  CHECK(!IpAddress::parse("10.1.0"));
  CHECK(!IpAddress::parse("10.1.0.1/24"));
  CHECK(!IpAddress::parse(""));
  CHECK(!IpAddress::parse("fd00:::1"));
}

TEST_CASE("IpPrefix gives network, last address and membership") {
  auto p = IpPrefix::parse("10.231.7.70/26");
  REQUIRE(p);
  CHECK(p->network().str() == "10.231.7.64");
  CHECK(p->last().str() == "10.231.7.127");
  CHECK(p->contains(*IpAddress::parse("10.231.7.127")));
  CHECK(!p->contains(*IpAddress::parse("10.231.7.128")));
  CHECK(!p->contains(*IpAddress::parse("fd00::1")));
  CHECK(p->canonical().str() == "10.231.7.64/26");
  auto v6 = IpPrefix::parse("fd00:1::5/64");
  REQUIRE(v6);
  CHECK(v6->network().str() == "fd00:1::");
  CHECK(v6->last().str() == "fd00:1::ffff:ffff:ffff:ffff");
  CHECK(IpPrefix::parse("0.0.0.0/0")->contains(*IpAddress::parse("8.8.8.8")));
}

TEST_CASE("IpPrefix refuses what does not parse, naming it") {
  for (const char* bad : {"10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "10.0.0/8", "fd00::/129", "/8"}) {
    auto p = IpPrefix::parse(bad);
    CHECK_MESSAGE(!p, bad);
    if (!p) CHECK(p.error().message.find(bad) != std::string::npos);
  }
  auto bare = IpPrefix::parse("10.0.0.1", true);
  REQUIRE(bare);
  CHECK(bare->length == 32);
}
