// Where an API client connects and who it is: read from a kubeconfig file
// (YAML or JSON, as kubectl writes them).
#pragma once

#include <chrono>
#include <string>

#include "deckhand/common/result.h"

namespace deckhand::client {

struct ClientConfig {
  std::string server;         // "https://127.0.0.1:6443"
  std::string ca_pem;         // trust this CA for the server; empty = system roots
  std::string cert_pem;       // client certificate (PEM), optional
  std::string key_pem;        // its key (PEM)
  std::string token;          // bearer token, optional
  bool insecure_skip_tls_verify = false;
  std::string default_namespace = "default";
  // Not from the kubeconfig: how long a call may take (watches have no
  // overall limit). Leader election wants shorter ones than the defaults.
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};
};

// Reads the current context (or the named one) of a kubeconfig: the
// cluster's server and CA (certificate-authority-data or -file), the user's
// client-certificate/-key (data or file; files relative to the kubeconfig's
// directory) or token, the context's namespace. Errors name the file and
// what is missing ("context \"x\" names cluster \"y\", which is not in ...").
Result<ClientConfig> load_kubeconfig(const std::string& path, const std::string& context = "");

}  // namespace deckhand::client
