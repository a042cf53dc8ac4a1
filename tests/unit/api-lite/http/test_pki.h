// Certificates for the server tests, made once per test binary and written
// to a temporary directory: a CA, a serving certificate for localhost,
// 127.0.0.1 and ::1, and an admin client certificate.
#pragma once

#include <string>

#include "deckhand/http/pki.h"
#include "deckhand/http/server.h"

namespace deckhand::http::test {

struct TestPki {
  CertificateAuthority ca;
  IssuedCert server;
  IssuedCert admin;  // CN=admin, O=system:masters, O=ops
  std::string dir;
  std::string ca_file() const { return dir + "/ca.crt"; }
  TlsOptions tls(bool client_certs = true) const {
    return TlsOptions{dir + "/server.crt", dir + "/server.key", client_certs ? ca_file() : ""};
  }
};

const TestPki& test_pki();

}  // namespace deckhand::http::test
