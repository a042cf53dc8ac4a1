// Choosing addresses: the next free one of a range set (round-robin from the
// last one handed out, so that a released address is not reused at once), a
// requested one, and giving them back. Every function here expects the
// caller to hold the store's lock.
#pragma once

#include <optional>
#include <vector>

#include "deckhand/cni/cni_error.h"
#include "deckhand/cni/network_result.h"
#include "lease_store.h"
#include "range_set.h"

namespace deckhand::cni::host_local {

// An address taken from a range set.
struct Allocation {
  IpPrefix address;  // with the subnet's prefix length
  IpAddress gateway;

  ResultIp result_ip() const { return ResultIp{address.str(), gateway.str(), std::nullopt}; }
};

class IpAllocator {
 public:
  IpAllocator(const RangeSet& set, size_t set_index, const LeaseStore& store)
      : set_(set), index_(set_index), store_(store) {}

  // One address of the set for owner: `requested` when given (it must lie in
  // the set), else the first free one after the last reserved. An owner that
  // holds an address of the set already gets an error, as from the reference.
  // Exhaustion is code 11 naming the set.
  CniResult<Allocation> allocate(const LeaseOwner& owner, const std::optional<IpAddress>& requested = std::nullopt);

 private:
  // A place in the set: which range, which address.
  struct Cursor {
    size_t range = 0;
    IpAddress ip;
    bool operator==(const Cursor&) const = default;
  };
  Cursor first_candidate() const;
  Cursor advance(const Cursor& c) const;  // wraps from a range's end to the next range's start
  CniResult<Allocation> allocate_next(const LeaseOwner& owner);
  CniResult<Allocation> allocate_requested(const LeaseOwner& owner, const IpAddress& ip);
  // Records ip as the set's last reserved address.
  CniResult<Allocation> reserved(const IpRange& range, const IpAddress& ip);

  const RangeSet& set_;
  size_t index_;
  const LeaseStore& store_;
};

// Releases every lease of owner; when there is none, those of old-format
// files holding only owner's container id. Returns how many were released.
Result<size_t> release_owner(const LeaseStore& store, const LeaseOwner& owner);

// The addresses owner holds.
Result<std::vector<IpAddress>> addresses_of(const LeaseStore& store, const LeaseOwner& owner);

// Releases every lease whose owner is not in `valid` (an old-format lease
// counts as valid when its container id is). Returns how many were released.
Result<size_t> release_all_but(const LeaseStore& store, const std::vector<LeaseOwner>& valid);

}  // namespace deckhand::cni::host_local
