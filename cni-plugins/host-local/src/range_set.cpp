#include "range_set.h"

#include "config_fields.h"

namespace deckhand::cni::host_local {

namespace {

// The reference refuses networks without two usable addresses.
constexpr int kMinHostBits = 2;

CniResult<IpPrefix> parse_subnet(const Json& j, const std::string& where) {
  auto text = optional_string(j, "subnet", where);
  if (!text) return tl::unexpected(text.error());
  if (!*text || (*text)->empty()) return cni_fail(kInvalidNetworkConfig, fmt::format("{} has no subnet", where));
  auto prefix = IpPrefix::parse(**text);
  if (!prefix) return cni_fail(kInvalidNetworkConfig, fmt::format("invalid subnet \"{}\": {}", **text, prefix.error().message));
  if (prefix->length > prefix->address.bits() - kMinHostBits)
    return cni_fail(kInvalidNetworkConfig, fmt::format("network {} too small to allocate from", prefix->str()));
  // A host address here is most likely a typo for another network.
  if (prefix->address != prefix->network())
    return cni_fail(kInvalidNetworkConfig,
                    fmt::format("subnet {} has host bits set: for a prefix length of {} the network address is {}",
                                prefix->str(), prefix->length, prefix->network().str()));
  return *prefix;
}

// An address member inside subnet, or fallback when absent.
CniResult<IpAddress> parse_member_ip(const Json& j, const char* key, const std::string& where, const IpPrefix& subnet,
                                     const IpAddress& fallback) {
  auto text = optional_string(j, key, where);
  if (!text) return tl::unexpected(text.error());
  if (!*text) return fallback;
  auto ip = IpAddress::parse(**text);
  if (!ip) return cni_fail(kInvalidNetworkConfig, fmt::format("invalid {} \"{}\": {}", key, **text, ip.error().message));
  if (!subnet.contains(*ip))
    return cni_fail(kInvalidNetworkConfig, fmt::format("{} {} not in network {}", key, ip->str(), subnet.str()));
  return *ip;
}

}  // namespace

bool IpRange::contains(const IpAddress& ip) const {
  return ip.family() == start.family() && start <= ip && ip <= end;
}

bool IpRange::overlaps(const IpRange& o) const {
  return start.family() == o.start.family() && start <= o.end && o.start <= end;
}

bool IpRange::assignable(const IpAddress& ip) const {
  if (ip == gateway || ip == subnet.network()) return false;
  return !(ip.is_v4() && ip == subnet.last());
}

std::string IpRange::str() const { return start.str() + "-" + end.str(); }

const IpRange* RangeSet::range_for(const IpAddress& ip) const {
  for (const auto& r : ranges)
    if (r.contains(ip)) return &r;
  return nullptr;
}

bool RangeSet::overlaps(const RangeSet& o) const {
  for (const auto& a : ranges)
    for (const auto& b : o.ranges)
      if (a.overlaps(b)) return true;
  return false;
}

std::string RangeSet::str() const {
  std::string out;
  for (const auto& r : ranges) out += (out.empty() ? "" : ",") + r.str();
  return out;
}

CniResult<IpRange> parse_range(const Json& j, const std::string& where) {
  if (!j.is_object()) return cni_fail(kDecodingFailure, fmt::format("{} is not an object", where));
  auto subnet = parse_subnet(j, where);
  if (!subnet) return tl::unexpected(subnet.error());
  IpRange r;
  r.subnet = *subnet;
  IpAddress first = subnet->network().next();
  IpAddress last = subnet->address.is_v4() ? subnet->last().prev() : subnet->last();
  auto gateway = parse_member_ip(j, "gateway", where, *subnet, first);
  auto start = parse_member_ip(j, "rangeStart", where, *subnet, first);
  auto end = parse_member_ip(j, "rangeEnd", where, *subnet, last);
  for (auto* ip : {&start, &end, &gateway})
    if (!*ip) return tl::unexpected(ip->error());
  r.gateway = *gateway;
  r.start = *start;
  r.end = *end;
  if (r.end < r.start)
    return cni_fail(kInvalidNetworkConfig, fmt::format("rangeStart {} is after rangeEnd {}", r.start.str(), r.end.str()));
  return r;
}

CniResult<RangeSet> parse_range_set(const Json& j, const std::string& where) {
  if (!j.is_array()) return cni_fail(kDecodingFailure, fmt::format("{} is not a list of ranges", where));
  if (j.empty()) return cni_fail(kInvalidNetworkConfig, "empty range set");
  RangeSet set;
  for (size_t i = 0; i < j.size(); ++i) {
    auto r = parse_range(j[i], fmt::format("{}[{}]", where, i));
    if (!r) return tl::unexpected(r.error());
    if (!set.ranges.empty() && r->start.family() != set.ranges[0].start.family())
      return cni_fail(kInvalidNetworkConfig, "mixed address families");
    for (const auto& other : set.ranges)
      if (other.overlaps(*r))
        return cni_fail(kInvalidNetworkConfig, fmt::format("subnets {} and {} overlap", other.str(), r->str()));
    set.ranges.push_back(*r);
  }
  return set;
}

}  // namespace deckhand::cni::host_local
