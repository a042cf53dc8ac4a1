// The invoker against the reference plugins (bridge, host-local, loopback)
// and against ours (deckhand-bridge, -host-local, -loopback) in network
// namespaces of our own. Traffic stays local: the bridge has no uplink,
// masquerading is off and the pods get no default route.
#include "deckhand/cni/invoker.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <thread>

#include "deckhand/common/fs.h"
#include "cni_result_format.h"
#include "deckhand/common/process.h"
#include "deckhand/common/text.h"
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

// Which plugins a world's chain uses: type names and where they are.
struct PluginSet {
  std::string bridge = "bridge", ipam = "host-local", loopback = "loopback";
  bool ours = false;
  static PluginSet reference() { return {}; }
  static PluginSet deckhand() { return {"deckhand-bridge", "deckhand-host-local", "deckhand-loopback", true}; }
};

struct World {
  explicit World(PluginSet set = PluginSet::reference()) : plugins(std::move(set)) {
    REQUIRE(fs::make_dirs(conf));
    REQUIRE(fs::make_dirs(bin));
  }
  PluginSet plugins;
  test::TempDir dir{"deckhand-cni-int"};
  std::string bridge = test::unique_name("dhcni");
  BridgeGuard bridge_guard{bridge};
  int subnet = free_subnet();
  std::string net_name = test::unique_name("dhnet", 40);
  std::string conf = dir.sub("net.d"), bin = dir.sub("bin"), data = dir.sub("ipam");
  test::Netns netns{dir.sub("netns")};

  std::string ip_prefix() const { return fmt::format("10.99.{}.", subnet); }
  Json bridge_list(const std::vector<Json>& extra = {}) const {
    Json ipam = {{"type", plugins.ipam},
                 {"ranges", Json::array({Json::array({{{"subnet", fmt::format("10.99.{}.0/24", subnet)}}})})},
                 {"dataDir", data}};
    // isGateway without isDefaultGateway and no IPAM routes: no default route in the pod.
    Json chain = Json::array(
        {{{"type", plugins.bridge}, {"bridge", bridge}, {"isGateway", true}, {"ipMasq", false}, {"ipam", ipam}}});
    for (const auto& e : extra) chain.push_back(e);
    return {{"cniVersion", "1.0.0"}, {"name", net_name}, {"plugins", chain}};
  }
  void write_conf(const Json& list, const std::string& file = "10-test.conflist") const {
    REQUIRE(fs::write_file_atomic(fs::join(conf, file), list.dump()));
  }
  std::vector<std::string> bin_dirs() const {
    std::vector<std::string> dirs = {bin};
    if (plugins.ours)
      for (auto& d : split_nonempty(test::cni_plugin_path(), ':')) dirs.push_back(d);
    dirs.push_back(kRefPlugins);
    return dirs;
  }
  CniInvoker invoker() const { return CniInvoker(InvokerConfig{conf, bin_dirs(), dir.sub("cache"), 30s}); }
  Attachment attachment(const std::string& netns_path = "") const {
    Attachment a;
    a.container_id = test::unique_name("cid", 40);
    a.netns_path = netns_path.empty() ? netns.path() : netns_path;
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

  auto d = CniInvoker(InvokerConfig{w.conf, w.bin_dirs(), w.dir.sub("cache"), 30s}).del(a);
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

namespace {

// What two pods on one network look like from the host and from inside,
// with the names that differ between runs (bridge, subnet, veths) taken out.
struct Topology {
  std::vector<std::string> pod_addresses;  // "x.2/24" with the subnet prefix cut
  std::vector<std::string> pod_routes;     // `ip route` inside each pod, subnet cut
  std::vector<bool> lo_up;
  std::string bridge_address;              // "x.1/24"
  size_t bridge_ports = 0;
  bool operator==(const Topology&) const = default;
};

std::string cut(std::string s, const std::string& prefix) {
  for (size_t at; (at = s.find(prefix)) != std::string::npos;) s.replace(at, prefix.size(), "x.");
  return s;
}

// ADD of two pods through the invoker: they get distinct addresses, reach each
// other and the gateway; the final results are valid CNI 1.0.0 results. DEL
// leaves no veth and no lease, and the bridge stays.
Topology attach_two_pods(World& w) {
  w.write_conf(w.bridge_list({{{"type", w.plugins.loopback}}}));
  auto inv = w.invoker();
  auto v = inv.validate();
  REQUIRE_MESSAGE(v, (v ? "" : v.error().message));
  test::Netns second{w.dir.sub("netns2")};
  std::vector<Attachment> pods = {w.attachment(), w.attachment(second.path())};
  std::vector<std::string> ips;
  Topology t;
  for (auto& a : pods) {
    auto r = inv.add(a);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    auto problems = test::cni_100_result_problems(r->result);
    CHECK_MESSAGE(problems.empty(), fmt::format("{}: {}", r->result.dump(), fmt::join(problems, "; ")));
    REQUIRE(r->ips.size() == 1);
    ips.push_back(r->ips[0]);
    std::string addr = ip_in(a.netns_path, {"-4", "-o", "addr", "show", "eth0"}).out;
    auto at = addr.find("inet ");
    REQUIRE(at != std::string::npos);
    t.pod_addresses.push_back(cut(addr.substr(at + 5, addr.find(' ', at + 5) - at - 5), w.ip_prefix()));
    t.pod_routes.push_back(cut(ip_in(a.netns_path, {"-4", "route", "show"}).out, w.ip_prefix()));
    t.lo_up.push_back(ip_in(a.netns_path, {"link", "show", "lo"}).out.find(",UP") != std::string::npos);
  }
  CHECK(ips[0] != ips[1]);
  std::string gateway = w.ip_prefix() + "1";
  CHECK(test::ping_from(pods[0].netns_path, ips[1]) == "");
  CHECK(test::ping_from(pods[1].netns_path, ips[0]) == "");
  CHECK(test::ping_from(pods[0].netns_path, gateway) == "");
  std::string br = run({"ip", "-4", "-o", "addr", "show", "dev", w.bridge}).out;
  auto at = br.find("inet ");
  if (at != std::string::npos) t.bridge_address = cut(br.substr(at + 5, br.find(' ', at + 5) - at - 5), w.ip_prefix());
  t.bridge_ports = split_nonempty(w.bridge_ports(), '\n').size();
  CHECK(w.leases().size() == 2);

  for (auto& a : pods) {
    auto d = inv.del(a);
    CHECK_MESSAGE(d, (d ? "" : d.error().message));
  }
  CHECK(w.bridge_ports().empty());
  CHECK(w.leases().empty());
  CHECK(fs::exists("/sys/class/net/" + w.bridge));
  return t;
}

}  // namespace

TEST_CASE("our plugins and the reference plugins under our invoker give the same topology") {
  Topology reference, ours;
  {
    World w(PluginSet::reference());
    reference = attach_two_pods(w);
  }
  {
    World w(PluginSet::deckhand());
    ours = attach_two_pods(w);
  }
  CHECK(reference.pod_addresses == std::vector<std::string>{"x.2/24", "x.3/24"});
  CHECK(reference.bridge_address == "x.1/24");
  CHECK(reference.bridge_ports == 2);
  CHECK(reference.lo_up == std::vector<bool>{true, true});
  CHECK(ours.pod_addresses == reference.pod_addresses);
  CHECK(ours.pod_routes == reference.pod_routes);
  CHECK(ours.lo_up == reference.lo_up);
  CHECK(ours.bridge_address == reference.bridge_address);
  CHECK(ours.bridge_ports == reference.bridge_ports);
}
