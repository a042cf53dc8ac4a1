#include "host_local.h"

#include <unistd.h>

#include <algorithm>

#include "allocator.h"
#include "ipam_config.h"
#include "resolv_conf.h"

namespace deckhand::cni::host_local {

namespace {

LeaseOwner owner_of(const PluginRequest& req) { return {req.container_id, req.ifname}; }

// The requested addresses, one slot per range set (the first set holding
// each); an address no set can take is an error before anything is reserved.
CniResult<std::vector<std::optional<IpAddress>>> assign_requested(const IpamConfig& cfg) {
  std::vector<std::optional<IpAddress>> per_set(cfg.range_sets.size());
  std::vector<std::string> left;
  for (const auto& ip : cfg.requested_ips) {
    size_t i = 0;
    while (i < per_set.size() && (per_set[i] || !cfg.range_sets[i].contains(ip))) ++i;
    if (i < per_set.size())
      per_set[i] = ip;
    else
      left.push_back(ip.str());
  }
  if (!left.empty())
    return cni_fail(kInternal, fmt::format("failed to allocate all requested IPs: {}", fmt::join(left, " ")));
  return per_set;
}

// Locks a store that exists (made when `create`); nullopt when it does not.
CniResult<std::optional<StoreLock>> lock_store(const LeaseStore& store, bool create) {
  if (create) {
    if (auto st = store.create(); !st) return cni_fail(kIoFailure, st.error());
  } else if (!store.exists()) {
    return std::optional<StoreLock>();
  }
  auto lock = store.lock();
  if (!lock) return cni_fail(kIoFailure, lock.error());
  return std::optional<StoreLock>(std::move(*lock));
}

CniStatus no_address_error(const PluginRequest& req) {
  return cni_fail(kInternal, fmt::format("host-local: Failed to find address added by container {}", req.container_id));
}

}  // namespace

CniResult<NetworkResult> add(const PluginRequest& req) {
  DH_TRY(cfg, load_ipam_config(req));
  NetworkResult result;
  if (!cfg.resolv_conf.empty()) {
    DH_TRY(dns, read_resolv_conf(cfg.resolv_conf));
    result.dns = std::move(dns);
  }
  DH_TRY(requested, assign_requested(cfg));
  LeaseStore store(cfg.data_dir, cfg.network);
  DH_TRY(lock, lock_store(store, /*create=*/true));
  LeaseOwner owner = owner_of(req);
  std::vector<Allocation> taken;
  for (size_t i = 0; i < cfg.range_sets.size(); ++i) {
    IpAllocator allocator(cfg.range_sets[i], i, store);
    auto got = allocator.allocate(owner, requested[i]);
    if (!got) {
      // All or none: give back what the earlier sets gave (best effort; the error is what matters).
      for (const auto& a : taken) (void)store.release(a.address.address);
      return cni_fail(got.error().code, fmt::format("failed to allocate for range {}: {}", i, got.error().msg));
    }
    taken.push_back(*got);
  }
  for (const auto& a : taken) result.ips.push_back(a.result_ip());
  result.routes = cfg.routes;
  return result;
}

CniStatus del(const PluginRequest& req) {
  DH_TRY(cfg, load_ipam_config(req));
  LeaseStore store(cfg.data_dir, cfg.network);
  DH_TRY(lock, lock_store(store, /*create=*/false));
  if (!lock) return {};  // nothing was ever allocated here
  CNI_TRY(released, release_owner(store, owner_of(req)));
  (void)released;
  return {};
}

CniStatus check(const PluginRequest& req) {
  DH_TRY(cfg, load_ipam_config(req));
  LeaseStore store(cfg.data_dir, cfg.network);
  DH_TRY(lock, lock_store(store, /*create=*/false));
  if (!lock) return no_address_error(req);
  CNI_TRY(held, addresses_of(store, owner_of(req)));
  if (held.empty()) return no_address_error(req);
  if (!req.prev_result) return {};
  for (const auto& prev : req.prev_result->ips) {
    auto prefix = IpPrefix::parse(prev.address);
    if (!prefix) return cni_fail(kDecodingFailure, fmt::format("prevResult: invalid address \"{}\"", prev.address));
    const IpAddress& ip = prefix->address;
    bool ours = std::any_of(cfg.range_sets.begin(), cfg.range_sets.end(), [&](const RangeSet& s) { return s.contains(ip); });
    if (ours && std::find(held.begin(), held.end(), ip) == held.end())
      return cni_fail(kInternal, fmt::format("host-local: address {} of prevResult is not held by container {} ({})",
                                             ip.str(), req.container_id, req.ifname));
  }
  return {};
}

CniStatus gc(const PluginRequest& req) {
  DH_TRY(cfg, load_ipam_config(req));
  DH_TRY(valid, load_valid_attachments(req.config));
  LeaseStore store(cfg.data_dir, cfg.network);
  DH_TRY(lock, lock_store(store, /*create=*/false));
  if (!lock) return {};
  CNI_TRY(released, release_all_but(store, valid));
  (void)released;
  CNI_CHECK(store.remove_stale_temp_files());
  return {};
}

CniStatus status(const PluginRequest& req) {
  DH_TRY(cfg, load_ipam_config(req));
  LeaseStore store(cfg.data_dir, cfg.network);
  if (auto st = store.create(); !st) return cni_fail(kPluginNotAvailable, st.error());
  // access() also reports a read-only file system to root, which bypasses modes.
  if (::access(store.dir().c_str(), W_OK | X_OK) != 0)
    return cni_fail(kPluginNotAvailable, fmt::format("IPAM data directory {} is not writable: {}", store.dir(),
                                                     errno_text(errno)));
  return {};
}

PluginHandlers handlers() { return PluginHandlers{add, del, check, gc, status}; }

}  // namespace deckhand::cni::host_local
