// Test helpers for image import and layer unpack tests: layer tars crafted
// with libarchive (hostile ones included) and OCI layouts around them.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "deckhand/common/digest.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"

namespace deckhand::test {

struct TarEntry {
  enum Kind { File, Dir, Symlink, Hardlink, CharDev, BlockDev, Fifo };
  Kind kind = File;
  std::string name;
  std::string data;  // File
  std::string link;  // Symlink, Hardlink target
  mode_t mode = 0644;
  int64_t uid = 0, gid = 0;
  dev_t rdev = 0;
  time_t mtime = 1600000000;
  std::map<std::string, std::string> xattrs;
};

inline TarEntry file(std::string name, std::string data, mode_t mode = 0644) {
  TarEntry e;
  e.name = std::move(name);
  e.data = std::move(data);
  e.mode = mode;
  return e;
}
inline TarEntry dir(std::string name, mode_t mode = 0755) {
  TarEntry e;
  e.kind = TarEntry::Dir;
  e.name = std::move(name);
  e.mode = mode;
  return e;
}
inline TarEntry symlink(std::string name, std::string target) {
  TarEntry e;
  e.kind = TarEntry::Symlink;
  e.name = std::move(name);
  e.link = std::move(target);
  e.mode = 0777;
  return e;
}
inline TarEntry hardlink(std::string name, std::string target) {
  TarEntry e;
  e.kind = TarEntry::Hardlink;
  e.name = std::move(name);
  e.link = std::move(target);
  return e;
}
inline TarEntry device(std::string name, TarEntry::Kind kind, unsigned major_no, unsigned minor_no) {
  TarEntry e;
  e.kind = kind;
  e.name = std::move(name);
  e.rdev = makedev(major_no, minor_no);
  e.mode = 0660;
  return e;
}

enum class Compress { None, Gzip, Zstd };

inline la_ssize_t append_cb(struct archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// A tar (pax) of entries, written with libarchive so that names are kept
// exactly as given ("../x", "/etc/y"): libarchive's writer does not clean them.
inline std::string make_tar(const std::vector<TarEntry>& entries, Compress c = Compress::None) {
  std::string out;
  struct archive* a = archive_write_new();
  REQUIRE(a);
  REQUIRE(archive_write_set_format_pax_restricted(a) == ARCHIVE_OK);
  if (c == Compress::Gzip) REQUIRE(archive_write_add_filter_gzip(a) == ARCHIVE_OK);
  if (c == Compress::Zstd) REQUIRE(archive_write_add_filter_zstd(a) == ARCHIVE_OK);
  archive_write_set_bytes_in_last_block(a, 1);
  REQUIRE(archive_write_open(a, &out, nullptr, append_cb, nullptr) == ARCHIVE_OK);
  for (auto& t : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.name.c_str());
    archive_entry_set_perm(e, t.mode);
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, t.mtime, 0);
    switch (t.kind) {
      case TarEntry::File:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, static_cast<la_int64_t>(t.data.size()));
        break;
      case TarEntry::Dir: archive_entry_set_filetype(e, AE_IFDIR); break;
      case TarEntry::Symlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, t.link.c_str());
        break;
      case TarEntry::Hardlink:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, t.link.c_str());
        break;
      case TarEntry::CharDev:
        archive_entry_set_filetype(e, AE_IFCHR);
        archive_entry_set_rdev(e, t.rdev);
        break;
      case TarEntry::BlockDev:
        archive_entry_set_filetype(e, AE_IFBLK);
        archive_entry_set_rdev(e, t.rdev);
        break;
      case TarEntry::Fifo: archive_entry_set_filetype(e, AE_IFIFO); break;
    }
    for (auto& [k, v] : t.xattrs) archive_entry_xattr_add_entry(e, k.c_str(), v.data(), v.size());
    REQUIRE(archive_write_header(a, e) == ARCHIVE_OK);
    if (t.kind == TarEntry::File && !t.data.empty())
      REQUIRE(archive_write_data(a, t.data.data(), t.data.size()) == static_cast<la_ssize_t>(t.data.size()));
    archive_entry_free(e);
  }
  REQUIRE(archive_write_close(a) == ARCHIVE_OK);
  archive_write_free(a);
  return out;
}

// sha256 of the uncompressed tar: what a config's diff_ids hold.
inline std::string diff_id_of(const std::vector<TarEntry>& entries) { return sha256_digest(make_tar(entries)); }

inline void write_blob(const std::string& layout, const std::string& data) {
  REQUIRE(fs::make_dirs(layout + "/blobs/sha256"));
  REQUIRE(fs::write_file_atomic(layout + "/blobs/sha256/" + sha256_digest(data).substr(7), data));
}

// Writes an OCI image layout directory holding one image made of layers
// (compressed as given) and named ref_name (index annotation). diff_ids
// overrides the config's diff ids (to test verification). Returns the
// manifest digest.
inline std::string write_oci_layout(const std::string& layout, const std::vector<std::vector<TarEntry>>& layers,
                                    const std::string& ref_name, Compress c = Compress::Gzip,
                                    std::vector<std::string> diff_ids = {}, const std::string& label = "") {
  Json layer_descs = Json::array();
  bool given = !diff_ids.empty();
  for (auto& l : layers) {
    std::string blob = make_tar(l, c);
    write_blob(layout, blob);
    layer_descs.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"},
                           {"digest", sha256_digest(blob)},
                           {"size", blob.size()}});
    if (!given) diff_ids.push_back(diff_id_of(l));
  }
  Json cfg_json{{"architecture", "amd64"},
                {"os", "linux"},
                {"config", {{"Cmd", {"sh"}}, {"Labels", {{"test", label}}}}},
                {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  std::string cfg = cfg_json.dump();
  write_blob(layout, cfg);
  Json m{{"schemaVersion", 2},
         {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
         {"config",
          {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", sha256_digest(cfg)}, {"size", cfg.size()}}},
         {"layers", layer_descs}};
  std::string manifest = m.dump();
  write_blob(layout, manifest);
  Json desc{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"digest", sha256_digest(manifest)},
            {"size", manifest.size()},
            {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}};
  if (!ref_name.empty()) desc["annotations"] = {{"org.opencontainers.image.ref.name", ref_name}};
  Json index{{"schemaVersion", 2}, {"manifests", Json::array({desc})}};
  REQUIRE(fs::write_file_atomic(layout + "/index.json", index.dump()));
  REQUIRE(fs::write_file_atomic(layout + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  return sha256_digest(manifest);
}

inline bool lexists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

}  // namespace deckhand::test
