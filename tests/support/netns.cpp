#include "netns.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/result.h"

namespace deckhand::test {

Netns::Netns(std::string path) : path_(std::move(path)) {
  REQUIRE(fs::write_file_atomic(path_, ""));
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    bool ok = ::unshare(CLONE_NEWNET) == 0 &&
              ::mount("/proc/self/ns/net", path_.c_str(), nullptr, MS_BIND, nullptr) == 0;
    ::_exit(ok ? 0 : 1);
  }
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  REQUIRE(WIFEXITED(st));
  REQUIRE(WEXITSTATUS(st) == 0);
  pinned_ = true;
}

void Netns::remove() {
  if (pinned_) ::umount2(path_.c_str(), MNT_DETACH);
  pinned_ = false;
  ::unlink(path_.c_str());
}

namespace {

// A socket created inside the namespace at netns_path: a short-lived thread
// enters it (setns changes only that thread) and makes the socket there; the
// socket stays in that namespace.
Result<UniqueFd> socket_in_netns(const std::string& netns_path, int domain, int type, int protocol) {
  Result<UniqueFd> out = fail(ErrorKind::Internal, "socket thread did not run");
  std::thread t([&] {
    UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns) {
      out = sys_fail("open netns {}", netns_path);
      return;
    }
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      out = sys_fail("enter netns {}", netns_path);
      return;
    }
    int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
      out = sys_fail("open ICMP socket in netns {}", netns_path);
      return;
    }
    out = UniqueFd(fd);
  });
  t.join();
  return out;
}

uint16_t inet_checksum(const uint8_t* data, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

}  // namespace

std::string ping_from(const std::string& netns_path, const std::string& address, std::chrono::milliseconds deadline) {
  using Clock = std::chrono::steady_clock;
  bool v6 = address.find(':') != std::string::npos;
  sockaddr_storage dst{};
  socklen_t dst_len = 0;
  if (v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&dst);
    s6->sin6_family = AF_INET6;
    if (::inet_pton(AF_INET6, address.c_str(), &s6->sin6_addr) != 1) return "not an address: " + address;
    dst_len = sizeof(sockaddr_in6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&dst);
    s4->sin_family = AF_INET;
    if (::inet_pton(AF_INET, address.c_str(), &s4->sin_addr) != 1) return "not an address: " + address;
    dst_len = sizeof(sockaddr_in);
  }
  // Raw ICMP sockets: root has CAP_NET_RAW, whatever ping_group_range says.
  auto sock = socket_in_netns(netns_path, v6 ? AF_INET6 : AF_INET, SOCK_RAW, v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP});
  if (!sock) return sock.error().message;
  int fd = sock->get();

  const uint16_t ident = static_cast<uint16_t>(::getpid() ^ 0x5a5a);
  const auto end = Clock::now() + deadline;
  uint16_t seq = 0;
  std::string last_error = "no reply";
  while (Clock::now() < end) {
    ++seq;
    uint8_t pkt[64] = {};
    pkt[0] = v6 ? ICMP6_ECHO_REQUEST : ICMP_ECHO;
    pkt[4] = static_cast<uint8_t>(ident >> 8), pkt[5] = static_cast<uint8_t>(ident);
    pkt[6] = static_cast<uint8_t>(seq >> 8), pkt[7] = static_cast<uint8_t>(seq);
    std::memcpy(pkt + 8, "deckhand-ping", 13);
    if (!v6) {  // the kernel computes ICMPv6 checksums of raw sockets itself
      uint16_t c = inet_checksum(pkt, sizeof pkt);
      std::memcpy(pkt + 2, &c, 2);
    }
    if (::sendto(fd, pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&dst), dst_len) < 0)
      last_error = fmt::format("send echo request to {}: {}", address, errno_text(errno));
    // Wait up to a second (or the deadline) for the matching reply.
    const auto round_end = std::min(end, Clock::now() + std::chrono::seconds(1));
    while (Clock::now() < round_end) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(round_end - Clock::now()).count();
      pollfd p{fd, POLLIN, 0};
      int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 1)));
      if (n <= 0) continue;
      uint8_t buf[1500];
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      ssize_t got = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (got <= 0) continue;
      const uint8_t* icmp = buf;
      size_t icmp_len = static_cast<size_t>(got);
      if (!v6) {  // IPv4 raw sockets deliver the IP header too
        size_t ihl = static_cast<size_t>(buf[0] & 0x0f) * 4;
        if (icmp_len < ihl + 8) continue;
        icmp += ihl;
        icmp_len -= ihl;
        if (reinterpret_cast<sockaddr_in*>(&from)->sin_addr.s_addr !=
            reinterpret_cast<sockaddr_in*>(&dst)->sin_addr.s_addr)
          continue;
      } else {
        if (icmp_len < 8) continue;
        if (std::memcmp(&reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr,
                        &reinterpret_cast<sockaddr_in6*>(&dst)->sin6_addr, sizeof(in6_addr)) != 0)
          continue;
      }
      uint8_t want_type = v6 ? ICMP6_ECHO_REPLY : ICMP_ECHOREPLY;
      uint16_t id = static_cast<uint16_t>(icmp[4] << 8 | icmp[5]);
      if (icmp[0] == want_type && id == ident) return "";
    }
  }
  return fmt::format("ping {} from netns {}: {} within {} ms", address, netns_path, last_error, deadline.count());
}

}  // namespace deckhand::test
