// deckhand-loopback: brings `lo` up in the pod's network namespace on ADD and
// down again on DEL (when the namespace still exists). The kernel gives `lo`
// its addresses itself.
#include "deckhand/cni/plugin.h"
#include "deckhand/netlink/netlink.h"
#include "deckhand/netlink/netns.h"

using namespace deckhand;
using namespace deckhand::cni;

namespace {

// lo of the namespace at path, through a netlink socket opened inside it.
struct Loopback {
  netlink::NetlinkSocket sock;
  netlink::Link link;
};

CniResult<Loopback> open_loopback(const std::string& netns) {
  auto ns = netlink::NetnsHandle::open(netns);
  if (!ns) return cni_fail(ns.error().kind == ErrorKind::NotFound ? kUnknownContainer : kIoFailure, ns.error());
  CNI_TRY(sock, netlink::NetlinkSocket::open_in(*ns));
  CNI_TRY(lo, sock.get_link("lo"));
  return Loopback{std::move(sock), std::move(lo)};
}

CniResult<NetworkResult> add(const PluginRequest& req) {
  CNI_CHECK(check_args(req, {}));
  DH_TRY(lo, open_loopback(req.netns));
  CNI_CHECK(lo.sock.set_up(lo.link, true));
  // In a chain the result passes through; alone, it names lo and its addresses.
  if (req.prev_result) return *req.prev_result;
  NetworkResult r;
  r.interfaces.push_back({"lo", "00:00:00:00:00:00", req.netns});
  r.ips.push_back({"127.0.0.1/8", "", 0});
  r.ips.push_back({"::1/128", "", 0});
  return r;
}

CniStatus del(const PluginRequest& req) {
  if (req.netns.empty()) return {};
  auto lo = open_loopback(req.netns);
  if (!lo) return {};  // the namespace is gone, and lo with it
  CNI_CHECK(lo->sock.set_up(lo->link, false));
  return {};
}

CniStatus check(const PluginRequest& req) {
  DH_TRY(lo, open_loopback(req.netns));
  if (!lo.link.up()) return cni_fail(kInternal, "lo is down in " + req.netns);
  return {};
}

}  // namespace

int main() {
  PluginHandlers h;
  h.add = add;
  h.del = del;
  h.check = check;
  return plugin_main(h);
}
