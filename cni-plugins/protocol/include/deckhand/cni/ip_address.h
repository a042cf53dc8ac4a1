// IPv4 and IPv6 addresses and prefixes as values, for IPAM ranges, routes and
// the addresses a plugin puts on interfaces.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "deckhand/common/result.h"

namespace deckhand::cni {

// An address of either family; IPv4 kept in the first 4 bytes.
class IpAddress {
 public:
  IpAddress() = default;
  static Result<IpAddress> parse(std::string_view text);
  static IpAddress v4(uint32_t host_order);
  static IpAddress from_bytes(int family, const void* bytes);  // AF_INET / AF_INET6

  int family() const { return family_; }  // AF_INET, AF_INET6, or 0 when unset
  bool is_v4() const;
  bool valid() const { return family_ != 0; }
  int bits() const { return is_v4() ? 32 : 128; }
  const uint8_t* bytes() const { return bytes_.data(); }
  size_t size() const { return is_v4() ? 4 : 16; }
  std::string str() const;

  // The address n further on (n may be negative); wraps within the family.
  IpAddress offset(int64_t n) const;
  IpAddress next() const { return offset(1); }
  IpAddress prev() const { return offset(-1); }
  // Keeps the first prefix_len bits and sets the rest to 0 (or to 1 with ones).
  IpAddress masked(int prefix_len, bool ones = false) const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  int family_ = 0;
  std::array<uint8_t, 16> bytes_{};
};

// An address with a prefix length ("10.1.0.5/24"); the address need not be
// the network's first.
struct IpPrefix {
  IpAddress address;
  int length = 0;

  // Accepts "a/len"; a bare address only with allow_bare (length = all bits).
  static Result<IpPrefix> parse(std::string_view text, bool allow_bare = false);
  IpAddress network() const { return address.masked(length); }
  IpAddress last() const { return address.masked(length, true); }  // broadcast for IPv4
  bool contains(const IpAddress& a) const;
  std::string str() const;  // "address/len"
  IpPrefix canonical() const { return {network(), length}; }

  bool operator==(const IpPrefix&) const = default;
};

}  // namespace deckhand::cni
