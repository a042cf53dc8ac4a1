#include "deckhand/bridge/bridge.h"

#include <arpa/inet.h>
#include <linux/ip.h>
#include <netinet/if_ether.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <cstring>

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <system_error>
#include <thread>

#include <fmt/format.h>

#include "deckhand/cni/ip_address.h"
#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/rollback.h"
#include "deckhand/common/text.h"
#include "deckhand/netlink/netlink.h"
#include "deckhand/netlink/netns.h"

namespace deckhand::bridge {

using cni::cni_fail;
using cni::CniResult;
using cni::CniStatus;
using cni::IpAddress;
using cni::IpPrefix;
using cni::NetworkResult;
using cni::PluginRequest;
using netlink::Link;
using netlink::NetlinkSocket;
using netlink::NetnsHandle;

namespace {

constexpr int kContainerIfaceIndex = 2;  // interfaces: [bridge, host veth, container]



std::string random_veth_name() {
  uint32_t r = 0;
  if (::getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) r = static_cast<uint32_t>(std::rand());
  return fmt::format("veth{:08x}", r);
}

// The netns of the call: a missing path, or one that is no longer a
// namespace, is an unknown container (code 3): nothing was created, the
// runtime has nothing to clean up. Other failures are I/O failures (code 5).
CniResult<NetnsHandle> open_netns(const std::string& path) {
  auto ns = NetnsHandle::open(path);
  if (!ns) {
    int code = ns.error().kind == ErrorKind::NotFound ? cni::kUnknownContainer : cni::kIoFailure;
    return cni_fail(code, ns.error().message);
  }
  return std::move(*ns);
}

CniResult<NetlinkSocket> socket_in(const NetnsHandle& ns) {
  auto s = NetlinkSocket::open_in(ns);
  if (!s) return cni_fail(cni::kIoFailure, s.error());
  return std::move(*s);
}

CniResult<NetlinkSocket> host_socket() {
  auto s = NetlinkSocket::open();
  if (!s) return cni_fail(cni::kIoFailure, s.error());
  return std::move(*s);
}

CniResult<Link> ensure_bridge(NetlinkSocket& host, const BridgeConfig& cfg) {
  CNI_TRY(found, host.find_link(cfg.bridge));
  if (!found) {
    netlink::BridgeSpec spec{cfg.bridge, cfg.mtu, cfg.vlan != 0, netlink::random_mac()};
    auto st = host.create_bridge(spec);
    // Another plugin may create it at the same time: then use theirs.
    if (!st && st.error().sys_errno != EEXIST) return cni_fail(cni::kIoFailure, st.error());
    CNI_TRY(again, host.find_link(cfg.bridge));
    if (!again) return cni_fail(cni::kIoFailure, fmt::format("bridge {} vanished right after it was created", cfg.bridge));
    found = again;
  }
  Link br = *found;
  if (br.kind != "bridge")
    return cni_fail(cni::kInvalidNetworkConfig,
                    fmt::format("\"{}\" already exists but is not a bridge (it is a {} link)", br.name,
                                br.kind.empty() ? "plain" : br.kind));
  if (cfg.promisc_mode && !(br.flags & IFF_PROMISC)) CNI_CHECK(host.set_promisc(br, true));
  if (cfg.vlan != 0) CNI_CHECK(host.set_vlan_filtering(br, true));
  if (!br.up()) CNI_CHECK(host.set_up(br));
  CNI_TRY(now, host.get_link(cfg.bridge));
  return now;
}

// What the gateway addresses of the bridge and the default routes are, from
// the IPAM result (as the reference plugin computes them).
struct Gateways {
  std::vector<IpPrefix> v4, v6;
};

CniResult<Gateways> compute_gateways(NetworkResult& result, const BridgeConfig& cfg) {
  Gateways gws;
  bool default_found[2] = {false, false};  // v4, v6
  for (auto& ip : result.ips) {
    auto p = IpPrefix::parse(ip.address);
    if (!p) return cni_fail(cni::kDecodingFailure, fmt::format("IPAM result address \"{}\" is not a CIDR", ip.address));
    bool v4 = p->address.is_v4();
    ip.interface = kContainerIfaceIndex;
    if (ip.gateway.empty() && cfg.is_gateway) ip.gateway = p->network().next().str();
    std::string default_dst = v4 ? "0.0.0.0/0" : "::/0";
    if (cfg.is_default_gateway && !default_found[v4 ? 0 : 1]) {
      for (const auto& r : result.routes) {
        auto d = IpPrefix::parse(r.dst);
        if (d && !r.gw.empty() && d->length == 0 && d->address.is_v4() == v4) default_found[v4 ? 0 : 1] = true;
      }
      if (!default_found[v4 ? 0 : 1]) {
        result.routes.push_back({default_dst, ip.gateway});
        default_found[v4 ? 0 : 1] = true;
      }
    }
    if (cfg.is_gateway && !ip.gateway.empty()) {
      auto gw = IpAddress::parse(ip.gateway);
      if (!gw || gw->family() != p->address.family())
        return cni_fail(cni::kDecodingFailure, fmt::format("IPAM result gateway \"{}\" is not an address of the family of {}",
                                                           ip.gateway, ip.address));
      (v4 ? gws.v4 : gws.v6).push_back({*gw, p->length});
    }
  }
  return gws;
}

// Addresses and routes of the result on the container interface, as the
// reference's ConfigureIface does: routes without a gateway go via the
// gateway of their family, when there is one.
CniStatus configure_container(NetlinkSocket& cont, const Link& iface, const NetworkResult& result, bool nodad) {
  std::optional<IpAddress> gw4, gw6;
  for (const auto& ip : result.ips) {
    if (ip.interface && *ip.interface != kContainerIfaceIndex) continue;
    auto p = IpPrefix::parse(ip.address);
    if (!p) return cni_fail(cni::kDecodingFailure, fmt::format("address \"{}\" is not a CIDR", ip.address));
    CNI_CHECK(cont.add_address(iface, *p, nodad));
    if (!ip.gateway.empty()) {
      auto gw = IpAddress::parse(ip.gateway);
      if (gw) (gw->is_v4() ? gw4 : gw6) = *gw;
    }
  }
  if (!iface.up()) CNI_CHECK(cont.set_up(iface));
  for (const auto& r : result.routes) {
    auto dst = IpPrefix::parse(r.dst);
    if (!dst) return cni_fail(cni::kDecodingFailure, fmt::format("route destination \"{}\" is not a CIDR", r.dst));
    netlink::Route route;
    route.dst = dst->canonical();
    route.oif = iface.index;
    if (!r.gw.empty()) {
      auto gw = IpAddress::parse(r.gw);
      if (!gw) return cni_fail(cni::kDecodingFailure, fmt::format("route gateway \"{}\" is not an address", r.gw));
      route.gateway = *gw;
    } else {
      route.gateway = dst->address.is_v4() ? gw4 : gw6;
    }
    CNI_CHECK(cont.add_route(route));
  }
  return {};
}

// Gives the bridge a gateway address, as the reference's ensureAddr: an
// IPv4 bridge holds one address (another one is an error, or replaced with
// forceAddress); IPv6 ones may be several when their subnets do not overlap.
CniStatus ensure_bridge_address(NetlinkSocket& host, const Link& br, const IpPrefix& want, bool force) {
  int family = want.address.family();
  CNI_TRY(addrs, host.list_addresses(br.index, family));
  for (const auto& a : addrs) {
    if (a.prefix.address == want.address && a.prefix.length == want.length) return {};
    bool clash = want.address.is_v4() || a.prefix.contains(want.address) || want.contains(a.prefix.address);
    if (!clash) continue;
    if (!force)
      return cni_fail(cni::kInvalidNetworkConfig,
                      fmt::format("\"{}\" already has an IP address different from {} ({}); set forceAddress to replace it",
                                  br.name, want.str(), a.prefix.str()));
    CNI_CHECK(host.del_address(br, a.prefix));
  }
  auto st = host.add_address(br, want, /*nodad=*/true);
  if (!st && st.error().sys_errno != EEXIST) return cni_fail(cni::kIoFailure, st.error());
  return {};
}

// Announces the container's addresses with a gratuitous ARP, so that
// neighbours drop stale entries for a reused address (best effort, as in the
// reference). The announcement must wait until the bridge forwards the port's
// frames, which it starts shortly after the veth's carrier comes up; then
// setting the interface's MAC to itself makes the kernel send it. (A packet
// socket of our own would cost an RCU grace period, ~10 ms, on close.)
void announce_addresses(NetlinkSocket& cont, const Link& iface, const std::string& host_port) {
  const std::string state_file = "/sys/class/net/" + host_port + "/brport/state";
  constexpr const char* kForwarding = "3";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
  for (;;) {
    auto state = fs::read_file(state_file);
    if (state && state->starts_with(kForwarding)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      cni::plugin_warning("bridge port {} is not forwarding yet (STP?): no gratuitous ARP", host_port);
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (auto st = cont.set_mac(iface, iface.mac); !st)
    cni::plugin_warning("gratuitous ARP on {}: {}", iface.name, st.error().message);
}

}  // namespace

// IPAM ADD on a thread of its own (or at once, if no thread can be made).
std::shared_future<CniResult<NetworkResult>> start_ipam_add(const PluginRequest& req) {
  auto run = [&req] { return cni::ipam_add(req); };
  try {
    return std::async(std::launch::async, run).share();
  } catch (const std::system_error&) {
    std::promise<CniResult<NetworkResult>> done;
    done.set_value(run());
    return done.get_future().share();
  }
}

CniResult<NetworkResult> cmd_add(const PluginRequest& req) {
  CNI_CHECK(cni::check_args(req, {}));
  DH_TRY(cfg, parse_config(req.config, /*for_add=*/true));
  DH_TRY(netns, open_netns(req.netns));
  DH_TRY(host, host_socket());
  DH_TRY(cont, socket_in(netns));

  CNI_TRY(existing, cont.find_link(req.ifname));
  if (existing)
    return cni_fail(cni::kInvalidEnv,
                    fmt::format("CNI_IFNAME {} already exists in netns {}", req.ifname, netns.path()));
  Rollback undo;  // what a failed ADD made
  // The IPAM plugin (an exec, and its lease files) runs while we make the
  // bridge and the veth pair: neither needs the other until the addresses
  // go on the container's interface.
  std::shared_future<CniResult<NetworkResult>> ipam;
  if (!cfg.ipam_type.empty()) {
    ipam = start_ipam_add(req);
    undo.add([&req, ipam]() {
      if (!ipam.get()) return;  // it allocated nothing
      if (auto st = cni::ipam_call(req, "DEL"); !st)
        cni::plugin_warning("undo ADD: release addresses through IPAM plugin: {}", st.error().msg);
    });
  }
  DH_TRY(br, ensure_bridge(host, cfg));
  // The veth pair: the host end under a random name, the peer created in the
  // container's netns under CNI_IFNAME (so that a killed ADD leaves nothing
  // that DEL cannot find by CNI_IFNAME, or that the netns does not take along).
  std::string host_name;
  for (int attempt = 0;; ++attempt) {
    std::string name = random_veth_name();
    CNI_TRY(taken, host.find_link(name));
    if (taken) continue;
    auto st = host.create_veth(name, req.ifname, netns, cfg.mtu);
    if (st) {
      host_name = name;
      break;
    }
    if (st.error().sys_errno != EEXIST || attempt >= 8) return cni_fail(cni::kIoFailure, st.error());
    CNI_TRY(now_there, cont.find_link(req.ifname));
    if (now_there)
      return cni_fail(cni::kInvalidEnv, fmt::format("CNI_IFNAME {} already exists in netns {}", req.ifname, netns.path()));
  }
  undo.add([&host, &cont, host_name, ifname = req.ifname]() {
    auto l = host.find_link(host_name);
    if (l && *l) {
      if (auto st = host.delete_link(**l); !st) cni::plugin_warning("undo ADD: {}", st.error().message);
      return;
    }
    // The host end is gone already; the peer may still be there.
    auto c = cont.find_link(ifname);
    if (c && *c && (*c)->kind == "veth")
      if (auto st = cont.delete_link(**c); !st) cni::plugin_warning("undo ADD: {}", st.error().message);
  });

  CNI_TRY(host_veth, host.get_link(host_name));
  CNI_TRY(cont_veth, cont.get_link(req.ifname));
  CNI_CHECK(host.set_master(host_veth, br));
  if (cfg.hairpin_mode) CNI_CHECK(host.set_hairpin(host_veth, true));
  if (cfg.vlan != 0) CNI_CHECK(host.add_port_vlan(host_veth, cfg.vlan, true, true));
  CNI_CHECK(host.set_up(host_veth));
  // Up before IPAM runs, so that the bridge forwards the port by the time the
  // addresses are announced (see announce_addresses).
  CNI_CHECK(cont.set_up(cont_veth));

  NetworkResult result;
  result.interfaces.push_back({br.name, br.mac, "", static_cast<int>(br.mtu)});
  result.interfaces.push_back({host_veth.name, host_veth.mac, "", static_cast<int>(host_veth.mtu)});
  result.interfaces.push_back({cont_veth.name, cont_veth.mac, req.netns, static_cast<int>(cont_veth.mtu)});
  result.dns = cfg.dns;

  if (!cfg.ipam_type.empty()) {
    const auto& allocated = ipam.get();
    if (!allocated) return tl::unexpected(allocated.error());
    if (allocated->ips.empty()) return cni_fail(cni::kInternal, "IPAM plugin returned missing IP config");
    result.ips = allocated->ips;
    result.routes = allocated->routes;
    if (result.dns.empty()) result.dns = allocated->dns;
    DH_TRY(gws, compute_gateways(result, cfg));
    CNI_TRY(cont_now, cont.get_link(req.ifname));
    // net.ipv4.conf.<ifname>.arp_notify: the kernel then sends a gratuitous
    // ARP whenever the interface's MAC is set (see announce_addresses).
    CNI_CHECK(cont.set_ipv4_conf(cont_now, IPV4_DEVCONF_ARP_NOTIFY, 1));
    DH_CHECK(configure_container(cont, cont_now, result, !cfg.enable_dad));
    if (cfg.is_gateway) {
      for (const auto& gw : gws.v4) DH_CHECK(ensure_bridge_address(host, br, gw, cfg.force_address));
      for (const auto& gw : gws.v6) DH_CHECK(ensure_bridge_address(host, br, gw, cfg.force_address));
      if (!gws.v4.empty()) CNI_CHECK(netlink::write_sysctl("net/ipv4/ip_forward", "1"));
      if (!gws.v6.empty()) CNI_CHECK(netlink::write_sysctl("net/ipv6/conf/all/forwarding", "1"));
      // Pin the bridge's MAC, so that it does not follow the ports as they come and go.
      CNI_TRY(br_now, host.get_link(br.name));
      CNI_CHECK(host.set_mac(br_now, br_now.mac));
    }
  }
  if (!cfg.ipam_type.empty()) announce_addresses(cont, cont_veth, host_name);
  // The bridge's MAC may have changed with its first port.
  CNI_TRY(br_final, host.get_link(br.name));
  result.interfaces[0].mac = br_final.mac;
  undo.dismiss();
  return result;
}

CniStatus cmd_del(const PluginRequest& req) {
  // No refusal of unknown CNI_ARGS here: DEL must always be able to clean up.
  DH_TRY(cfg, parse_config(req.config, /*for_add=*/false));
  std::optional<cni::CniError> first;
  if (!req.netns.empty()) {
    auto ns = NetnsHandle::open(req.netns);
    if (ns) {
      auto st = [&]() -> CniStatus {
        DH_TRY(cont, socket_in(*ns));
        CNI_TRY(link, cont.find_link(req.ifname));
        // Deleting the container end takes the host end (and its bridge port) along.
        if (link) CNI_CHECK(cont.delete_link(*link));
        return {};
      }();
      if (!st) first = st.error();
    } else if (ns.error().kind != ErrorKind::NotFound) {
      first = cni::CniError{cni::kIoFailure, ns.error().message, ""};
    }
    // A netns that is gone took the veth pair along with it.
  }
  if (!cfg.ipam_type.empty()) {
    auto st = cni::ipam_call(req, "DEL");
    if (!st && !first) first = st.error();
  }
  if (first) return tl::unexpected(*first);
  return {};
}

namespace {

tl::unexpected<cni::CniError> check_fail(std::string msg) { return cni_fail(cni::kInternal, std::move(msg)); }

}  // namespace

CniStatus cmd_check(const PluginRequest& req) {
  CNI_CHECK(cni::check_args(req, {}));
  DH_TRY(cfg, parse_config(req.config, /*for_add=*/false));
  if (!cfg.ipam_type.empty()) DH_CHECK(cni::ipam_call(req, "CHECK"));
  if (!req.prev_result) return cni_fail(cni::kInvalidNetworkConfig, "CHECK: required prevResult missing");
  const NetworkResult& prev = *req.prev_result;

  std::optional<size_t> cont_idx, br_idx, host_idx;
  for (size_t i = 0; i < prev.interfaces.size(); ++i) {
    const auto& itf = prev.interfaces[i];
    if (itf.name == req.ifname && itf.sandbox == req.netns) cont_idx = i;
    else if (itf.name == cfg.bridge && itf.sandbox.empty()) br_idx = i;
    else if (itf.sandbox.empty() && !host_idx) host_idx = i;
  }
  if (!cont_idx)
    return check_fail(fmt::format("CHECK: prevResult has no interface {} in sandbox {}", req.ifname, req.netns));

  DH_TRY(netns, open_netns(req.netns));
  DH_TRY(host, host_socket());
  DH_TRY(cont, socket_in(netns));

  CNI_TRY(br, host.find_link(cfg.bridge));
  if (!br) return check_fail(fmt::format("CHECK: bridge {} not found", cfg.bridge));
  if (br->kind != "bridge") return check_fail(fmt::format("CHECK: {} is not a bridge", cfg.bridge));

  CNI_TRY(cont_link, cont.find_link(req.ifname));
  if (!cont_link) return check_fail(fmt::format("CHECK: interface {} not found in netns {}", req.ifname, req.netns));
  if (cont_link->kind != "veth") return check_fail(fmt::format("CHECK: {} in netns {} is not a veth", req.ifname, req.netns));
  const auto& want_mac = prev.interfaces[*cont_idx].mac;
  if (!want_mac.empty() && ascii_lower(want_mac) != ascii_lower(cont_link->mac))
    return check_fail(fmt::format("CHECK: interface {} has MAC {}, prevResult says {}", req.ifname, cont_link->mac, want_mac));

  if (host_idx) {
    const auto& hname = prev.interfaces[*host_idx].name;
    CNI_TRY(hl, host.find_link(hname));
    if (!hl) return check_fail(fmt::format("CHECK: host veth {} not found", hname));
    if (hl->kind != "veth") return check_fail(fmt::format("CHECK: host interface {} is not a veth", hname));
    if (hl->master != br->index) return check_fail(fmt::format("CHECK: host veth {} is not attached to bridge {}", hname, br->name));
    if (cont_link->peer != hl->index)
      return check_fail(fmt::format("CHECK: {} in netns {} is not the peer of host veth {}", req.ifname, req.netns, hname));
  }

  CNI_TRY(addrs, cont.list_addresses(cont_link->index));
  for (const auto& ip : prev.ips) {
    if (ip.interface && *ip.interface != static_cast<int>(*cont_idx)) continue;
    auto p = IpPrefix::parse(ip.address);
    if (!p) return cni_fail(cni::kDecodingFailure, fmt::format("prevResult address \"{}\" is not a CIDR", ip.address));
    bool found = std::any_of(addrs.begin(), addrs.end(), [&](const netlink::Address& a) {
      return a.prefix.address == p->address && a.prefix.length == p->length;
    });
    if (!found) return check_fail(fmt::format("CHECK: address {} not found on {} in netns {}", ip.address, req.ifname, req.netns));
  }

  CNI_TRY(routes, cont.list_routes());
  for (const auto& r : prev.routes) {
    auto dst = IpPrefix::parse(r.dst);
    if (!dst) return cni_fail(cni::kDecodingFailure, fmt::format("prevResult route \"{}\" is not a CIDR", r.dst));
    std::optional<IpAddress> gw;
    if (!r.gw.empty()) {
      auto g = IpAddress::parse(r.gw);
      if (!g) return cni_fail(cni::kDecodingFailure, fmt::format("prevResult route gateway \"{}\" is not an address", r.gw));
      gw = *g;
    }
    bool found = std::any_of(routes.begin(), routes.end(), [&](const netlink::Route& have) {
      return have.dst.canonical() == dst->canonical() && (!gw || (have.gateway && *have.gateway == *gw));
    });
    if (!found)
      return check_fail(fmt::format("CHECK: route {}{} not found in netns {}", r.dst, r.gw.empty() ? "" : " via " + r.gw, req.netns));
  }
  return {};
}

CniStatus cmd_gc(const PluginRequest& req) {
  DH_TRY(cfg, parse_config(req.config, /*for_add=*/false));
  if (cfg.ipam_type.empty()) return {};
  return cni::ipam_call(req, "GC");
}

CniStatus cmd_status(const PluginRequest& req) {
  DH_TRY(cfg, parse_config(req.config, /*for_add=*/false));
  if (cfg.ipam_type.empty()) return {};
  return cni::ipam_call(req, "STATUS");
}

cni::PluginHandlers handlers() {
  cni::PluginHandlers h;
  h.add = cmd_add;
  h.del = cmd_del;
  h.check = cmd_check;
  h.gc = cmd_gc;
  h.status = cmd_status;
  return h;
}

}  // namespace deckhand::bridge
