// Whole calls through the plugin's handlers, as plugin_main runs them.
#include "host_local.h"

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"
#include "test_env.h"
#include "test_util.h"

namespace deckhand::cni::host_local {
namespace {

using testing::call;
using testing::lease_files;
using testing::net_config;
using testing::ranges_ipam;

}  // namespace

TEST_CASE("ADD returns addresses, gateways, routes and dns; no interfaces") {
  test::TempDir tmp;
  REQUIRE(fs::write_file_atomic(tmp.sub("resolv.conf"),
                                "# test\nnameserver 10.0.0.53\nsearch a.example b.example\noptions ndots:2\n"
                                "domain example\nnameserver\n"));
  Json ipam = ranges_ipam({"10.1.0.0/24", "fd00:1::/64"});
  ipam["routes"] = Json::parse(R"([{"dst":"0.0.0.0/0"},{"dst":"fd00::/8","gw":"fd00:1::1"}])");
  ipam["resolvConf"] = tmp.sub("resolv.conf");
  auto r = call("ADD", net_config(tmp.path(), ipam, "net1", "1.0.0"));
  REQUIRE_MESSAGE(r.rc == 0, r.out.dump());
  CHECK(r.out == Json::parse(R"({
    "cniVersion": "1.0.0",
    "ips": [{"address": "10.1.0.2/24", "gateway": "10.1.0.1"}, {"address": "fd00:1::2/64", "gateway": "fd00:1::1"}],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "fd00::/8", "gw": "fd00:1::1"}],
    "dns": {"nameservers": ["10.0.0.53"], "domain": "example", "search": ["a.example", "b.example"],
            "options": ["ndots:2"]}})"));
  CHECK(lease_files(tmp.sub("net1")) == std::vector<std::string>{"10.1.0.2", "fd00:1::2"});
  CHECK(fs::read_file(tmp.sub("net1/fd00:1::2")).value() == "c1\r\neth0");
  CHECK(fs::read_file(tmp.sub("net1/last_reserved_ip.1")).value() == "fd00:1::2");

  // 0.4.0 results carry "version" on ips.
  auto old = call("ADD", net_config(tmp.path(), ranges_ipam({"10.1.0.0/24"}), "net0", "0.4.0"));
  REQUIRE(old.rc == 0);
  CHECK(old.out["ips"][0]["version"] == "4");
}

TEST_CASE("a second ADD of the same attachment fails as the reference's does") {
  test::TempDir tmp;
  Json config = net_config(tmp.path(), ranges_ipam({"10.1.0.0/24"}));
  REQUIRE(call("ADD", config).rc == 0);
  auto again = call("ADD", config);
  CHECK(again.rc == 1);
  CHECK(again.out["msg"] ==
        "failed to allocate for range 0: 10.1.0.2 has been allocated to c1, duplicate allocation is not allowed");
  CHECK(lease_files(tmp.sub("testnet")) == std::vector<std::string>{"10.1.0.2"});
  CHECK(call("ADD", config, "c1", "eth1").rc == 0);
}

TEST_CASE("exhaustion is code 11 naming the range set, and ADD is all or none") {
  test::TempDir tmp;
  Json config = net_config(tmp.path(), ranges_ipam({"10.1.0.0/24", "10.2.0.0/30"}));
  REQUIRE(call("ADD", config, "c1").rc == 0);
  auto full = call("ADD", config, "c2");
  CHECK(full.rc == 1);
  CHECK(full.out["code"] == kTryAgainLater);
  CHECK(full.out["msg"] == "failed to allocate for range 1: no IP addresses available in range set: 10.2.0.1-10.2.0.2");
  // c2's address of the first set was given back; no temp file is left.
  CHECK(lease_files(tmp.sub("testnet")) == std::vector<std::string>{"10.1.0.2", "10.2.0.2"});
}

TEST_CASE("DEL releases the attachment's addresses and is idempotent") {
  test::TempDir tmp;
  Json config = net_config(tmp.path(), ranges_ipam({"10.1.0.0/24", "fd00::/120"}));
  REQUIRE(call("ADD", config, "c1").rc == 0);
  REQUIRE(call("ADD", config, "c2").rc == 0);
  auto del = call("DEL", config, "c1");
  CHECK(del.rc == 0);
  CHECK(del.text.empty());  // DEL prints nothing on success
  CHECK(lease_files(tmp.sub("testnet")) == std::vector<std::string>{"10.1.0.3", "fd00::3"});
  CHECK(call("DEL", config, "c1").rc == 0);
  CHECK(call("DEL", config, "c2", "eth9").rc == 0);  // holds nothing
  CHECK(lease_files(tmp.sub("testnet")).size() == 2);

  // A network never used: success, and no directory made for it.
  CHECK(call("DEL", net_config(tmp.path(), ranges_ipam({"10.1.0.0/24"}), "unused")).rc == 0);
  CHECK_FALSE(fs::exists(tmp.sub("unused")));
  CHECK(call("DEL", net_config(tmp.sub("missing/dir"), ranges_ipam({"10.1.0.0/24"}))).rc == 0);
}

TEST_CASE("CHECK wants the attachment to hold prevResult's addresses") {
  test::TempDir tmp;
  Json config = net_config(tmp.path(), ranges_ipam({"10.1.0.0/24"}));
  auto add = call("ADD", config, "c1");
  REQUIRE(add.rc == 0);
  CHECK(call("CHECK", config, "c1").rc == 0);
  Json with_prev = config;
  with_prev["prevResult"] = add.out;
  CHECK(call("CHECK", with_prev, "c1").rc == 0);
  auto other = call("CHECK", config, "c2");
  CHECK(other.rc == 1);
  CHECK(other.out["msg"] == "host-local: Failed to find address added by container c2");
  REQUIRE(call("ADD", config, "c2").rc == 0);
  auto wrong = call("CHECK", with_prev, "c2");  // c2 holds .3, prevResult says .2
  CHECK(wrong.rc == 1);
  CHECK(wrong.out["msg"].get<std::string>().find("10.1.0.2") != std::string::npos);
  CHECK(call("CHECK", net_config(tmp.path(), ranges_ipam({"10.1.0.0/24"}), "other"), "c1").rc == 1);
}

TEST_CASE("GC releases leases of attachments that are not valid any more") {
  test::TempDir tmp;
  Json config = net_config(tmp.path(), ranges_ipam({"10.1.0.0/24"}));
  for (const char* id : {"c1", "c2", "c3"}) REQUIRE(call("ADD", config, id).rc == 0);
  Json gc_config = config;
  gc_config["cni.dev/valid-attachments"] = Json::parse(R"([{"containerID":"c2","ifname":"eth0"},
                                                           {"containerID":"c9","ifname":"eth0"}])");
  auto gc = call("GC", gc_config);
  CHECK_MESSAGE(gc.rc == 0, gc.out.dump());
  CHECK(lease_files(tmp.sub("testnet")) == std::vector<std::string>{"10.1.0.3"});
  auto no_list = call("GC", config);
  CHECK(no_list.rc == 1);
  CHECK(no_list.out["code"] == kInvalidNetworkConfig);
  CHECK(lease_files(tmp.sub("testnet")).size() == 1);
  Json unused = net_config(tmp.path(), ranges_ipam({"10.1.0.0/24"}), "unused");
  unused["cni.dev/valid-attachments"] = Json::array();
  CHECK(call("GC", unused).rc == 0);
}

TEST_CASE("STATUS reports whether the data directory is usable") {
  test::TempDir tmp;
  CHECK(call("STATUS", net_config(tmp.path(), ranges_ipam({"10.1.0.0/24"}))).rc == 0);
  REQUIRE(fs::write_file_atomic(tmp.sub("file"), "x"));
  auto bad = call("STATUS", net_config(tmp.sub("file"), ranges_ipam({"10.1.0.0/24"})));
  CHECK(bad.rc == 1);
  CHECK(bad.out["code"] == kPluginNotAvailable);
  auto bad_config = call("STATUS", net_config(tmp.path(), ranges_ipam({"10.1.0.0/33"})));
  CHECK(bad_config.out["code"] == kInvalidNetworkConfig);
}

TEST_CASE("CNI_ARGS: unknown keys refused unless IgnoreUnknown; IP= honoured") {
  test::TempDir tmp;
  Json config = net_config(tmp.path(), ranges_ipam({"10.1.0.0/24", "fd00::/120"}));
  auto unknown = call("ADD", config, "c1", "eth0", "FOO=bar");
  CHECK(unknown.rc == 1);
  CHECK(unknown.out["code"] == kInvalidEnv);
  CHECK(unknown.out["msg"].get<std::string>().find("FOO") != std::string::npos);
  CHECK(call("DEL", config, "c1", "eth0", "FOO=bar").rc == 1);

  auto r = call("ADD", config, "c1", "eth0", "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.1.0.77,fd00::77");
  REQUIRE_MESSAGE(r.rc == 0, r.out.dump());
  CHECK(r.out["ips"][0]["address"] == "10.1.0.77/24");
  CHECK(r.out["ips"][1]["address"] == "fd00::77/120");

  auto outside = call("ADD", config, "c2", "eth0", "IP=10.9.0.5");
  CHECK(outside.rc == 1);
  CHECK(outside.out["msg"] == "failed to allocate all requested IPs: 10.9.0.5");
  auto taken = call("ADD", config, "c2", "eth0", "IP=10.1.0.77");
  CHECK(taken.rc == 1);
  CHECK(lease_files(tmp.sub("testnet")) == std::vector<std::string>{"10.1.0.77", "fd00::77"});

  Json with_capability = config;
  with_capability["runtimeConfig"] = Json{{"ips", {"10.1.0.88/24"}}};
  auto cap = call("ADD", with_capability, "c3");
  REQUIRE(cap.rc == 0);
  CHECK(cap.out["ips"][0]["address"] == "10.1.0.88/24");
  CHECK(cap.out["ips"][1]["address"] == "fd00::78/120");
}

TEST_CASE("a bad config is code 7 naming the bad value, and reserves nothing") {
  test::TempDir tmp;
  Json ipam = Json::parse(R"({"ranges":[[{"subnet":"10.1.0.0/24","rangeEnd":"10.2.0.9"}]]})");
  auto r = call("ADD", net_config(tmp.path(), ipam));
  CHECK(r.rc == 1);
  CHECK(r.out["code"] == kInvalidNetworkConfig);
  CHECK(r.out["msg"] == "invalid range set 0: rangeEnd 10.2.0.9 not in network 10.1.0.0/24");
  CHECK_FALSE(fs::exists(tmp.sub("testnet")));
  Json missing_resolv = ranges_ipam({"10.1.0.0/24"});
  missing_resolv["resolvConf"] = tmp.sub("nope");
  auto io = call("ADD", net_config(tmp.path(), missing_resolv));
  CHECK(io.out["code"] == kIoFailure);
  CHECK_FALSE(fs::exists(tmp.sub("testnet")));
}

// Both plugins must be able to share a dataDir: the reference continues from
// our leases and last_reserved_ip, and we from its.
TEST_CASE("the reference host-local and ours share a dataDir") {
  const std::string reference = "/usr/lib/cni/host-local";
  if (!fs::exists(reference)) {
    MESSAGE("skipped: " << reference << " is not installed");
    return;
  }
  test::TempDir tmp;
  Json config = net_config(tmp.path(), ranges_ipam({"10.1.0.0/29"}), "shared", "1.0.0");
  auto run_reference = [&](const std::string& command, const std::string& id) {
    RunOptions opts;
    opts.argv = {reference};
    opts.env = std::vector<std::string>{"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + id, "CNI_IFNAME=eth0",
                                        "CNI_NETNS=/proc/self/ns/net", "CNI_PATH=/usr/lib/cni"};
    opts.stdin_data = config.dump();
    opts.timeout = std::chrono::seconds(30);
    auto out = run_process(opts);
    REQUIRE(out);
    return *out;
  };
  auto ref_add = run_reference("ADD", "r1");
  REQUIRE_MESSAGE(ref_add.exit_code == 0, ref_add.out);
  CHECK(Json::parse(ref_add.out)["ips"][0]["address"] == "10.1.0.2/29");
  auto ours = call("ADD", config, "d1");
  REQUIRE(ours.rc == 0);
  CHECK(ours.out["ips"][0]["address"] == "10.1.0.3/29");
  CHECK(call("ADD", config, "r1").rc == 1);  // our duplicate check sees the reference's lease
  auto ref_next = run_reference("ADD", "r2");
  REQUIRE(ref_next.exit_code == 0);
  CHECK(Json::parse(ref_next.out)["ips"][0]["address"] == "10.1.0.4/29");
  REQUIRE(run_reference("DEL", "d1").exit_code == 0);  // the reference releases our lease
  CHECK(call("DEL", config, "r2").rc == 0);            // and we the reference's
  CHECK(lease_files(tmp.sub("shared")) == std::vector<std::string>{"10.1.0.2"});
}

}  // namespace deckhand::cni::host_local
