// Owning handles for OpenSSL objects, and the text of OpenSSL's error queue.
// Internal to deckhand-http (the server and the PKI share them).
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <string_view>

#include "deckhand/common/result.h"

namespace deckhand::http::ossl {

template <auto FreeFn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    FreeFn(p);
  }
};

using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BigNum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using GeneralNames = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using StoreCtx = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using Store = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using SslCtx = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using Ssl = std::unique_ptr<SSL, Deleter<SSL_free>>;

// Drains OpenSSL's (per-thread) error queue into one line; "no details" if empty.
std::string error_text();

// An Internal error "<what>: <OpenSSL errors>", draining the queue.
tl::unexpected<Error> fail_openssl(std::string_view what);

Result<Cert> parse_cert_pem(std::string_view pem, std::string_view what);
Result<PKey> parse_key_pem(std::string_view pem, std::string_view what);
Result<std::string> cert_to_pem(X509* cert);
Result<std::string> key_to_pem(EVP_PKEY* key);

}  // namespace deckhand::http::ossl
