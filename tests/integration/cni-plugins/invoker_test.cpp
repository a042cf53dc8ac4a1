// The invoker against the reference plugins (bridge, host-local, loopback) in
// a network namespace of our own. Traffic stays local: the bridge has no
// uplink, masquerading is off and the pod gets no default route.
#include "deckhand/cni/invoker.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <thread>

#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"
#include "netns.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::cni;
using namespace std::chrono_literals;

namespace {

constexpr const char* kRefPlugins = "/usr/lib/cni";

RunOutput run(const std::vector<std::string>& argv) {
  RunOptions o;
  o.argv = argv;
  o.timeout = 20s;
  auto r = run_process(o);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  return *r;
}

// `ip` inside the namespace pinned at path.
RunOutput ip_in(const std::string& netns, std::vector<std::string> args) {
  std::vector<std::string> argv = {"nsenter", "--net=" + netns, "ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

// Deletes the bridge the plugin creates on the host (with its gateway address).
struct BridgeGuard {
  std::string name;
  ~BridgeGuard() {
    RunOptions o;
    o.argv = {"ip", "link", "del", name};
    o.timeout = 20s;
    (void)run_process(o);
  }
};

// A /24 in 10.99.0.0/16 that no route on this host uses yet.
int free_subnet() {
  std::string routes = run({"ip", "-4", "route", "show", "table", "all"}).out;
  for (int i = 0; i < 250; ++i) {
    int x = static_cast<int>((::getpid() + i * 7) % 250) + 1;
    if (routes.find(fmt::format("10.99.{}.", x)) == std::string::npos) return x;
  }
  FAIL("no free 10.99.x.0/24 subnet");
  return 0;
}

struct World {
  test::TempDir dir{"deckhand-cni-int"};
  std::string bridge = test::unique_name("dhcni");
  BridgeGuard bridge_guard{bridge};
  int subnet = free_subnet();
  std::string net_name = test::unique_name("dhnet", 40);
  std::string conf = dir.sub("net.d"), bin = dir.sub("bin"), data = dir.sub("ipam");
  test::Netns netns{dir.sub("netns")};

  World() {
    REQUIRE(fs::make_dirs(conf));
    REQUIRE(fs::make_dirs(bin));
  }
  std::string ip_prefix() const { return fmt::format("10.99.{}.", subnet); }
  Json bridge_list(const std::vector<Json>& extra = {}) const {
    Json ipam = {{"type", "host-local"},
                 {"ranges", Json::array({Json::array({{{"subnet", fmt::format("10.99.{}.0/24", subnet)}}})})},
                 {"dataDir", data}};
    // isGateway without isDefaultGateway and no IPAM routes: no default route in the pod.
    Json plugins = Json::array(
        {{{"type", "bridge"}, {"bridge", bridge}, {"isGateway", true}, {"ipMasq", false}, {"ipam", ipam}}});
    for (const auto& e : extra) plugins.push_back(e);
    return {{"cniVersion", "1.0.0"}, {"name", net_name}, {"plugins", plugins}};
  }
  void write_conf(const Json& list, const std::string& file = "10-test.conflist") const {
    REQUIRE(fs::write_file_atomic(fs::join(conf, file), list.dump()));
  }
  CniInvoker invoker() const {
    return CniInvoker(InvokerConfig{conf, {bin, kRefPlugins}, dir.sub("cache"), 30s});
  }
  Attachment attachment() const {
    Attachment a;
    a.container_id = test::unique_name("cid", 40);
    a.netns_path = netns.path();
    a.pod_name = "p";
    a.pod_namespace = "default";
    a.pod_uid = "uid-1";
    return a;
  }
  // Leases host-local holds: files named by address in dataDir/<network>.
  std::vector<std::string> leases() const {
    std::vector<std::string> out;
    auto names = fs::list_dir(fs::join(data, net_name));
    if (names)
      for (const auto& n : *names)
        if (n.starts_with("10.99.")) out.push_back(n);
    return out;
  }
  // Host ends of veths on our bridge.
  std::string bridge_ports() const { return run({"ip", "-o", "link", "show", "master", bridge}).out; }
  bool netns_has_eth0() const { return ip_in(netns.path(), {"link", "show", "eth0"}).exit_code == 0; }
};

}  // namespace

TEST_CASE("bridge + host-local: ADD attaches, DEL detaches and frees the lease") {
  World w;
  w.write_conf(w.bridge_list());
  auto inv = w.invoker();
  REQUIRE_MESSAGE(inv.ready(), "ready");
  auto v = inv.validate();
  CHECK_MESSAGE(v, (v ? "" : v.error().message));
  Attachment a = w.attachment();

  auto r = inv.add(a);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  REQUIRE(r->ips.size() == 1);
  CHECK(r->ips[0].starts_with(w.ip_prefix()));
  std::string addrs = ip_in(w.netns.path(), {"-4", "addr", "show", "eth0"}).out;
  CHECK(addrs.find(r->ips[0] + "/24") != std::string::npos);
  std::string routes = ip_in(w.netns.path(), {"route", "show"}).out;
  CHECK(routes.find("default") == std::string::npos);
  CHECK(w.leases() == std::vector<std::string>{r->ips[0]});
  CHECK(!w.bridge_ports().empty());
  CHECK(fs::exists(fs::join(w.dir.sub("cache"), w.net_name + "-" + a.container_id + "-eth0")));

  auto check = inv.check(a);
  CHECK_MESSAGE(check, (check ? "" : check.error().message));

  auto d = CniInvoker(InvokerConfig{w.conf, {w.bin, kRefPlugins}, w.dir.sub("cache"), 30s}).del(a);
  REQUIRE_MESSAGE(d, (d ? "" : d.error().message));
  CHECK(!w.netns_has_eth0());
  CHECK(w.leases().empty());
  CHECK(w.bridge_ports().empty());
  CHECK(!fs::exists(fs::join(w.dir.sub("cache"), w.net_name + "-" + a.container_id + "-eth0")));
  auto again = inv.del(a);
  CHECK_MESSAGE(again, (again ? "" : again.error().message));
}

TEST_CASE("DEL after the netns is gone frees the lease") {
  World w;
  w.write_conf(w.bridge_list());
  auto inv = w.invoker();
  Attachment a = w.attachment();
  auto r = inv.add(a);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  w.netns.remove();
  auto d = inv.del(a);
  REQUIRE_MESSAGE(d, (d ? "" : d.error().message));
  CHECK(w.leases().empty());
  // The kernel removes the veth pair with the namespace, shortly after.
  for (int i = 0; i < 50 && !w.bridge_ports().empty(); ++i) std::this_thread::sleep_for(100ms);
  CHECK(w.bridge_ports().empty());
}

TEST_CASE("a failing plugin after bridge leaves no veth and no lease") {
  World w;
  REQUIRE(
      fs::write_file_atomic(fs::join(w.bin, "dh-fail"),
                            "#!/bin/sh\ncat >/dev/null\n"
                            "[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
                            "echo '{\"cniVersion\":\"1.0.0\",\"code\":100,\"msg\":\"injected failure\"}'\n"
                            "exit 1\n",
                            0755));
  w.write_conf(w.bridge_list({{{"type", "dh-fail"}}}));
  auto inv = w.invoker();
  Attachment a = w.attachment();
  auto r = inv.add(a);
  REQUIRE(!r);
  CHECK(r.error().message.find("injected failure") != std::string::npos);
  CHECK(r.error().message.find("dh-fail") != std::string::npos);
  CHECK(!w.netns_has_eth0());
  CHECK(w.leases().empty());
  CHECK(w.bridge_ports().empty());
  auto cache = fs::list_dir(w.dir.sub("cache"));
  CHECK((!cache || cache->empty()));
}

TEST_CASE("loopback as its own network brings lo up") {
  World w;
  w.write_conf({{"cniVersion", "1.0.0"}, {"name", w.net_name + "-lo"}, {"type", "loopback"}},
               "99-loopback.conf");
  auto inv = w.invoker();
  Attachment a = w.attachment();
  a.ifname = "lo";
  CHECK(ip_in(w.netns.path(), {"link", "show", "lo"}).out.find(",UP") == std::string::npos);
  auto r = inv.add(a);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  CHECK(ip_in(w.netns.path(), {"link", "show", "lo"}).out.find(",UP") != std::string::npos);
  auto d = inv.del(a);
  CHECK_MESSAGE(d, (d ? "" : d.error().message));
}
