// Certificates for the control plane (OpenSSL): a CA, serving certificates,
// client certificates (CN = user, O = groups), and kubeconfig files that
// carry them. Keys are ECDSA P-256; files are PEM, private keys mode 0600.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "deckhand/common/result.h"

namespace deckhand::http {

struct CertificateAuthority {
  std::string cert_pem;
  std::string key_pem;
};

struct IssuedCert {
  std::string cert_pem;
  std::string key_pem;
};

// A new self-signed CA ("deckhand-ca" unless named otherwise), valid 10 years.
Result<CertificateAuthority> make_ca(const std::string& common_name = "deckhand-ca");
Result<CertificateAuthority> load_ca(const std::string& cert_file, const std::string& key_file);

// A serving certificate for the given DNS names and IP addresses (as text),
// valid one year, extended key usage serverAuth.
Result<IssuedCert> issue_server_cert(const CertificateAuthority& ca, const std::string& common_name,
                                     const std::vector<std::string>& dns_names,
                                     const std::vector<std::string>& ip_addresses);
// A client certificate: CN = user, one O per group; extended key usage clientAuth.
Result<IssuedCert> issue_client_cert(const CertificateAuthority& ca, const std::string& user,
                                     const std::vector<std::string>& groups);

// Writes cert and key to <dir>/<name>.crt (0644) and <dir>/<name>.key (0600),
// atomically, the key first; makes dir (0700) if missing.
Status write_cert_files(const std::string& dir, const std::string& name, const IssuedCert& cert);

// A kubeconfig with one cluster, one user (client certificate, embedded as
// base64 data) and one context, as kubectl reads it.
std::string make_kubeconfig(const std::string& server_url, const std::string& ca_pem, const std::string& user,
                            const IssuedCert& client);

}  // namespace deckhand::http
