// Resolves a container's user against the image's /etc/passwd and /etc/group.
// The rootfs is untrusted: its files are opened with RESOLVE_IN_ROOT so that
// symlinks and ".." stay inside it, and only regular files are read.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>

#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/text.h"
#include "deckhand/runtime/oci_spec.h"

namespace deckhand::runtime {
namespace {

// Account databases are small; a huge one is an attack or a mistake.
constexpr size_t kMaxDbSize = 16 << 20;

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0, gid = 0;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

std::optional<uint32_t> parse_id(std::string_view s) {
  uint32_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// The content of rel inside root, or nullopt when it does not exist there.
Result<std::optional<std::string>> read_in_root(int root_fd, const std::string& rootfs, const char* rel) {
  std::string what = rootfs + "/" + rel;
  open_how how{};
  // O_NONBLOCK: a FIFO planted by the image must not hang us before the type check.
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
  if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) return std::optional<std::string>();
  if (fd < 0) return sys_fail("open {} inside the container root", what);
  UniqueFd file(static_cast<int>(fd));
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return sys_fail("stat {}", what);
  if (!S_ISREG(st.st_mode)) return fail(ErrorKind::InvalidArgument, "{} is not a regular file", what);
  DH_TRY(text, fs::read_all(file.get(), what, kMaxDbSize));
  return std::optional<std::string>(std::move(text));
}

bool skip_line(std::string_view line) {
  return line.empty() || line[0] == '#' || line[0] == '+' || line[0] == '-';
}

// name:password:uid:gid:gecos:home:shell; malformed lines are skipped, as libc does.
std::vector<PasswdEntry> parse_passwd(std::string_view text) {
  std::vector<PasswdEntry> out;
  for (auto line : split(text, '\n')) {
    if (skip_line(line)) continue;
    auto f = split(line, ':');
    if (f.size() < 4) continue;
    auto uid = parse_id(f[2]);
    auto gid = parse_id(f[3]);
    if (!uid || !gid) continue;
    out.push_back({std::string(f[0]), *uid, *gid});
  }
  return out;
}

// name:password:gid:member,member
std::vector<GroupEntry> parse_group(std::string_view text) {
  std::vector<GroupEntry> out;
  for (auto line : split(text, '\n')) {
    if (skip_line(line)) continue;
    auto f = split(line, ':');
    if (f.size() < 3) continue;
    auto gid = parse_id(f[2]);
    if (!gid) continue;
    GroupEntry g{std::string(f[0]), *gid, {}};
    if (f.size() > 3)
      for (auto m : split(f[3], ','))
        if (!m.empty()) g.members.emplace_back(m);
    out.push_back(std::move(g));
  }
  return out;
}

struct AccountDb {
  std::vector<PasswdEntry> users;
  std::vector<GroupEntry> groups;
};

Result<AccountDb> load_db(const std::string& rootfs) {
  int rfd = ::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rfd < 0) return sys_fail("open container root {}", rootfs);
  UniqueFd root(rfd);
  DH_TRY(passwd, read_in_root(root.get(), rootfs, "etc/passwd"));
  DH_TRY(group, read_in_root(root.get(), rootfs, "etc/group"));
  AccountDb db;
  if (passwd) db.users = parse_passwd(*passwd);
  if (group) db.groups = parse_group(*group);
  return db;
}

Result<PasswdEntry> find_user(const AccountDb& db, std::string_view user) {
  auto uid = parse_id(user);
  for (const auto& e : db.users)
    if (uid ? e.uid == *uid : e.name == user) return e;
  if (uid) return PasswdEntry{"", *uid, 0};  // a uid the image does not know runs with gid 0
  return fail(ErrorKind::NotFound, "user \"{}\" not found in the image's /etc/passwd", user);
}

Result<uint32_t> find_group(const AccountDb& db, std::string_view group) {
  if (auto gid = parse_id(group)) return *gid;
  for (const auto& g : db.groups)
    if (g.name == group) return g.gid;
  return fail(ErrorKind::NotFound, "group \"{}\" not found in the image's /etc/group", group);
}

// Groups that list the user by name, apart from its primary group.
std::vector<uint32_t> supplementary_gids(const AccountDb& db, const std::string& name, uint32_t primary) {
  std::vector<uint32_t> out;
  if (name.empty()) return out;
  for (const auto& g : db.groups) {
    bool member = std::find(g.members.begin(), g.members.end(), name) != g.members.end();
    if (member && g.gid != primary && std::find(out.begin(), out.end(), g.gid) == out.end())
      out.push_back(g.gid);
  }
  return out;
}

}  // namespace

Result<UserIds> resolve_user(const std::string& rootfs, const std::string& user) {
  auto colon = user.find(':');
  std::string_view name = std::string_view(user).substr(0, colon);
  std::string_view group = colon == std::string::npos ? "" : std::string_view(user).substr(colon + 1);
  if (name.empty() && colon != std::string::npos)
    return fail(ErrorKind::InvalidArgument, "user \"{}\": no user before ':'", user);
  if (colon != std::string::npos && group.empty())
    return fail(ErrorKind::InvalidArgument, "user \"{}\": no group after ':'", user);
  if (name.empty()) name = "0";  // the image did not say: root
  DH_TRY(db, with_context(load_db(rootfs), "resolve user \"{}\"", user));
  DH_TRY(entry, find_user(db, name));
  UserIds ids{entry.uid, entry.gid, {}};
  if (!group.empty()) {
    DH_TRY(gid, find_group(db, group));
    ids.gid = gid;
  }
  ids.additional_gids = supplementary_gids(db, entry.name, ids.gid);
  return ids;
}

}  // namespace deckhand::runtime
