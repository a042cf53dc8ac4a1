// The `ipam` object of a network config, as the reference host-local reads
// it: ranges (and the legacy single range directly in ipam), routes,
// dataDir, resolvConf; plus the addresses a caller asks for.
#pragma once

#include <string>
#include <vector>

#include "deckhand/cni/plugin.h"
#include "lease_store.h"
#include "range_set.h"

namespace deckhand::cni::host_local {

inline constexpr const char* kDefaultDataDir = "/var/lib/cni/networks";

struct IpamConfig {
  std::string network;  // config "name": the directory under data_dir
  std::string data_dir = kDefaultDataDir;
  std::vector<RangeSet> range_sets;  // the legacy range, when given, first
  std::vector<ResultRoute> routes;
  std::string resolv_conf;  // empty: the result has no dns
  // From CNI_ARGS IP=a,b, runtimeConfig.ips ("ips" capability) and args.cni.ips.
  std::vector<IpAddress> requested_ips;
};

// Refuses unknown CNI_ARGS keys (unless IgnoreUnknown) and a bad config:
// code 7 naming the bad value, code 6 for a member of the wrong JSON type.
CniResult<IpamConfig> load_ipam_config(const PluginRequest& req);

// GC's "cni.dev/valid-attachments": required, since without it GC would
// release every lease.
CniResult<std::vector<LeaseOwner>> load_valid_attachments(const Json& config);

}  // namespace deckhand::cni::host_local
