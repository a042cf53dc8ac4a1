#include "deckhand/http/connection_io.h"

#include <openssl/err.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <cerrno>

#include "deckhand/common/log.h"

namespace deckhand::http {

namespace {

using Clock = ConnectionIo::Clock;
namespace asio_error = boost::asio::error;

boost::system::error_code errno_code(int e) { return {e, boost::system::system_category()}; }

// Every value of one subject attribute (CN, O), as UTF-8.
std::vector<std::string> name_entries(X509_NAME* name, int nid) {
  std::vector<std::string> values;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, data);
    if (len < 0) continue;
    values.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
  }
  return values;
}

}  // namespace

ConnectionIo::ConnectionIo(UniqueFd socket, int stop_fd, std::chrono::milliseconds io_timeout)
    : socket_(std::move(socket)), stop_fd_(stop_fd), io_timeout_(io_timeout) {}

void ConnectionIo::wait(short events, boost::system::error_code& ec) {
  auto now = Clock::now();
  const auto deadline = deadline_ - now > io_timeout_ ? now + io_timeout_ : deadline_;
  for (;;) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) {
      ec = boost::beast::error::timeout;
      return;
    }
    pollfd fds[2] = {{socket_.get(), events, 0}, {stop_fd_, POLLIN, 0}};
    int r = ::poll(fds, 2, poll_timeout_ms(left));
    if (r < 0) {
      if (errno == EINTR) continue;
      ec = errno_code(errno);
      return;
    }
    if (fds[1].revents != 0) {
      ec = asio_error::operation_aborted;
      return;
    }
    // Errors and hang-ups show in the recv/send that follows.
    if (fds[0].revents != 0) {
      ec = {};
      return;
    }
  }
}

size_t ConnectionIo::read(void* data, size_t n, boost::system::error_code& ec) {
  ec = {};
  if (ssl_) return tls_io(true, data, n, ec);
  for (;;) {
    ssize_t r = ::recv(socket_.get(), data, n, 0);
    if (r > 0) return static_cast<size_t>(r);
    if (r == 0) {
      ec = asio_error::eof;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = errno_code(errno);
      return 0;
    }
    wait(POLLIN, ec);
    if (ec) return 0;
  }
}

size_t ConnectionIo::write(const void* data, size_t n, boost::system::error_code& ec) {
  ec = {};
  if (ssl_) return tls_io(false, const_cast<void*>(data), n, ec);
  for (;;) {
    ssize_t r = ::send(socket_.get(), data, n, MSG_NOSIGNAL);
    if (r >= 0) return static_cast<size_t>(r);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = errno_code(errno);
      return 0;
    }
    wait(POLLOUT, ec);
    if (ec) return 0;
  }
}

bool ConnectionIo::write_all(std::string_view data) {
  while (!data.empty()) {
    boost::system::error_code ec;
    size_t n = write(data.data(), data.size(), ec);
    if (ec) return false;
    data.remove_prefix(n);
  }
  return true;
}

size_t ConnectionIo::tls_io(bool reading, void* data, size_t n, boost::system::error_code& ec) {
  for (;;) {
    ERR_clear_error();
    size_t done = 0;
    int ok = reading ? SSL_read_ex(ssl_.get(), data, n, &done) : SSL_write_ex(ssl_.get(), data, n, &done);
    if (ok == 1) return done;
    int saved_errno = errno;
    switch (SSL_get_error(ssl_.get(), ok)) {
      case SSL_ERROR_WANT_READ:
        wait(POLLIN, ec);
        break;
      case SSL_ERROR_WANT_WRITE:
        wait(POLLOUT, ec);
        break;
      case SSL_ERROR_ZERO_RETURN:
        ec = asio_error::eof;
        break;
      case SSL_ERROR_SYSCALL:
        tls_failed_ = true;
        ec = saved_errno != 0 ? errno_code(saved_errno) : boost::system::error_code(asio_error::eof);
        break;
      default:
        tls_failed_ = true;
        log::get("http")->debug("TLS {}: {}", reading ? "read" : "write", ossl::error_text());
        ec = boost::system::errc::make_error_code(boost::system::errc::protocol_error);
        break;
    }
    if (ec) return 0;
  }
}

Status ConnectionIo::tls_handshake(SSL_CTX* ctx) { return handshake(ctx, true, "", false); }

Status ConnectionIo::tls_connect(SSL_CTX* ctx, const std::string& host, bool verify_name) {
  return handshake(ctx, false, host, verify_name);
}

namespace {

bool is_ip_address(const std::string& host) {
  in6_addr any;
  return ::inet_pton(AF_INET, host.c_str(), &any) == 1 || ::inet_pton(AF_INET6, host.c_str(), &any) == 1;
}

// SNI (names only, as RFC 6066 says) and the name the certificate must carry.
Status name_the_server(SSL* ssl, const std::string& host, bool verify_name) {
  bool ip = is_ip_address(host);
  if (!ip && !host.empty() && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1)
    return ossl::fail_openssl("set TLS server name " + host);
  if (!verify_name || host.empty()) return {};
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) : X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  if (ok != 1) return ossl::fail_openssl("expect the server certificate to name " + host);
  return {};
}

}  // namespace

Status ConnectionIo::handshake(SSL_CTX* ctx, bool server, const std::string& host, bool verify_name) {
  ssl_.reset(SSL_new(ctx));
  if (!ssl_ || SSL_set_fd(ssl_.get(), socket_.get()) != 1) return ossl::fail_openssl("new TLS connection");
  if (!server) DH_CHECK(name_the_server(ssl_.get(), host, verify_name));
  for (;;) {
    ERR_clear_error();
    int r = server ? SSL_accept(ssl_.get()) : SSL_connect(ssl_.get());
    if (r == 1) return {};
    boost::system::error_code ec;
    int err = SSL_get_error(ssl_.get(), r);
    if (err == SSL_ERROR_WANT_READ) {
      wait(POLLIN, ec);
    } else if (err == SSL_ERROR_WANT_WRITE) {
      wait(POLLOUT, ec);
    } else {
      tls_failed_ = true;
      long verify = SSL_get_verify_result(ssl_.get());
      std::string detail = ossl::error_text();
      if (verify != X509_V_OK)
        detail += fmt::format(" ({} certificate: {})", server ? "client" : "server",
                              X509_verify_cert_error_string(verify));
      return fail(ErrorKind::Unavailable, "TLS handshake: {}", detail);
    }
    if (ec) {
      tls_failed_ = true;
      return fail(ErrorKind::Unavailable, "TLS handshake: {}",
                  ec == boost::beast::error::timeout ? "timed out" : ec.message());
    }
  }
}

PeerIdentity ConnectionIo::peer_identity() const {
  if (!ssl_) return {};
  X509* cert = SSL_get0_peer_certificate(ssl_.get());
  if (cert == nullptr || SSL_get_verify_result(ssl_.get()) != X509_V_OK) return {};
  X509_NAME* subject = X509_get_subject_name(cert);
  PeerIdentity peer;
  peer.has_client_cert = true;
  auto common_names = name_entries(subject, NID_commonName);
  // Go's crypto/x509, and so Kubernetes, takes the last CN when there are several.
  if (!common_names.empty()) peer.user = common_names.back();
  peer.groups = name_entries(subject, NID_organizationName);
  return peer;
}

bool ConnectionIo::peer_gone() {
  pollfd fds[2] = {{socket_.get(), POLLIN | POLLRDHUP, 0}, {stop_fd_, POLLIN, 0}};
  int r = ::poll(fds, 2, 0);
  if (r < 0) return false;  // EINTR: ask again next time
  return fds[0].revents != 0 || fds[1].revents != 0;
}

void ConnectionIo::close_notify() {
  if (!ssl_ || tls_failed_) return;
  ERR_clear_error();
  SSL_shutdown(
      ssl_.get());  // non-blocking: sends close_notify if the socket takes it, no waiting for the peer's
  ERR_clear_error();
  tls_failed_ = true;  // once is enough
}

void ConnectionIo::lingering_close() {
  close_notify();
  ::shutdown(socket_.get(), SHUT_WR);
  constexpr auto kLinger = std::chrono::seconds(1);
  constexpr size_t kMaxDrain = 8 * 1024 * 1024;
  const auto deadline = Clock::now() + kLinger;
  size_t drained = 0;
  char buf[16 * 1024];
  while (drained < kMaxDrain) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return;
    pollfd fds[2] = {{socket_.get(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    int r = ::poll(fds, 2, poll_timeout_ms(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || fds[1].revents != 0) return;
    ssize_t n = ::recv(socket_.get(), buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return;
    drained += static_cast<size_t>(n);
  }
}

int poll_timeout_ms(ConnectionIo::Clock::duration left) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::clamp<decltype(ms)>(ms, 0, 60'000));
}

}  // namespace deckhand::http
