// The node's images: OCI/Docker manifests and configs in a ContentStore,
// layers unpacked once into snapshots, names (tags and digests) pointing at
// images. Safe to use from many threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/common/result.h"
#include "deckhand/images/content_store.h"

namespace deckhand::images {

// What a container takes from its image's config.
struct ImageConfig {
  std::vector<std::string> env;         // KEY=VALUE
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::string user;                     // "uid", "name", "uid:gid", ...
  std::string stop_signal;              // "SIGTERM" or empty
  std::map<std::string, std::string> labels;
};

struct Image {
  std::string id;                         // config digest, "sha256:..."
  std::vector<std::string> repo_tags;     // "docker.io/library/busybox:latest"
  std::vector<std::string> repo_digests;  // "docker.io/library/busybox@sha256:<manifest>"
  std::string manifest_digest;            // the platform manifest chosen
  uint64_t size = 0;                      // config + compressed layers, as containerd reports
  ImageConfig config;
  // Unpacked layer directories, lowest layer first (overlay lowerdir order is the reverse).
  std::vector<std::string> layer_dirs;
};

struct FsUsage {
  std::string mountpoint;  // the store's root
  uint64_t used_bytes = 0;
  uint64_t inodes_used = 0;
};

class ImageStore {
 public:
  // Opens (creating if needed) a store rooted at root, e.g. /var/lib/deckhand/cri/images.
  static Result<std::unique_ptr<ImageStore>> open(const std::string& root);
  virtual ~ImageStore() = default;

  virtual ContentStore& content() = 0;

  // Imports an OCI image layout (directory or tar) or a docker-archive tar
  // ("docker save"). Returns the images it registered, with their names.
  virtual Result<std::vector<Image>> import_archive(const std::string& path) = 0;

  // Registers an image whose manifest (or index, from which linux/amd64 is
  // chosen) and blobs are already in content(): unpacks its layers and points
  // name (a normalised reference; may be empty) at it. Used by the puller.
  virtual Result<Image> register_image(const std::string& name, const std::string& top_digest) = 0;

  virtual std::vector<Image> list() const = 0;
  // By reference ("busybox", normalised), repo digest, full id or unique id prefix.
  virtual Result<Image> get(std::string_view ref_or_id) const = 0;
  // Removes the image a reference or id names, with all its names. Its
  // snapshots and blobs stay until garbage_collect finds them unused.
  virtual Status remove(std::string_view ref_or_id) = 0;
  // Reclaims snapshots and blobs of images that have no name and whose id
  // is not in in_use (images that containers still run on).
  virtual Status garbage_collect(const std::set<std::string>& in_use) = 0;

  virtual Result<FsUsage> fs_usage() const = 0;

  // Points name (any reference; normalised) at the image ref_or_id names,
  // moving it off another image if needed. Not pure, so that test doubles
  // need not implement it; inline, so that the class keeps no key function.
  virtual Status tag(std::string_view ref_or_id, const std::string& name) {
    return fail(ErrorKind::Unimplemented, "tag {} as {}: not supported by this image store", ref_or_id, name);
  }
};

}  // namespace deckhand::images
