#include "allocator.h"

#include <algorithm>

namespace deckhand::cni::host_local {

namespace {

// Old versions of the reference wrote only the container id: such a lease
// belongs to every ifname of that container.
bool legacy_lease_of(const Lease& lease, const std::string& container_id) {
  return lease.owner.ifname.empty() && lease.owner.container_id == container_id;
}

}  // namespace

CniResult<Allocation> IpAllocator::allocate(const LeaseOwner& owner, const std::optional<IpAddress>& requested) {
  auto held = addresses_of(store_, owner);
  if (!held) return cni_fail(kIoFailure, held.error());
  for (const auto& ip : *held)
    if (set_.contains(ip))
      return cni_fail(kInternal, fmt::format("{} has been allocated to {}, duplicate allocation is not allowed", ip.str(),
                                             owner.container_id));
  return requested ? allocate_requested(owner, *requested) : allocate_next(owner);
}

IpAllocator::Cursor IpAllocator::first_candidate() const {
  // A recorded address outside the set (the config changed) restarts the
  // round-robin at the beginning.
  if (auto last = store_.last_reserved(index_))
    for (size_t i = 0; i < set_.ranges.size(); ++i)
      if (set_.ranges[i].contains(*last)) return advance({i, *last});
  return {0, set_.ranges[0].start};
}

IpAllocator::Cursor IpAllocator::advance(const Cursor& c) const {
  if (c.ip != set_.ranges[c.range].end) return {c.range, c.ip.next()};
  size_t next = (c.range + 1) % set_.ranges.size();
  return {next, set_.ranges[next].start};
}

CniResult<Allocation> IpAllocator::allocate_next(const LeaseOwner& owner) {
  const Cursor start = first_candidate();
  Cursor c = start;
  do {
    const IpRange& range = set_.ranges[c.range];
    if (range.assignable(c.ip)) {
      auto taken = store_.reserve(c.ip, owner);
      if (!taken) return cni_fail(kIoFailure, taken.error());
      if (*taken) return reserved(range, c.ip);
    }
    c = advance(c);
  } while (c != start);
  return cni_fail(kTryAgainLater, "no IP addresses available in range set: " + set_.str());
}

CniResult<Allocation> IpAllocator::allocate_requested(const LeaseOwner& owner, const IpAddress& ip) {
  const IpRange* range = set_.range_for(ip);
  if (!range) return cni_fail(kInternal, fmt::format("requested IP address {} is not in range set {}", ip.str(), set_.str()));
  if (ip == range->gateway) return cni_fail(kInternal, fmt::format("requested ip {} is subnet's gateway", ip.str()));
  if (!range->assignable(ip))
    return cni_fail(kInternal, fmt::format("requested ip {} is the network or broadcast address of {}", ip.str(),
                                           range->subnet.str()));
  auto taken = store_.reserve(ip, owner);
  if (!taken) return cni_fail(kIoFailure, taken.error());
  if (!*taken)
    return cni_fail(kInternal,
                    fmt::format("requested IP address {} is not available in range set {}", ip.str(), set_.str()));
  return reserved(*range, ip);
}

CniResult<Allocation> IpAllocator::reserved(const IpRange& range, const IpAddress& ip) {
  if (auto st = store_.set_last_reserved(index_, ip); !st) {
    (void)store_.release(ip);  // best effort: the error below is what matters
    return cni_fail(kIoFailure, st.error());
  }
  return Allocation{IpPrefix{ip, range.subnet.length}, range.gateway};
}

Result<std::vector<IpAddress>> addresses_of(const LeaseStore& store, const LeaseOwner& owner) {
  DH_TRY(leases, store.leases());
  std::vector<IpAddress> out;
  for (const auto& l : leases)
    if (l.owner == owner) out.push_back(l.ip);
  return out;
}

Result<size_t> release_owner(const LeaseStore& store, const LeaseOwner& owner) {
  DH_TRY(leases, store.leases());
  auto release_matching = [&](auto&& match) -> Result<size_t> {
    size_t n = 0;
    for (const auto& l : leases) {
      if (!match(l)) continue;
      DH_CHECK(store.release(l.ip));
      ++n;
    }
    return n;
  };
  DH_TRY(n, release_matching([&](const Lease& l) { return l.owner == owner; }));
  if (n > 0) return n;
  return release_matching([&](const Lease& l) { return legacy_lease_of(l, owner.container_id); });
}

Result<size_t> release_all_but(const LeaseStore& store, const std::vector<LeaseOwner>& valid) {
  DH_TRY(leases, store.leases());
  size_t n = 0;
  for (const auto& l : leases) {
    bool keep = std::any_of(valid.begin(), valid.end(),
                            [&](const LeaseOwner& v) { return l.owner == v || legacy_lease_of(l, v.container_id); });
    if (keep) continue;
    DH_CHECK(store.release(l.ip));
    ++n;
  }
  return n;
}

}  // namespace deckhand::cni::host_local
