// rtnetlink through libnl-route: links (bridges, veth pairs, bridge ports),
// addresses and routes in one network namespace. A NetlinkSocket acts in the
// namespace it was opened in, whatever namespace the thread is in later.
// Errors name the operation, the object and the namespace, and carry the
// kernel's errno: "create veth veth1a2b3c4d (peer eth0 in netns /run/netns/x): File exists".
#pragma once

#include <net/if.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/cni/ip_address.h"
#include "deckhand/common/result.h"
#include "deckhand/netlink/netns.h"

struct nl_sock;
struct nl_msg;

namespace deckhand::netlink {

struct Link {
  int index = 0;
  std::string name;
  std::string kind;     // IFLA_INFO_KIND: "veth", "bridge", ...; empty when none
  std::string mac;      // "0a:1b:2c:3d:4e:5f"; empty when the link has none
  unsigned mtu = 0;
  unsigned flags = 0;   // IFF_*
  int master = 0;       // ifindex of the master (a bridge), 0 when none
  int peer = 0;         // IFLA_LINK: a veth's peer ifindex (in the peer's namespace)
  bool up() const { return (flags & IFF_UP) != 0; }
};

struct Address {
  int index = 0;
  cni::IpPrefix prefix;  // the local address with its prefix length
  unsigned flags = 0;    // IFA_F_*
  int scope = 0;
};

struct Route {
  cni::IpPrefix dst;                      // 0.0.0.0/0 or ::/0 for a default route
  std::optional<cni::IpAddress> gateway;
  int oif = 0;                            // output interface index, 0 when none
  std::string str() const;                // "10.1.0.0/16 via 10.1.0.1 dev 3"
};

struct BridgeSpec {
  std::string name;
  int mtu = 0;                // 0: the kernel's default
  bool vlan_filtering = false;
  std::string mac;            // set explicitly so that it does not follow the ports; empty: kernel's choice
};

class NetlinkSocket {
 public:
  // A socket in the calling thread's namespace, named "host netns" in errors.
  static Result<NetlinkSocket> open();
  // A socket in ns: the thread enters ns, creates the socket and returns.
  static Result<NetlinkSocket> open_in(const NetnsHandle& ns);

  NetlinkSocket(NetlinkSocket&&) noexcept;
  NetlinkSocket& operator=(NetlinkSocket&&) noexcept;
  ~NetlinkSocket();

  // "host netns" or "netns <path>", as errors say it.
  const std::string& where() const { return where_; }

  Result<std::optional<Link>> find_link(const std::string& name);
  Result<std::optional<Link>> find_link(int index);
  Result<Link> get_link(const std::string& name);  // NotFound when missing
  Result<std::vector<Link>> list_links();

  // Fails with AlreadyExists (EEXIST) when a link of that name exists.
  Status create_bridge(const BridgeSpec& spec);
  // A veth pair: `name` here, its peer created directly in peer_ns as peer_name.
  // Both ends get mtu (0: the kernel's default). EEXIST when either name is taken.
  Status create_veth(const std::string& name, const std::string& peer_name, const NetnsHandle& peer_ns,
                     int mtu);
  Status delete_link(const Link& link);

  Status set_up(const Link& link, bool up = true);
  Status set_master(const Link& port, const Link& master);
  Status set_mtu(const Link& link, int mtu);
  Status set_promisc(const Link& link, bool on);
  Status set_mac(const Link& link, const std::string& mac);
  // A per-interface IPv4 setting (net.ipv4.conf.<if>.*), by its
  // IPV4_DEVCONF_* id: no setns and no /proc/sys write needed.
  Status set_ipv4_conf(const Link& link, int devconf_id, uint32_t value);
  // Bridge port settings (link must be enslaved to a bridge).
  Status set_hairpin(const Link& port, bool on);
  Status add_port_vlan(const Link& port, int vid, bool pvid, bool untagged);
  Status set_vlan_filtering(const Link& bridge, bool on);

  // Addresses of one link (index 0: all links), of one family (AF_UNSPEC: both).
  Result<std::vector<Address>> list_addresses(int index, int family = AF_UNSPEC);
  // IPv4 addresses get their broadcast address; IPv6 ones IFA_F_NODAD when nodad.
  Status add_address(const Link& link, const cni::IpPrefix& prefix, bool nodad = true);
  Status del_address(const Link& link, const cni::IpPrefix& prefix);

  // Unicast routes of the main table.
  Result<std::vector<Route>> list_routes(int family = AF_UNSPEC);
  Status add_route(const Route& route);

 private:
  NetlinkSocket(nl_sock* sk, std::string where) : sk_(sk), where_(std::move(where)) {}
  // Sends msg, collects parsed replies (when objs is given) and waits for the
  // ack or the end of the dump; a kernel error becomes sys errno text after what.
  struct Objects;
  Status exchange(nl_msg* msg, Objects* objs, const std::string& what);
  // The link in the answer to a RTM_GETLINK request; nullopt when there is none.
  Result<std::optional<Link>> link_answer(nl_msg* request, const std::string& what);
  Status simple(nl_msg* msg, const std::string& what) { return exchange(msg, nullptr, what); }
  // A dump request (built afresh by build for each try, owned from then on),
  // repeated when concurrent changes interrupted it.
  Status dump(const std::function<Result<nl_msg*>()>& build, Objects& objs, const std::string& what);
  std::string describe(const Link& l) const;

  nl_sock* sk_ = nullptr;
  std::string where_;
};

// "0a:1b:2c:3d:4e:5f" for 6 bytes (any length works).
std::string format_mac(const unsigned char* bytes, size_t len);
// A random locally administered unicast MAC.
std::string random_mac();

}  // namespace deckhand::netlink
