#include "ipam_config.h"

#include <doctest/doctest.h>

#include "test_util.h"

namespace deckhand::cni::host_local {
namespace {

// A request as plugin_main builds it; ip_arg is CNI_ARGS IP=.
PluginRequest request(const Json& config, const std::string& ip_arg = "") {
  PluginRequest req;
  req.command = "ADD";
  req.config = config;
  req.network_name = config.value("name", "");
  if (!ip_arg.empty()) req.args["IP"] = ip_arg;
  return req;
}

}  // namespace

TEST_CASE("the ipam config: legacy range first, routes, dataDir default") {
  Json config = testing::net_config("/d", Json::parse(R"({
      "subnet": "10.6.0.0/24",
      "ranges": [[{"subnet": "10.4.0.0/24"}], [{"subnet": "fd00::/120"}]],
      "routes": [{"dst": "0.0.0.0/0"}, {"dst": "10.9.0.5/16", "gw": "10.6.0.1"}],
      "resolvConf": "/etc/x"})"));
  auto cfg = load_ipam_config(request(config));
  REQUIRE_MESSAGE(cfg, (cfg ? "" : cfg.error().msg));
  REQUIRE(cfg->range_sets.size() == 3);
  CHECK(cfg->range_sets[0].str() == "10.6.0.1-10.6.0.254");
  CHECK(cfg->range_sets[1].str() == "10.4.0.1-10.4.0.254");
  CHECK(cfg->range_sets[2].str() == "fd00::1-fd00::ff");
  REQUIRE(cfg->routes.size() == 2);
  CHECK(cfg->routes[0].dst == "0.0.0.0/0");
  CHECK(cfg->routes[0].gw.empty());
  CHECK(cfg->routes[1].dst == "10.9.0.5/16");  // the reference keeps host bits too
  CHECK(cfg->routes[1].gw == "10.6.0.1");
  CHECK(cfg->resolv_conf == "/etc/x");
  CHECK(cfg->data_dir == "/d");
  CHECK(cfg->network == "testnet");

  config["ipam"].erase("dataDir");
  cfg = load_ipam_config(request(config));
  REQUIRE(cfg);
  CHECK(cfg->data_dir == "/var/lib/cni/networks");
}

TEST_CASE("the ipam config: errors") {
  auto error_of = [](Json ipam) {
    auto cfg = load_ipam_config(request(testing::net_config("/d", ipam)));
    REQUIRE_FALSE(cfg);
    return cfg.error();
  };
  auto e = error_of(Json::parse(R"({"ranges":[[{"subnet":"10.2.0.0/24"}],[{"subnet":"10.2.0.0/25"}]]})"));
  CHECK(e.code == kInvalidNetworkConfig);
  CHECK(e.msg == "range set 0 overlaps with 1");
  e = error_of(Json::parse(R"({"ranges":[[{"subnet":"10.2.0.0/24","rangeStart":"10.3.0.1"}]]})"));
  CHECK(e.msg == "invalid range set 0: rangeStart 10.3.0.1 not in network 10.2.0.0/24");
  e = error_of(Json::parse(R"({"ranges":[]})"));
  CHECK(e.msg == "no IP ranges specified");
  e = error_of(Json::parse(R"({"ranges":"x"})"));
  CHECK(e.code == kDecodingFailure);
  e = error_of(Json::parse(R"({"ranges":[[{"subnet":"10.2.0.0/24"}]],"routes":[{"dst":"bad"}]})"));
  CHECK(e.code == kInvalidNetworkConfig);
  CHECK(e.msg.find("bad") != std::string::npos);
  e = error_of(Json::parse(R"({"ranges":[[{"subnet":"10.2.0.0/24"}]],"routes":[{"dst":"10.0.0.0/8","gw":"nope"}]})"));
  CHECK(e.msg.find("nope") != std::string::npos);
  Json bad_dir = testing::net_config("/d", testing::ranges_ipam({"10.2.0.0/24"}));
  bad_dir["ipam"]["dataDir"] = 7;
  auto dir_error = load_ipam_config(request(bad_dir));
  REQUIRE_FALSE(dir_error);
  CHECK(dir_error.error().code == kDecodingFailure);
  CHECK(dir_error.error().msg == "ipam.dataDir is not a string");

  Json no_ipam = testing::net_config("/d", Json::object());
  no_ipam.erase("ipam");
  auto cfg = load_ipam_config(request(no_ipam));
  REQUIRE_FALSE(cfg);
  CHECK(cfg.error().code == kInvalidNetworkConfig);
  auto bad_name = load_ipam_config(request(testing::net_config("/d", testing::ranges_ipam({"10.0.0.0/24"}), "..")));
  REQUIRE_FALSE(bad_name);
  CHECK(bad_name.error().code == kInvalidNetworkConfig);
}

TEST_CASE("requested addresses come from CNI_ARGS, runtimeConfig and args") {
  Json config = testing::net_config("/d", testing::ranges_ipam({"10.2.0.0/24"}));
  config["runtimeConfig"] = Json{{"ips", {"10.2.0.7/24"}}};
  config["args"] = Json{{"cni", {{"ips", {"10.2.0.9"}}}}};
  auto cfg = load_ipam_config(request(config, "10.2.0.5,10.2.0.6"));
  REQUIRE(cfg);
  std::vector<std::string> got;
  for (const auto& a : cfg->requested_ips) got.push_back(a.str());
  CHECK(got == std::vector<std::string>{"10.2.0.5", "10.2.0.6", "10.2.0.7", "10.2.0.9"});

  auto bad = load_ipam_config(request(testing::net_config("/d", testing::ranges_ipam({"10.2.0.0/24"})), "10.2.0.x"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == kInvalidEnv);
}

TEST_CASE("GC's valid attachments are required and checked") {
  auto v = load_valid_attachments(Json::parse(R"({"cni.dev/valid-attachments":[{"containerID":"a","ifname":"eth0"}]})"));
  REQUIRE(v);
  REQUIRE(v->size() == 1);
  CHECK((*v)[0] == LeaseOwner{"a", "eth0"});
  CHECK_FALSE(load_valid_attachments(Json::object()));
  CHECK(load_valid_attachments(Json::parse(R"({"cni.dev/valid-attachments":{}})")).error().code == kDecodingFailure);
  CHECK_FALSE(load_valid_attachments(Json::parse(R"({"cni.dev/valid-attachments":[{"containerID":"a"}]})")));
}

}  // namespace deckhand::cni::host_local
