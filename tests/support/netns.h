// Network namespaces for integration tests: a fresh namespace pinned on a
// file (removed again on destruction), and an ICMP echo from inside one.
#pragma once

#include <chrono>
#include <string>

namespace deckhand::test {

// A new network namespace pinned by a bind mount on path; unpinned on destruction.
class Netns {
 public:
  explicit Netns(std::string path);
  ~Netns() { remove(); }
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  // Unpins the namespace and removes the file (the namespace dies with its last user).
  void remove();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool pinned_ = false;
};

// Sends ICMP echo requests (IPv4 or IPv6, by the form of address) from inside
// the namespace pinned at netns_path to address, once a second, until a reply
// comes back or the deadline passes. Returns "" on a reply, or what went wrong.
std::string ping_from(const std::string& netns_path, const std::string& address,
                      std::chrono::milliseconds deadline = std::chrono::seconds(10));

}  // namespace deckhand::test
