// The image store: records of images (id = config digest) and the names
// pointing at them, persisted in <root>/images.json; blobs in a
// ContentStore; layers unpacked once per chain id under <root>/snapshots.
#include "deckhand/images/image_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <set>

#include <fmt/format.h>

#include "archive_import.h"
#include "deckhand/common/digest.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/common/log.h"
#include "deckhand/images/image_ref.h"
#include "layer_unpacker.h"
#include "manifest.h"

namespace deckhand::images {

namespace {

constexpr int kMetadataVersion = 1;
constexpr int kMaxIndexDepth = 4;
// How long blobs written by a pull that has not registered its image yet
// are safe from garbage collection.
constexpr std::chrono::seconds kFreshBlobGrace{600};

std::string hex_of(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return !s.empty();
}

struct Record {
  std::string id;
  std::string manifest_digest;
  std::set<std::string> repo_digests;
  std::set<std::string> blobs;  // every blob it needs: indexes, manifest, config, layers
  std::vector<std::string> chain_ids;
  uint64_t size = 0;
  ImageConfig config;
  bool removed = false;  // names dropped; kept only for containers still using it
};

Json record_to_json(const Record& r) {
  return Json{{"id", r.id},
              {"manifest_digest", r.manifest_digest},
              {"repo_digests", r.repo_digests},
              {"blobs", r.blobs},
              {"chain_ids", r.chain_ids},
              {"size", r.size},
              {"config", config_to_json(r.config)},
              {"removed", r.removed}};
}

Result<Record> record_from_json(const Json& j) {
  // Our own file; a type error means it is corrupt.
  try {
    Record r;
    r.id = j.at("id").get<std::string>();
    r.manifest_digest = j.at("manifest_digest").get<std::string>();
    r.repo_digests = j.at("repo_digests").get<std::set<std::string>>();
    r.blobs = j.at("blobs").get<std::set<std::string>>();
    r.chain_ids = j.at("chain_ids").get<std::vector<std::string>>();
    r.size = j.at("size").get<uint64_t>();
    r.config = config_from_json(j.at("config"));
    r.removed = j.value("removed", false);
    if (!is_sha256_digest(r.id)) return fail(ErrorKind::Internal, "bad image id \"{}\"", r.id);
    return r;
  } catch (const Json::exception& e) {
    return fail(ErrorKind::Internal, "image record: {}", e.what());
  }
}

// What register_image learned from the documents, before it unpacks anything.
struct Resolved {
  std::string manifest_digest;
  Manifest manifest;
  ParsedConfig config;
  std::set<std::string> blobs;
  uint64_t size = 0;
};

// Removes a temporary directory unless released.
class DirGuard {
 public:
  explicit DirGuard(std::string path) : path_(std::move(path)) {}
  ~DirGuard() {
    if (path_.empty()) return;
    auto st = fs::remove_all(path_);
    if (!st) log::get("images")->warn("clean up {}: {}", path_, st.error().message);
  }
  DirGuard(const DirGuard&) = delete;
  DirGuard& operator=(const DirGuard&) = delete;
  void release() { path_.clear(); }

 private:
  std::string path_;
};

class ImageStoreImpl final : public ImageStore {
 public:
  explicit ImageStoreImpl(std::string root) : root_(std::move(root)), content_(root_) {}

  Status init() {
    for (auto* sub : {"blobs/sha256", "snapshots", "ingest"}) DH_CHECK(fs::make_dirs(fs::join(root_, sub), 0700));
    DH_CHECK(remove_leftovers());
    return load();
  }

  ContentStore& content() override { return content_; }

  Result<std::vector<Image>> import_archive(const std::string& path) override {
    return import_image_archive(*this, path);
  }

  Result<Image> register_image(const std::string& name, const std::string& top_digest) override {
    std::optional<ImageRef> ref;
    if (!name.empty()) {
      DH_TRY(r, parse_ref(name));
      ref = std::move(r);
    }
    DH_TRY(res, resolve(top_digest));
    auto chains = chain_ids(res.config.diff_ids);
    PendingGuard pending(*this, chains);
    for (size_t i = 0; i < chains.size(); ++i)
      DH_CHECK(with_context(ensure_snapshot(chains[i], res.manifest.layers[i].digest, res.config.diff_ids[i]),
                            "register image {}", name.empty() ? top_digest : name));
    std::lock_guard lock(mu_);
    Record& r = images_[res.manifest.config.digest];
    r.id = res.manifest.config.digest;
    r.manifest_digest = res.manifest_digest;
    r.blobs.insert(res.blobs.begin(), res.blobs.end());
    r.chain_ids = chains;
    r.size = res.size;
    r.config = res.config.config;
    r.removed = false;
    if (ref) {
      r.repo_digests.insert(ref->name() + "@" + top_digest);
      if (!ref->tag.empty()) tags_[ref->tagged()] = r.id;
    }
    DH_CHECK(persist());
    for (auto& b : res.blobs) content_.settle(b);
    log::get("images")->info("registered image {} ({})", r.id, name.empty() ? "no name" : name);
    return to_image(r);
  }

  std::vector<Image> list() const override {
    std::lock_guard lock(mu_);
    std::vector<Image> out;
    for (auto& [id, r] : images_)
      if (!r.removed) out.push_back(to_image(r));
    return out;
  }

  Result<Image> get(std::string_view ref_or_id) const override {
    std::lock_guard lock(mu_);
    DH_TRY(id, find(ref_or_id));
    return to_image(images_.at(id));
  }

  Status remove(std::string_view ref_or_id) override {
    std::lock_guard lock(mu_);
    DH_TRY(id, find(ref_or_id));
    Record& r = images_.at(id);
    r.removed = true;
    r.repo_digests.clear();
    std::erase_if(tags_, [&](const auto& kv) { return kv.second == id; });
    log::get("images")->info("removed image {} ({})", id, ref_or_id);
    return persist();
  }

  Status tag(std::string_view ref_or_id, const std::string& name) override {
    DH_TRY(ref, parse_ref(name));
    if (ref.tag.empty()) return fail(ErrorKind::InvalidArgument, "tag {}: \"{}\" has no tag", ref_or_id, name);
    std::lock_guard lock(mu_);
    DH_TRY(id, find(ref_or_id));
    tags_[ref.tagged()] = id;
    return persist();
  }

  Status garbage_collect(const std::set<std::string>& in_use) override {
    std::lock_guard lock(mu_);
    std::erase_if(images_, [&](const auto& kv) {
      const Record& r = kv.second;
      bool named = !r.removed && (!r.repo_digests.empty() || has_tag(r.id));
      return !named && !in_use.contains(r.id);
    });
    DH_CHECK(persist());
    std::set<std::string> blobs, chains(pending_.begin(), pending_.end());
    for (auto& [id, r] : images_) {
      blobs.insert(r.blobs.begin(), r.blobs.end());
      chains.insert(r.chain_ids.begin(), r.chain_ids.end());
    }
    DH_CHECK(collect_blobs(blobs));
    return collect_snapshots(chains);
  }

  Result<FsUsage> fs_usage() const override {
    DH_TRY(u, fs::disk_usage(root_));
    return FsUsage{root_, u.bytes, u.inodes};
  }

 private:
  // Marks chain ids as being unpacked, so that a concurrent garbage
  // collection leaves their snapshots alone until the image is recorded.
  class PendingGuard {
   public:
    PendingGuard(ImageStoreImpl& s, const std::vector<std::string>& chains) : s_(s), chains_(chains) {
      std::lock_guard lock(s_.mu_);
      s_.pending_.insert(chains_.begin(), chains_.end());
    }
    ~PendingGuard() {
      std::lock_guard lock(s_.mu_);
      for (auto& c : chains_) s_.pending_.erase(s_.pending_.find(c));
    }
    PendingGuard(const PendingGuard&) = delete;
    PendingGuard& operator=(const PendingGuard&) = delete;

   private:
    ImageStoreImpl& s_;
    std::vector<std::string> chains_;
  };

  std::string metadata_path() const { return root_ + "/images.json"; }
  std::string snapshot_dir(const std::string& chain) const { return root_ + "/snapshots/" + hex_of(chain); }

  // Half-written blobs and unpacks of a process that died.
  Status remove_leftovers() {
    DH_TRY(ingest, fs::list_dir(root_ + "/ingest"));
    for (auto& n : ingest) DH_CHECK(fs::remove_all(root_ + "/ingest/" + n));
    DH_TRY(snaps, fs::list_dir(root_ + "/snapshots"));
    for (auto& n : snaps)
      if (n.starts_with("tmp-")) DH_CHECK(fs::remove_all(root_ + "/snapshots/" + n));
    return {};
  }

  Status load() {
    if (!fs::exists(metadata_path())) return {};
    DH_TRY(j, read_json_file(metadata_path()));
    auto fail_corrupt = [&](const std::string& why) {
      return fail(ErrorKind::Internal, "image store metadata {} is corrupt: {}", metadata_path(), why);
    };
    auto version = j.find("version");
    if (!j.is_object() || version == j.end() || !version->is_number_integer() ||
        version->get<int64_t>() != kMetadataVersion)
      return fail_corrupt("unknown version");
    auto imgs = j.find("images");
    auto tags = j.find("tags");
    if (imgs == j.end() || !imgs->is_array() || tags == j.end() || !tags->is_object())
      return fail_corrupt("no images or tags");
    for (auto& ji : *imgs) {
      auto r = record_from_json(ji);
      if (!r) return fail_corrupt(r.error().message);
      images_[r->id] = std::move(*r);
    }
    for (auto& [name, id] : tags->items()) {
      if (!id.is_string() || !images_.contains(id.get<std::string>())) return fail_corrupt("tag " + name);
      tags_[name] = id.get<std::string>();
    }
    return {};
  }

  Status persist() const {
    Json imgs = Json::array();
    for (auto& [id, r] : images_) imgs.push_back(record_to_json(r));
    Json j{{"version", kMetadataVersion}, {"images", imgs}, {"tags", tags_}};
    return fs::write_file_atomic(metadata_path(), j.dump(1), 0600);
  }

  Result<Resolved> resolve(const std::string& top_digest) {
    Resolved res;
    std::string digest = top_digest;
    for (int depth = 0;; ++depth) {
      if (depth == kMaxIndexDepth) return fail(ErrorKind::InvalidArgument, "{}: indexes nested too deep", top_digest);
      DH_TRY(text, content_.read(digest));
      res.blobs.insert(digest);
      DH_TRY(kind, document_kind(text, digest));
      if (kind == DocumentKind::Manifest) {
        DH_TRY(m, parse_manifest(text, digest));
        res.manifest = std::move(m);
        res.manifest_digest = digest;
        break;
      }
      DH_TRY(idx, parse_index(text, digest));
      DH_TRY(d, with_context(select_platform(idx), "index {}", digest));
      digest = d.digest;
    }
    const Manifest& m = res.manifest;
    DH_TRY(cfg_text, content_.read(m.config.digest));
    DH_TRY(cfg, parse_config(cfg_text, m.config.digest));
    res.config = std::move(cfg);
    if (res.config.diff_ids.size() != m.layers.size())
      return fail(ErrorKind::InvalidArgument, "image {}: manifest has {} layers but config {} diff ids", top_digest,
                  m.layers.size(), res.config.diff_ids.size());
    res.blobs.insert(m.config.digest);
    res.size = cfg_text.size();
    for (auto& l : m.layers) {
      DH_TRY(sz, with_context(content_.size(l.digest), "layer of image {}", top_digest));
      res.blobs.insert(l.digest);
      res.size += sz;
    }
    return res;
  }

  Status ensure_snapshot(const std::string& chain, const std::string& layer, const std::string& diff_id) {
    std::string dir = snapshot_dir(chain);
    if (fs::exists(dir)) return {};
    std::string tmp = root_ + "/snapshots/tmp-" + random_id();
    DirGuard guard(tmp);
    DH_CHECK(fs::make_dirs(tmp + "/fs", 0755));
    if (::chmod(tmp.c_str(), 0700) != 0) return sys_fail("chmod {}", tmp);
    DH_TRY(got, unpack_layer(content_.path(layer), tmp + "/fs"));
    if (got != diff_id)
      return fail(ErrorKind::InvalidArgument, "layer {}: uncompressed digest {} does not match diff id {}", layer, got,
                  diff_id);
    if (::rename(tmp.c_str(), dir.c_str()) != 0) {
      // Another registration unpacked the same layer first: use theirs.
      if ((errno == EEXIST || errno == ENOTEMPTY) && fs::exists(dir)) return {};
      return sys_fail("rename {} to {}", tmp, dir);
    }
    guard.release();
    log::get("images")->debug("unpacked layer {} as snapshot {}", layer, chain);
    return {};
  }

  bool has_tag(const std::string& id) const {
    for (auto& [name, tid] : tags_)
      if (tid == id) return true;
    return false;
  }

  Image to_image(const Record& r) const {
    Image img;
    img.id = r.id;
    for (auto& [name, id] : tags_)
      if (id == r.id) img.repo_tags.push_back(name);
    img.repo_digests.assign(r.repo_digests.begin(), r.repo_digests.end());
    img.manifest_digest = r.manifest_digest;
    img.size = r.size;
    img.config = r.config;
    for (auto& c : r.chain_ids) img.layer_dirs.push_back(snapshot_dir(c) + "/fs");
    return img;
  }

  // Finds an image id: full id, reference (tag or repo digest), then unique id prefix.
  Result<std::string> find(std::string_view s) const {
    std::string id = is_hex(s) && s.size() == 64 ? "sha256:" + std::string(s) : std::string(s);
    if (auto it = images_.find(id); it != images_.end() && !it->second.removed) return id;
    if (is_sha256_digest(id)) return fail(ErrorKind::NotFound, "image {} not found", s);
    auto ref = parse_ref(s);
    if (ref) {
      if (auto found = find_ref(*ref)) return *found;
    }
    std::string_view prefix = s.starts_with("sha256:") ? s.substr(7) : s;
    if (!is_hex(prefix)) {
      if (!ref) return tl::unexpected(ref.error());
      return fail(ErrorKind::NotFound, "image {} not found", s);
    }
    std::vector<std::string> matches;
    for (auto& [iid, r] : images_)
      if (!r.removed && hex_of(iid).starts_with(prefix)) matches.push_back(iid);
    if (matches.size() == 1) return matches[0];
    if (matches.empty()) return fail(ErrorKind::NotFound, "image {} not found", s);
    return fail(ErrorKind::InvalidArgument, "image id prefix {} is ambiguous: {}", s, fmt::join(matches, ", "));
  }

  std::optional<std::string> find_ref(const ImageRef& ref) const {
    if (!ref.digest.empty()) {
      std::string rd = ref.name() + "@" + ref.digest;
      for (auto& [id, r] : images_)
        if (!r.removed && r.repo_digests.contains(rd)) return id;
      return std::nullopt;
    }
    auto it = tags_.find(ref.tagged());
    if (it == tags_.end()) return std::nullopt;
    return it->second;
  }

  Status collect_blobs(const std::set<std::string>& needed) {
    DH_TRY(all, content_.list());
    for (auto& b : all) {
      if (needed.contains(b) || content_.is_fresh(b, kFreshBlobGrace)) continue;
      DH_CHECK(content_.remove(b));
      log::get("images")->debug("gc: removed blob {}", b);
    }
    return {};
  }

  Status collect_snapshots(const std::set<std::string>& needed) {
    DH_TRY(names, fs::list_dir(root_ + "/snapshots"));
    for (auto& n : names) {
      if (n.starts_with("tmp-") || needed.contains("sha256:" + n)) continue;
      DH_CHECK(fs::remove_all(root_ + "/snapshots/" + n));
      log::get("images")->debug("gc: removed snapshot {}", n);
    }
    return {};
  }

  std::string root_;
  ContentStore content_;
  mutable std::mutex mu_;
  std::map<std::string, Record> images_;     // by id
  std::map<std::string, std::string> tags_;  // "domain/path:tag" -> id
  std::multiset<std::string> pending_;       // chain ids being unpacked
};

}  // namespace

Result<std::unique_ptr<ImageStore>> ImageStore::open(const std::string& root) {
  auto store = std::make_unique<ImageStoreImpl>(root);
  DH_CHECK(with_context(store->init(), "open image store {}", root));
  return std::unique_ptr<ImageStore>(std::move(store));
}

}  // namespace deckhand::images
