#include "deckhand/http/pki.h"

#include <openssl/ec.h>
#include <openssl/rand.h>

#include "deckhand/common/base64.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/http/openssl_handles.h"

namespace deckhand::http {

namespace {

constexpr long kCaValidDays = 3650;
constexpr long kLeafValidDays = 365;
// Certificates start a little in the past so that a peer whose clock runs
// behind ours still accepts them.
constexpr long kBackdateSeconds = 5 * 60;

Result<ossl::PKey> make_p256_key() {
  ossl::PKey key(EVP_EC_gen("P-256"));
  if (!key) return ossl::fail_openssl("generate P-256 key");
  return key;
}

// A random positive 128-bit serial: Go rejects negative serials, and a
// leading zero bit keeps the DER integer positive.
Status set_random_serial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return ossl::fail_openssl("random serial");
  bytes[0] &= 0x7f;
  bytes[0] |= 0x40;  // never zero, always 127 bits long
  ossl::BigNum bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!bn) return ossl::fail_openssl("serial BIGNUM");
  ASN1_INTEGER* serial = BN_to_ASN1_INTEGER(bn.get(), nullptr);
  if (serial == nullptr) return ossl::fail_openssl("serial ASN1_INTEGER");
  int ok = X509_set_serialNumber(cert, serial);
  ASN1_INTEGER_free(serial);
  if (ok != 1) return ossl::fail_openssl("set serial");
  return {};
}

Status add_name_entry(X509_NAME* name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.data()),
                                 static_cast<int>(value.size()), -1, 0) != 1) {
    return ossl::fail_openssl(fmt::format("subject {}={}", field, value));
  }
  return {};
}

// Version 3, serial, validity, subject and public key: the parts every certificate has.
Result<ossl::Cert> new_cert(EVP_PKEY* key, long valid_days, const std::string& common_name,
                            const std::vector<std::string>& organizations) {
  ossl::Cert cert(X509_new());
  if (!cert) return ossl::fail_openssl("X509_new");
  if (X509_set_version(cert.get(), 2) != 1) return ossl::fail_openssl("set version");
  DH_CHECK(set_random_serial(cert.get()));
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), static_cast<int>(valid_days), 0, nullptr) == nullptr) {
    return ossl::fail_openssl("set validity");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  for (const auto& org : organizations) DH_CHECK(add_name_entry(subject, "O", org));
  DH_CHECK(add_name_entry(subject, "CN", common_name));
  if (X509_set_pubkey(cert.get(), key) != 1) return ossl::fail_openssl("set public key");
  return cert;
}

// Adds an extension given in OpenSSL's config syntax ("critical,CA:TRUE").
Status add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ossl::Extension ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return ossl::fail_openssl(fmt::format("add extension {} = {}", OBJ_nid2sn(nid), value));
  }
  return {};
}

Result<ossl::GeneralNames> subject_alt_names(const std::vector<std::string>& dns_names,
                                             const std::vector<std::string>& ip_addresses) {
  ossl::GeneralNames names(GENERAL_NAMES_new());
  if (!names) return ossl::fail_openssl("GENERAL_NAMES_new");
  auto push = [&](GENERAL_NAME* gn) -> Status {
    if (sk_GENERAL_NAME_push(names.get(), gn) == 0) {
      GENERAL_NAME_free(gn);
      return ossl::fail_openssl("add subject alternative name");
    }
    return {};
  };
  for (const auto& dns : dns_names) {
    if (dns.empty()) return fail(ErrorKind::InvalidArgument, "empty DNS name for a certificate");
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    if (text == nullptr || ASN1_STRING_set(text, dns.data(), static_cast<int>(dns.size())) != 1) {
      ASN1_IA5STRING_free(text);
      return ossl::fail_openssl("DNS name " + dns);
    }
    GENERAL_NAME* gn = GENERAL_NAME_new();
    if (gn == nullptr) {
      ASN1_IA5STRING_free(text);
      return ossl::fail_openssl("GENERAL_NAME_new");
    }
    GENERAL_NAME_set0_value(gn, GEN_DNS, text);
    DH_CHECK(push(gn));
  }
  for (const auto& ip : ip_addresses) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());  // IPv4 and IPv6 text
    if (octets == nullptr) {
      ossl::error_text();  // drop the queued parse error
      return fail(ErrorKind::InvalidArgument, "not an IP address for a certificate: '{}'", ip);
    }
    GENERAL_NAME* gn = GENERAL_NAME_new();
    if (gn == nullptr) {
      ASN1_OCTET_STRING_free(octets);
      return ossl::fail_openssl("GENERAL_NAME_new");
    }
    GENERAL_NAME_set0_value(gn, GEN_IPADD, octets);
    DH_CHECK(push(gn));
  }
  return names;
}

struct LoadedCa {
  ossl::Cert cert;
  ossl::PKey key;
};

Result<LoadedCa> parse_ca(const CertificateAuthority& ca) {
  DH_TRY(cert, ossl::parse_cert_pem(ca.cert_pem, "CA certificate"));
  DH_TRY(key, ossl::parse_key_pem(ca.key_pem, "CA key"));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ossl::error_text();
    return fail(ErrorKind::InvalidArgument, "the CA key does not belong to the CA certificate");
  }
  if (X509_check_ca(cert.get()) == 0) {
    return fail(ErrorKind::InvalidArgument,
                "the CA certificate is not a CA (basicConstraints CA:TRUE missing)");
  }
  return LoadedCa{std::move(cert), std::move(key)};
}

// A leaf certificate signed by the CA with extended key usage eku and, for
// serving certificates, subject alternative names.
Result<IssuedCert> issue_leaf(const CertificateAuthority& ca_pem, const std::string& common_name,
                              const std::vector<std::string>& organizations, const char* eku,
                              const ossl::GeneralNames* sans) {
  DH_TRY(ca, parse_ca(ca_pem));
  DH_TRY(key, make_p256_key());
  DH_TRY(cert, new_cert(key.get(), kLeafValidDays, common_name, organizations));
  X509* c = cert.get();
  if (X509_set_issuer_name(c, X509_get_subject_name(ca.cert.get())) != 1)
    return ossl::fail_openssl("set issuer");
  DH_CHECK(add_extension(c, ca.cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  DH_CHECK(add_extension(c, ca.cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  DH_CHECK(add_extension(c, ca.cert.get(), NID_ext_key_usage, eku));
  DH_CHECK(add_extension(c, ca.cert.get(), NID_authority_key_identifier, "keyid:always"));
  if (sans != nullptr &&
      X509_add1_ext_i2d(c, NID_subject_alt_name, sans->get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return ossl::fail_openssl("add subject alternative names");
  }
  if (X509_sign(c, ca.key.get(), EVP_sha256()) == 0) return ossl::fail_openssl("sign certificate");
  DH_TRY(cert_pem, ossl::cert_to_pem(c));
  DH_TRY(key_pem, ossl::key_to_pem(key.get()));
  return IssuedCert{std::move(cert_pem), std::move(key_pem)};
}

// A YAML scalar: a JSON string is valid YAML and quotes whatever needs it.
std::string yaml_string(const std::string& s) {
  return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

Result<CertificateAuthority> make_ca(const std::string& common_name) {
  DH_TRY(key, make_p256_key());
  DH_TRY(cert, new_cert(key.get(), kCaValidDays, common_name, {}));
  X509* c = cert.get();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1) return ossl::fail_openssl("set issuer");
  DH_CHECK(add_extension(c, c, NID_basic_constraints, "critical,CA:TRUE"));
  DH_CHECK(add_extension(c, c, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign"));
  DH_CHECK(add_extension(c, c, NID_subject_key_identifier, "hash"));
  if (X509_sign(c, key.get(), EVP_sha256()) == 0) return ossl::fail_openssl("sign CA certificate");
  DH_TRY(cert_pem, ossl::cert_to_pem(c));
  DH_TRY(key_pem, ossl::key_to_pem(key.get()));
  return CertificateAuthority{std::move(cert_pem), std::move(key_pem)};
}

Result<CertificateAuthority> load_ca(const std::string& cert_file, const std::string& key_file) {
  DH_TRY(cert_pem, fs::read_file(cert_file));
  DH_TRY(key_pem, fs::read_file(key_file));
  CertificateAuthority ca{std::move(cert_pem), std::move(key_pem)};
  auto parsed = parse_ca(ca);
  if (!parsed) return tl::unexpected(parsed.error().context("load CA {} with key {}", cert_file, key_file));
  return ca;
}

Result<IssuedCert> issue_server_cert(const CertificateAuthority& ca, const std::string& common_name,
                                     const std::vector<std::string>& dns_names,
                                     const std::vector<std::string>& ip_addresses) {
  // Go (kubectl) checks the host it dialled against the SANs only, never the CN.
  if (dns_names.empty() && ip_addresses.empty()) {
    return fail(ErrorKind::InvalidArgument, "a serving certificate for {} needs a DNS name or an IP address",
                common_name);
  }
  DH_TRY(sans, subject_alt_names(dns_names, ip_addresses));
  return with_context(issue_leaf(ca, common_name, {}, "serverAuth", &sans), "issue serving certificate {}",
                      common_name);
}

Result<IssuedCert> issue_client_cert(const CertificateAuthority& ca, const std::string& user,
                                     const std::vector<std::string>& groups) {
  if (user.empty()) return fail(ErrorKind::InvalidArgument, "a client certificate needs a user name");
  return with_context(issue_leaf(ca, user, groups, "clientAuth", nullptr), "issue client certificate for {}",
                      user);
}

Status write_cert_files(const std::string& dir, const std::string& name, const IssuedCert& cert) {
  DH_CHECK(fs::make_dirs(dir, 0700));
  // The key first: a reader that finds the new certificate finds its key too.
  DH_CHECK(fs::write_file_atomic(fs::join(dir, name + ".key"), cert.key_pem, 0600));
  DH_CHECK(fs::write_file_atomic(fs::join(dir, name + ".crt"), cert.cert_pem, 0644));
  return {};
}

std::string make_kubeconfig(const std::string& server_url, const std::string& ca_pem, const std::string& user,
                            const IssuedCert& client) {
  const std::string cluster = "deckhand";
  const std::string context = user + "@" + cluster;
  std::string out;
  out += "apiVersion: v1\nkind: Config\n";
  out += "clusters:\n";
  out += "- name: " + yaml_string(cluster) + "\n";
  out += "  cluster:\n";
  out += "    server: " + yaml_string(server_url) + "\n";
  out += "    certificate-authority-data: " + base64_encode(ca_pem) + "\n";
  out += "users:\n";
  out += "- name: " + yaml_string(user) + "\n";
  out += "  user:\n";
  out += "    client-certificate-data: " + base64_encode(client.cert_pem) + "\n";
  out += "    client-key-data: " + base64_encode(client.key_pem) + "\n";
  out += "contexts:\n";
  out += "- name: " + yaml_string(context) + "\n";
  out += "  context:\n";
  out += "    cluster: " + yaml_string(cluster) + "\n";
  out += "    user: " + yaml_string(user) + "\n";
  out += "current-context: " + yaml_string(context) + "\n";
  return out;
}

}  // namespace deckhand::http
