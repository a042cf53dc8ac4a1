#include "deckhand/http/openssl_handles.h"

#include <openssl/err.h>
#include <openssl/pem.h>

namespace deckhand::http::ossl {

std::string error_text() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text.empty() ? "no details" : text;
}

tl::unexpected<Error> fail_openssl(std::string_view what) {
  return fail(ErrorKind::Internal, "{}: {}", what, error_text());
}

namespace {
Result<Bio> memory_bio(std::string_view data) {
  Bio bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) return fail_openssl("BIO_new_mem_buf");
  return bio;
}

Result<std::string> bio_contents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len < 0 || data == nullptr) return fail_openssl("read memory BIO");
  return std::string(data, static_cast<size_t>(len));
}
}  // namespace

Result<Cert> parse_cert_pem(std::string_view pem, std::string_view what) {
  DH_TRY(bio, memory_bio(pem));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return fail(ErrorKind::InvalidArgument, "{}: not a PEM certificate: {}", what, error_text());
  }
  return cert;
}

Result<PKey> parse_key_pem(std::string_view pem, std::string_view what) {
  DH_TRY(bio, memory_bio(pem));
  PKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return fail(ErrorKind::InvalidArgument, "{}: not a PEM private key: {}", what, error_text());
  }
  return key;
}

Result<std::string> cert_to_pem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return fail_openssl("write certificate PEM");
  return bio_contents(bio.get());
}

Result<std::string> key_to_pem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  // PKCS#8 ("PRIVATE KEY"), which Go's tls.X509KeyPair reads as well as OpenSSL.
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return fail_openssl("write private key PEM");
  }
  return bio_contents(bio.get());
}

}  // namespace deckhand::http::ossl
