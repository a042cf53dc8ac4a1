// One connection's byte stream, plain or TLS, accepted by the server or
// opened by the client, for Beast's synchronous read/write (SyncReadStream
// and SyncWriteStream). Internal to deckhand-http.
//
// The socket is non-blocking and every wait is a poll() that also watches
// a stop eventfd (the server's, or a client call's cancel) and ends after
// io_timeout without progress, or at the deadline. That
// is why we drive OpenSSL directly rather than through asio::ssl::stream: its
// synchronous operations wait without a timeout and cannot be interrupted
// from another thread, so neither idle timeouts nor stop() could end them.
#pragma once

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "deckhand/common/fd.h"
#include "deckhand/common/result.h"
#include "deckhand/http/openssl_handles.h"
#include "deckhand/http/server.h"

namespace deckhand::http {

class ConnectionIo {
 public:
  using Clock = std::chrono::steady_clock;

  // stop_fd becomes readable when the server stops (or the call is
  // cancelled); it is borrowed, and -1 means none.
  ConnectionIo(UniqueFd socket, int stop_fd, std::chrono::milliseconds io_timeout);
  ConnectionIo(const ConnectionIo&) = delete;
  ConnectionIo& operator=(const ConnectionIo&) = delete;

  // The server side of a TLS handshake; afterwards all I/O is encrypted.
  Status tls_handshake(SSL_CTX* ctx);
  // The client side: SNI and the certificate's name checked against host
  // (a DNS name or an IP address) unless verify_name is false.
  Status tls_connect(SSL_CTX* ctx, const std::string& host, bool verify_name);
  // The verified client certificate's identity (CN = user, O = groups), or
  // an anonymous identity.
  PeerIdentity peer_identity() const;

  void set_io_timeout(std::chrono::milliseconds t) { io_timeout_ = t; }
  // Every wait also ends here (Clock::time_point::max(): never).
  void set_deadline(Clock::time_point t) { deadline_ = t; }
  void set_stop_fd(int fd) { stop_fd_ = fd; }
  int socket_fd() const { return socket_.get(); }

  // At most n bytes; 0 with ec set on EOF (asio::error::eof), timeout
  // (beast::error::timeout), stop (asio::error::operation_aborted) or failure.
  size_t read(void* data, size_t n, boost::system::error_code& ec);
  size_t write(const void* data, size_t n, boost::system::error_code& ec);
  // Writes everything; false on any failure.
  bool write_all(std::string_view data);

  // Without blocking: has the peer closed, reset, or sent anything (which a
  // client waiting for a streamed response never does), or is the server stopping?
  bool peer_gone();

  // Ends the connection politely: TLS close_notify (best effort, no waiting).
  void close_notify();
  // After an error response while the client may still be sending: stop
  // writing, then read and drop its data for a moment so that closing does not
  // reset the connection before the client has read our response.
  void lingering_close();

  // Beast's stream requirements.
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::mutable_buffer b(*it);
      if (b.size() > 0) return read(b.data(), b.size(), ec);
    }
    ec = {};
    return 0;
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    boost::system::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  // Gathers small buffers into one write (one TLS record instead of several).
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
    gather_.clear();
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::const_buffer b(*it);
      if (b.size() == 0) continue;
      if (gather_.empty() && b.size() >= kGatherLimit) return write(b.data(), b.size(), ec);
      size_t room = kGatherLimit - gather_.size();
      gather_.append(static_cast<const char*>(b.data()), std::min(room, b.size()));
      if (gather_.size() >= kGatherLimit) break;
    }
    if (gather_.empty()) {
      ec = {};
      return 0;
    }
    return write(gather_.data(), gather_.size(), ec);
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& buffers) {
    boost::system::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  static constexpr size_t kGatherLimit = 16 * 1024;

  // Waits until the socket has events (POLLIN/POLLOUT); ec says why not.
  void wait(short events, boost::system::error_code& ec);
  size_t tls_io(bool reading, void* data, size_t n, boost::system::error_code& ec);
  Status handshake(SSL_CTX* ctx, bool server, const std::string& host, bool verify_name);

  UniqueFd socket_;
  int stop_fd_;
  std::chrono::milliseconds io_timeout_;
  Clock::time_point deadline_ = Clock::time_point::max();
  ossl::Ssl ssl_;
  bool tls_failed_ = false;  // after a fatal TLS error, no close_notify may be sent
  std::string gather_;
};

// poll()'s timeout for what is left until a deadline: rounded up, at most a
// minute (callers loop), never negative.
int poll_timeout_ms(ConnectionIo::Clock::duration left);

}  // namespace deckhand::http
