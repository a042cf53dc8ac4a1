// Layer unpacking. libarchive only parses; every file is created here with
// *at() calls on a parent directory that openat2(RESOLVE_IN_ROOT) resolved
// inside the snapshot, so no tar entry (.., absolute names, symlinked
// parents, hardlinks) can reach outside it.
#include "layer_unpacker.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include <fmt/format.h>

#include "deckhand/common/digest.h"
#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"

namespace deckhand::images {

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";
constexpr size_t kBlockSize = 128 * 1024;

using ArchivePtr = std::unique_ptr<struct archive, decltype(&archive_read_free)>;
using Components = std::vector<std::string>;

std::string join_components(const Components& c, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && i < c.size(); ++i) out += (i ? "/" : "") + c[i];
  return out.empty() ? "." : out;
}

// Splits a tar name into components, dropping "." and empty ones. ".." pops
// a component; climbing above the root sets escaped (the caller decides
// whether that clamps or is refused).
Components clean_path(std::string_view p, bool* escaped) {
  Components out;
  *escaped = false;
  size_t start = 0;
  while (start <= p.size()) {
    size_t slash = p.find('/', start);
    if (slash == std::string_view::npos) slash = p.size();
    std::string_view c = p.substr(start, slash - start);
    if (c == "..") {
      if (out.empty()) *escaped = true;
      else out.pop_back();
    } else if (!c.empty() && c != ".") {
      out.emplace_back(c);
    }
    start = slash + 1;
  }
  return out;
}

// openat2 with RESOLVE_IN_ROOT: "/" and ".." stop at root, symlinks are
// followed as if root were "/". Retries EAGAIN, which the kernel returns
// when a rename raced with the lookup.
int open_in_root(int root, const std::string& rel, uint64_t flags) {
  struct open_how how {};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  for (int i = 0; i < 16; ++i) {
    long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
  }
  return -1;
}

std::string proc_path(int dirfd, const std::string& leaf) { return fmt::format("/proc/self/fd/{}/{}", dirfd, leaf); }

struct Unpacker {
  int root;
  std::string dest;
  struct archive* ar = nullptr;
  struct DeferredTime {
    Components path;
    struct timespec times[2];
  };
  std::vector<DeferredTime> dir_times;
  uint64_t skipped = 0;

  std::string where(const Components& c) const { return fmt::format("{}/{}", dest, join_components(c, c.size())); }

  // Opens the directory of the first n components, creating missing ones
  // (mode 0755) one at a time under a parent that was itself resolved in root.
  Result<UniqueFd> open_dir(const Components& c, size_t n, bool create) {
    std::string rel = join_components(c, n);
    int fd = open_in_root(root, rel, O_PATH | O_DIRECTORY);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != ENOENT || !create || n == 0) return sys_fail("open directory {}", fmt::format("{}/{}", dest, rel));
    DH_TRY(parent, open_dir(c, n - 1, true));
    const std::string& name = c[n - 1];
    if (::mkdirat(parent.get(), name.c_str(), 0755) == 0) {
      // Implied parents get 0755 whatever the umask.
      if (::fchmodat(parent.get(), name.c_str(), 0755, AT_SYMLINK_NOFOLLOW) != 0)
        return sys_fail("chmod {}/{}", dest, rel);
    } else if (errno != EEXIST) {
      return sys_fail("mkdir {}/{}", dest, rel);
    }
    fd = open_in_root(root, rel, O_PATH | O_DIRECTORY);
    if (fd < 0) {
      // mkdir found something that is not a directory we can enter: a
      // symlink to a missing (or non-directory) target, or a file.
      return sys_fail("open directory {} (a symlink pointing nowhere inside the layer, or a file)",
                      fmt::format("{}/{}", dest, rel));
    }
    return UniqueFd(fd);
  }

  // Makes room for a new entry: an existing directory stays when the new
  // entry is one too; anything else is removed.
  Status clear_leaf(int pfd, const std::string& leaf, bool keep_dir, const Components& c) {
    struct stat st {};
    if (::fstatat(pfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return {};
      return sys_fail("stat {}", where(c));
    }
    if (S_ISDIR(st.st_mode)) {
      if (keep_dir) return {};
      if (::unlinkat(pfd, leaf.c_str(), AT_REMOVEDIR) != 0) return sys_fail("replace directory {}", where(c));
      return {};
    }
    if (::unlinkat(pfd, leaf.c_str(), 0) != 0) return sys_fail("replace {}", where(c));
    return {};
  }

  Status write_data(int fd, const Components& c, int64_t size) {
    const void* buf = nullptr;
    size_t len = 0;
    la_int64_t offset = 0;
    for (;;) {
      int r = archive_read_data_block(ar, &buf, &len, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return fail(ErrorKind::InvalidArgument, "read data of {}: {}", where(c), archive_error_string(ar));
      const char* p = static_cast<const char*>(buf);
      while (len > 0) {
        ssize_t n = ::pwrite(fd, p, len, offset);
        if (n < 0) {
          if (errno == EINTR) continue;
          return sys_fail("write {}", where(c));
        }
        p += n;
        offset += n;
        len -= static_cast<size_t>(n);
      }
    }
    // Sparse files may end in a hole.
    if (::ftruncate(fd, size) != 0) return sys_fail("truncate {}", where(c));
    return {};
  }

  Status set_xattrs(struct archive_entry* e, int pfd, const std::string& leaf, const Components& c, bool symlink) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    archive_entry_xattr_reset(e);
    std::string p = proc_path(pfd, leaf);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      if (::lsetxattr(p.c_str(), name, value, size, 0) == 0) continue;
      // Some file systems lack xattrs, and user.* ones are not allowed on symlinks.
      if (errno == ENOTSUP || (symlink && errno == EPERM)) {
        log::get("images")->warn("unpack {}: xattr {} not set: {}", where(c), name, errno_text(errno));
        continue;
      }
      return sys_fail("set xattr {} on {}", name, where(c));
    }
    return {};
  }

  Status set_metadata(struct archive_entry* e, int pfd, const std::string& leaf, const Components& c, bool dir) {
    bool symlink = archive_entry_filetype(e) == AE_IFLNK;
    auto uid = static_cast<uid_t>(archive_entry_uid(e));
    auto gid = static_cast<gid_t>(archive_entry_gid(e));
    if (::fchownat(pfd, leaf.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) return sys_fail("chown {}", where(c));
    // After chown, which clears set-id bits.
    if (!symlink && ::fchmodat(pfd, leaf.c_str(), archive_entry_perm(e) & 07777, AT_SYMLINK_NOFOLLOW) != 0)
      return sys_fail("chmod {}", where(c));
    // After chown too: it drops security.capability.
    DH_CHECK(set_xattrs(e, pfd, leaf, c, symlink));
    struct timespec times[2];
    times[0] = {archive_entry_atime(e), archive_entry_atime_nsec(e)};
    times[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
    if (!archive_entry_atime_is_set(e)) times[0] = times[1];
    if (dir) {
      // Creating children would change it again: set it at the end.
      dir_times.push_back({c, {times[0], times[1]}});
      return {};
    }
    if (::utimensat(pfd, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) return sys_fail("set times of {}", where(c));
    return {};
  }

  Status make_whiteout(int pfd, const std::string& hidden, const Components& c) {
    if (hidden.empty() || hidden == "." || hidden == "..")
      return fail(ErrorKind::InvalidArgument, "invalid whiteout {}", where(c));
    Components target = c;
    target.back() = hidden;
    DH_CHECK(clear_leaf(pfd, hidden, false, target));
    if (::mknodat(pfd, hidden.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
      return sys_fail("create whiteout {}", where(target));
    return {};
  }

  Status make_opaque(int pfd, const Components& c) {
    int fd = ::openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return sys_fail("open {}", where(c));
    UniqueFd dir(fd);
    if (::fsetxattr(dir.get(), "trusted.overlay.opaque", "y", 1, 0) != 0)
      return sys_fail("mark {} opaque", where(c));
    return {};
  }

  Status make_hardlink(struct archive_entry* e, int pfd, const std::string& leaf, const Components& c) {
    bool escaped = false;
    Components target = clean_path(archive_entry_hardlink(e), &escaped);
    if (escaped || target.empty())
      return fail(ErrorKind::InvalidArgument, "hardlink {} -> {} points outside the layer", where(c),
                  archive_entry_hardlink(e));
    DH_TRY(tpfd, open_dir(target, target.size() - 1, false));
    DH_CHECK(clear_leaf(pfd, leaf, false, c));
    if (::linkat(tpfd.get(), target.back().c_str(), pfd, leaf.c_str(), 0) != 0)
      return sys_fail("hardlink {} -> {}", where(c), where(target));
    return {};
  }

  Status make_node(struct archive_entry* e, int pfd, const std::string& leaf, const Components& c) {
    mode_t type = archive_entry_filetype(e);
    switch (type) {
      case AE_IFDIR:
        DH_CHECK(clear_leaf(pfd, leaf, true, c));
        if (::mkdirat(pfd, leaf.c_str(), 0700) != 0 && errno != EEXIST) return sys_fail("mkdir {}", where(c));
        return set_metadata(e, pfd, leaf, c, true);
      case AE_IFREG: {
        DH_CHECK(clear_leaf(pfd, leaf, false, c));
        int fd = ::openat(pfd, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) return sys_fail("create {}", where(c));
        UniqueFd file(fd);
        DH_CHECK(write_data(file.get(), c, archive_entry_size(e)));
        return set_metadata(e, pfd, leaf, c, false);
      }
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (!target) return fail(ErrorKind::InvalidArgument, "symlink {} has no target", where(c));
        DH_CHECK(clear_leaf(pfd, leaf, false, c));
        // Created as is: it is only ever followed inside this root (openat2
        // here, the container's root at run time).
        if (::symlinkat(target, pfd, leaf.c_str()) != 0) return sys_fail("symlink {} -> {}", where(c), target);
        return set_metadata(e, pfd, leaf, c, false);
      }
      case AE_IFIFO:
        DH_CHECK(clear_leaf(pfd, leaf, false, c));
        if (::mknodat(pfd, leaf.c_str(), S_IFIFO | 0600, 0) != 0) return sys_fail("mkfifo {}", where(c));
        return set_metadata(e, pfd, leaf, c, false);
      case AE_IFCHR:
        // A 0:0 character device is already an overlay whiteout (layers
        // tarred straight from an overlay upper dir carry them).
        if (archive_entry_rdev(e) == makedev(0, 0)) {
          DH_CHECK(clear_leaf(pfd, leaf, false, c));
          if (::mknodat(pfd, leaf.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
            return sys_fail("create whiteout {}", where(c));
          return {};
        }
        [[fallthrough]];
      default:
        // Devices in images are a way to hand containers the host's disks;
        // runtimes create the devices a container needs.
        log::get("images")->warn("unpack {}: skipping {} (device nodes and sockets are not unpacked)", where(c),
                                 type == AE_IFCHR ? "character device" : type == AE_IFBLK ? "block device" : "socket");
        ++skipped;
        return {};
    }
  }

  Status apply(struct archive_entry* e) {
    const char* raw = archive_entry_pathname(e);
    if (!raw) return fail(ErrorKind::InvalidArgument, "layer entry without a name");
    bool escaped = false;
    Components c = clean_path(raw, &escaped);
    if (escaped) log::get("images")->warn("unpack {}: entry \"{}\" climbs above the root; clamped", dest, raw);
    if (c.empty()) return {};  // the root itself: the snapshot dir keeps its own attributes
    const std::string leaf = c.back();
    DH_TRY(parent, open_dir(c, c.size() - 1, true));
    if (leaf == kOpaqueMarker) return make_opaque(parent.get(), c);
    if (leaf.starts_with(kWhiteoutMetaPrefix)) return {};  // aufs bookkeeping (.wh..wh.plnk and such)
    if (leaf.starts_with(kWhiteoutPrefix))
      return make_whiteout(parent.get(), leaf.substr(kWhiteoutPrefix.size()), c);
    if (archive_entry_hardlink(e)) return make_hardlink(e, parent.get(), leaf, c);
    return make_node(e, parent.get(), leaf, c);
  }

  void apply_dir_times() {
    for (auto& d : dir_times) {
      auto parent = open_dir(d.path, d.path.size() - 1, false);
      if (!parent) continue;
      ::utimensat(parent->get(), d.path.back().c_str(), d.times, AT_SYMLINK_NOFOLLOW);
    }
  }
};

// Feeds the tar reader from the decompressing reader and hashes the
// uncompressed stream on the way: one pass yields both the files and the
// diff id.
struct HashingSource {
  struct archive* raw;
  Sha256 hash;
  char buf[kBlockSize];
  std::string error;

  static la_ssize_t read(struct archive*, void* self, const void** out) {
    auto* s = static_cast<HashingSource*>(self);
    la_ssize_t n = archive_read_data(s->raw, s->buf, sizeof s->buf);
    if (n < 0) {
      s->error = archive_error_string(s->raw) ? archive_error_string(s->raw) : "decompression failed";
      return -1;
    }
    s->hash.update(std::string_view(s->buf, static_cast<size_t>(n)));
    *out = s->buf;
    return n;
  }

  Status drain() {
    for (;;) {
      la_ssize_t n = archive_read_data(raw, buf, sizeof buf);
      if (n < 0) return fail(ErrorKind::InvalidArgument, "decompress layer: {}", archive_error_string(raw));
      if (n == 0) return {};
      hash.update(std::string_view(buf, static_cast<size_t>(n)));
    }
  }
};

Result<ArchivePtr> open_decompressor(int fd, LayerCompression comp, const std::string& path) {
  ArchivePtr a(archive_read_new(), archive_read_free);
  if (!a) return fail(ErrorKind::ResourceExhausted, "archive_read_new");
  int r = ARCHIVE_OK;
  if (comp == LayerCompression::Gzip) r = archive_read_support_filter_gzip(a.get());
  if (comp == LayerCompression::Zstd) r = archive_read_support_filter_zstd(a.get());
  if (r != ARCHIVE_OK)
    return fail(ErrorKind::Unimplemented, "layer {}: decompression not available: {}", path, archive_error_string(a.get()));
  archive_read_support_format_raw(a.get());
  if (archive_read_open_fd(a.get(), fd, kBlockSize) != ARCHIVE_OK)
    return fail(ErrorKind::InvalidArgument, "open layer {}: {}", path, archive_error_string(a.get()));
  struct archive_entry* e = nullptr;
  if (archive_read_next_header(a.get(), &e) != ARCHIVE_OK)
    return fail(ErrorKind::InvalidArgument, "read layer {}: {}", path, archive_error_string(a.get()));
  return a;
}

}  // namespace

Result<LayerCompression> detect_compression(const std::string& blob_path) {
  DH_TRY(fd, fs::open_fd(blob_path, O_RDONLY));
  unsigned char m[4] = {};
  ssize_t n = ::pread(fd.get(), m, sizeof m, 0);
  if (n < 0) return sys_fail("read {}", blob_path);
  if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) return LayerCompression::Gzip;
  if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) return LayerCompression::Zstd;
  return LayerCompression::None;
}

Result<std::string> unpack_layer(const std::string& blob_path, const std::string& dest) {
  DH_TRY(comp, detect_compression(blob_path));
  DH_TRY(fd, fs::open_fd(blob_path, O_RDONLY));
  DH_TRY(raw, open_decompressor(fd.get(), comp, blob_path));
  DH_TRY(rootfd, fs::open_fd(dest, O_PATH | O_DIRECTORY));

  auto src = std::make_unique<HashingSource>();
  src->raw = raw.get();
  ArchivePtr tar(archive_read_new(), archive_read_free);
  if (!tar) return fail(ErrorKind::ResourceExhausted, "archive_read_new");
  archive_read_support_format_tar(tar.get());
  if (archive_read_open(tar.get(), src.get(), nullptr, &HashingSource::read, nullptr) != ARCHIVE_OK)
    return fail(ErrorKind::InvalidArgument, "layer {}: not a tar: {}", blob_path, archive_error_string(tar.get()));

  Unpacker u{rootfd.get(), dest, tar.get()};
  struct archive_entry* e = nullptr;
  for (;;) {
    int r = archive_read_next_header(tar.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      std::string why = !src->error.empty() ? src->error : archive_error_string(tar.get());
      return fail(ErrorKind::InvalidArgument, "layer {}: {}", blob_path, why);
    }
    DH_CHECK(with_context(u.apply(e), "layer {}", blob_path));
  }
  u.apply_dir_times();
  // The tar reader stops at the end-of-archive blocks; the diff id covers
  // the padding after them too.
  DH_CHECK(src->drain());
  return "sha256:" + src->hash.hex();
}

}  // namespace deckhand::images
