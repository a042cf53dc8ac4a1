#include "deckhand/oci/rootfs_setup.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>

namespace deckhand::oci {
namespace {

struct OptionFlag {
  std::string_view name;
  bool clear;
  unsigned long flag;
};

constexpr std::array<OptionFlag, 26> kOptionFlags = {{
    {"ro", false, MS_RDONLY},          {"rw", true, MS_RDONLY},          {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},         {"nodev", false, MS_NODEV},       {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},      {"exec", true, MS_NOEXEC},        {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},   {"dirsync", false, MS_DIRSYNC},   {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},      {"nomand", true, MS_MANDLOCK},    {"atime", true, MS_NOATIME},
    {"noatime", false, MS_NOATIME},    {"diratime", true, MS_NODIRATIME}, {"nodiratime", false, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},  {"norelatime", true, MS_RELATIME}, {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME}, {"bind", false, MS_BIND}, {"rbind", false, MS_BIND | MS_REC},
    {"silent", false, MS_SILENT},      {"loud", true, MS_SILENT},
}};

struct PropagationFlag {
  std::string_view name;
  unsigned long flag;
};

constexpr std::array<PropagationFlag, 8> kPropagation = {{
    {"private", MS_PRIVATE},   {"rprivate", MS_PRIVATE | MS_REC}, {"shared", MS_SHARED},
    {"rshared", MS_SHARED | MS_REC}, {"slave", MS_SLAVE},         {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
}};

// Per-mount flags that a bind remount must repeat, or it clears them.
unsigned long kept_flags(const char* path) {
  struct statvfs sv {};
  if (::statvfs(path, &sv) != 0) return 0;
  unsigned long out = 0;
  if (sv.f_flag & ST_NOSUID) out |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) out |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) out |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) out |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) out |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) out |= MS_RELATIME;
  return out;
}

// The magic link through which mount(2) reaches what an O_PATH fd names,
// so that a path checked inside the rootfs is the one mounted on.
std::string fd_path(const UniqueFd& fd) { return fmt::format("/proc/self/fd/{}", fd.get()); }

// "a/./b/../c" -> {"a", "c"}; ".." stops at the root, as it does in the container.
std::vector<std::string> clean_components(const std::string& path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(std::move(part));
  }
  return out;
}

std::string joined(const std::vector<std::string>& parts, size_t n) {
  std::string out = ".";
  for (size_t i = 0; i < n; ++i) out += "/" + parts[i];
  return out;
}

Result<UniqueFd> resolve_in_root(int root_fd, const std::string& rel) {
  open_how how {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how);
  if (fd < 0) return sys_fail("resolve {} in the rootfs", rel);
  return UniqueFd(static_cast<int>(fd));
}

Status make_entry(int parent_fd, const std::string& name, bool file) {
  if (!file) {
    if (::mkdirat(parent_fd, name.c_str(), 0755) != 0 && errno != EEXIST) return sys_fail("mkdir {}", name);
    return {};
  }
  int fd = ::openat(parent_fd, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno != EEXIST) return sys_fail("create {}", name);
  if (fd >= 0) ::close(fd);
  return {};
}

struct DefaultDevice {
  const char* name;
  unsigned major, minor;
};
constexpr DefaultDevice kDefaultDevices[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

constexpr std::pair<const char*, const char*> kDevLinks[] = {
    {"fd", "/proc/self/fd"},         {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},   {"ptmx", "pts/ptmx"},
};

bool is_missing(const char* path, struct stat& st) { return ::stat(path, &st) != 0 && errno == ENOENT; }

}  // namespace

MountFlags parse_mount_options(const std::vector<std::string>& options) {
  MountFlags mf;
  for (const auto& o : options) {
    auto f = std::find_if(kOptionFlags.begin(), kOptionFlags.end(), [&](auto& x) { return x.name == o; });
    if (f != kOptionFlags.end()) {
      mf.flags = f->clear ? (mf.flags & ~f->flag) : (mf.flags | f->flag);
      continue;
    }
    auto p = std::find_if(kPropagation.begin(), kPropagation.end(), [&](auto& x) { return x.name == o; });
    if (p != kPropagation.end()) {
      mf.propagation = p->flag;
      continue;
    }
    mf.data += (mf.data.empty() ? "" : ",") + o;
  }
  return mf;
}

Result<UniqueFd> open_in_root(int root_fd, const std::string& path, Create create) {
  auto parts = clean_components(path);
  if (create == Create::No || parts.empty()) return resolve_in_root(root_fd, joined(parts, parts.size()));
  auto whole = resolve_in_root(root_fd, joined(parts, parts.size()));
  if (whole || whole.error().sys_errno != ENOENT) return whole;
  // Walk down from the root, making what is missing; each step is resolved
  // again from the root, so a symlink met on the way stays inside it.
  UniqueFd parent;
  DH_TRY(root, resolve_in_root(root_fd, "."));
  parent = std::move(root);
  for (size_t i = 0; i < parts.size(); ++i) {
    auto next = resolve_in_root(root_fd, joined(parts, i + 1));
    if (!next && next.error().sys_errno == ENOENT) {
      bool last_file = create == Create::File && i + 1 == parts.size();
      DH_CHECK(with_context(make_entry(parent.get(), parts[i], last_file), "make mount point {}", path));
      next = resolve_in_root(root_fd, joined(parts, i + 1));
    }
    if (!next) return tl::unexpected(next.error().context("make mount point {}", path));
    parent = std::move(*next);
  }
  return parent;
}

RootfsSetup::RootfsSetup(const BundleConfig& config, std::vector<std::pair<std::string, std::string>> cgroup_dirs)
    : config_(config), cgroup_dirs_(std::move(cgroup_dirs)) {}

Status RootfsSetup::prepare() {
  // Nothing we mount may reach the host: slave (or private, if asked) from the start.
  const auto& prop = config_.rootfs_propagation;
  unsigned long root_prop = (prop == "private" || prop == "rprivate") ? MS_PRIVATE | MS_REC : MS_SLAVE | MS_REC;
  if (::mount(nullptr, "/", nullptr, root_prop, nullptr) != 0) return sys_fail("make / {}", prop.empty() ? "rslave" : prop);
  // pivot_root wants the new root to be a mount point.
  const char* rootfs = config_.rootfs.c_str();
  if (::mount(rootfs, rootfs, nullptr, MS_BIND | MS_REC, nullptr) != 0) return sys_fail("bind rootfs {}", config_.rootfs);
  int fd = ::open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_fail("open rootfs {}", config_.rootfs);
  root_fd_.reset(fd);
  for (const auto& m : config_.mounts) DH_CHECK(mount_one(m));
  DH_CHECK(make_devices());
  return make_cwd();
}

Status RootfsSetup::mount_one(const MountEntry& m) {
  MountFlags mf = parse_mount_options(m.options);
  if (m.type == "bind" || (mf.flags & MS_BIND)) return mount_bind(m, mf);
  if (m.type == "cgroup") return mount_cgroup(m, mf);
  DH_TRY(target, open_in_root(root_fd_.get(), m.destination, Create::Dir));
  const char* data = mf.data.empty() ? nullptr : mf.data.c_str();
  if (::mount(m.source.c_str(), fd_path(target).c_str(), m.type.c_str(), mf.flags, data) != 0)
    return sys_fail("mount {} ({}) on {}", m.type, m.source, m.destination);
  if (mf.propagation) {
    DH_TRY(mounted, open_in_root(root_fd_.get(), m.destination, Create::No));
    if (::mount(nullptr, fd_path(mounted).c_str(), nullptr, mf.propagation, nullptr) != 0)
      return sys_fail("set propagation of {}", m.destination);
  }
  return {};
}

Status RootfsSetup::mount_bind(const MountEntry& m, const MountFlags& mf) {
  struct stat st {};
  if (::stat(m.source.c_str(), &st) != 0) return sys_fail("bind mount source {} for {}", m.source, m.destination);
  DH_TRY(target, open_in_root(root_fd_.get(), m.destination, S_ISDIR(st.st_mode) ? Create::Dir : Create::File));
  if (::mount(m.source.c_str(), fd_path(target).c_str(), nullptr, MS_BIND | (mf.flags & MS_REC), nullptr) != 0)
    return sys_fail("bind {} on {}", m.source, m.destination);
  // Options of a bind mount apply only through a remount of the new mount.
  unsigned long extra = mf.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  DH_TRY(mounted, open_in_root(root_fd_.get(), m.destination, Create::No));
  std::string at = fd_path(mounted);
  if (extra && ::mount(nullptr, at.c_str(), nullptr, MS_BIND | MS_REMOUNT | extra | kept_flags(at.c_str()), nullptr) != 0)
    return sys_fail("remount bind {} with its options", m.destination);
  if (mf.propagation && ::mount(nullptr, at.c_str(), nullptr, mf.propagation, nullptr) != 0)
    return sys_fail("set propagation of {}", m.destination);
  return {};
}

// The container sees its own cgroup: on v1 a tmpfs with each hierarchy's
// cgroup of the container bound in by name; on v2 the one directory.
Status RootfsSetup::mount_cgroup(const MountEntry& m, const MountFlags& mf) {
  bool ro = mf.flags & MS_RDONLY;
  unsigned long secure = mf.flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
  auto bind = [&](const std::string& host_dir, const std::string& dest) -> Status {
    DH_TRY(target, open_in_root(root_fd_.get(), dest, Create::Dir));
    if (::mount(host_dir.c_str(), fd_path(target).c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
      return sys_fail("bind cgroup {} on {}", host_dir, dest);
    DH_TRY(mounted, open_in_root(root_fd_.get(), dest, Create::No));
    unsigned long flags = MS_BIND | MS_REMOUNT | secure | (ro ? MS_RDONLY : 0);
    if (::mount(nullptr, fd_path(mounted).c_str(), nullptr, flags, nullptr) != 0)
      return sys_fail("remount cgroup {}", dest);
    return {};
  };
  if (cgroup_dirs_.size() == 1 && cgroup_dirs_[0].first.empty()) return bind(cgroup_dirs_[0].second, m.destination);
  DH_TRY(target, open_in_root(root_fd_.get(), m.destination, Create::Dir));
  if (::mount("cgroup", fd_path(target).c_str(), "tmpfs", secure, "mode=755") != 0)
    return sys_fail("mount tmpfs for cgroups on {}", m.destination);
  for (const auto& [name, host_dir] : cgroup_dirs_) DH_CHECK(bind(host_dir, m.destination + "/" + name));
  if (!ro) return {};
  DH_TRY(mounted, open_in_root(root_fd_.get(), m.destination, Create::No));
  if (::mount(nullptr, fd_path(mounted).c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | secure, nullptr) != 0)
    return sys_fail("remount {} read-only", m.destination);
  return {};
}

// The devices every container has, whatever the image's /dev holds.
Status RootfsSetup::make_devices() {
  DH_TRY(dev, open_in_root(root_fd_.get(), "/dev", Create::Dir));
  for (const auto& d : kDefaultDevices) {
    struct stat st {};
    dev_t want = makedev(d.major, d.minor);
    if (::fstatat(dev.get(), d.name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISCHR(st.st_mode) && st.st_rdev == want) continue;
      if (::unlinkat(dev.get(), d.name, 0) != 0) return sys_fail("remove /dev/{} of the image", d.name);
    }
    if (::mknodat(dev.get(), d.name, S_IFCHR | 0666, want) != 0) return sys_fail("mknod /dev/{}", d.name);
    if (::fchmodat(dev.get(), d.name, 0666, 0) != 0) return sys_fail("chmod /dev/{}", d.name);
  }
  for (const auto& [name, target] : kDevLinks)
    if (::symlinkat(target, dev.get(), name) != 0 && errno != EEXIST) return sys_fail("symlink /dev/{}", name);
  return {};
}

// runc makes a missing working directory; images rely on it.
Status RootfsSetup::make_cwd() {
  DH_TRY(cwd, open_in_root(root_fd_.get(), config_.process.cwd, Create::Dir));
  return {};
}

Status RootfsSetup::pivot() {
  int old = ::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (old < 0) return sys_fail("open old root");
  UniqueFd old_root(old);
  if (::fchdir(root_fd_.get()) != 0) return sys_fail("chdir to rootfs {}", config_.rootfs);
  // pivot_root(".", "."): the old root ends up on top of the new one, whence
  // it is detached without needing a directory for it in the image.
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return sys_fail("pivot_root to {}", config_.rootfs);
  if (::fchdir(old_root.get()) != 0) return sys_fail("chdir to old root");
  // Detaching must not unmount anything of the host through propagation.
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) return sys_fail("make old root rslave");
  if (::umount2(".", MNT_DETACH) != 0) return sys_fail("detach old root");
  if (::chdir("/") != 0) return sys_fail("chdir /");
  root_fd_.reset();
  const auto& prop = config_.rootfs_propagation;
  if (!prop.empty() && prop != "rslave" && prop != "rprivate" && prop != "private") {
    auto flags = parse_mount_options({prop}).propagation;
    if (::mount(nullptr, "/", nullptr, flags, nullptr) != 0) return sys_fail("make / {}", prop);
  }
  return {};
}

Status RootfsSetup::finish() {
  DH_CHECK(mask_paths());
  DH_CHECK(make_readonly_paths());
  return config_.readonly_root ? make_root_readonly() : Status{};
}

// Files get /dev/null over them, directories an empty read-only tmpfs.
Status RootfsSetup::mask_paths() {
  for (const auto& p : config_.masked_paths) {
    struct stat st {};
    if (is_missing(p.c_str(), st)) continue;
    int r = S_ISDIR(st.st_mode) ? ::mount("tmpfs", p.c_str(), "tmpfs", MS_RDONLY, nullptr)
                                : ::mount("/dev/null", p.c_str(), nullptr, MS_BIND, nullptr);
    if (r != 0 && errno != ENOENT) return sys_fail("mask {}", p);
  }
  return {};
}

Status RootfsSetup::make_readonly_paths() {
  for (const auto& p : config_.readonly_paths) {
    struct stat st {};
    if (is_missing(p.c_str(), st)) continue;
    if (::mount(p.c_str(), p.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      if (errno == ENOENT) continue;
      return sys_fail("bind {} for read-only", p);
    }
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | kept_flags(p.c_str());
    if (::mount(nullptr, p.c_str(), nullptr, flags, nullptr) != 0) return sys_fail("remount {} read-only", p);
  }
  return {};
}

Status RootfsSetup::make_root_readonly() {
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | kept_flags("/");
  if (::mount(nullptr, "/", nullptr, flags, nullptr) != 0) return sys_fail("remount / read-only");
  return {};
}

}  // namespace deckhand::oci
