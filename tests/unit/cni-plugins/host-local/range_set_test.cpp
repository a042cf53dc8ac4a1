#include "range_set.h"

#include <doctest/doctest.h>


namespace deckhand::cni::host_local {
namespace {

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

IpRange range(Json j) {
  auto r = parse_range(j, "r");
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().msg));
  return *r;
}

CniError range_error(Json j) {
  auto r = parse_range(j, "ipam.ranges[0][0]");
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

}  // namespace

TEST_CASE("an IPv4 range gets the reference plugin's defaults") {
  IpRange r = range({{"subnet", "10.1.0.0/24"}});
  CHECK(r.subnet.str() == "10.1.0.0/24");
  CHECK(r.start == ip("10.1.0.1"));
  CHECK(r.end == ip("10.1.0.254"));  // the broadcast address is not in the range
  CHECK(r.gateway == ip("10.1.0.1"));
  CHECK(r.str() == "10.1.0.1-10.1.0.254");
}

TEST_CASE("an IPv6 range ends at the subnet's last address") {
  IpRange r = range({{"subnet", "fd00:1::/64"}});
  CHECK(r.start == ip("fd00:1::1"));
  CHECK(r.end == ip("fd00:1::ffff:ffff:ffff:ffff"));
  CHECK(r.gateway == ip("fd00:1::1"));
  CHECK(r.assignable(ip("fd00:1::ffff:ffff:ffff:ffff")));
}

TEST_CASE("explicit rangeStart, rangeEnd and gateway are kept") {
  IpRange r = range({{"subnet", "10.2.0.0/16"}, {"rangeStart", "10.2.1.10"}, {"rangeEnd", "10.2.1.20"},
                     {"gateway", "10.2.0.254"}});
  CHECK(r.str() == "10.2.1.10-10.2.1.20");
  CHECK(r.gateway == ip("10.2.0.254"));
  CHECK(r.contains(ip("10.2.1.10")));
  CHECK(r.contains(ip("10.2.1.20")));
  CHECK_FALSE(r.contains(ip("10.2.1.21")));
  CHECK_FALSE(r.contains(ip("10.2.1.9")));
  CHECK_FALSE(r.contains(ip("fd00::1")));
}

TEST_CASE("the gateway, network and broadcast addresses are never assignable") {
  IpRange r = range({{"subnet", "10.3.0.0/24"}, {"rangeStart", "10.3.0.0"}, {"rangeEnd", "10.3.0.255"}});
  CHECK_FALSE(r.assignable(ip("10.3.0.0")));
  CHECK_FALSE(r.assignable(ip("10.3.0.1")));
  CHECK_FALSE(r.assignable(ip("10.3.0.255")));
  CHECK(r.assignable(ip("10.3.0.2")));
  CHECK(r.assignable(ip("10.3.0.254")));
}

TEST_CASE("bad range values are refused with code 7 naming the value") {
  auto e = range_error({{"subnet", "bogus"}});
  CHECK(e.code == kInvalidNetworkConfig);
  CHECK(e.msg.find("bogus") != std::string::npos);

  e = range_error({{"subnet", "10.2.0.5/24"}});
  CHECK(e.code == kInvalidNetworkConfig);
  CHECK(e.msg.find("host bits") != std::string::npos);
  CHECK(e.msg.find("10.2.0.0") != std::string::npos);

  e = range_error({{"subnet", "10.2.0.0/31"}});
  CHECK(e.msg == "network 10.2.0.0/31 too small to allocate from");

  e = range_error({{"subnet", "10.2.0.0/24"}, {"rangeStart", "10.3.0.1"}});
  CHECK(e.msg == "rangeStart 10.3.0.1 not in network 10.2.0.0/24");
  e = range_error({{"subnet", "10.2.0.0/24"}, {"rangeEnd", "10.3.0.1"}});
  CHECK(e.msg == "rangeEnd 10.3.0.1 not in network 10.2.0.0/24");
  e = range_error({{"subnet", "10.2.0.0/24"}, {"gateway", "10.3.0.1"}});
  CHECK(e.msg == "gateway 10.3.0.1 not in network 10.2.0.0/24");
  e = range_error({{"subnet", "10.2.0.0/24"}, {"gateway", "fd00::1"}});
  CHECK(e.msg.find("gateway fd00::1 not in network") == 0);
  e = range_error({{"subnet", "10.2.0.0/24"}, {"rangeStart", "10.2.0.20"}, {"rangeEnd", "10.2.0.10"}});
  CHECK(e.msg == "rangeStart 10.2.0.20 is after rangeEnd 10.2.0.10");
  e = range_error({{"subnet", "10.2.0.0/24"}, {"rangeStart", "10.2.0.300"}});
  CHECK(e.code == kInvalidNetworkConfig);
  CHECK(e.msg.find("10.2.0.300") != std::string::npos);
  e = range_error({{"rangeStart", "10.2.0.3"}});
  CHECK(e.msg.find("no subnet") != std::string::npos);
}

TEST_CASE("members of the wrong JSON type are decoding failures") {
  auto e = range_error({{"subnet", 5}});
  CHECK(e.code == kDecodingFailure);
  CHECK(e.msg == "ipam.ranges[0][0].subnet is not a string");
  auto r = parse_range(Json::array(), "x");
  REQUIRE_FALSE(r);
  CHECK(r.error().code == kDecodingFailure);
  auto s = parse_range_set(Json{{"subnet", "10.0.0.0/24"}}, "x");
  REQUIRE_FALSE(s);
  CHECK(s.error().code == kDecodingFailure);
}

TEST_CASE("a range set refuses overlaps, mixed families and emptiness") {
  auto s = parse_range_set(Json::parse(R"([{"subnet":"10.2.0.0/24"},{"subnet":"10.2.0.0/25"}])"), "s");
  REQUIRE_FALSE(s);
  CHECK(s.error().msg == "subnets 10.2.0.1-10.2.0.254 and 10.2.0.1-10.2.0.126 overlap");
  s = parse_range_set(Json::parse(R"([{"subnet":"10.2.0.0/24"},{"subnet":"fd00::/64"}])"), "s");
  REQUIRE_FALSE(s);
  CHECK(s.error().msg == "mixed address families");
  s = parse_range_set(Json::array(), "s");
  REQUIRE_FALSE(s);
  CHECK(s.error().msg == "empty range set");
  // Disjoint parts of one subnet are fine.
  s = parse_range_set(Json::parse(R"([{"subnet":"10.2.0.0/24","rangeEnd":"10.2.0.99"},
                                      {"subnet":"10.2.0.0/24","rangeStart":"10.2.0.100"}])"), "s");
  REQUIRE(s);
  CHECK(s->str() == "10.2.0.1-10.2.0.99,10.2.0.100-10.2.0.254");
  CHECK(s->range_for(ip("10.2.0.150")) == &s->ranges[1]);
  CHECK(s->range_for(ip("10.2.1.1")) == nullptr);
}

}  // namespace deckhand::cni::host_local
