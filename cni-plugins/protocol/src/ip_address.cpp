#include "deckhand/cni/ip_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace deckhand::cni {

Result<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    if (::inet_pton(AF_INET, s.c_str(), a.bytes_.data()) == 1) {
      a.family_ = AF_INET;
      return a;
    }
  } else if (::inet_pton(AF_INET6, s.c_str(), a.bytes_.data()) == 1) {
    a.family_ = AF_INET6;
    return a;
  }
  return fail(ErrorKind::InvalidArgument, "\"{}\" is not an IP address", text);
}

IpAddress IpAddress::v4(uint32_t host_order) {
  IpAddress a;
  a.family_ = AF_INET;
  uint32_t n = htonl(host_order);
  std::memcpy(a.bytes_.data(), &n, 4);
  return a;
}

IpAddress IpAddress::from_bytes(int family, const void* bytes) {
  IpAddress a;
  a.family_ = family;
  std::memcpy(a.bytes_.data(), bytes, family == AF_INET ? 4 : 16);
  return a;
}

bool IpAddress::is_v4() const { return family_ == AF_INET; }

std::string IpAddress::str() const {
  if (!valid()) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family_, bytes_.data(), buf, sizeof buf);
  return buf;
}

IpAddress IpAddress::offset(int64_t n) const {
  IpAddress out = *this;
  // Add n as a big-endian number of size() bytes, carrying (or borrowing) leftwards.
  bool negative = n < 0;
  uint64_t magnitude = negative ? uint64_t(-(n + 1)) + 1 : uint64_t(n);
  int carry = 0;
  for (int i = int(size()) - 1; i >= 0; --i) {
    int digit = int(magnitude & 0xff);
    magnitude >>= 8;
    int v = negative ? int(out.bytes_[i]) - digit - carry : int(out.bytes_[i]) + digit + carry;
    carry = negative ? (v < 0) : (v > 0xff);
    out.bytes_[i] = uint8_t(v & 0xff);
    if (magnitude == 0 && carry == 0) break;
  }
  return out;
}

IpAddress IpAddress::masked(int prefix_len, bool ones) const {
  IpAddress out = *this;
  for (int i = 0; i < int(size()); ++i) {
    int keep = std::clamp(prefix_len - i * 8, 0, 8);
    uint8_t mask = keep == 0 ? 0 : uint8_t(0xff << (8 - keep));
    out.bytes_[i] = ones ? uint8_t(out.bytes_[i] | ~mask) : uint8_t(out.bytes_[i] & mask);
  }
  return out;
}

Result<IpPrefix> IpPrefix::parse(std::string_view text, bool allow_bare) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos && !allow_bare)
    return fail(ErrorKind::InvalidArgument, "\"{}\" is not a CIDR (address/length)", text);
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return fail(ErrorKind::InvalidArgument, "\"{}\" is not a CIDR: bad address", text);
  IpPrefix p{*addr, addr->bits()};
  if (slash != std::string_view::npos) {
    auto len = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(len.data(), len.data() + len.size(), p.length);
    if (len.empty() || ec != std::errc() || ptr != len.data() + len.size() || p.length < 0 ||
        p.length > addr->bits())
      return fail(ErrorKind::InvalidArgument, "\"{}\" is not a CIDR: bad prefix length", text);
  }
  return p;
}

bool IpPrefix::contains(const IpAddress& a) const {
  return a.family() == address.family() && a.masked(length) == network();
}

std::string IpPrefix::str() const { return address.str() + "/" + std::to_string(length); }

}  // namespace deckhand::cni
