// Layout detection and the pieces both cgroupfs drivers use.
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstdlib>
#include <thread>

#include "cgroups_impl.h"
#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/text.h"

namespace deckhand::runtime {
namespace cgroups_impl {
namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 4, v, 8);
      if (ec == std::errc() && end == s.data() + i + 4) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

struct MountLine {
  std::string mount_point, fstype;
  std::vector<std::string_view> super_options;
};

// Fields: id parent maj:min root mount-point options [optional...] - fstype source super-options
bool parse_mount_line(std::string_view line, MountLine& out) {
  auto f = split(line, ' ');
  size_t dash = 6;
  while (dash < f.size() && f[dash] != "-") ++dash;
  if (f.size() < 5 || dash + 3 >= f.size()) return false;
  out.mount_point = unescape_mountinfo(f[4]);
  out.fstype = std::string(f[dash + 1]);
  out.super_options = split(f[dash + 3], ',');
  return true;
}

bool is_under(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
                          path[root.size()] == '/');
}

}  // namespace

bool is_known_controller(std::string_view name) {
  static constexpr std::array<std::string_view, 14> kControllers = {
      "cpu",     "cpuacct", "cpuset",  "memory",     "pids", "blkio", "devices",
      "freezer", "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc"};
  for (auto c : kControllers)
    if (c == name) return true;
  return false;
}

Result<std::string> relative_cgroup_path(const std::string& path) {
  std::string out;
  for (auto part : split(path, '/')) {
    if (part.empty()) continue;
    if (part == "." || part == "..")
      return fail(ErrorKind::InvalidArgument, "cgroup path \"{}\": \"{}\" is not allowed", path, part);
    if (!out.empty()) out += '/';
    out += part;
  }
  if (out.empty()) return fail(ErrorKind::InvalidArgument, "cgroup path \"{}\" names the root", path);
  return out;
}

Result<std::string> read_control(const std::string& dir, const std::string& file, bool missing_ok) {
  auto r = fs::read_file(dir + "/" + file);
  if (!r && missing_ok && r.error().sys_errno == ENOENT) return std::string();
  return r;
}

Status write_control(const std::string& dir, const std::string& file, std::string_view value, bool create) {
  std::string path = dir + "/" + file;
  int flags = O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0);
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return sys_fail("open {} to write \"{}\"", path, value);
  UniqueFd f(fd);
  ssize_t n;
  do {
    n = ::write(f.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return sys_fail("write \"{}\" to {}", value, path);
  if (static_cast<size_t>(n) != value.size())
    return fail(ErrorKind::Internal, "write \"{}\" to {}: short write ({} bytes)", value, path, n);
  return {};
}

std::map<std::string, uint64_t> parse_flat_keyed(std::string_view text) {
  std::map<std::string, uint64_t> out;
  for (auto line : split(text, '\n')) {
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    uint64_t v = 0;
    auto num = line.substr(sp + 1);
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (ec == std::errc() && end == num.data() + num.size()) out[std::string(line.substr(0, sp))] = v;
  }
  return out;
}

Result<uint64_t> parse_u64(std::string_view text, const std::string& what) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size())
    return fail(ErrorKind::Internal, "{}: \"{}\" is not a number", what, text);
  return v;
}

Result<uint64_t> read_u64_or_zero(const std::string& dir, const std::string& file) {
  DH_TRY(text, read_control(dir, file, true));
  if (text.empty()) return uint64_t{0};
  return parse_u64(text, dir + "/" + file);
}

CreatedDirs::~CreatedDirs() {
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it)
    if (::rmdir(it->c_str()) != 0 && errno != ENOENT)
      // No logger here (one-shot programs link this statically): stderr is the caller's log.
      std::fprintf(stderr, "warning: roll back cgroup %s: rmdir: %s\n", it->c_str(), errno_text(errno).c_str());
}

Status make_cgroup_dirs(const std::string& root, const std::string& rel, CreatedDirs& created,
                        const std::function<Status(const std::string&)>& before_child,
                        const std::function<Status(const std::string&, const std::string&)>& after_dir) {
  std::string parent = root;
  for (auto part : split(rel, '/')) {
    std::string dir = parent + "/" + std::string(part);
    if (before_child) DH_CHECK(before_child(parent));
    if (::mkdir(dir.c_str(), 0755) == 0) {
      created.add(dir);
    } else if (errno != EEXIST) {
      return sys_fail("create cgroup {}", dir);
    }
    if (after_dir) DH_CHECK(after_dir(parent, dir));
    parent = dir;
  }
  return {};
}

namespace {

Status remove_plain_files(const std::string& dir) {
  DH_TRY(names, fs::list_dir(dir));
  for (const auto& n : names) {
    std::string p = dir + "/" + n;
    struct stat st {};
    if (::lstat(p.c_str(), &st) == 0 && !S_ISDIR(st.st_mode) && ::unlink(p.c_str()) != 0)
      return sys_fail("remove {}", p);
  }
  return {};
}

Status rmdir_with_retry(const std::string& dir, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
    if (errno != EBUSY || std::chrono::steady_clock::now() >= deadline) {
      bool busy = errno == EBUSY;
      Status e = sys_fail("remove cgroup {}", dir);
      if (busy) e.error().message += " (processes or child cgroups still in it)";
      return e;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

Status remove_cgroup_tree(const std::string& dir, std::chrono::steady_clock::time_point deadline,
                          bool remove_files) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return sys_fail("stat cgroup {}", dir);
  }
  DH_TRY(names, fs::list_dir(dir));
  for (const auto& n : names) {
    std::string child = dir + "/" + n;
    // Control files are not directories; only child cgroups are.
    if (::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      DH_CHECK(remove_cgroup_tree(child, deadline, remove_files));
  }
  if (remove_files) DH_CHECK(remove_plain_files(dir));
  return rmdir_with_retry(dir, deadline);
}

uint64_t shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

std::map<std::string, std::string> v1_mounts_from_mountinfo(std::string_view mountinfo, const std::string& root) {
  std::map<std::string, std::string> out;
  for (auto line : split(mountinfo, '\n')) {
    MountLine m;
    if (!parse_mount_line(line, m) || m.fstype != "cgroup" || !is_under(m.mount_point, root)) continue;
    for (auto opt : m.super_options)
      if (is_known_controller(opt)) out.emplace(std::string(opt), m.mount_point);  // first mount wins
  }
  return out;
}

std::map<std::string, std::string> v1_companion_mounts(std::string_view mountinfo, const std::string& root) {
  std::map<std::string, std::string> out;
  for (auto line : split(mountinfo, '\n')) {
    MountLine m;
    if (!parse_mount_line(line, m) || !is_under(m.mount_point, root) || m.mount_point == root) continue;
    if (m.fstype == "cgroup2") out.emplace("unified", m.mount_point);
    if (m.fstype != "cgroup") continue;
    for (auto opt : m.super_options)
      if (opt == "name=systemd") out.emplace("name=systemd", m.mount_point);
  }
  return out;
}

bool has_v1_controller_mounts(std::string_view mountinfo) {
  return !v1_mounts_from_mountinfo(mountinfo, "/").empty();
}

}  // namespace cgroups_impl

namespace {

// Test trees: subdirectories of root named after controllers, "cpu,cpuacct" for co-mounts.
Result<std::map<std::string, std::string>> v1_dirs_under(const std::string& root) {
  std::map<std::string, std::string> out;
  DH_TRY(names, fs::list_dir(root));
  for (const auto& n : names) {
    struct stat st {};
    std::string dir = root + "/" + n;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    std::string_view rest = n;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto c = rest.substr(0, comma);
      if (cgroups_impl::is_known_controller(c)) out.emplace(std::string(c), dir);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return out;
}

std::string canonical_root(const std::string& root) {
  char* real = ::realpath(root.c_str(), nullptr);
  if (!real) return root;
  std::string out(real);
  ::free(real);
  return out;
}

}  // namespace

Result<CgroupfsLayout> detect_cgroupfs_layout(const std::string& mount_root) {
  std::string root = canonical_root(mount_root);
  struct statfs sfs {};
  if (::statfs(root.c_str(), &sfs) != 0) return sys_fail("statfs cgroup root {}", root);
  DH_TRY(mountinfo, fs::read_file("/proc/self/mountinfo"));
  CgroupfsLayout layout;
  if (sfs.f_type == CGROUP2_SUPER_MAGIC) {
    layout.version = CgroupfsLayout::Version::V2;
    layout.v2_root = root;
    layout.v2_only_hierarchy = !cgroups_impl::has_v1_controller_mounts(mountinfo);
    return layout;
  }
  layout.v1_hierarchies = cgroups_impl::v1_mounts_from_mountinfo(mountinfo, root);
  if (!layout.v1_hierarchies.empty()) {
    layout.v1_hierarchies.merge(cgroups_impl::v1_companion_mounts(mountinfo, root));
  } else {
    DH_TRY(dirs, v1_dirs_under(root));
    layout.v1_hierarchies = std::move(dirs);
  }
  if (layout.v1_hierarchies.empty())
    return fail(ErrorKind::NotFound, "no cgroup v1 hierarchy or cgroup2 mount at {}", root);
  return layout;
}

Result<std::unique_ptr<CgroupDriver>> make_cgroupfs_driver(const CgroupfsLayout& layout) {
  if (layout.version == CgroupfsLayout::Version::V2) return cgroups_impl::make_v2_driver(layout);
  if (layout.v1_hierarchies.empty())
    return fail(ErrorKind::InvalidArgument, "cgroup v1 layout without hierarchies");
  return cgroups_impl::make_v1_driver(layout);
}

Result<std::unique_ptr<CgroupDriver>> make_cgroupfs_driver(const std::string& mount_root) {
  DH_TRY(layout, detect_cgroupfs_layout(mount_root));
  return make_cgroupfs_driver(layout);
}

}  // namespace deckhand::runtime
