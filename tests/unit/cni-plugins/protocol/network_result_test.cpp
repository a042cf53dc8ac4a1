#include "deckhand/cni/network_result.h"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "cni_result_format.h"

using namespace deckhand;
using namespace deckhand::cni;

namespace {

NetworkResult sample() {
  NetworkResult r;
  r.interfaces = {{"cni0", "0a:58:0a:01:00:01", ""}, {"eth0", "0a:58:0a:01:00:05", "/run/netns/x"}};
  r.ips = {{"10.1.0.5/24", "10.1.0.1", 1}, {"fd00::5/64", "", 1}};
  r.routes = {{"0.0.0.0/0", "10.1.0.1"}};
  r.dns.nameservers = {"10.96.0.10"};
  return r;
}

}  // namespace

TEST_CASE("a 1.0.0 result has no ip versions and is a valid CNI 1.0.0 result") {
  Json j = sample().to_json("1.0.0");
  CHECK(j["cniVersion"] == "1.0.0");
  CHECK(!j["ips"][0].contains("version"));
  CHECK(j["ips"][0]["interface"] == 1);
  CHECK(j["interfaces"][0].count("sandbox") == 0);
  auto problems = test::cni_100_result_problems(j);
  CHECK_MESSAGE(problems.empty(), fmt::format("{}", fmt::join(problems, "; ")));
}

TEST_CASE("results before 1.0.0 say each address's version; reading them back drops it") {
  Json old = sample().to_json("0.4.0");
  CHECK(old["ips"][0]["version"] == "4");
  CHECK(old["ips"][1]["version"] == "6");
  CHECK(!test::cni_100_result_problems(old).empty());  // the format check can tell them apart
  auto up = convert_result(old, "1.0.0");
  REQUIRE(up);
  CHECK(test::cni_100_result_problems(*up).empty());
  CHECK(*up == sample().to_json("1.0.0"));
  auto down = convert_result(*up, "0.3.1");
  REQUIRE(down);
  CHECK((*down)["cniVersion"] == "0.3.1");
  CHECK((*down)["ips"][1]["version"] == "6");
}

TEST_CASE("interface mtu appears from 1.1.0 only") {
  NetworkResult r = sample();
  r.interfaces[1].mtu = 1400;
  CHECK(!r.to_json("1.0.0")["interfaces"][1].contains("mtu"));
  CHECK(r.to_json("1.1.0")["interfaces"][1]["mtu"] == 1400);
}

TEST_CASE("bad results are decoding failures that name the field") {
  struct Case {
    const char* json;
    const char* says;
  };
  for (auto c : {Case{R"([])", "not a JSON object"},
                 Case{R"({"ips":[{"address":"10.1.0.5"}]})", "ips[0].address"},
                 Case{R"({"ips":[{"gateway":"10.1.0.1"}]})", "ips[0] has no \"address\""},
                 Case{R"({"ips":[{"address":"10.1.0.5/24","interface":3}]})", "ips[0].interface"},
                 Case{R"({"interfaces":[{"mac":"x"}]})", "interfaces[0] has no \"name\""},
                 Case{R"({"routes":[{"dst":"default"}]})", "routes[0].dst"},
                 Case{R"({"dns":{"nameservers":"10.0.0.1"}})", "dns.nameservers"},
                 Case{R"({"ips":{}})", "\"ips\" is not a list"}}) {
    auto r = NetworkResult::from_json(Json::parse(c.json));
    REQUIRE_MESSAGE(!r, c.json);
    CHECK(r.error().code == kDecodingFailure);
    CHECK_MESSAGE(r.error().msg.find(c.says) != std::string::npos, r.error().msg);
  }
}

TEST_CASE("conversion refuses versions we do not speak") {
  auto r = convert_result(sample().to_json("1.0.0"), "0.2.0");
  REQUIRE(!r);
  CHECK(r.error().code == kIncompatibleVersion);
  Json old = {{"cniVersion", "0.2.0"}, {"ip4", {{"ip", "10.1.0.5/24"}}}};
  auto r2 = convert_result(old, "1.0.0");
  REQUIRE(!r2);
  CHECK(r2.error().code == kIncompatibleVersion);
}

TEST_CASE("versions are compared part by part") {
  CHECK(compare_cni_versions("0.3.1", "0.4.0") < 0);
  CHECK(compare_cni_versions("1.1.0", "1.0.0") > 0);
  CHECK(compare_cni_versions("0.10.0", "0.9.0") > 0);
  CHECK(is_supported_cni_version("0.3.0"));
  CHECK(!is_supported_cni_version("0.2.0"));
  CHECK(!is_supported_cni_version("1.0"));
}
