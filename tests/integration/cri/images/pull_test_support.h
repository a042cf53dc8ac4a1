// What the registry pull tests need around the puller: test images in OCI
// layouts, Debian's docker-registry on 127.0.0.1 as an owned child process,
// and a small token issuer (HTTP on 127.0.0.1, RS256 JWTs) for Bearer auth.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "deckhand/common/fd.h"
#include "deckhand/common/process.h"
#include "deckhand/common/result.h"

namespace deckhand::test {

// A port on 127.0.0.1 that was free a moment ago.
Result<int> free_port();

// An OCI layout with one image per ref name; the images share their one
// layer (a small file and `random_bytes` of random data).
struct TestLayout {
  std::string dir;
  std::string layer_digest;
  std::string amd64_config, amd64_manifest;  // image "v1"
  std::string multi_index;                   // image "multi": index of arm64 and amd64 manifests
  std::string multi_amd64_manifest;
};
Result<TestLayout> build_test_layout(const std::string& dir, size_t random_bytes);

// skopeo copy from source ("oci:<dir>:<name>", "oci-archive:<tar>") into a
// registry over plain HTTP (dest "127.0.0.1:<port>/<repo>:<tag>").
Status push_image(const std::string& source, const std::string& dest, bool all_platforms);

// docker-registry serving storage_root, killed and reaped on destruction.
class TestRegistry {
 public:
  // auth_yaml: the registry config's `auth:` section (indented), or empty.
  static Result<TestRegistry> start(const std::string& work_dir, const std::string& storage_root,
                                    const std::string& auth_yaml = "");
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  std::string log() const;
  // GET requests the registry logged for path (e.g. "/v2/test/busybox/blobs/sha256:...").
  int gets_logged(const std::string& path) const;

 private:
  ChildProcess child_;
  int port_ = 0;
  std::string log_path_;
};

// Serves GET /token on 127.0.0.1 with JWTs that docker-registry's `token`
// auth accepts (x5c header with the self-signed issuer certificate).
class TokenIssuer {
 public:
  static constexpr const char* kIssuer = "deckhand-test-issuer";
  static constexpr const char* kService = "deckhand-test-registry";
  // Writes key.pem and cert.pem (the registry's rootcertbundle) into dir.
  static Result<std::unique_ptr<TokenIssuer>> start(const std::string& dir, std::string user, std::string password);
  ~TokenIssuer();
  std::string realm() const;
  std::string cert_path() const { return dir_ + "/cert.pem"; }
  int requests() const { return requests_.load(); }

 private:
  TokenIssuer() = default;
  void serve();
  void answer(int conn);
  Result<std::string> sign_token(const std::string& scope);

  std::string dir_, user_, password_;
  std::string key_pem_, cert_der_b64_;
  UniqueFd listener_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace deckhand::test
