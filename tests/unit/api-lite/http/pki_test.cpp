#include "deckhand/http/pki.h"

#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "deckhand/common/fs.h"
#include "deckhand/http/openssl_handles.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::http;

namespace {

ossl::Cert parse(const std::string& pem) {
  auto cert = ossl::parse_cert_pem(pem, "test");
  REQUIRE(cert);
  return std::move(*cert);
}

// X509_verify_cert of leaf against ca for purpose (X509_PURPOSE_SSL_SERVER / _CLIENT).
int verify(const std::string& ca_pem, const std::string& leaf_pem, int purpose) {
  auto ca = parse(ca_pem);
  auto leaf = parse(leaf_pem);
  ossl::Store store(X509_STORE_new());
  REQUIRE(X509_STORE_add_cert(store.get(), ca.get()) == 1);
  ossl::StoreCtx ctx(X509_STORE_CTX_new());
  REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr) == 1);
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

std::vector<std::string> subject_entries(X509* cert, int nid) {
  std::vector<std::string> out;
  X509_NAME* name = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
  }
  return out;
}

bool has_eku(X509* cert, uint32_t flag) { return (X509_get_extended_key_usage(cert) & flag) != 0; }

}  // namespace

TEST_CASE("make_ca makes a self-signed P-256 CA with a positive serial") {
  auto ca = make_ca("test-ca");
  REQUIRE(ca);
  auto cert = parse(ca->cert_pem);
  CHECK(X509_check_ca(cert.get()) == 1);
  CHECK(X509_check_issued(cert.get(), cert.get()) == X509_V_OK);
  CHECK(subject_entries(cert.get(), NID_commonName) == std::vector<std::string>{"test-ca"});
  CHECK((X509_get_key_usage(cert.get()) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE)) ==
        (KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE));
  CHECK(X509_get0_subject_key_id(cert.get()) != nullptr);
  int critical = -1;
  auto* constraints = static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.get(), NID_basic_constraints, &critical, nullptr));
  REQUIRE(constraints != nullptr);
  CHECK(constraints->ca != 0);
  CHECK(critical == 1);
  BASIC_CONSTRAINTS_free(constraints);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
  CHECK(serial->type == V_ASN1_INTEGER);  // V_ASN1_NEG_INTEGER for a negative one
  CHECK(serial->length >= 15);
  // About ten years.
  int days = 0, seconds = 0;
  REQUIRE(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()), X509_get0_notAfter(cert.get())) ==
          1);
  CHECK(days >= 3650);
  CHECK(days <= 3652);
  ossl::PKey key(X509_get_pubkey(cert.get()));
  CHECK(EVP_PKEY_is_a(key.get(), "EC"));
  CHECK(EVP_PKEY_get_bits(key.get()) == 256);
  // Two CAs differ in serial and key.
  auto other = make_ca();
  REQUIRE(other);
  CHECK(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(parse(other->cert_pem).get())) != 0);
  CHECK(other->key_pem != ca->key_pem);
}

TEST_CASE("a serving certificate verifies against its CA and carries its SANs") {
  auto ca = make_ca();
  REQUIRE(ca);
  auto server = issue_server_cert(*ca, "deckhand-apiserver", {"localhost", "kubernetes.default.svc"},
                                  {"127.0.0.1", "::1", "10.96.0.1"});
  REQUIRE(server);
  CHECK(verify(ca->cert_pem, server->cert_pem, X509_PURPOSE_SSL_SERVER) == X509_V_OK);
  // Not usable as a client certificate.
  CHECK(verify(ca->cert_pem, server->cert_pem, X509_PURPOSE_SSL_CLIENT) != X509_V_OK);
  auto cert = parse(server->cert_pem);
  CHECK(X509_check_host(cert.get(), "localhost", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(cert.get(), "kubernetes.default.svc", 0, 0, nullptr) == 1);
  CHECK(X509_check_host(cert.get(), "example.com", 0, 0, nullptr) == 0);
  CHECK(X509_check_ip_asc(cert.get(), "127.0.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(cert.get(), "::1", 0) == 1);
  CHECK(X509_check_ip_asc(cert.get(), "10.96.0.1", 0) == 1);
  CHECK(X509_check_ip_asc(cert.get(), "10.96.0.2", 0) == 0);
  CHECK(has_eku(cert.get(), XKU_SSL_SERVER));
  CHECK_FALSE(has_eku(cert.get(), XKU_SSL_CLIENT));
  CHECK(X509_check_ca(cert.get()) == 0);
  CHECK(X509_get0_authority_key_id(cert.get()) != nullptr);
  CHECK(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert.get()),
                              X509_get0_subject_key_id(parse(ca->cert_pem).get())) == 0);
  // A key of its own, matching the certificate.
  auto key = ossl::parse_key_pem(server->key_pem, "server key");
  REQUIRE(key);
  CHECK(X509_check_private_key(cert.get(), key->get()) == 1);
  // Another CA does not vouch for it.
  auto stranger = make_ca("stranger");
  REQUIRE(stranger);
  CHECK(verify(stranger->cert_pem, server->cert_pem, X509_PURPOSE_SSL_SERVER) != X509_V_OK);
}

TEST_CASE("a client certificate names the user in CN and each group in O") {
  auto ca = make_ca();
  REQUIRE(ca);
  auto client = issue_client_cert(*ca, "kubernetes-admin", {"system:masters", "ops"});
  REQUIRE(client);
  CHECK(verify(ca->cert_pem, client->cert_pem, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);
  CHECK(verify(ca->cert_pem, client->cert_pem, X509_PURPOSE_SSL_SERVER) != X509_V_OK);
  auto cert = parse(client->cert_pem);
  CHECK(subject_entries(cert.get(), NID_commonName) == std::vector<std::string>{"kubernetes-admin"});
  CHECK(subject_entries(cert.get(), NID_organizationName) ==
        std::vector<std::string>{"system:masters", "ops"});
  CHECK(has_eku(cert.get(), XKU_SSL_CLIENT));
  int days = 0, seconds = 0;
  REQUIRE(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()), X509_get0_notAfter(cert.get())) ==
          1);
  CHECK(days == 365);
}

TEST_CASE("bad requests for certificates are errors") {
  auto ca = make_ca();
  REQUIRE(ca);
  CHECK(issue_server_cert(*ca, "x", {}, {}).error().kind == ErrorKind::InvalidArgument);
  CHECK(issue_server_cert(*ca, "x", {}, {"300.1.1.1"}).error().kind == ErrorKind::InvalidArgument);
  CHECK(issue_client_cert(*ca, "", {}).error().kind == ErrorKind::InvalidArgument);
  CertificateAuthority broken{ca->cert_pem, "not a key"};
  CHECK_FALSE(issue_client_cert(broken, "u", {}));
}

TEST_CASE("write_cert_files and load_ca round-trip; a mismatched key is refused") {
  test::TempDir dir;
  auto ca = make_ca();
  REQUIRE(ca);
  std::string pki = dir.sub("pki/nested");
  REQUIRE(write_cert_files(pki, "ca", IssuedCert{ca->cert_pem, ca->key_pem}));
  struct stat st {};
  REQUIRE(::stat(pki.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  REQUIRE(::stat((pki + "/ca.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(*fs::read_file(pki + "/ca.crt") == ca->cert_pem);

  auto loaded = load_ca(pki + "/ca.crt", pki + "/ca.key");
  REQUIRE(loaded);
  CHECK(loaded->cert_pem == ca->cert_pem);
  CHECK(loaded->key_pem == ca->key_pem);
  // A certificate issued by the loaded CA verifies against the original.
  auto client = issue_client_cert(*loaded, "u", {});
  REQUIRE(client);
  CHECK(verify(ca->cert_pem, client->cert_pem, X509_PURPOSE_SSL_CLIENT) == X509_V_OK);

  auto other = make_ca();
  REQUIRE(other);
  REQUIRE(write_cert_files(pki, "other", IssuedCert{other->cert_pem, other->key_pem}));
  auto mismatched = load_ca(pki + "/ca.crt", pki + "/other.key");
  REQUIRE_FALSE(mismatched);
  CHECK(mismatched.error().message.find("does not belong") != std::string::npos);
  CHECK(load_ca(pki + "/missing.crt", pki + "/ca.key").error().kind == ErrorKind::NotFound);
  // A leaf certificate is not a CA.
  REQUIRE(write_cert_files(pki, "leaf", *client));
  CHECK_FALSE(load_ca(pki + "/leaf.crt", pki + "/leaf.key"));
}

TEST_CASE("make_kubeconfig embeds the CA and the client credentials as base64") {
  auto ca = make_ca();
  REQUIRE(ca);
  auto client = issue_client_cert(*ca, "admin", {"system:masters"});
  REQUIRE(client);
  std::string config = make_kubeconfig("https://127.0.0.1:6443", ca->cert_pem, "admin", *client);
  CHECK(config.find("apiVersion: v1\n") != std::string::npos);
  CHECK(config.find("kind: Config\n") != std::string::npos);
  CHECK(config.find("server: \"https://127.0.0.1:6443\"") != std::string::npos);
  CHECK(config.find("current-context: \"admin@deckhand\"") != std::string::npos);
  auto field = [&](const std::string& name) {
    size_t at = config.find(name + ": ");
    REQUIRE(at != std::string::npos);
    at += name.size() + 2;
    std::string encoded = config.substr(at, config.find('\n', at) - at);
    std::string decoded(encoded.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                            reinterpret_cast<const unsigned char*>(encoded.data()),
                            static_cast<int>(encoded.size()));
    REQUIRE(n >= 0);
    decoded.resize(static_cast<size_t>(n));
    // EVP_DecodeBlock keeps the padding's zero bytes.
    while (!decoded.empty() && decoded.back() == '\0') decoded.pop_back();
    return decoded;
  };
  CHECK(field("certificate-authority-data") == ca->cert_pem);
  CHECK(field("client-certificate-data") == client->cert_pem);
  CHECK(field("client-key-data") == client->key_pem);
}
