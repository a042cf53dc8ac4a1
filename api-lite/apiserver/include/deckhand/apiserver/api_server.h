// deckhand-apiserver as a library: the store, the watch cache and the HTTPS
// API, started together. main.cpp only turns flags into ApiServerOptions.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "deckhand/common/result.h"

namespace deckhand::apiserver {

struct ApiServerOptions {
  std::string data_dir = "/var/lib/deckhand/apiserver";  // holds store.db
  std::string pki_dir;                                    // default <data_dir>/pki
  std::string admin_kubeconfig = "/etc/deckhand/admin.kubeconfig";
  std::string bind_address = "0.0.0.0";
  uint16_t port = 6443;                    // 0 = any free port
  bool insecure_http = false;              // plain HTTP, loopback only, every request acts as admin
  std::vector<std::string> cert_hosts;     // extra names and addresses for the serving certificate
  std::string token_file;                  // static bearer tokens (CSV), optional
  std::string service_cidr = "10.96.0.0/16";
  size_t max_body_bytes = 3 * 1024 * 1024;
  std::chrono::seconds bookmark_interval{60};
  size_t watch_window = 20000;             // recent changes a watch can resume from
};

class ApiServer {
 public:
  static Result<std::unique_ptr<ApiServer>> start(ApiServerOptions options);
  virtual ~ApiServer() = default;
  virtual uint16_t port() const = 0;
  virtual void stop() = 0;
};

// Makes the CA, serving, admin and agent-client certificates under pki_dir
// where missing. The server calls it on start, and then writes the admin
// kubeconfig (if missing) for the port it listens on.
Status bootstrap_pki(const ApiServerOptions& options);
Status write_admin_kubeconfig(const ApiServerOptions& options, uint16_t port);

// `deckhand-apiserver issue-cert`: a client certificate and kubeconfig for
// user/groups from the CA in pki_dir, written to out_dir.
Status issue_user_credentials(const ApiServerOptions& options, const std::string& user,
                              const std::vector<std::string>& groups, const std::string& out_dir,
                              const std::string& server_url);

}  // namespace deckhand::apiserver
