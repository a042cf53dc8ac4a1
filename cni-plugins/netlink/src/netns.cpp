#include "deckhand/netlink/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "deckhand/common/fs.h"

namespace deckhand::netlink {

namespace {
constexpr long kNsfsMagic = 0x6e736673;   // NSFS_MAGIC
constexpr long kProcMagic = 0x9fa0;       // PROC_SUPER_MAGIC (older kernels)
}  // namespace

Result<NetnsHandle> NetnsHandle::open(const std::string& path) {
  if (path.empty()) return fail(ErrorKind::InvalidArgument, "no network namespace path given");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_fail("open netns {}", path);
  UniqueFd owned(fd);
  struct statfs sfs {};
  if (::fstatfs(fd, &sfs) != 0) return sys_fail("statfs netns {}", path);
  if (static_cast<long>(sfs.f_type) != kNsfsMagic && static_cast<long>(sfs.f_type) != kProcMagic)
    return fail(ErrorKind::NotFound, "{} is not a network namespace (file system magic {:#x}): no such namespace",
                path, static_cast<unsigned long>(sfs.f_type));
  return NetnsHandle(std::move(owned), path);
}

Result<NetnsHandle> NetnsHandle::current() {
  int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_fail("open /proc/thread-self/ns/net");
  return NetnsHandle(UniqueFd(fd), "/proc/thread-self/ns/net");
}

bool NetnsHandle::same_as(const NetnsHandle& other) const {
  struct stat a {}, b {};
  if (::fstat(fd(), &a) != 0 || ::fstat(other.fd(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

Result<NetnsGuard> NetnsGuard::enter(const NetnsHandle& target) {
  int saved = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved < 0) return sys_fail("open /proc/thread-self/ns/net");
  UniqueFd owned(saved);
  if (::setns(target.fd(), CLONE_NEWNET) != 0) return sys_fail("enter netns {}", target.path());
  return NetnsGuard(std::move(owned));
}

NetnsGuard::~NetnsGuard() {
  if (!saved_) return;
  if (::setns(saved_.get(), CLONE_NEWNET) != 0) {
    std::perror("deckhand: cannot return to the original network namespace");
    std::abort();
  }
}

Status write_sysctl(const std::string& name, const std::string& value) {
  std::string path = "/proc/sys/" + name;
  auto cur = fs::read_file(path);
  if (cur) {
    std::string v = *cur;
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    if (v == value) return {};
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return sys_fail("open sysctl {}", path);
  UniqueFd owned(fd);
  return with_context(fs::write_all(fd, value, path), "set sysctl {} to {}", name, value);
}

}  // namespace deckhand::netlink
