// Pulls images from OCI distribution registries into an ImageStore: HTTPS,
// or plain HTTP for insecure hosts (loopback registries are insecure by
// default, as Docker treats them); anonymous, basic and bearer-token auth;
// per-host mirrors, CA files and credentials from deckhand-cri's config.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "deckhand/common/result.h"
#include "deckhand/images/image_store.h"

namespace deckhand::images {

struct RegistryHost {
  std::vector<std::string> mirrors;  // "http://127.0.0.1:5000", "https://mirror.example"; tried in order, then the host itself
  bool insecure = false;             // plain HTTP allowed (and TLS not verified)
  std::string ca_file;
  std::string username, password;
};

// Keyed by registry host as it appears in references ("docker.io", "127.0.0.1:5000").
struct RegistryConfig {
  std::map<std::string, RegistryHost> hosts;
};

// Reads the [registry.hosts."<host>"] tables of deckhand-cri's TOML config
// (mirrors, insecure, ca_file, username, password); other sections are
// ignored. Bad TOML, unknown host keys or wrong types fail with
// InvalidArgument naming the line.
Result<RegistryConfig> parse_registry_config(const std::string& toml_text);
// The same from the [registry] table of a parsed file.
Result<RegistryConfig> registry_config_from_table(const toml::table& registry);

// Counters since the puller was created (metrics, and tests that check
// that concurrent pulls share downloads).
struct PullStats {
  uint64_t blob_downloads = 0;  // blob GETs that completed into the store
  uint64_t blob_bytes = 0;      // bytes of those blobs
  uint64_t blob_waits = 0;      // times a pull waited for another pull's download of a blob
};

// Credentials from a CRI PullImageRequest's AuthConfig.
struct PullAuth {
  std::string username, password;
  std::string auth;             // base64 "user:password"
  std::string identity_token;   // refresh token
  std::string registry_token;   // bearer token to send as is
};

class ImagePuller {
 public:
  static std::unique_ptr<ImagePuller> create(ImageStore& store, RegistryConfig config);
  virtual ~ImagePuller() = default;
  // Pulls ref (normalised) and returns the registered image. Concurrent pulls
  // of one image, or of images sharing a layer, fetch each blob once.
  virtual Result<Image> pull(const std::string& ref, const PullAuth& auth) = 0;
  virtual PullStats stats() const = 0;
};

}  // namespace deckhand::images
