// deckhand-bridge: the CNI main plugin that plugs a container into a Linux
// bridge on the host through a veth pair, and takes its addresses from the
// IPAM plugin named in config.ipam.type. Configs of the reference `bridge`
// plugin work with it (same keys, same defaults, same result shape).
#pragma once

#include <string>

#include "deckhand/cni/network_result.h"
#include "deckhand/cni/plugin.h"

namespace deckhand::bridge {

struct BridgeConfig {
  std::string bridge = "cni0";
  bool is_gateway = false;
  bool is_default_gateway = false;  // implies is_gateway
  bool force_address = false;
  bool ip_masq = false;             // unsupported: ADD refuses it (code 2)
  bool hairpin_mode = false;
  bool promisc_mode = false;
  bool enable_dad = false;          // false: IPv6 container addresses get IFA_F_NODAD
  int mtu = 0;                      // 0: the kernel's default
  int vlan = 0;                     // 0: no VLAN
  std::string ipam_type;            // empty: L2 only, no addresses
  cni::ResultDns dns;
};

// Reads the plugin's keys from the network config. Wrong types or values give
// code 7 (invalid network config) naming the key. With for_add, settings we
// cannot honour give code 2 (unsupported field): ipMasq, macspoofchk,
// vlanTrunk, vlan together with isGateway. Other commands accept them, so
// that DEL of such a config still cleans up.
cni::CniResult<BridgeConfig> parse_config(const Json& config, bool for_add);

// The handlers of ADD, DEL, CHECK, GC and STATUS.
cni::PluginHandlers handlers();

cni::CniResult<cni::NetworkResult> cmd_add(const cni::PluginRequest& req);
cni::CniStatus cmd_del(const cni::PluginRequest& req);
cni::CniStatus cmd_check(const cni::PluginRequest& req);
cni::CniStatus cmd_gc(const cni::PluginRequest& req);
cni::CniStatus cmd_status(const cni::PluginRequest& req);

}  // namespace deckhand::bridge
