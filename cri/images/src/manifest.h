// OCI image-spec and Docker schema2 documents: indexes (manifest lists),
// manifests and image configs, parsed into what the store needs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"
#include "deckhand/images/image_store.h"

namespace deckhand::images {

namespace media {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
}  // namespace media

inline constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kAnnotationContainerdName = "io.containerd.image.name";

struct Platform {
  std::string os, architecture, variant;
};

struct Descriptor {
  std::string media_type;
  std::string digest;
  int64_t size = -1;
  bool has_platform = false;
  Platform platform;
  std::map<std::string, std::string> annotations;
};

struct Index {
  std::vector<Descriptor> manifests;
};

struct Manifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
};

struct ParsedConfig {
  ImageConfig config;
  std::vector<std::string> diff_ids;  // uncompressed layer digests, lowest first
  Platform platform;
};

enum class DocumentKind { Index, Manifest };

// What a top-level document is: its mediaType, or for documents without one
// (allowed by the OCI spec), the fields it has.
Result<DocumentKind> document_kind(std::string_view text, std::string_view what);

Result<Index> parse_index(std::string_view text, std::string_view what);
Result<Manifest> parse_manifest(std::string_view text, std::string_view what);
Result<ParsedConfig> parse_config(std::string_view text, std::string_view what);

// The manifest for os/architecture in an index; entries without a platform
// count only when they are the index's only entry.
Result<Descriptor> select_platform(const Index& index, std::string_view os = "linux",
                                   std::string_view architecture = "amd64");

// Chain ids per image-spec: chain[0] = diff[0], chain[n] = sha256(chain[n-1] + " " + diff[n]).
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

// Serialises what the store keeps of a config, and reads it back.
Json config_to_json(const ImageConfig& c);
ImageConfig config_from_json(const Json& j);

}  // namespace deckhand::images
