// The addresses host-local hands out: an IpRange per {subnet, rangeStart,
// rangeEnd, gateway} object of the config, grouped into RangeSets. An ADD
// takes one address from each set; a set's ranges are tried in order.
#pragma once

#include <string>
#include <vector>

#include "deckhand/cni/cni_error.h"
#include "deckhand/cni/ip_address.h"
#include "deckhand/common/json.h"

namespace deckhand::cni::host_local {

struct IpRange {
  IpPrefix subnet;       // its network address, never a host address
  IpAddress start, end;  // both inclusive, start <= end
  IpAddress gateway;     // in the subnet; never handed out

  // Whether ip lies in start..end (of the same family).
  bool contains(const IpAddress& ip) const;
  bool overlaps(const IpRange& o) const;
  // Whether ip may be leased: not the gateway, the network address, nor the
  // IPv4 broadcast address (a rangeStart/rangeEnd given in the config may
  // include them; the reference would hand them out, we skip them).
  bool assignable(const IpAddress& ip) const;
  std::string str() const;  // "start-end", as the reference prints ranges
};

struct RangeSet {
  std::vector<IpRange> ranges;  // one family, not overlapping

  // The range holding ip, or nullptr.
  const IpRange* range_for(const IpAddress& ip) const;
  bool contains(const IpAddress& ip) const { return range_for(ip) != nullptr; }
  bool overlaps(const RangeSet& o) const;
  std::string str() const;  // the ranges' str() joined by ","
};

// One range object with the reference plugin's defaults filled in: gateway
// and rangeStart the network address + 1, rangeEnd the last address (IPv6) or
// the one before the broadcast address (IPv4). A value that is wrong gives
// code 7 naming it; a member of the wrong JSON type code 6.
CniResult<IpRange> parse_range(const Json& j, const std::string& where);

// A list of range objects: non-empty, one family, no two ranges overlapping.
CniResult<RangeSet> parse_range_set(const Json& j, const std::string& where);

}  // namespace deckhand::cni::host_local
