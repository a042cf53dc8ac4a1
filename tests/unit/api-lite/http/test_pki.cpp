#include "test_pki.h"

#include <doctest/doctest.h>

#include <memory>

#include "test_env.h"

namespace deckhand::http::test {

const TestPki& test_pki() {
  static std::unique_ptr<deckhand::test::TempDir> dir;
  static std::unique_ptr<TestPki> pki;
  if (pki) return *pki;
  dir = std::make_unique<deckhand::test::TempDir>("deckhand-http-pki");
  auto ca = make_ca("test-ca");
  REQUIRE(ca);
  auto server = issue_server_cert(*ca, "test-server", {"localhost"}, {"127.0.0.1", "::1"});
  REQUIRE(server);
  auto admin = issue_client_cert(*ca, "admin", {"system:masters", "ops"});
  REQUIRE(admin);
  pki = std::make_unique<TestPki>(TestPki{*ca, *server, *admin, dir->path()});
  REQUIRE(write_cert_files(pki->dir, "ca", IssuedCert{ca->cert_pem, ca->key_pem}));
  REQUIRE(write_cert_files(pki->dir, "server", *server));
  return *pki;
}

}  // namespace deckhand::http::test
