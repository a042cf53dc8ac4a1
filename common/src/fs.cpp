#include "deckhand/common/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <set>

#include <fmt/format.h>

namespace deckhand::fs {

Result<UniqueFd> open_fd(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return sys_fail("open {}", path);
  return UniqueFd(fd);
}

Result<std::string> read_file(const std::string& path) {
  DH_TRY(fd, open_fd(path, O_RDONLY));
  return read_all(fd.get(), path);
}

Result<std::string> read_all(int fd, const std::string& what, size_t max_size) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_fail("read {}", what);
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_size) return fail(ErrorKind::InvalidArgument, "{} is larger than {} bytes", what, max_size);
  }
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_fail("write {}", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

static std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode, Durability durability) {
  bool sync = durability == Durability::PowerLoss;
  static std::atomic<unsigned> counter{0};
  std::string tmp = fmt::format("{}.tmp.{}.{}", path, ::getpid(), counter++);
  {
    DH_TRY(fd, open_fd(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode));
    auto st = write_all(fd.get(), data, tmp);
    if (st && sync && ::fsync(fd.get()) != 0) st = sys_fail("fsync {}", tmp);
    if (!st) {
      ::unlink(tmp.c_str());
      return st;
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = sys_fail("rename {} to {}", tmp, path);
    ::unlink(tmp.c_str());
    return e;
  }
  if (!sync) return {};
  std::string dir = dir_of(path);
  DH_TRY(dfd, open_fd(dir, O_RDONLY | O_DIRECTORY));
  if (::fsync(dfd.get()) != 0) return sys_fail("fsync directory {}", dir);
  return {};
}

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty() || cur == "/") continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return sys_fail("mkdir {}", cur);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return sys_fail("stat {}", path);
  if (!S_ISDIR(st.st_mode)) return fail(ErrorKind::AlreadyExists, "{} exists and is not a directory", path);
  return {};
}

Status spread_subdirectories(const std::string& path) {
  DH_TRY(fd, open_fd(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  int flags = 0;
  if (::ioctl(fd.get(), FS_IOC_GETFLAGS, &flags) != 0) {
    if (errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL) return {};  // no inode flags here
    return sys_fail("read the inode flags of {}", path);
  }
  if (flags & FS_TOPDIR_FL) return {};
  flags |= FS_TOPDIR_FL;
  if (::ioctl(fd.get(), FS_IOC_SETFLAGS, &flags) != 0) {
    if (errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL) return {};
    return sys_fail("mark {} as a top of directory trees", path);
  }
  return {};
}

// Removes the entries of dirfd, staying on device dev.
static Status remove_children(int dirfd, dev_t dev, const std::string& path) {
  int dup = ::dup(dirfd);
  if (dup < 0) return sys_fail("dup fd of {}", path);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return sys_fail("opendir {}", path);
  }
  Status result;
  while (auto* ent = ::readdir(d)) {
    std::string_view name = ent->d_name;
    if (name == "." || name == "..") continue;
    std::string child = path + "/" + ent->d_name;
    struct stat st {};
    if (::fstatat(dirfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      result = sys_fail("stat {}", child);
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) {
        result = fail(ErrorKind::FailedPrecondition, "{} is a mount point; not removing it", child);
        break;
      }
      int cfd = ::openat(dirfd, ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (cfd < 0) {
        result = sys_fail("open {}", child);
        break;
      }
      auto st2 = remove_children(cfd, dev, child);
      ::close(cfd);
      if (!st2) {
        result = st2;
        break;
      }
      if (::unlinkat(dirfd, ent->d_name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        result = sys_fail("rmdir {}", child);
        break;
      }
    } else if (::unlinkat(dirfd, ent->d_name, 0) != 0 && errno != ENOENT) {
      result = sys_fail("unlink {}", child);
      break;
    }
  }
  ::closedir(d);
  return result;
}

Status remove_all(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return sys_fail("stat {}", path);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_fail("unlink {}", path);
    return {};
  }
  {
    DH_TRY(fd, open_fd(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    DH_CHECK(remove_children(fd.get(), st.st_dev, path));
  }
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) return sys_fail("rmdir {}", path);
  return {};
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
  std::vector<std::string> names;
  DIR* d = ::opendir(path.c_str());
  if (!d) {
    if (errno == ENOENT) return names;
    return sys_fail("opendir {}", path);
  }
  while (auto* ent = ::readdir(d)) {
    std::string_view name = ent->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(d);
  return names;
}

std::string join(std::string_view a, std::string_view b) {
  std::string out(a);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  if (out.empty()) return std::string(b);
  if (out != "/") out += '/';
  out += b;
  return out;
}

namespace {

struct UsageWalk {
  DiskUsage usage;
  std::set<std::pair<dev_t, ino_t>> linked;  // files with several links count once
};

Status usage_at(int dirfd, const std::string& path, UsageWalk& w) {
  int dup = ::dup(dirfd);
  if (dup < 0) return sys_fail("dup fd of {}", path);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return sys_fail("opendir {}", path);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  while (auto* ent = ::readdir(d)) {
    std::string_view name = ent->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(dirfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed while we walked
      return sys_fail("stat {}/{}", path, name);
    }
    if (st.st_nlink > 1 && !S_ISDIR(st.st_mode) && !w.linked.insert({st.st_dev, st.st_ino}).second) continue;
    w.usage.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    w.usage.inodes++;
    if (!S_ISDIR(st.st_mode)) continue;
    int cfd = ::openat(dirfd, ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (cfd < 0) {
      if (errno == ENOENT) continue;
      return sys_fail("open {}/{}", path, name);
    }
    UniqueFd child(cfd);
    DH_CHECK(usage_at(child.get(), fmt::format("{}/{}", path, name), w));
  }
  return {};
}

}  // namespace

Result<DiskUsage> disk_usage(const std::string& path) {
  DH_TRY(fd, open_fd(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
  UsageWalk w;
  DH_CHECK(usage_at(fd.get(), path, w));
  return w.usage;
}

}  // namespace deckhand::fs
