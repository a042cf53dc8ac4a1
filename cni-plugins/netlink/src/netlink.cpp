#include "deckhand/netlink/netlink.h"

#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <sys/random.h>

#include <cstring>
#include <functional>

#include <fmt/format.h>

namespace deckhand::netlink {

namespace {

// Owners of libnl objects.
struct MsgFree { void operator()(nl_msg* m) const { nlmsg_free(m); } };
struct CbPut { void operator()(nl_cb* c) const { nl_cb_put(c); } };
struct ObjPut { void operator()(nl_object* o) const { nl_object_put(o); } };
struct AddrPut { void operator()(nl_addr* a) const { nl_addr_put(a); } };
struct RtAddrPut { void operator()(rtnl_addr* a) const { rtnl_addr_put(a); } };
struct RoutePut { void operator()(rtnl_route* r) const { rtnl_route_put(r); } };
using MsgPtr = std::unique_ptr<nl_msg, MsgFree>;
using CbPtr = std::unique_ptr<nl_cb, CbPut>;
using ObjPtr = std::unique_ptr<nl_object, ObjPut>;
using NlAddrPtr = std::unique_ptr<nl_addr, AddrPut>;
using RtAddrPtr = std::unique_ptr<rtnl_addr, RtAddrPut>;
using RoutePtr = std::unique_ptr<rtnl_route, RoutePut>;

tl::unexpected<Error> errno_fail(int e, const std::string& what) {
  errno = e;
  return sys_fail("{}", what);
}

tl::unexpected<Error> nl_fail(int nlerr, const std::string& what) {
  return fail(ErrorKind::Internal, "{}: {}", what, nl_geterror(nlerr));
}

// An RTM_*LINK request with its ifinfomsg.
Result<MsgPtr> link_msg(int type, int flags, int family, int index, unsigned ifi_flags = 0,
                        unsigned ifi_change = 0) {
  MsgPtr m(nlmsg_alloc_simple(type, flags));
  if (!m) return fail(ErrorKind::ResourceExhausted, "allocate netlink message");
  ifinfomsg ifi{};
  ifi.ifi_family = static_cast<unsigned char>(family);
  ifi.ifi_index = index;
  ifi.ifi_flags = ifi_flags;
  ifi.ifi_change = ifi_change;
  if (nlmsg_append(m.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0)
    return fail(ErrorKind::Internal, "build netlink message");
  return m;
}

Status put_ok(int rc) {
  if (rc < 0) return fail(ErrorKind::Internal, "build netlink message: {}", nl_geterror(rc));
  return {};
}

Result<std::vector<unsigned char>> parse_mac(const std::string& mac) {
  std::vector<unsigned char> out;
  unsigned v[6];
  char tail = 0;
  if (std::sscanf(mac.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
    return fail(ErrorKind::InvalidArgument, "not a MAC address: {:?}", mac);
  for (unsigned b : v) out.push_back(static_cast<unsigned char>(b));
  return out;
}

Result<NlAddrPtr> to_nl_addr(const cni::IpAddress& a, int prefix_len) {
  NlAddrPtr p(nl_addr_build(a.family(), a.bytes(), a.size()));
  if (!p) return fail(ErrorKind::ResourceExhausted, "allocate netlink address");
  nl_addr_set_prefixlen(p.get(), prefix_len);
  return p;
}

cni::IpAddress from_nl_addr(nl_addr* a, int family) {
  unsigned char zero[16] = {};
  if (!a || nl_addr_get_len(a) == 0) return cni::IpAddress::from_bytes(family, zero);
  return cni::IpAddress::from_bytes(nl_addr_get_family(a), nl_addr_get_binary_addr(a));
}

Link to_link(rtnl_link* l) {
  Link out;
  out.index = rtnl_link_get_ifindex(l);
  if (const char* n = rtnl_link_get_name(l)) out.name = n;
  if (const char* k = rtnl_link_get_type(l)) out.kind = k;
  if (nl_addr* a = rtnl_link_get_addr(l); a && nl_addr_get_len(a) > 0)
    out.mac = format_mac(static_cast<const unsigned char*>(nl_addr_get_binary_addr(a)), nl_addr_get_len(a));
  out.mtu = rtnl_link_get_mtu(l);
  out.flags = rtnl_link_get_flags(l);
  out.master = rtnl_link_get_master(l);
  out.peer = rtnl_link_get_link(l);
  return out;
}

bool is_missing(const Error& e) { return e.sys_errno == ENODEV || e.sys_errno == ENOENT; }

}  // namespace

struct NetlinkSocket::Objects {
  std::vector<ObjPtr> items;
};

std::string format_mac(const unsigned char* bytes, size_t len) {
  std::string s;
  for (size_t i = 0; i < len; ++i) s += fmt::format("{}{:02x}", i ? ":" : "", bytes[i]);
  return s;
}

std::string random_mac() {
  unsigned char b[6] = {};
  if (::getrandom(b, sizeof b, 0) != static_cast<ssize_t>(sizeof b)) {
    for (auto& x : b) x = static_cast<unsigned char>(std::rand());
  }
  b[0] = static_cast<unsigned char>((b[0] & 0xfe) | 0x02);  // unicast, locally administered
  return format_mac(b, sizeof b);
}

std::string Route::str() const {
  std::string s = dst.str();
  if (gateway) s += " via " + gateway->str();
  if (oif) s += fmt::format(" dev {}", oif);
  return s;
}

Result<NetlinkSocket> NetlinkSocket::open() {
  nl_sock* sk = nl_socket_alloc();
  if (!sk) return fail(ErrorKind::ResourceExhausted, "allocate netlink socket");
  if (int rc = nl_connect(sk, NETLINK_ROUTE); rc < 0) {
    nl_socket_free(sk);
    return nl_fail(rc, "connect rtnetlink socket in host netns");
  }
  return NetlinkSocket(sk, "host netns");
}

Result<NetlinkSocket> NetlinkSocket::open_in(const NetnsHandle& ns) {
  auto sk = [&]() -> Result<NetlinkSocket> {
    DH_TRY(guard, NetnsGuard::enter(ns));
    return open();
  }();
  if (!sk) return tl::unexpected(sk.error());
  sk->where_ = "netns " + ns.path();
  return sk;
}

NetlinkSocket::NetlinkSocket(NetlinkSocket&& o) noexcept
    : sk_(std::exchange(o.sk_, nullptr)), where_(std::move(o.where_)) {}

NetlinkSocket& NetlinkSocket::operator=(NetlinkSocket&& o) noexcept {
  if (this != &o) {
    if (sk_) nl_socket_free(sk_);
    sk_ = std::exchange(o.sk_, nullptr);
    where_ = std::move(o.where_);
  }
  return *this;
}

NetlinkSocket::~NetlinkSocket() {
  if (sk_) nl_socket_free(sk_);
}

std::string NetlinkSocket::describe(const Link& l) const {
  return fmt::format("{} in {}", l.name.empty() ? fmt::format("link #{}", l.index) : l.name, where_);
}

namespace {
struct ExchangeState {
  std::vector<ObjPtr>* objs = nullptr;
  int kernel_error = 0;  // negative errno from NLMSG_ERROR
  bool done = false;
};

void collect_object(nl_object* obj, void* arg) {
  nl_object_get(obj);
  static_cast<std::vector<ObjPtr>*>(arg)->emplace_back(obj);
}

int on_valid(nl_msg* msg, void* arg) {
  auto* st = static_cast<ExchangeState*>(arg);
  if (st->objs) (void)nl_msg_parse(msg, collect_object, st->objs);
  return NL_OK;
}

int on_finish(nl_msg*, void* arg) {
  static_cast<ExchangeState*>(arg)->done = true;
  return NL_STOP;
}

int on_error(sockaddr_nl*, nlmsgerr* e, void* arg) {
  auto* st = static_cast<ExchangeState*>(arg);
  st->kernel_error = e->error;
  st->done = true;
  return NL_STOP;
}
}  // namespace

Status NetlinkSocket::exchange(nl_msg* msg, Objects* objs, const std::string& what) {
  CbPtr cb(nl_cb_alloc(NL_CB_DEFAULT));
  if (!cb) return fail(ErrorKind::ResourceExhausted, "{}: allocate netlink callbacks", what);
  ExchangeState st;
  st.objs = objs ? &objs->items : nullptr;
  nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_valid, &st);
  nl_cb_set(cb.get(), NL_CB_FINISH, NL_CB_CUSTOM, on_finish, &st);
  nl_cb_set(cb.get(), NL_CB_ACK, NL_CB_CUSTOM, on_finish, &st);
  nl_cb_err(cb.get(), NL_CB_CUSTOM, on_error, &st);
  if (int rc = nl_send_auto(sk_, msg); rc < 0) return nl_fail(rc, what);
  while (!st.done) {
    int rc = nl_recvmsgs(sk_, cb.get());
    if (st.kernel_error) return errno_fail(-st.kernel_error, what);
    if (rc == -NLE_DUMP_INTR)
      return fail(ErrorKind::Unavailable, "{}: the dump was interrupted by concurrent changes", what);
    if (rc < 0) return nl_fail(rc, what);
  }
  return {};
}

Status NetlinkSocket::dump(const std::function<Result<nl_msg*>()>& build, Objects& objs, const std::string& what) {
  // A dump that links or addresses changed under is repeated (a few times).
  for (int attempt = 0;; ++attempt) {
    objs.items.clear();
    auto raw = build();
    if (!raw) return tl::unexpected(raw.error());
    MsgPtr m(*raw);
    auto st = exchange(m.get(), &objs, what);
    if (st || st.error().kind != ErrorKind::Unavailable || attempt >= 9) return st;
  }
}

Result<std::optional<Link>> NetlinkSocket::find_link(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return fail(ErrorKind::InvalidArgument, "invalid interface name {:?}", name);
  DH_TRY(m, link_msg(RTM_GETLINK, 0, AF_UNSPEC, 0));
  DH_CHECK(put_ok(nla_put_string(m.get(), IFLA_IFNAME, name.c_str())));
  DH_CHECK(put_ok(nla_put_u32(m.get(), IFLA_EXT_MASK, RTEXT_FILTER_VF)));
  return link_answer(m.get(), fmt::format("get link {} in {}", name, where_));
}

Result<std::optional<Link>> NetlinkSocket::find_link(int index) {
  DH_TRY(m, link_msg(RTM_GETLINK, 0, AF_UNSPEC, index));
  return link_answer(m.get(), fmt::format("get link #{} in {}", index, where_));
}

Result<std::optional<Link>> NetlinkSocket::link_answer(nl_msg* request, const std::string& what) {
  Objects objs;
  auto st = exchange(request, &objs, what);
  if (!st) {
    if (is_missing(st.error())) return std::optional<Link>{};
    return tl::unexpected(st.error());
  }
  for (auto& o : objs.items)
    if (std::strcmp(nl_object_get_type(o.get()), "route/link") == 0)
      return std::optional<Link>(to_link(reinterpret_cast<rtnl_link*>(o.get())));
  return std::optional<Link>{};
}

Result<Link> NetlinkSocket::get_link(const std::string& name) {
  DH_TRY(l, find_link(name));
  if (!l) return fail(ErrorKind::NotFound, "link {} not found in {}", name, where_);
  return *l;
}

Result<std::vector<Link>> NetlinkSocket::list_links() {
  Objects objs;
  DH_CHECK(dump([]() -> Result<nl_msg*> {
                  DH_TRY(m, link_msg(RTM_GETLINK, NLM_F_DUMP, AF_UNSPEC, 0));
                  return m.release();
                }, objs,
                fmt::format("list links in {}", where_)));
  std::vector<Link> out;
  for (auto& o : objs.items)
    if (std::strcmp(nl_object_get_type(o.get()), "route/link") == 0)
      out.push_back(to_link(reinterpret_cast<rtnl_link*>(o.get())));
  return out;
}

Status NetlinkSocket::create_bridge(const BridgeSpec& spec) {
  std::string what = fmt::format("create bridge {} in {}", spec.name, where_);
  DH_TRY(m, link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC, 0));
  nl_msg* msg = m.get();
  DH_CHECK(put_ok(nla_put_string(msg, IFLA_IFNAME, spec.name.c_str())));
  if (spec.mtu > 0) DH_CHECK(put_ok(nla_put_u32(msg, IFLA_MTU, static_cast<uint32_t>(spec.mtu))));
  if (!spec.mac.empty()) {
    DH_TRY(mac, parse_mac(spec.mac));
    DH_CHECK(put_ok(nla_put(msg, IFLA_ADDRESS, static_cast<int>(mac.size()), mac.data())));
  }
  nlattr* info = nla_nest_start(msg, IFLA_LINKINFO);
  if (!info) return fail(ErrorKind::Internal, "{}: message too long", what);
  DH_CHECK(put_ok(nla_put_string(msg, IFLA_INFO_KIND, "bridge")));
  if (spec.vlan_filtering) {
    nlattr* data = nla_nest_start(msg, IFLA_INFO_DATA);
    if (!data) return fail(ErrorKind::Internal, "{}: message too long", what);
    DH_CHECK(put_ok(nla_put_u8(msg, IFLA_BR_VLAN_FILTERING, 1)));
    nla_nest_end(msg, data);
  }
  nla_nest_end(msg, info);
  return simple(msg, what);
}

Status NetlinkSocket::create_veth(const std::string& name, const std::string& peer_name,
                                  const NetnsHandle& peer_ns, int mtu) {
  std::string what =
      fmt::format("create veth {} in {} (peer {} in netns {})", name, where_, peer_name, peer_ns.path());
  DH_TRY(m, link_msg(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC, 0));
  nl_msg* msg = m.get();
  DH_CHECK(put_ok(nla_put_string(msg, IFLA_IFNAME, name.c_str())));
  if (mtu > 0) DH_CHECK(put_ok(nla_put_u32(msg, IFLA_MTU, static_cast<uint32_t>(mtu))));
  nlattr* info = nla_nest_start(msg, IFLA_LINKINFO);
  if (!info) return fail(ErrorKind::Internal, "{}: message too long", what);
  DH_CHECK(put_ok(nla_put_string(msg, IFLA_INFO_KIND, "veth")));
  nlattr* data = nla_nest_start(msg, IFLA_INFO_DATA);
  nlattr* peer = data ? nla_nest_start(msg, VETH_INFO_PEER) : nullptr;
  void* hdr = peer ? nlmsg_reserve(msg, sizeof(ifinfomsg), NLMSG_ALIGNTO) : nullptr;
  if (!hdr) return fail(ErrorKind::Internal, "{}: message too long", what);
  std::memset(hdr, 0, sizeof(ifinfomsg));
  DH_CHECK(put_ok(nla_put_string(msg, IFLA_IFNAME, peer_name.c_str())));
  if (mtu > 0) DH_CHECK(put_ok(nla_put_u32(msg, IFLA_MTU, static_cast<uint32_t>(mtu))));
  DH_CHECK(put_ok(nla_put_u32(msg, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_ns.fd()))));
  nla_nest_end(msg, peer);
  nla_nest_end(msg, data);
  nla_nest_end(msg, info);
  return simple(msg, what);
}

Status NetlinkSocket::delete_link(const Link& link) {
  DH_TRY(m, link_msg(RTM_DELLINK, 0, AF_UNSPEC, link.index));
  return simple(m.get(), fmt::format("delete link {}", describe(link)));
}

Status NetlinkSocket::set_up(const Link& link, bool up) {
  DH_TRY(m, link_msg(RTM_SETLINK, 0, AF_UNSPEC, link.index, up ? IFF_UP : 0, IFF_UP));
  return simple(m.get(), fmt::format("set {} {}", describe(link), up ? "up" : "down"));
}

Status NetlinkSocket::set_master(const Link& port, const Link& master) {
  DH_TRY(m, link_msg(RTM_SETLINK, 0, AF_UNSPEC, port.index));
  DH_CHECK(put_ok(nla_put_u32(m.get(), IFLA_MASTER, static_cast<uint32_t>(master.index))));
  return simple(m.get(), fmt::format("attach {} to {}", describe(port), master.name));
}

Status NetlinkSocket::set_mtu(const Link& link, int mtu) {
  DH_TRY(m, link_msg(RTM_SETLINK, 0, AF_UNSPEC, link.index));
  DH_CHECK(put_ok(nla_put_u32(m.get(), IFLA_MTU, static_cast<uint32_t>(mtu))));
  return simple(m.get(), fmt::format("set mtu {} on {}", mtu, describe(link)));
}

Status NetlinkSocket::set_promisc(const Link& link, bool on) {
  DH_TRY(m, link_msg(RTM_SETLINK, 0, AF_UNSPEC, link.index, on ? IFF_PROMISC : 0, IFF_PROMISC));
  return simple(m.get(), fmt::format("set promisc {} on {}", on ? "on" : "off", describe(link)));
}

Status NetlinkSocket::set_mac(const Link& link, const std::string& mac) {
  DH_TRY(bytes, parse_mac(mac));
  DH_TRY(m, link_msg(RTM_SETLINK, 0, AF_UNSPEC, link.index));
  DH_CHECK(put_ok(nla_put(m.get(), IFLA_ADDRESS, static_cast<int>(bytes.size()), bytes.data())));
  return simple(m.get(), fmt::format("set mac {} on {}", mac, describe(link)));
}

Status NetlinkSocket::set_ipv4_conf(const Link& link, int devconf_id, uint32_t value) {
  // IFLA_AF_SPEC { AF_INET { IFLA_INET_CONF { <id>: u32 } } }
  DH_TRY(m, link_msg(RTM_SETLINK, 0, AF_UNSPEC, link.index));
  nlattr* spec = nla_nest_start(m.get(), IFLA_AF_SPEC);
  nlattr* inet = spec ? nla_nest_start(m.get(), AF_INET) : nullptr;
  nlattr* conf = inet ? nla_nest_start(m.get(), IFLA_INET_CONF) : nullptr;
  if (!conf) return fail(ErrorKind::Internal, "build netlink message");
  DH_CHECK(put_ok(nla_put_u32(m.get(), devconf_id, value)));
  nla_nest_end(m.get(), conf);
  nla_nest_end(m.get(), inet);
  nla_nest_end(m.get(), spec);
  return simple(m.get(), fmt::format("set IPv4 setting {} to {} on {}", devconf_id, value, describe(link)));
}

Status NetlinkSocket::set_hairpin(const Link& port, bool on) {
  // AF_BRIDGE setlink on a port: IFLA_PROTINFO (nested) / IFLA_BRPORT_MODE.
  DH_TRY(m, link_msg(RTM_SETLINK, 0, AF_BRIDGE, port.index));
  nlattr* prot = nla_nest_start(m.get(), IFLA_PROTINFO | NLA_F_NESTED);
  if (!prot) return fail(ErrorKind::Internal, "build netlink message");
  DH_CHECK(put_ok(nla_put_u8(m.get(), IFLA_BRPORT_MODE, on ? 1 : 0)));
  nla_nest_end(m.get(), prot);
  return simple(m.get(), fmt::format("set hairpin mode {} on bridge port {}", on ? "on" : "off", describe(port)));
}

Status NetlinkSocket::add_port_vlan(const Link& port, int vid, bool pvid, bool untagged) {
  DH_TRY(m, link_msg(RTM_SETLINK, 0, AF_BRIDGE, port.index));
  nlattr* spec = nla_nest_start(m.get(), IFLA_AF_SPEC);
  if (!spec) return fail(ErrorKind::Internal, "build netlink message");
  bridge_vlan_info vi{};
  vi.vid = static_cast<uint16_t>(vid);
  if (pvid) vi.flags |= BRIDGE_VLAN_INFO_PVID;
  if (untagged) vi.flags |= BRIDGE_VLAN_INFO_UNTAGGED;
  DH_CHECK(put_ok(nla_put(m.get(), IFLA_BRIDGE_VLAN_INFO, sizeof vi, &vi)));
  nla_nest_end(m.get(), spec);
  return simple(m.get(), fmt::format("add vlan {} to bridge port {}", vid, describe(port)));
}

Status NetlinkSocket::set_vlan_filtering(const Link& bridge, bool on) {
  DH_TRY(m, link_msg(RTM_NEWLINK, 0, AF_UNSPEC, bridge.index));
  nlattr* info = nla_nest_start(m.get(), IFLA_LINKINFO);
  if (!info) return fail(ErrorKind::Internal, "build netlink message");
  DH_CHECK(put_ok(nla_put_string(m.get(), IFLA_INFO_KIND, "bridge")));
  nlattr* data = nla_nest_start(m.get(), IFLA_INFO_DATA);
  if (!data) return fail(ErrorKind::Internal, "build netlink message");
  DH_CHECK(put_ok(nla_put_u8(m.get(), IFLA_BR_VLAN_FILTERING, on ? 1 : 0)));
  nla_nest_end(m.get(), data);
  nla_nest_end(m.get(), info);
  return simple(m.get(), fmt::format("set vlan_filtering {} on bridge {}", on ? 1 : 0, describe(bridge)));
}

Result<std::vector<Address>> NetlinkSocket::list_addresses(int index, int family) {
  auto build = [family]() -> Result<nl_msg*> {
    MsgPtr m(nlmsg_alloc_simple(RTM_GETADDR, NLM_F_DUMP));
    if (!m) return fail(ErrorKind::ResourceExhausted, "allocate netlink message");
    ifaddrmsg ifa{};
    ifa.ifa_family = static_cast<unsigned char>(family);
    if (nlmsg_append(m.get(), &ifa, sizeof ifa, NLMSG_ALIGNTO) < 0)
      return fail(ErrorKind::Internal, "build netlink message");
    return m.release();
  };
  Objects objs;
  std::string what = index ? fmt::format("list addresses of link #{} in {}", index, where_)
                           : fmt::format("list addresses in {}", where_);
  DH_CHECK(dump(build, objs, what));
  std::vector<Address> out;
  for (auto& o : objs.items) {
    if (std::strcmp(nl_object_get_type(o.get()), "route/addr") != 0) continue;
    auto* a = reinterpret_cast<rtnl_addr*>(o.get());
    int fam = rtnl_addr_get_family(a);
    if (family != AF_UNSPEC && fam != family) continue;
    if (fam != AF_INET && fam != AF_INET6) continue;
    if (index && rtnl_addr_get_ifindex(a) != index) continue;
    Address ad;
    ad.index = rtnl_addr_get_ifindex(a);
    ad.prefix = {from_nl_addr(rtnl_addr_get_local(a), fam), rtnl_addr_get_prefixlen(a)};
    ad.flags = static_cast<unsigned>(rtnl_addr_get_flags(a));
    ad.scope = rtnl_addr_get_scope(a);
    out.push_back(ad);
  }
  return out;
}

namespace {
Result<RtAddrPtr> make_addr(const Link& link, const cni::IpPrefix& prefix) {
  RtAddrPtr a(rtnl_addr_alloc());
  if (!a) return fail(ErrorKind::ResourceExhausted, "allocate address");
  DH_TRY(local, to_nl_addr(prefix.address, prefix.length));
  rtnl_addr_set_ifindex(a.get(), link.index);
  rtnl_addr_set_family(a.get(), prefix.address.family());
  if (int rc = rtnl_addr_set_local(a.get(), local.get()); rc < 0) return nl_fail(rc, "set address");
  rtnl_addr_set_prefixlen(a.get(), prefix.length);
  return a;
}
}  // namespace

Status NetlinkSocket::add_address(const Link& link, const cni::IpPrefix& prefix, bool nodad) {
  std::string what = fmt::format("add address {} to {}", prefix.str(), describe(link));
  auto a = make_addr(link, prefix);
  if (!a) return tl::unexpected(a.error().context("{}", what));
  if (prefix.address.is_v4() && prefix.length < 31) {
    auto bcast = to_nl_addr(prefix.last(), 32);
    if (!bcast) return tl::unexpected(bcast.error());
    if (int rc = rtnl_addr_set_broadcast(a->get(), bcast->get()); rc < 0) return nl_fail(rc, what);
  }
  if (!prefix.address.is_v4() && nodad) rtnl_addr_set_flags(a->get(), IFA_F_NODAD);
  nl_msg* raw = nullptr;
  if (int rc = rtnl_addr_build_add_request(a->get(), NLM_F_CREATE | NLM_F_EXCL, &raw); rc < 0)
    return nl_fail(rc, what);
  MsgPtr m(raw);
  return simple(m.get(), what);
}

Status NetlinkSocket::del_address(const Link& link, const cni::IpPrefix& prefix) {
  std::string what = fmt::format("delete address {} from {}", prefix.str(), describe(link));
  auto a = make_addr(link, prefix);
  if (!a) return tl::unexpected(a.error().context("{}", what));
  nl_msg* raw = nullptr;
  if (int rc = rtnl_addr_build_delete_request(a->get(), 0, &raw); rc < 0) return nl_fail(rc, what);
  MsgPtr m(raw);
  return simple(m.get(), what);
}

Result<std::vector<Route>> NetlinkSocket::list_routes(int family) {
  auto build = [family]() -> Result<nl_msg*> {
    MsgPtr m(nlmsg_alloc_simple(RTM_GETROUTE, NLM_F_DUMP));
    if (!m) return fail(ErrorKind::ResourceExhausted, "allocate netlink message");
    rtmsg rtm{};
    rtm.rtm_family = static_cast<unsigned char>(family);
    if (nlmsg_append(m.get(), &rtm, sizeof rtm, NLMSG_ALIGNTO) < 0)
      return fail(ErrorKind::Internal, "build netlink message");
    return m.release();
  };
  Objects objs;
  DH_CHECK(dump(build, objs, fmt::format("list routes in {}", where_)));
  std::vector<Route> out;
  for (auto& o : objs.items) {
    if (std::strcmp(nl_object_get_type(o.get()), "route/route") != 0) continue;
    auto* r = reinterpret_cast<rtnl_route*>(o.get());
    int fam = rtnl_route_get_family(r);
    if (fam != AF_INET && fam != AF_INET6) continue;
    if (family != AF_UNSPEC && fam != family) continue;
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_type(r) != RTN_UNICAST) continue;
    nl_addr* dst = rtnl_route_get_dst(r);
    Route rt;
    rt.dst = {from_nl_addr(dst, fam), dst ? static_cast<int>(nl_addr_get_prefixlen(dst)) : 0};
    if (rtnl_route_get_nnexthops(r) >= 1) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
      rt.oif = rtnl_route_nh_get_ifindex(nh);
      if (nl_addr* gw = rtnl_route_nh_get_gateway(nh); gw && nl_addr_get_len(gw) > 0)
        rt.gateway = from_nl_addr(gw, fam);
    }
    out.push_back(rt);
  }
  return out;
}

Status NetlinkSocket::add_route(const Route& route) {
  std::string what = fmt::format("add route {} in {}", route.str(), where_);
  RoutePtr r(rtnl_route_alloc());
  if (!r) return fail(ErrorKind::ResourceExhausted, "{}: allocate route", what);
  int fam = route.dst.address.family();
  rtnl_route_set_family(r.get(), static_cast<uint8_t>(fam));
  rtnl_route_set_table(r.get(), RT_TABLE_MAIN);
  rtnl_route_set_type(r.get(), RTN_UNICAST);
  rtnl_route_set_protocol(r.get(), RTPROT_BOOT);
  auto dst = to_nl_addr(route.dst.network(), route.dst.length);
  if (!dst) return tl::unexpected(dst.error());
  if (int rc = rtnl_route_set_dst(r.get(), dst->get()); rc < 0) return nl_fail(rc, what);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (!nh) return fail(ErrorKind::ResourceExhausted, "{}: allocate next hop", what);
  if (route.oif) rtnl_route_nh_set_ifindex(nh, route.oif);
  if (route.gateway) {
    auto gw = to_nl_addr(*route.gateway, route.gateway->bits());
    if (!gw) {
      rtnl_route_nh_free(nh);
      return tl::unexpected(gw.error());
    }
    rtnl_route_nh_set_gateway(nh, gw->get());
  }
  rtnl_route_add_nexthop(r.get(), nh);  // the route owns nh now
  nl_msg* raw = nullptr;
  if (int rc = rtnl_route_build_add_request(r.get(), NLM_F_CREATE, &raw); rc < 0)
    return nl_fail(rc, what);
  MsgPtr m(raw);
  return simple(m.get(), what);
}

}  // namespace deckhand::netlink
