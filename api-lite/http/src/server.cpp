#include "deckhand/http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/common/log.h"
#include "deckhand/common/text.h"
#include "deckhand/http/connection_io.h"
#include "deckhand/http/request_target.h"

namespace deckhand::http {

std::optional<std::string> Request::query_param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::optional<std::string> Request::header(std::string_view lower_name) const {
  for (const auto& [key, value] : headers) {
    if (key == lower_name) return value;
  }
  return std::nullopt;
}

namespace {

namespace beast_http = boost::beast::http;
using ErrorCode = boost::system::error_code;

constexpr size_t kHeaderLimit = 1 << 20;  // Go's http.DefaultMaxHeaderBytes

std::shared_ptr<spdlog::logger> logger() { return log::get("http"); }

// Beast (Boost 1.74) hands out boost::string_view.
std::string_view std_view(boost::beast::string_view s) { return {s.data(), s.size()}; }

// Headers the server sets itself from how it sends the body.
bool is_framing_header(std::string_view name) {
  std::string lower = ascii_lower(name);
  return lower == "content-length" || lower == "transfer-encoding" || lower == "connection";
}

// A Kubernetes Status object, as the apiserver sends errors.
Response status_response(int code, std::string_view reason, std::string_view message) {
  Json status = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
                 {"status", "Failure"}, {"message", message}, {"reason", reason},
                 {"code", code}};
  Response response;
  response.status = code;
  response.headers = {{"Content-Type", "application/json"}};
  response.body = status.dump(-1, ' ', false, Json::error_handler_t::replace);
  return response;
}

bool status_has_no_body(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

template <class Fields>
void add_headers(Fields& fields, const std::vector<std::pair<std::string, std::string>>& headers) {
  for (const auto& [name, value] : headers) {
    if (!is_framing_header(name)) fields.insert(name, value);
  }
}

// The answer to one request: a whole response, or a chunked stream that the
// handler writes and finish() ends.
class ConnectionResponder final : public Responder, public ResponseStream {
 public:
  ConnectionResponder(ConnectionIo& io, bool head_request, bool keep_alive)
      : io_(io), head_request_(head_request), keep_alive_(keep_alive) {}

  void send(Response response) override {
    if (!begin_answer("send")) return;
    try {
      write_whole(std::move(response));
    } catch (const std::exception& e) {
      logger()->error("writing a response failed: {}", e.what());
      broken_ = true;
    }
  }

  ResponseStream& stream(int status, std::vector<std::pair<std::string, std::string>> headers) override {
    if (!begin_answer("stream")) return *this;
    streaming_ = true;
    try {
      beast_http::response<beast_http::empty_body> res;
      res.version(11);
      res.result(static_cast<unsigned>(checked_status(status)));
      add_headers(res, headers);
      res.keep_alive(keep_alive_);
      res.chunked(true);
      beast_http::response_serializer<beast_http::empty_body> serializer(res);
      ErrorCode ec;
      beast_http::write_header(io_, serializer, ec);
      if (ec) broken_ = true;
    } catch (const std::exception& e) {
      logger()->error("writing response headers failed: {}", e.what());
      broken_ = true;
    }
    return *this;
  }

  bool write(std::string_view chunk) override {
    if (!streaming_ || client_gone()) return false;
    if (head_request_ || chunk.empty()) return true;  // an empty chunk would end the body
    std::string frame = fmt::format("{:x}\r\n", chunk.size());
    frame.append(chunk);
    frame.append("\r\n");
    if (!io_.write_all(frame)) broken_ = true;
    return !broken_;
  }

  bool client_gone() override {
    if (!broken_ && io_.peer_gone()) broken_ = true;
    return broken_;
  }

  // After the handler returned: 500 if it answered nothing, else the end of a stream.
  void finish() {
    if (!answered_) {
      logger()->error("the handler sent no response");
      send(status_response(500, "InternalError", "the handler sent no response"));
      return;
    }
    if (streaming_ && !broken_ && !head_request_ && !io_.write_all("0\r\n\r\n")) broken_ = true;
  }

  // After the handler threw: 500 if nothing was sent yet, else leave the
  // response unfinished (the connection closes, the client sees it cut off).
  void handler_failed() {
    if (!answered_) {
      send(status_response(500, "InternalError", "internal error while handling the request"));
    } else {
      broken_ = true;
    }
  }

  // Whether the next request may use this connection.
  bool reusable() const { return keep_alive_ && !broken_; }

 private:
  bool begin_answer(const char* what) {
    if (answered_) {
      logger()->error("the handler answered twice (second: {}); closing the connection", what);
      broken_ = true;
      return false;
    }
    answered_ = true;
    return true;
  }

  int checked_status(int status) {
    if (status >= 100 && status <= 599) return status;
    logger()->error("the handler gave the invalid status {}; sending 500", status);
    return 500;
  }

  void write_whole(Response response) {
    int status = checked_status(response.status);
    if (status_has_no_body(status)) response.body.clear();
    beast_http::response<beast_http::string_body> res;
    res.version(11);
    res.result(static_cast<unsigned>(status));
    add_headers(res, response.headers);
    res.keep_alive(keep_alive_);
    res.body() = std::move(response.body);
    res.prepare_payload();
    ErrorCode ec;
    if (head_request_) {
      beast_http::response_serializer<beast_http::string_body> serializer(res);
      beast_http::write_header(io_, serializer, ec);
    } else {
      beast_http::write(io_, res, ec);
    }
    if (ec) broken_ = true;
  }

  ConnectionIo& io_;
  bool head_request_;
  bool keep_alive_;
  bool answered_ = false;
  bool streaming_ = false;
  bool broken_ = false;  // the client is gone or the response went wrong: close after it
};

// For requests we cannot read: answer and close (politely, see lingering_close).
void reject_and_close(ConnectionIo& io, int status, std::string_view reason, std::string_view message) {
  ConnectionResponder responder(io, false, false);
  responder.send(status_response(status, reason, message));
  io.lingering_close();
}

bool is_http_parse_error(const ErrorCode& ec) {
  return ec.category() == beast_http::make_error_code(beast_http::error::bad_method).category() &&
         ec != beast_http::error::end_of_stream && ec != beast_http::error::partial_message;
}

struct ListenAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  bool loopback = false;
};

Result<ListenAddress> parse_listen_address(const std::string& address, uint16_t port) {
  std::string text = address == "localhost" ? "127.0.0.1" : address;
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(text, ec);
  if (ec)
    return fail(ErrorKind::InvalidArgument, "listen address '{}' is not an IP address or localhost", address);
  ListenAddress out;
  out.loopback = ip.is_loopback();
  if (ip.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    auto bytes = ip.to_v4().to_bytes();
    std::memcpy(&sin->sin_addr, bytes.data(), bytes.size());
    out.length = sizeof(sockaddr_in);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    auto bytes = ip.to_v6().to_bytes();
    std::memcpy(&sin6->sin6_addr, bytes.data(), bytes.size());
    sin6->sin6_scope_id = ip.to_v6().scope_id();
    out.length = sizeof(sockaddr_in6);
  }
  return out;
}

// "10.0.0.1:5432" or "[fd00::1]:5432", as Go writes RemoteAddr.
std::string format_address(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    return fmt::format("{}:{}", text, ntohs(sin->sin_port));
  }
  const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&addr);
  inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
  return fmt::format("[{}]:{}", text, ntohs(sin6->sin6_port));
}

// Go's client offers "h2" and "http/1.1"; we speak HTTP/1.1 only, so we pick
// that or nothing (Go then uses HTTP/1.1 too).
int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                  unsigned int inlen, void*) {
  static constexpr std::string_view kHttp11 = "http/1.1";
  for (unsigned int i = 0; i < inlen;) {
    unsigned int len = in[i];
    if (i + 1 + len > inlen) break;
    if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == kHttp11) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(len);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

Status load_client_ca(SSL_CTX* ctx, const std::string& ca_file) {
  DH_CHECK(with_context(fs::read_file(ca_file), "client CA file"));
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return ossl::fail_openssl("load client CA " + ca_file);
  }
  // Named in the certificate request: Go's client only sends a certificate
  // issued by one of these.
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_file.c_str());
  if (names == nullptr) return ossl::fail_openssl("read CA names from " + ca_file);
  SSL_CTX_set_client_CA_list(ctx, names);
  // A certificate is asked for but not required: anonymous requests reach the
  // handler (which answers 401), health checks need none. A certificate that
  // fails verification fails the handshake.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return {};
}

Result<ossl::SslCtx> make_tls_context(const TlsOptions& tls) {
  ossl::SslCtx ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return ossl::fail_openssl("SSL_CTX_new");
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(
      c, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  DH_CHECK(with_context(fs::read_file(tls.cert_file), "serving certificate"));
  DH_CHECK(with_context(fs::read_file(tls.key_file), "serving key"));
  if (SSL_CTX_use_certificate_chain_file(c, tls.cert_file.c_str()) != 1) {
    return ossl::fail_openssl("load serving certificate " + tls.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(c, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return ossl::fail_openssl("load serving key " + tls.key_file);
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return ossl::fail_openssl(
        fmt::format("key {} does not belong to certificate {}", tls.key_file, tls.cert_file));
  }
  // Needed for session resumption when client certificates are verified.
  static constexpr unsigned char kSessionContext[] = "deckhand-http";
  SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
  if (!tls.client_ca_file.empty()) DH_CHECK(load_client_ca(c, tls.client_ca_file));
  SSL_CTX_set_alpn_select_cb(c, select_http11, nullptr);
  return ctx;
}

class BeastHttpServer final : public HttpServer {
 public:
  BeastHttpServer(ServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {}
  ~BeastHttpServer() override { stop(); }

  Status init(const ListenAddress& address);
  uint16_t port() const override { return port_; }
  void stop() override;

 private:
  struct ConnectionThread {
    std::thread thread;
    std::atomic<bool> finished{false};
  };

  void accept_loop();
  void accept_one();
  void refuse(UniqueFd socket);
  void spawn(UniqueFd socket, std::string remote);
  void reap_finished();
  void run_connection(UniqueFd socket, const std::string& remote);
  void serve_requests(ConnectionIo& io, const PeerIdentity& peer, const std::string& remote);
  // Reads one request; nullopt when the connection is to end (answered already if need be).
  std::optional<Request> read_request(ConnectionIo& io, boost::beast::flat_buffer& buffer, bool& keep_alive);
  void call_handler(const Request& request, ConnectionResponder& responder);

  ServerOptions options_;
  Handler handler_;
  ossl::SslCtx ssl_ctx_;  // null for plain HTTP
  UniqueFd listener_;
  UniqueFd stop_event_;  // eventfd, readable once stop() began; every wait watches it
  uint16_t port_ = 0;
  std::thread acceptor_;
  // Only the acceptor thread touches this list, and stop() after joining it.
  std::list<std::unique_ptr<ConnectionThread>> connections_;
  std::atomic<size_t> open_connections_{0};
  std::mutex stop_mutex_;
  bool stopped_ = false;
};

Status BeastHttpServer::init(const ListenAddress& address) {
  if (options_.tls) {
    DH_TRY(ctx, make_tls_context(*options_.tls));
    ssl_ctx_ = std::move(ctx);
  }
  stop_event_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_event_) return sys_fail("eventfd");
  listener_.reset(::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener_) return sys_fail("socket");
  int one = 1;
  if (::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return sys_fail("setsockopt SO_REUSEADDR");
  }
  if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0) {
    return sys_fail("bind");
  }
  if (::listen(listener_.get(), SOMAXCONN) != 0) return sys_fail("listen");
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&bound), &length) != 0) {
    return sys_fail("getsockname");
  }
  port_ = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                           : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  try {
    acceptor_ = std::thread([this] { accept_loop(); });
  } catch (const std::system_error& e) {
    return fail(ErrorKind::Internal, "start the acceptor thread: {}", e.what());
  }
  return {};
}

void BeastHttpServer::stop() {
  std::lock_guard lock(stop_mutex_);
  if (stopped_) return;
  stopped_ = true;
  if (stop_event_) {
    uint64_t one = 1;
    // Stays readable: every poll of every connection sees it from now on.
    if (::write(stop_event_.get(), &one, sizeof one) != sizeof one) {
      logger()->error("signal stop to connections: {}", errno_text(errno));
    }
  }
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& connection : connections_) {
    if (connection->thread.joinable()) connection->thread.join();
  }
  connections_.clear();
  listener_.reset();
}

void BeastHttpServer::accept_loop() {
  try {
    for (;;) {
      pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_event_.get(), POLLIN, 0}};
      // The timeout only bounds how long finished threads wait to be joined.
      int r = ::poll(fds, 2, 1000);
      reap_finished();
      if (r < 0 && errno != EINTR) {
        logger()->error("poll the listening socket: {}", errno_text(errno));
        return;
      }
      if (fds[1].revents != 0) return;
      if (r > 0 && fds[0].revents != 0) accept_one();
    }
  } catch (const std::exception& e) {
    logger()->error("the acceptor thread failed: {}", e.what());
  }
}

void BeastHttpServer::accept_one() {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  UniqueFd socket(
      ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &length, SOCK_NONBLOCK | SOCK_CLOEXEC));
  if (!socket) {
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED) return;
    logger()->warn("accept on port {}: {}", port_, errno_text(e));
    // Out of fds or memory: wait a little rather than spin (stop still ends the wait).
    pollfd stop_fd = {stop_event_.get(), POLLIN, 0};
    ::poll(&stop_fd, 1, 100);
    return;
  }
  if (open_connections_.load() >= options_.max_connections) {
    refuse(std::move(socket));
    return;
  }
  int one = 1;
  // Watch events must leave at once, not wait for Nagle.
  ::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  spawn(std::move(socket), format_address(addr));
}

void BeastHttpServer::refuse(UniqueFd socket) {
  logger()->warn("refusing a connection: {} connections open (the limit)", options_.max_connections);
  if (ssl_ctx_) return;  // a TLS client would need a handshake first; closing says enough
  static constexpr std::string_view kBusy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  // Best effort and never blocking: the acceptor must not wait for one client.
  (void)::send(socket.get(), kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void BeastHttpServer::spawn(UniqueFd socket, std::string remote) {
  auto connection = std::make_unique<ConnectionThread>();
  ConnectionThread* slot = connection.get();
  ++open_connections_;
  try {
    connection->thread =
        std::thread([this, slot, fd = std::move(socket), remote = std::move(remote)]() mutable {
          run_connection(std::move(fd), remote);
          --open_connections_;
          slot->finished = true;
        });
  } catch (const std::system_error& e) {
    --open_connections_;
    logger()->error("start a connection thread: {}", e.what());
    return;
  }
  connections_.push_back(std::move(connection));
}

void BeastHttpServer::reap_finished() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if ((*it)->finished) {
      (*it)->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void BeastHttpServer::run_connection(UniqueFd socket, const std::string& remote) {
  // OpenSSL writes to the socket with write(): a peer that is gone must give
  // EPIPE on this thread, not kill the process.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
  try {
    ConnectionIo io(std::move(socket), stop_event_.get(), options_.idle_timeout);
    if (ssl_ctx_) {
      if (auto handshake = io.tls_handshake(ssl_ctx_.get()); !handshake) {
        logger()->debug("{}: {}", remote, handshake.error().message);
        return;
      }
    }
    serve_requests(io, io.peer_identity(), remote);
  } catch (const std::exception& e) {
    logger()->error("connection from {}: {}", remote, e.what());
  } catch (...) {
    logger()->error("connection from {}: unknown exception", remote);
  }
}

void BeastHttpServer::serve_requests(ConnectionIo& io, const PeerIdentity& peer, const std::string& remote) {
  boost::beast::flat_buffer buffer;
  for (;;) {
    // Idle between requests: wait up to idle_timeout for the next one to begin.
    if (buffer.size() == 0) {
      ErrorCode ec;
      auto space = buffer.prepare(4096);
      size_t n = io.read(space.data(), space.size(), ec);
      if (ec) return;  // closed, idle too long, or stopping
      buffer.commit(n);
    }
    bool keep_alive = false;
    auto request = read_request(io, buffer, keep_alive);
    if (!request) return;
    request->peer = peer;
    request->remote_address = remote;
    ConnectionResponder responder(io, request->method == "HEAD", keep_alive);
    call_handler(*request, responder);
    responder.finish();
    if (!responder.reusable()) {
      io.close_notify();
      return;
    }
  }
}

std::optional<Request> BeastHttpServer::read_request(ConnectionIo& io, boost::beast::flat_buffer& buffer,
                                                     bool& keep_alive) {
  beast_http::request_parser<beast_http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(options_.max_body_bytes);
  const auto too_large = [&] {
    reject_and_close(io, 413, "RequestEntityTooLarge",
                     fmt::format("the request body is larger than {} bytes", options_.max_body_bytes));
    return std::nullopt;
  };
  const auto unreadable = [&](const ErrorCode& ec) -> std::optional<Request> {
    // Beast reports a Content-Length over the limit with the header already.
    if (ec == beast_http::error::body_limit) return too_large();
    if (ec == beast_http::error::header_limit) {
      reject_and_close(io, 431, "RequestHeaderFieldsTooLarge", "the request headers are too large");
    } else if (is_http_parse_error(ec)) {
      reject_and_close(io, 400, "BadRequest", fmt::format("malformed HTTP request: {}", ec.message()));
    }
    return std::nullopt;  // otherwise the client left, was too slow, or we are stopping
  };
  ErrorCode ec;
  beast_http::read_header(io, buffer, parser, ec);
  if (ec) return unreadable(ec);
  auto& message = parser.get();
  if (boost::beast::iequals(message[beast_http::field::expect], "100-continue")) {
    io.write_all("HTTP/1.1 100 Continue\r\n\r\n");
  }
  beast_http::read(io, buffer, parser, ec);
  if (ec) return unreadable(ec);

  auto target = parse_request_target(std_view(message.target()));
  if (!target) {
    reject_and_close(io, 400, "BadRequest", "malformed request target");
    return std::nullopt;
  }
  keep_alive = message.keep_alive();
  Request request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  request.path = std::move(target->path);
  request.query = std::move(target->query);
  for (const auto& field : message)
    request.headers.emplace_back(ascii_lower(std_view(field.name_string())), field.value());
  request.body = std::move(message.body());
  return request;
}

void BeastHttpServer::call_handler(const Request& request, ConnectionResponder& responder) {
  try {
    handler_(request, responder);
    return;
  } catch (const std::exception& e) {
    logger()->error("{} {} from {}: the handler threw: {}", request.method, request.path,
                    request.remote_address, e.what());
  } catch (...) {
    logger()->error("{} {} from {}: the handler threw", request.method, request.path, request.remote_address);
  }
  responder.handler_failed();
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(ServerOptions options, Handler handler) {
  const std::string where = fmt::format("serve HTTP on {} port {}", options.address, options.port);
  auto address = parse_listen_address(options.address, options.port);
  if (!address) return tl::unexpected(address.error().context("{}", where));
  if (!options.tls && !address->loopback) {
    return fail(ErrorKind::InvalidArgument,
                "{}: plain HTTP (no TLS) is only served on loopback addresses, and {} is not one", where,
                options.address);
  }
  if (!handler) return fail(ErrorKind::InvalidArgument, "{}: no handler", where);
  auto server = std::make_unique<BeastHttpServer>(std::move(options), std::move(handler));
  if (auto started = server->init(*address); !started) {
    return tl::unexpected(started.error().context("{}", where));
  }
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace deckhand::http
