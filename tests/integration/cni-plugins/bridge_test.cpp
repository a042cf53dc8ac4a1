// deckhand-bridge driven as a runtime drives it (CNI_* environment, config on
// stdin), with our IPAM plugin, in network namespaces and on bridges of the
// test's own. Traffic stays local: the bridge has no uplink, nothing is
// masqueraded, and only addresses inside the test's subnet are pinged.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "deckhand/cni/ip_address.h"
#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/common/process.h"
#include "deckhand/netlink/netlink.h"
#include "netns.h"
#include "test_env.h"

extern char** environ;

using namespace deckhand;
using namespace std::chrono_literals;
using cni::IpAddress;
using cni::IpPrefix;
using netlink::Link;
using netlink::NetlinkSocket;
using netlink::NetnsHandle;

namespace {

constexpr const char* kK8sArgs =
    "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=id;K8S_POD_UID=u";

std::string bridge_plugin() { return test::build_path("cni-plugins/bridge/deckhand-bridge"); }

// Our IPAM plugin when it is built, else the reference one (with a note).
struct Ipam {
  std::string type, dir;
};
Ipam ipam_plugin() {
  std::string ours = test::build_path("cni-plugins/host-local/deckhand-host-local");
  if (::access(ours.c_str(), X_OK) == 0) return {"deckhand-host-local", test::build_path("cni-plugins/host-local")};
  MESSAGE("deckhand-host-local is not built: using the reference host-local from /usr/lib/cni");
  return {"host-local", "/usr/lib/cni"};
}

NetlinkSocket host_nl() {
  auto s = NetlinkSocket::open();
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  return std::move(*s);
}

NetlinkSocket nl_in(const std::string& netns_path) {
  auto ns = NetnsHandle::open(netns_path);
  REQUIRE_MESSAGE(ns, (ns ? "" : ns.error().message));
  auto s = NetlinkSocket::open_in(*ns);
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  return std::move(*s);
}

// A /24 in 10.230.0.0/15..10.239.0.0/16 that no address or route of the host uses.
int next_subnet_seed = 0;
std::string free_subnet_prefix() {
  auto nl = host_nl();
  auto routes = nl.list_routes(AF_INET);
  auto addrs = nl.list_addresses(0, AF_INET);
  REQUIRE(routes);
  REQUIRE(addrs);
  for (int i = 0; i < 2500; ++i) {
    int n = static_cast<int>((::getpid() * 13 + (next_subnet_seed++) * 7) % 2500);
    auto net = IpPrefix::parse(fmt::format("10.{}.{}.0/24", 230 + n / 250, n % 250 + 1));
    REQUIRE(net);
    bool used = false;
    for (const auto& r : *routes)
      if (net->contains(r.dst.address) || (r.dst.length > 0 && r.dst.contains(net->address))) used = true;
    for (const auto& a : *addrs)
      if (net->contains(a.prefix.address)) used = true;
    if (!used) return fmt::format("10.{}.{}.", 230 + n / 250, n % 250 + 1);
  }
  FAIL("no free 10.23x.y.0/24 subnet");
  return "";
}

struct Call {
  int rc = -1;
  std::string out, err;
  Json json;
  int code() const { return json.is_object() && json.contains("code") ? json["code"].get<int>() : 0; }
  std::string msg() const { return json.is_object() && json.contains("msg") ? json["msg"].get<std::string>() : ""; }
  std::string dump() const { return fmt::format("rc={} out={} err={}", rc, out, err); }
};

// The environment a runtime gives a plugin: ours without CNI_*, and the call's CNI_*.
std::vector<std::string> plugin_env(const std::string& command, const std::string& cid, const std::string& netns,
                                    const std::string& ifname, const std::string& cni_path) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e)
    if (!std::string_view(*e).starts_with("CNI_")) env.emplace_back(*e);
  env.push_back("CNI_COMMAND=" + command);
  if (!cid.empty()) env.push_back("CNI_CONTAINERID=" + cid);
  if (!netns.empty()) env.push_back("CNI_NETNS=" + netns);
  if (!ifname.empty()) env.push_back("CNI_IFNAME=" + ifname);
  env.push_back(std::string("CNI_ARGS=") + kK8sArgs);
  env.push_back("CNI_PATH=" + cni_path);
  return env;
}

// Removes the bridge at the end of a test.
struct BridgeGuard {
  std::string name;
  ~BridgeGuard() {
    auto nl = NetlinkSocket::open();
    if (!nl) return;
    auto l = nl->find_link(name);
    if (l && *l) (void)nl->delete_link(**l);
  }
};

struct World {
  test::TempDir dir{"deckhand-bridge-int"};
  std::string bridge = test::unique_name("dhbr");
  BridgeGuard guard{bridge};
  std::string prefix = free_subnet_prefix();  // "10.23x.y."
  std::string net_name = test::unique_name("dhbrnet", 40);
  std::string data = dir.sub("ipam"), bin = dir.sub("bin");
  Ipam ipam = ipam_plugin();
  std::string cni_path;

  World() {
    REQUIRE(fs::make_dirs(bin));
    cni_path = fmt::format("{}:{}:{}:{}", test::build_path("cni-plugins/bridge"), ipam.dir,
                           test::build_path("cni-plugins/loopback"), bin);
  }
  std::string subnet() const { return prefix + "0/24"; }
  std::string gateway() const { return prefix + "1"; }

  Json config(Json extra = Json::object(), std::string version = "1.0.0") const {
    Json c = {{"cniVersion", version},
              {"name", net_name},
              {"type", "deckhand-bridge"},
              {"bridge", bridge},
              {"isGateway", true},
              {"ipam",
               {{"type", ipam.type}, {"ranges", Json::array({Json::array({{{"subnet", subnet()}}})})}, {"dataDir", data}}}};
    for (auto& [k, v] : extra.items()) {
      if (v.is_null()) c.erase(k);
      else c[k] = v;
    }
    return c;
  }

  Call call(const std::string& command, const std::string& cid, const std::string& netns, const std::string& stdin_text,
            const std::string& ifname = "eth0") const {
    RunOptions o;
    o.argv = {bridge_plugin()};
    o.env = plugin_env(command, cid, netns, ifname, cni_path);
    o.stdin_data = stdin_text;
    o.timeout = 60s;
    auto r = run_process(o);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    Call c{r->exit_code, r->out, r->err, Json()};
    c.json = Json::parse(r->out, nullptr, false);
    return c;
  }
  Call call(const std::string& command, const std::string& cid, const std::string& netns, const Json& conf,
            const std::string& ifname = "eth0") const {
    return call(command, cid, netns, conf.dump(), ifname);
  }

  // Lease files: named by address in dataDir/<network>.
  std::vector<std::string> leases() const {
    std::vector<std::string> out;
    auto names = fs::list_dir(fs::join(data, net_name));
    if (names)
      for (const auto& n : *names)
        if (IpAddress::parse(n)) out.push_back(n);
    return out;
  }
  // Host links enslaved to our bridge.
  std::vector<Link> ports() const {
    auto nl = host_nl();
    auto br = nl.find_link(bridge);
    REQUIRE(br);
    if (!*br) return {};
    auto links = nl.list_links();
    REQUIRE(links);
    std::vector<Link> out;
    for (const auto& l : *links)
      if (l.master == (*br)->index) out.push_back(l);
    return out;
  }
  bool bridge_exists() const {
    auto l = host_nl().find_link(bridge);
    REQUIRE(l);
    return l->has_value();
  }
};

// Links of a netns other than lo.
std::vector<std::string> netns_links(const std::string& netns_path) {
  auto links = nl_in(netns_path).list_links();
  REQUIRE(links);
  std::vector<std::string> out;
  for (const auto& l : *links)
    if (l.name != "lo") out.push_back(l.name);
  return out;
}

bool host_has_link(const std::string& name) {
  auto l = host_nl().find_link(name);
  REQUIRE(l);
  return l->has_value();
}

std::string ip_of(const Json& result) {
  REQUIRE(result.contains("ips"));
  REQUIRE(result["ips"].size() >= 1);
  auto p = IpPrefix::parse(result["ips"][0]["address"].get<std::string>());
  REQUIRE(p);
  return p->address.str();
}

Json with_prev(Json conf, const Json& prev) {
  conf["prevResult"] = prev;
  return conf;
}

}  // namespace

TEST_CASE("two pods on one bridge reach each other and the gateway; DEL cleans up and keeps the bridge") {
  World w;
  test::Netns a(w.dir.sub("netns-a")), b(w.dir.sub("netns-b"));
  std::string cid_a = test::unique_name("cida", 40), cid_b = test::unique_name("cidb", 40);

  Call ra = w.call("ADD", cid_a, a.path(), w.config());
  REQUIRE_MESSAGE(ra.rc == 0, ra.dump());
  Call rb = w.call("ADD", cid_b, b.path(), w.config());
  REQUIRE_MESSAGE(rb.rc == 0, rb.dump());
  std::string ip_a = ip_of(ra.json), ip_b = ip_of(rb.json);
  CHECK(ip_a != ip_b);
  CHECK(ip_a.starts_with(w.prefix));
  CHECK(ip_b.starts_with(w.prefix));
  CHECK(w.leases().size() == 2);
  CHECK(w.ports().size() == 2);

  // The bridge holds the gateway address.
  auto nl = host_nl();
  auto br = nl.get_link(w.bridge);
  REQUIRE(br);
  auto br_addrs = nl.list_addresses(br->index, AF_INET);
  REQUIRE(br_addrs);
  REQUIRE(br_addrs->size() == 1);
  CHECK((*br_addrs)[0].prefix.str() == w.gateway() + "/24");

  std::string e = test::ping_from(a.path(), ip_b);
  CHECK_MESSAGE(e.empty(), e);
  e = test::ping_from(b.path(), ip_a);
  CHECK_MESSAGE(e.empty(), e);
  e = test::ping_from(a.path(), w.gateway());
  CHECK_MESSAGE(e.empty(), e);
  e = test::ping_from(b.path(), w.gateway());
  CHECK_MESSAGE(e.empty(), e);
  // The helper does not answer for addresses nobody holds.
  CHECK(!test::ping_from(a.path(), w.prefix + "250", 1500ms).empty());

  std::string veth_a = ra.json["interfaces"][1]["name"], veth_b = rb.json["interfaces"][1]["name"];
  Call da = w.call("DEL", cid_a, a.path(), w.config());
  CHECK_MESSAGE(da.rc == 0, da.dump());
  Call db = w.call("DEL", cid_b, b.path(), w.config());
  CHECK_MESSAGE(db.rc == 0, db.dump());
  CHECK(!host_has_link(veth_a));
  CHECK(!host_has_link(veth_b));
  CHECK(w.ports().empty());
  CHECK(w.leases().empty());
  CHECK(netns_links(a.path()).empty());
  CHECK(netns_links(b.path()).empty());
  CHECK(w.bridge_exists());

  // DEL again, and DEL without a netns: still fine.
  Call again = w.call("DEL", cid_a, a.path(), w.config());
  CHECK_MESSAGE(again.rc == 0, again.dump());
  Call no_netns = w.call("DEL", cid_b, "", w.config());
  CHECK_MESSAGE(no_netns.rc == 0, no_netns.dump());
}

TEST_CASE("the ADD result has the reference shape; CHECK passes, and fails once the address is gone") {
  World w;
  test::Netns ns(w.dir.sub("netns"));
  std::string cid = test::unique_name("cid", 40);
  Json conf = w.config({{"isDefaultGateway", true}, {"mtu", 1400}});
  Call r = w.call("ADD", cid, ns.path(), conf);
  REQUIRE_MESSAGE(r.rc == 0, r.dump());
  const Json& res = r.json;
  CHECK(res["cniVersion"] == "1.0.0");

  REQUIRE(res["interfaces"].size() == 3);
  auto nl = host_nl();
  auto br = nl.get_link(w.bridge);
  REQUIRE(br);
  CHECK(res["interfaces"][0]["name"] == w.bridge);
  CHECK(res["interfaces"][0]["mac"] == br->mac);
  CHECK(!res["interfaces"][0].contains("sandbox"));
  CHECK(br->mtu == 1400);

  std::string veth = res["interfaces"][1]["name"];
  CHECK(veth.size() == 12);
  CHECK(veth.starts_with("veth"));
  CHECK(veth.find_first_not_of("0123456789abcdef", 4) == std::string::npos);
  CHECK(!res["interfaces"][1].contains("sandbox"));
  auto host_veth = nl.get_link(veth);
  REQUIRE(host_veth);
  CHECK(res["interfaces"][1]["mac"] == host_veth->mac);
  CHECK(host_veth->master == br->index);
  CHECK(host_veth->up());
  CHECK(host_veth->mtu == 1400);

  CHECK(res["interfaces"][2]["name"] == "eth0");
  CHECK(res["interfaces"][2]["sandbox"] == ns.path());
  auto cont = nl_in(ns.path());
  auto eth0 = cont.get_link("eth0");
  REQUIRE(eth0);
  CHECK(res["interfaces"][2]["mac"] == eth0->mac);
  CHECK(eth0->kind == "veth");
  CHECK(eth0->peer == host_veth->index);
  CHECK(eth0->mtu == 1400);

  REQUIRE(res["ips"].size() == 1);
  const Json& ip = res["ips"][0];
  CHECK(ip["interface"] == 2);
  CHECK(!ip.contains("version"));
  CHECK(ip["gateway"] == w.gateway());
  std::string addr = ip["address"];
  CHECK(addr.starts_with(w.prefix));
  CHECK(addr.ends_with("/24"));
  REQUIRE(res["routes"].size() == 1);
  CHECK(res["routes"][0]["dst"] == "0.0.0.0/0");
  CHECK(res["routes"][0]["gw"] == w.gateway());
  CHECK(res.contains("dns"));

  // What the result says is what the namespace holds.
  auto addrs = cont.list_addresses(eth0->index, AF_INET);
  REQUIRE(addrs);
  REQUIRE(addrs->size() == 1);
  CHECK((*addrs)[0].prefix.str() == addr);
  auto routes = cont.list_routes(AF_INET);
  REQUIRE(routes);
  bool has_default = false;
  for (const auto& rt : *routes)
    if (rt.dst.length == 0 && rt.gateway && rt.gateway->str() == w.gateway()) has_default = true;
  CHECK(has_default);

  Call check = w.call("CHECK", cid, ns.path(), with_prev(conf, res));
  CHECK_MESSAGE(check.rc == 0, check.dump());

  // An older cniVersion gets the older shape ("version" on ips).
  {
    test::Netns old_ns(w.dir.sub("netns-old"));
    std::string old_cid = test::unique_name("cidold", 40);
    Json old_conf = w.config(Json::object(), "0.4.0");
    Call old = w.call("ADD", old_cid, old_ns.path(), old_conf);
    REQUIRE_MESSAGE(old.rc == 0, old.dump());
    CHECK(old.json["cniVersion"] == "0.4.0");
    CHECK(old.json["ips"][0]["version"] == "4");
    Call old_check = w.call("CHECK", old_cid, old_ns.path(), with_prev(old_conf, old.json));
    CHECK_MESSAGE(old_check.rc == 0, old_check.dump());
    Call d = w.call("DEL", old_cid, old_ns.path(), old_conf);
    CHECK_MESSAGE(d.rc == 0, d.dump());
  }

  auto p = IpPrefix::parse(addr);
  REQUIRE(p);
  auto st = cont.del_address(*eth0, *p);
  REQUIRE_MESSAGE(st, (st ? "" : st.error().message));
  Call bad = w.call("CHECK", cid, ns.path(), with_prev(conf, res));
  CHECK(bad.rc != 0);
  CHECK_MESSAGE(bad.msg().find(addr) != std::string::npos, bad.dump());

  // CHECK without a prevResult is refused.
  Call no_prev = w.call("CHECK", cid, ns.path(), conf);
  CHECK(no_prev.rc != 0);

  Call d = w.call("DEL", cid, ns.path(), conf);
  CHECK_MESSAGE(d.rc == 0, d.dump());
  CHECK(!host_has_link(veth));
  CHECK(w.leases().empty());
}

TEST_CASE("bad input fails with the right code and leaves no veth and no lease") {
  World w;
  test::Netns ns(w.dir.sub("netns"));
  std::string cid = test::unique_name("cid", 40);
  auto nothing_left = [&] {
    CHECK(netns_links(ns.path()).empty());
    CHECK(w.ports().empty());
    CHECK(w.leases().empty());
  };

  SUBCASE("netns path that does not exist") {
    std::string missing = w.dir.sub("no-such-netns");
    Call r = w.call("ADD", cid, missing, w.config());
    CHECK(r.rc != 0);
    CHECK_MESSAGE(r.code() == 3, r.dump());
    CHECK_MESSAGE(r.msg().find(missing) != std::string::npos, r.dump());
    // DEL of it succeeds: nothing to do.
    Call d = w.call("DEL", cid, missing, w.config());
    CHECK_MESSAGE(d.rc == 0, d.dump());
  }
  SUBCASE("a file that is not a network namespace") {
    std::string plain = w.dir.sub("plain-file");
    REQUIRE(fs::write_file_atomic(plain, ""));
    Call r = w.call("ADD", cid, plain, w.config());
    CHECK_MESSAGE(r.code() == 3, r.dump());
    CHECK_MESSAGE(r.msg().find("not a network namespace") != std::string::npos, r.dump());
  }
  SUBCASE("IPAM type not in CNI_PATH") {
    Json conf = w.config();
    conf["ipam"]["type"] = "dh-no-such-ipam";
    Call r = w.call("ADD", cid, ns.path(), conf);
    CHECK_MESSAGE(r.code() == 7, r.dump());
    CHECK_MESSAGE(r.msg().find("dh-no-such-ipam") != std::string::npos, r.dump());
  }
  SUBCASE("subnet that does not parse") {
    Json conf = w.config();
    conf["ipam"]["ranges"] = Json::array({Json::array({{{"subnet", "10.300.1.0/24"}}})});
    Call r = w.call("ADD", cid, ns.path(), conf);
    CHECK(r.rc != 0);
    if (w.ipam.type == "deckhand-host-local") CHECK_MESSAGE(r.code() == 7, r.dump());
    CHECK_MESSAGE(r.code() != 0, r.dump());
    CHECK_MESSAGE(r.msg().find("10.300.1.0/24") != std::string::npos, r.dump());
  }
  SUBCASE("invalid JSON") {
    Call r = w.call("ADD", cid, ns.path(), std::string(R"({"cniVersion": "1.0.0", "name": )"));
    CHECK_MESSAGE(r.code() == 6, r.dump());
  }
  SUBCASE("wrong value types and ranges name the key") {
    Call r = w.call("ADD", cid, ns.path(), w.config({{"isGateway", "yes"}}));
    CHECK_MESSAGE(r.code() == 7, r.dump());
    CHECK_MESSAGE(r.msg().find("isGateway") != std::string::npos, r.dump());
    r = w.call("ADD", cid, ns.path(), w.config({{"vlan", 5000}}));
    CHECK_MESSAGE(r.code() == 7, r.dump());
    CHECK_MESSAGE(r.msg().find("vlan") != std::string::npos, r.dump());
    r = w.call("ADD", cid, ns.path(), w.config({{"bridge", "this-name-is-far-too-long"}}));
    CHECK_MESSAGE(r.code() == 7, r.dump());
    r = w.call("ADD", cid, ns.path(), w.config({{"hairpinMode", true}, {"promiscMode", true}}));
    CHECK_MESSAGE(r.code() == 7, r.dump());
  }
  SUBCASE("ipMasq is refused as unsupported") {
    Call r = w.call("ADD", cid, ns.path(), w.config({{"ipMasq", true}}));
    CHECK_MESSAGE(r.code() == 2, r.dump());
    CHECK_MESSAGE(r.msg().find("ipMasq") != std::string::npos, r.dump());
  }
  SUBCASE("unknown CNI_ARGS without IgnoreUnknown") {
    RunOptions o;
    o.argv = {bridge_plugin()};
    o.env = plugin_env("ADD", cid, ns.path(), "eth0", w.cni_path);
    for (auto& kv : *o.env)
      if (kv.starts_with("CNI_ARGS=")) kv = "CNI_ARGS=K8S_POD_NAME=p";
    o.stdin_data = w.config().dump();
    o.timeout = 60s;
    auto r = run_process(o);
    REQUIRE(r);
    CHECK(r->exit_code != 0);
    Json j = Json::parse(r->out, nullptr, false);
    CHECK_MESSAGE((j.is_object() && j["code"] == 4), r->out);
  }
  nothing_left();
}

TEST_CASE("an ADD for an interface name that is taken fails without touching that interface") {
  World w;
  test::Netns ns(w.dir.sub("netns"));
  std::string cid = test::unique_name("cid", 40);
  Call first = w.call("ADD", cid, ns.path(), w.config());
  REQUIRE_MESSAGE(first.rc == 0, first.dump());
  std::string mac = first.json["interfaces"][2]["mac"];

  Call second = w.call("ADD", test::unique_name("cid2", 40), ns.path(), w.config());
  CHECK(second.rc != 0);
  CHECK_MESSAGE(second.msg().find("eth0") != std::string::npos, second.dump());
  auto eth0 = nl_in(ns.path()).get_link("eth0");
  REQUIRE(eth0);
  CHECK(eth0->mac == mac);
  CHECK(w.ports().size() == 1);
  CHECK(w.leases().size() == 1);

  Call d = w.call("DEL", cid, ns.path(), w.config());
  CHECK_MESSAGE(d.rc == 0, d.dump());
  CHECK(w.leases().empty());
}

TEST_CASE("a plugin killed half-way is cleaned up by DEL with the same container id") {
  World w;
  test::Netns ns(w.dir.sub("netns"));
  std::string cid = test::unique_name("cid", 40);
  // An IPAM plugin that takes the lease through the real one, then hangs.
  std::string real = fs::join(w.ipam.dir, w.ipam.type);
  std::string mark = w.dir.sub("ipam-done"), pidfile = w.dir.sub("ipam-pid");
  REQUIRE(fs::write_file_atomic(fs::join(w.bin, "dh-hang-ipam"),
                                fmt::format("#!/bin/sh\n"
                                            "if [ \"$CNI_COMMAND\" = ADD ]; then\n"
                                            "  \"{0}\" > \"{1}.tmp\"\n"
                                            "  echo $$ > \"{2}\"\n"
                                            "  mv \"{1}.tmp\" \"{1}\"\n"
                                            "  exec sleep 300\n"
                                            "fi\n"
                                            "exec \"{0}\"\n",
                                            real, mark, pidfile),
                                0755));
  Json conf = w.config();
  conf["ipam"]["type"] = "dh-hang-ipam";

  auto in = make_pipe();
  REQUIRE(in);
  std::vector<std::string> env = plugin_env("ADD", cid, ns.path(), "eth0", w.cni_path);
  std::string prog = bridge_plugin();
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(in->read.get(), 0);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    char* argv[] = {prog.data(), nullptr};
    ::execve(prog.c_str(), argv, envp.data());
    ::_exit(127);
  }
  ChildProcess bridge_proc(pid);
  in->read.reset();
  REQUIRE(fs::write_all(in->write.get(), conf.dump(), "plugin stdin"));
  in->write.reset();

  // The veth exists and the lease is taken: now kill the plugin.
  REQUIRE_MESSAGE(test::eventually([&] { return fs::exists(mark); }, 30s), "the IPAM plugin never ran");
  CHECK(w.leases().size() == 1);
  auto ports = w.ports();
  REQUIRE(ports.size() == 1);
  std::string veth = ports[0].name;
  REQUIRE(::kill(pid, SIGKILL) == 0);
  auto rc = bridge_proc.wait();
  REQUIRE(rc);
  CHECK(*rc == 128 + SIGKILL);
  auto ipam_pid = fs::read_file(pidfile);
  REQUIRE(ipam_pid);
  ::kill(std::stoi(*ipam_pid), SIGKILL);

  CHECK(host_has_link(veth));
  CHECK(netns_links(ns.path()) == std::vector<std::string>{"eth0"});

  Call d = w.call("DEL", cid, ns.path(), conf);
  CHECK_MESSAGE(d.rc == 0, d.dump());
  CHECK(!host_has_link(veth));
  CHECK(w.ports().empty());
  CHECK(netns_links(ns.path()).empty());
  CHECK(w.leases().empty());
}

TEST_CASE("DEL after the netns is gone still releases the lease") {
  World w;
  test::Netns ns(w.dir.sub("netns"));
  std::string cid = test::unique_name("cid", 40);
  Call r = w.call("ADD", cid, ns.path(), w.config());
  REQUIRE_MESSAGE(r.rc == 0, r.dump());
  std::string veth = r.json["interfaces"][1]["name"];
  ns.remove();
  Call d = w.call("DEL", cid, ns.path(), w.config());
  CHECK_MESSAGE(d.rc == 0, d.dump());
  CHECK(w.leases().empty());
  // The kernel takes the veth pair along with the namespace, shortly after.
  CHECK(test::eventually([&] { return !host_has_link(veth); }));
}

TEST_CASE("dual stack without a gateway: IPv6 addresses usable at once, pods ping over both families") {
  World w;
  // No isGateway: the host gets no address and no forwarding sysctl is touched.
  std::string v6net = fmt::format("fd23:{:x}:{:x}::", ::getpid() & 0xffff, next_subnet_seed++ & 0xffff);
  Json conf = w.config({{"isGateway", nullptr}});
  conf["ipam"]["ranges"].push_back(Json::array({{{"subnet", v6net + "/64"}}}));
  test::Netns a(w.dir.sub("netns-a")), b(w.dir.sub("netns-b"));
  std::string cid_a = test::unique_name("cida", 40), cid_b = test::unique_name("cidb", 40);
  Call ra = w.call("ADD", cid_a, a.path(), conf);
  REQUIRE_MESSAGE(ra.rc == 0, ra.dump());
  Call rb = w.call("ADD", cid_b, b.path(), conf);
  REQUIRE_MESSAGE(rb.rc == 0, rb.dump());
  REQUIRE(ra.json["ips"].size() == 2);
  REQUIRE(rb.json["ips"].size() == 2);
  auto v6_of = [](const Json& res) {
    auto p = IpPrefix::parse(res["ips"][1]["address"].get<std::string>());
    REQUIRE(p);
    return *p;
  };
  IpPrefix a6 = v6_of(ra.json), b6 = v6_of(rb.json);
  CHECK(!a6.address.is_v4());
  CHECK(a6.length == 64);
  // IFA_F_NODAD: not tentative, usable right away.
  auto cont = nl_in(a.path());
  auto addrs = cont.list_addresses(0, AF_INET6);
  REQUIRE(addrs);
  bool found = false;
  for (const auto& ad : *addrs)
    if (ad.prefix.address == a6.address) {
      found = true;
      CHECK((ad.flags & IFA_F_NODAD) != 0);
      CHECK((ad.flags & IFA_F_TENTATIVE) == 0);
    }
  CHECK(found);
  auto br = host_nl().get_link(w.bridge);
  REQUIRE(br);
  auto br_addrs = host_nl().list_addresses(br->index, AF_INET);
  REQUIRE(br_addrs);
  CHECK(br_addrs->empty());

  std::string e = test::ping_from(a.path(), b6.address.str());
  CHECK_MESSAGE(e.empty(), e);
  e = test::ping_from(b.path(), ip_of(ra.json));
  CHECK_MESSAGE(e.empty(), e);

  for (auto& [cid, path] : {std::pair{cid_a, a.path()}, std::pair{cid_b, b.path()}}) {
    Call d = w.call("DEL", cid, path, conf);
    CHECK_MESSAGE(d.rc == 0, d.dump());
  }
  CHECK(w.ports().empty());
  CHECK(w.leases().empty());
}

TEST_CASE("a bridge with another IPv4 address: refused without forceAddress, replaced with it") {
  World w;
  test::Netns ns(w.dir.sub("netns"));
  std::string cid = test::unique_name("cid", 40);
  auto nl = host_nl();
  REQUIRE(nl.create_bridge({w.bridge}));
  auto br = nl.get_link(w.bridge);
  REQUIRE(br);
  auto other = IpPrefix::parse(w.prefix + "200/24");
  REQUIRE(other);
  REQUIRE(nl.add_address(*br, *other));

  Call r = w.call("ADD", cid, ns.path(), w.config());
  CHECK(r.rc != 0);
  CHECK_MESSAGE(r.code() == 7, r.dump());
  CHECK_MESSAGE(r.msg().find("already has an IP address") != std::string::npos, r.dump());
  CHECK(netns_links(ns.path()).empty());
  CHECK(w.ports().empty());
  CHECK(w.leases().empty());

  Json force = w.config({{"forceAddress", true}});
  Call ok = w.call("ADD", cid, ns.path(), force);
  REQUIRE_MESSAGE(ok.rc == 0, ok.dump());
  auto addrs = nl.list_addresses(br->index, AF_INET);
  REQUIRE(addrs);
  REQUIRE(addrs->size() == 1);
  CHECK((*addrs)[0].prefix.str() == w.gateway() + "/24");
  Call d = w.call("DEL", cid, ns.path(), force);
  CHECK_MESSAGE(d.rc == 0, d.dump());
  CHECK(w.leases().empty());
}

TEST_CASE("a link of the bridge's name that is not a bridge is refused") {
  World w;
  test::Netns ns(w.dir.sub("netns")), peer(w.dir.sub("netns-peer"));
  auto peer_ns = NetnsHandle::open(peer.path());
  REQUIRE(peer_ns);
  REQUIRE(host_nl().create_veth(w.bridge, "p0", *peer_ns, 0));
  Call r = w.call("ADD", test::unique_name("cid", 40), ns.path(), w.config());
  CHECK_MESSAGE(r.code() == 7, r.dump());
  CHECK_MESSAGE(r.msg().find("not a bridge") != std::string::npos, r.dump());
  CHECK(netns_links(ns.path()).empty());
  CHECK(w.leases().empty());
}

TEST_CASE("L2 only (no ipam): interfaces but no addresses") {
  World w;
  test::Netns ns(w.dir.sub("netns"));
  std::string cid = test::unique_name("cid", 40);
  Json conf = w.config({{"ipam", nullptr}, {"isGateway", nullptr}, {"hairpinMode", true}});
  Call r = w.call("ADD", cid, ns.path(), conf);
  REQUIRE_MESSAGE(r.rc == 0, r.dump());
  CHECK(r.json["interfaces"].size() == 3);
  CHECK(!r.json.contains("ips"));
  auto eth0 = nl_in(ns.path()).get_link("eth0");
  REQUIRE(eth0);
  CHECK(eth0->up());
  Call d = w.call("DEL", cid, ns.path(), conf);
  CHECK_MESSAGE(d.rc == 0, d.dump());
  CHECK(netns_links(ns.path()).empty());
}

TEST_CASE("GC and STATUS go to the IPAM plugin") {
  World w;
  Json conf = w.config(Json::object(), "1.1.0");
  Call status = w.call("STATUS", "", "", conf, "");
  CHECK_MESSAGE(status.rc == 0, status.dump());
  Json gc = conf;
  gc["cni.dev/valid-attachments"] = Json::array();
  Call g = w.call("GC", "", "", gc, "");
  CHECK_MESSAGE(g.rc == 0, g.dump());
  Json bad = conf;
  bad["ipam"]["type"] = "dh-no-such-ipam";
  Call s2 = w.call("STATUS", "", "", bad, "");
  CHECK(s2.rc != 0);
  CHECK_MESSAGE(s2.msg().find("dh-no-such-ipam") != std::string::npos, s2.dump());
}

namespace {

// Reads ARP frames arriving on the bridge until one announces address (a
// gratuitous ARP: sender and target address both address) or the deadline passes.
bool saw_gratuitous_arp(int sock, const IpAddress& address, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{sock, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    uint8_t frame[128];
    ssize_t n = ::recv(sock, frame, sizeof frame, 0);
    if (n < 28) continue;  // the ARP payload (SOCK_DGRAM: no Ethernet header)
    bool ipv4_over_ethernet = frame[2] == 0x08 && frame[3] == 0x00 && frame[4] == 6 && frame[5] == 4;
    if (ipv4_over_ethernet && std::memcmp(frame + 14, address.bytes(), 4) == 0 &&
        std::memcmp(frame + 24, address.bytes(), 4) == 0)
      return true;
  }
  return false;
}

}  // namespace

TEST_CASE("ADD announces the pod's address with a gratuitous ARP on the bridge") {
  World w;
  test::Netns a(w.dir.sub("netns-a")), b(w.dir.sub("netns-b"));
  Call ra = w.call("ADD", test::unique_name("cida", 40), a.path(), w.config());
  REQUIRE_MESSAGE(ra.rc == 0, ra.dump());  // the bridge exists from here on
  auto br = host_nl().get_link(w.bridge);
  REQUIRE(br);
  UniqueFd sock(::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP)));
  REQUIRE(sock);
  sockaddr_ll at{};
  at.sll_family = AF_PACKET;
  at.sll_protocol = htons(ETH_P_ARP);
  at.sll_ifindex = br->index;
  REQUIRE(::bind(sock.get(), reinterpret_cast<sockaddr*>(&at), sizeof at) == 0);

  Call rb = w.call("ADD", test::unique_name("cidb", 40), b.path(), w.config());
  REQUIRE_MESSAGE(rb.rc == 0, rb.dump());
  auto ip_b = IpAddress::parse(ip_of(rb.json));
  REQUIRE(ip_b);
  CHECK(saw_gratuitous_arp(sock.get(), *ip_b, 5s));
}
