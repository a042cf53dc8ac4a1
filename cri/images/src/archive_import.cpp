// Import of OCI image layouts and docker-archives. Blobs named by digest
// (blobs/sha256/<hex>) are verified as they are stored; docker-archive layer
// files are stored under the digest of their content, small JSON documents
// are kept in memory, and the images are then registered with the store.
#include "archive_import.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "deckhand/common/digest.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/common/log.h"
#include "deckhand/images/image_ref.h"
#include "layer_unpacker.h"
#include "manifest.h"

namespace deckhand::images {

namespace {

constexpr int64_t kMaxDocumentSize = 16 << 20;
constexpr size_t kChunk = 128 * 1024;
constexpr int kMaxDirDepth = 4;

// Returns the next piece of an entry's data; an empty view at the end.
using ChunkReader = std::function<Result<std::string_view>()>;

std::string base_name(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// "./blobs//sha256/x" -> "blobs/sha256/x"
std::string clean_name(std::string_view p) {
  std::string out;
  size_t start = 0;
  while (start <= p.size()) {
    size_t slash = std::min(p.find('/', start), p.size());
    auto c = p.substr(start, slash - start);
    if (!c.empty() && c != ".") out += (out.empty() ? "" : "/") + std::string(c);
    start = slash + 1;
  }
  return out;
}

bool is_document(const std::string& name, int64_t size) {
  std::string base = base_name(name);
  return size <= kMaxDocumentSize &&
         (base.ends_with(".json") || base == "json" || base == "VERSION" || base == "repositories" ||
          base == "oci-layout");
}

// Where an archive's files went: documents in memory, everything else in
// the content store by digest.
class Ingest {
 public:
  explicit Ingest(ContentStore& cs) : cs_(cs) {}

  Status add(const std::string& raw_name, int64_t size, const ChunkReader& next) {
    std::string name = clean_name(raw_name);
    if (name.starts_with("blobs/sha256/")) return add_blob("sha256:" + base_name(name), size, next);
    if (is_document(name, size)) {
      std::string data;
      for (;;) {
        DH_TRY(chunk, next());
        if (chunk.empty()) break;
        data.append(chunk);
      }
      documents_[name] = std::move(data);
      return {};
    }
    DH_TRY(w, cs_.writer_unknown());
    DH_CHECK(copy(w, next));
    DH_TRY(digest, w.commit_computed());
    stored_[name] = digest;
    return {};
  }

  // A document by archive path: from memory, or (docker 25+ archives keep
  // configs under blobs/) from the content store.
  Result<std::string> document(const std::string& name) const {
    if (auto it = documents_.find(clean_name(name)); it != documents_.end()) return it->second;
    DH_TRY(d, digest_of(name));
    return cs_.read(d);
  }

  bool has_document(const std::string& name) const { return documents_.contains(name); }

  // The digest of an archive path stored in the content store.
  Result<std::string> digest_of(const std::string& raw_name) const {
    std::string name = clean_name(raw_name);
    if (auto it = stored_.find(name); it != stored_.end()) return it->second;
    if (name.starts_with("blobs/sha256/")) {
      std::string d = "sha256:" + base_name(name);
      if (cs_.has(d)) return d;
    }
    return fail(ErrorKind::InvalidArgument, "archive has no file {}", name);
  }

 private:
  Status add_blob(const std::string& digest, int64_t size, const ChunkReader& next) {
    if (!is_sha256_digest(digest)) return fail(ErrorKind::InvalidArgument, "bad blob name {}", digest);
    if (cs_.has(digest)) return {};  // already verified when it was stored
    DH_TRY(w, cs_.writer(digest, size));
    DH_CHECK(copy(w, next));
    return with_context(w.commit(), "archive blob");
  }

  static Status copy(ContentStore::Writer& w, const ChunkReader& next) {
    for (;;) {
      DH_TRY(chunk, next());
      if (chunk.empty()) return {};
      DH_CHECK(w.write(chunk));
    }
  }

  ContentStore& cs_;
  std::map<std::string, std::string> documents_;
  std::map<std::string, std::string> stored_;
};

Status ingest_tar(const std::string& path, Ingest& ingest) {
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  if (!a) return fail(ErrorKind::ResourceExhausted, "archive_read_new");
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), kChunk) != ARCHIVE_OK)
    return fail(ErrorKind::InvalidArgument, "open archive {}: {}", path, archive_error_string(a.get()));
  std::string buf(kChunk, '\0');
  struct archive_entry* e = nullptr;
  for (;;) {
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) return {};
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return fail(ErrorKind::InvalidArgument, "read archive {}: {}", path, archive_error_string(a.get()));
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) || !archive_entry_pathname(e)) continue;
    std::string name = archive_entry_pathname(e);
    ChunkReader next = [&]() -> Result<std::string_view> {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0) return fail(ErrorKind::InvalidArgument, "read {} in {}: {}", name, path, archive_error_string(a.get()));
      return std::string_view(buf.data(), static_cast<size_t>(n));
    };
    DH_CHECK(ingest.add(name, archive_entry_size(e), next));
  }
}

Status ingest_dir(const std::string& root, const std::string& rel, int depth, Ingest& ingest) {
  if (depth > kMaxDirDepth) return {};
  std::string dir = rel.empty() ? root : root + "/" + rel;
  DH_TRY(names, fs::list_dir(dir));
  std::string buf(kChunk, '\0');
  for (auto& n : names) {
    std::string name = rel.empty() ? n : rel + "/" + n;
    std::string full = root + "/" + name;
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0) return sys_fail("stat {}", full);
    if (S_ISDIR(st.st_mode)) {
      DH_CHECK(ingest_dir(root, name, depth + 1, ingest));
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    DH_TRY(fd, fs::open_fd(full, O_RDONLY));
    ChunkReader next = [&]() -> Result<std::string_view> {
      for (;;) {
        ssize_t got = ::read(fd.get(), buf.data(), buf.size());
        if (got >= 0) return std::string_view(buf.data(), static_cast<size_t>(got));
        if (errno != EINTR) return sys_fail("read {}", full);
      }
    };
    DH_CHECK(ingest.add(name, st.st_size, next));
  }
  return {};
}

std::string normalised(const std::string& name) {
  auto ref = parse_ref(name);
  if (ref) return ref->string();
  log::get("images")->warn("import: ignoring image name \"{}\": {}", name, ref.error().message);
  return {};
}

// Registers image top under each of names (or none), remembering its id.
Status register_all(ImageStore& store, const std::string& top, const std::vector<std::string>& names,
                    std::vector<std::string>& ids) {
  std::vector<std::string> valid;
  for (auto& n : names)
    if (auto s = normalised(n); !s.empty()) valid.push_back(s);
  if (valid.empty()) {
    log::get("images")->warn("import: image {} has no name", top);
    valid.emplace_back();
  }
  for (auto& n : valid) {
    DH_TRY(img, store.register_image(n, top));
    if (std::find(ids.begin(), ids.end(), img.id) == ids.end()) ids.push_back(img.id);
  }
  return {};
}

Status import_oci(ImageStore& store, const Ingest& ingest, std::vector<std::string>& ids) {
  DH_TRY(text, ingest.document("index.json"));
  DH_TRY(index, parse_index(text, "index.json"));
  for (auto& d : index.manifests) {
    std::string name = oci_image_name(d.annotations);
    DH_CHECK(register_all(store, d.digest, name.empty() ? std::vector<std::string>{} : std::vector{name}, ids));
  }
  return {};
}

std::string layer_media_type(const std::string& blob_path) {
  auto comp = detect_compression(blob_path);
  if (comp && *comp == LayerCompression::Gzip) return std::string(media::kDockerLayerGzip);
  if (comp && *comp == LayerCompression::Zstd) return std::string(media::kOciLayerZstd);
  return std::string(media::kDockerLayer);
}

// Names from the legacy "repositories" file ({"repo": {"tag": "<top layer id>"}}).
std::vector<std::string> legacy_names(const Ingest& ingest, const std::string& top_layer_id) {
  std::vector<std::string> out;
  if (!ingest.has_document("repositories")) return out;
  auto text = ingest.document("repositories");
  if (!text) return out;
  auto j = parse_json(*text, "repositories");
  if (!j || !j->is_object()) return out;
  for (auto& [repo, tags] : j->items()) {
    if (!tags.is_object()) continue;
    for (auto& [tag, id] : tags.items())
      if (id.is_string() && id.get<std::string>() == top_layer_id) out.push_back(repo + ":" + tag);
  }
  return out;
}

// A docker-archive entry becomes a Docker schema2 manifest over the stored config and layers.
Result<std::string> docker_manifest(ContentStore& cs, const Ingest& ingest, const Json& entry,
                                    std::string* top_layer_id) {
  auto cfg = entry.find("Config");
  auto layers = entry.find("Layers");
  if (cfg == entry.end() || !cfg->is_string() || layers == entry.end() || !layers->is_array())
    return fail(ErrorKind::InvalidArgument, "manifest.json entry without Config or Layers");
  DH_TRY(cfg_text, ingest.document(cfg->get<std::string>()));
  DH_TRY(cfg_digest, cs.put(cfg_text));
  Json m{{"schemaVersion", 2},
         {"mediaType", media::kDockerManifest},
         {"config", {{"mediaType", media::kDockerConfig}, {"size", cfg_text.size()}, {"digest", cfg_digest}}},
         {"layers", Json::array()}};
  for (auto& l : *layers) {
    if (!l.is_string()) return fail(ErrorKind::InvalidArgument, "manifest.json: layer is not a path");
    std::string lpath = l.get<std::string>();
    DH_TRY(digest, ingest.digest_of(lpath));
    DH_TRY(size, cs.size(digest));
    m["layers"].push_back({{"mediaType", layer_media_type(cs.path(digest))}, {"size", size}, {"digest", digest}});
    auto slash = clean_name(lpath).find('/');
    *top_layer_id = slash == std::string::npos ? std::string() : clean_name(lpath).substr(0, slash);
  }
  return cs.put(m.dump());
}

Status import_docker(ImageStore& store, const Ingest& ingest, std::vector<std::string>& ids) {
  DH_TRY(text, ingest.document("manifest.json"));
  DH_TRY(j, parse_json(text, "manifest.json"));
  if (!j.is_array()) return fail(ErrorKind::InvalidArgument, "manifest.json is not an array");
  for (auto& entry : j) {
    if (!entry.is_object()) return fail(ErrorKind::InvalidArgument, "manifest.json: entry is not an object");
    std::string top_layer;
    DH_TRY(digest, docker_manifest(store.content(), ingest, entry, &top_layer));
    std::vector<std::string> names;
    if (auto tags = entry.find("RepoTags"); tags != entry.end() && tags->is_array())
      for (auto& t : *tags)
        if (t.is_string()) names.push_back(t.get<std::string>());
    if (names.empty()) names = legacy_names(ingest, top_layer);
    DH_CHECK(register_all(store, digest, names, ids));
  }
  return {};
}

Result<std::vector<Image>> import_ingested(ImageStore& store, const Ingest& ingest, const std::string& path) {
  std::vector<std::string> ids;
  // docker save (25+) writes both: its manifest.json carries the names Docker users expect.
  if (ingest.has_document("manifest.json")) {
    DH_CHECK(import_docker(store, ingest, ids));
  } else if (ingest.has_document("index.json")) {
    DH_CHECK(import_oci(store, ingest, ids));
  } else if (ingest.has_document("repositories")) {
    return fail(ErrorKind::Unimplemented, "{}: docker-archive without manifest.json (Docker < 1.10) is not supported",
                path);
  } else {
    return fail(ErrorKind::InvalidArgument, "{}: neither an OCI image layout nor a docker-archive", path);
  }
  std::vector<Image> out;
  for (auto& id : ids) {
    DH_TRY(img, store.get(id));
    out.push_back(std::move(img));
  }
  return out;
}

}  // namespace

std::string oci_image_name(const std::map<std::string, std::string>& annotations) {
  if (auto it = annotations.find(std::string(kAnnotationContainerdName)); it != annotations.end()) return it->second;
  auto it = annotations.find(std::string(kAnnotationRefName));
  if (it == annotations.end()) return {};
  // A full reference has a repository; a bare "latest" or "1.0" is only a tag.
  if (it->second.find_first_of("/:@") != std::string::npos) return it->second;
  log::get("images")->warn("import: ref name \"{}\" is only a tag; the image gets no name from it", it->second);
  return {};
}

Result<std::vector<Image>> import_image_archive(ImageStore& store, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return sys_fail("import {}", path);
  Ingest ingest(store.content());
  if (S_ISDIR(st.st_mode)) {
    DH_CHECK(with_context(ingest_dir(path, "", 0, ingest), "import {}", path));
  } else {
    DH_CHECK(with_context(ingest_tar(path, ingest), "import {}", path));
  }
  return with_context(import_ingested(store, ingest, path), "import {}", path);
}

}  // namespace deckhand::images
