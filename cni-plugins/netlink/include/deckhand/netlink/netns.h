// Network namespaces by path (/run/netns/x, /proc/<pid>/ns/net): an open
// handle, and a guard that moves the calling thread into one and back.
#pragma once

#include <string>

#include "deckhand/common/fd.h"
#include "deckhand/common/result.h"

namespace deckhand::netlink {

// An open network namespace. The fd keeps the namespace alive while held.
class NetnsHandle {
 public:
  // Opens path and checks that it is a network namespace file (nsfs or a
  // /proc/<pid>/ns/net link). A missing path, or a file that is not (or no
  // longer) a namespace, such as an unpinned bind-mount target, gives NotFound.
  static Result<NetnsHandle> open(const std::string& path);
  // The namespace of the calling thread.
  static Result<NetnsHandle> current();

  NetnsHandle(NetnsHandle&&) noexcept = default;
  NetnsHandle& operator=(NetnsHandle&&) noexcept = default;

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  // (device, inode) of the namespace: equal for two handles of the same one.
  bool same_as(const NetnsHandle& other) const;

 private:
  NetnsHandle(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  UniqueFd fd_;
  std::string path_;
};

// While alive, the calling thread is in the target namespace; the destructor
// returns it to the namespace it was in (and aborts the process if it cannot:
// continuing in the wrong namespace would act on the wrong interfaces).
class NetnsGuard {
 public:
  static Result<NetnsGuard> enter(const NetnsHandle& target);
  NetnsGuard(NetnsGuard&& o) noexcept : saved_(std::move(o.saved_)) {}
  NetnsGuard& operator=(NetnsGuard&&) = delete;
  NetnsGuard(const NetnsGuard&) = delete;
  ~NetnsGuard();

 private:
  explicit NetnsGuard(UniqueFd saved) : saved_(std::move(saved)) {}
  UniqueFd saved_;
};

// Writes a sysctl of the calling thread's network namespace ("net/ipv4/ip_forward"
// is /proc/sys/net/ipv4/ip_forward), skipping the write when it already holds value.
Status write_sysctl(const std::string& name, const std::string& value);

}  // namespace deckhand::netlink
