#include "deckhand/http/client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <limits>
#include <mutex>

#include "deckhand/common/fs.h"
#include "deckhand/common/text.h"
#include "deckhand/http/connection_io.h"

namespace deckhand::http {

namespace {

namespace beast_http = boost::beast::http;
using ErrorCode = boost::system::error_code;
using Clock = ConnectionIo::Clock;

constexpr size_t kHeaderLimit = 1 << 20;
constexpr size_t kStreamChunk = 16 * 1024;

bool is_ipv6(const std::string& host) { return host.find(':') != std::string::npos; }

std::string host_port(const ServerAddress& s) {
  return (is_ipv6(s.host) ? "[" + s.host + "]" : s.host) + ":" + std::to_string(s.port);
}

// The Host header: the port only when it is not the scheme's own, as browsers and Go send it.
std::string host_header(const ServerAddress& s) {
  if (s.port == (s.tls ? 443 : 80)) return is_ipv6(s.host) ? "[" + s.host + "]" : s.host;
  return host_port(s);
}

// The failure of an I/O step, worded by what ended it.
Error io_error(std::string_view what, const ErrorCode& ec, std::chrono::milliseconds timeout) {
  if (ec == boost::beast::error::timeout)
    return Error{ErrorKind::DeadlineExceeded, 0, fmt::format("{}: timed out after {} ms", what, timeout.count())};
  if (ec == boost::asio::error::operation_aborted) return Error{ErrorKind::Unavailable, 0, fmt::format("{}: cancelled", what)};
  if (ec == boost::asio::error::eof || ec == beast_http::error::end_of_stream || ec == beast_http::error::partial_message)
    return Error{ErrorKind::Unavailable, 0, fmt::format("{}: the server closed the connection", what)};
  return Error{ErrorKind::Unavailable, 0, fmt::format("{}: {}", what, ec.message())};
}

// Every certificate of a PEM bundle, in order.
Result<std::vector<ossl::Cert>> parse_cert_bundle(const std::string& pem, std::string_view what) {
  ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return ossl::fail_openssl("read " + std::string(what));
  std::vector<ossl::Cert> certs;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(x);
  ERR_clear_error();  // the end of the bundle reads as an error
  if (certs.empty()) return fail(ErrorKind::InvalidArgument, "{}: no PEM certificate in it", what);
  return certs;
}

Result<ossl::SslCtx> client_tls_context(const ClientOptions& o) {
  ossl::SslCtx ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return ossl::fail_openssl("SSL_CTX_new");
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (!o.verify_server) {
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    if (o.ca_pem.empty()) {
      if (SSL_CTX_set_default_verify_paths(c) != 1) return ossl::fail_openssl("load the system's CA certificates");
    } else {
      DH_TRY(cas, parse_cert_bundle(o.ca_pem, "CA certificate"));
      X509_STORE* store = SSL_CTX_get_cert_store(c);
      for (auto& ca : cas)
        if (X509_STORE_add_cert(store, ca.get()) != 1) return ossl::fail_openssl("trust the CA certificate");
    }
  }
  if (o.cert_pem.empty() != o.key_pem.empty())
    return fail(ErrorKind::InvalidArgument, "a client certificate needs its key and a key its certificate");
  if (!o.cert_pem.empty()) {
    DH_TRY(chain, parse_cert_bundle(o.cert_pem, "client certificate"));
    DH_TRY(key, ossl::parse_key_pem(o.key_pem, "client key"));
    if (SSL_CTX_use_certificate(c, chain.front().get()) != 1) return ossl::fail_openssl("use the client certificate");
    for (size_t i = 1; i < chain.size(); ++i)
      if (SSL_CTX_add1_chain_cert(c, chain[i].get()) != 1) return ossl::fail_openssl("use the client certificate chain");
    if (SSL_CTX_use_PrivateKey(c, key.get()) != 1 || SSL_CTX_check_private_key(c) != 1)
      return ossl::fail_openssl("use the client key (does it belong to the certificate?)");
  }
  return ctx;
}

// A keep-alive connection and what it has read past the last response.
struct Connection {
  Connection(UniqueFd socket, std::chrono::milliseconds timeout) : io(std::move(socket), -1, timeout) {}
  ConnectionIo io;
  boost::beast::flat_buffer buffer;
  bool reused = false;
};

// Waits for a non-blocking connect to finish.
Status finish_connect(int fd, Clock::time_point deadline, int cancel_fd, const std::string& where,
                      std::chrono::milliseconds timeout) {
  for (;;) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero())
      return fail(ErrorKind::DeadlineExceeded, "connect to {}: timed out after {} ms", where, timeout.count());
    pollfd fds[2] = {{fd, POLLOUT, 0}, {cancel_fd, POLLIN, 0}};
    int n = ::poll(fds, 2, poll_timeout_ms(left));
    if (n < 0 && errno != EINTR) return sys_fail("connect to {}: poll", where);
    if (n <= 0) continue;
    if (fds[1].revents != 0) return fail(ErrorKind::Unavailable, "connect to {}: cancelled", where);
    int error = 0;
    socklen_t len = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
    if (error == 0) return {};
    return tl::unexpected(Error{ErrorKind::Unavailable, error, fmt::format("connect to {}: {}", where, errno_text(error))});
  }
}

Result<UniqueFd> connect_one(const addrinfo& ai, Clock::time_point deadline, int cancel_fd, const std::string& where,
                             std::chrono::milliseconds timeout) {
  UniqueFd fd(::socket(ai.ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return sys_fail("connect to {}: socket", where);
  if (::connect(fd.get(), ai.ai_addr, ai.ai_addrlen) != 0) {
    if (errno != EINPROGRESS)
      return tl::unexpected(Error{ErrorKind::Unavailable, errno, fmt::format("connect to {}: {}", where, errno_text(errno))});
    DH_CHECK(finish_connect(fd.get(), deadline, cancel_fd, where, timeout));
  }
  int one = 1, idle = 30, interval = 10;
  // Small requests go out at once; a dead peer shows within a minute or so.
  (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  return fd;
}

// The request as Beast writes it.
beast_http::request<beast_http::string_body> beast_request(const ClientRequest& r, const ServerAddress& server,
                                                            const std::string& user_agent) {
  beast_http::request<beast_http::string_body> req;
  req.version(11);
  req.method_string(r.method);
  req.target(r.target);
  bool has_host = false, has_agent = false;
  for (const auto& [name, value] : r.headers) {
    has_host |= ascii_iequals(name, "host");
    has_agent |= ascii_iequals(name, "user-agent");
    req.insert(name, value);
  }
  if (!has_host) req.set(beast_http::field::host, host_header(server));
  if (!has_agent) req.set(beast_http::field::user_agent, user_agent);
  req.body() = r.body;
  req.keep_alive(true);
  req.prepare_payload();
  return req;
}

template <class Fields>
HeaderList header_list(const Fields& fields) {
  HeaderList out;
  for (const auto& f : fields) out.emplace_back(ascii_lower({f.name_string().data(), f.name_string().size()}),
                                                std::string(f.value().data(), f.value().size()));
  return out;
}

class StreamedResponseImpl final : public StreamedResponse {
 public:
  using Parser = beast_http::response_parser<beast_http::buffer_body>;

  StreamedResponseImpl(std::unique_ptr<Connection> conn, std::unique_ptr<Parser> parser, Clock::time_point deadline,
                       std::chrono::milliseconds overall)
      : conn_(std::move(conn)), parser_(std::move(parser)), deadline_(deadline), overall_(overall) {
    status_ = static_cast<int>(parser_->get().result_int());
    headers_ = header_list(parser_->get());
    done_ = parser_->is_done();
  }

  int status() const override { return status_; }
  const HeaderList& headers() const override { return headers_; }

  Result<bool> read_some(std::string& out, std::chrono::milliseconds wait) override {
    if (done_) return false;
    auto now = Clock::now();
    bool deadline_first = deadline_ - now <= wait;
    conn_->io.set_deadline(deadline_first ? deadline_ : now + wait);
    char chunk[kStreamChunk];
    auto& body = parser_->get().body();
    body.data = chunk;
    body.size = sizeof chunk;
    body.more = true;
    ErrorCode ec;
    beast_http::read_some(conn_->io, conn_->buffer, *parser_, ec);
    out.append(chunk, sizeof chunk - body.size);  // what was parsed before any error counts
    if (ec == beast_http::error::need_buffer) ec = {};
    if (parser_->is_done()) done_ = true;
    if (!ec) return true;
    if (ec == boost::beast::error::timeout && !deadline_first) return true;  // only the wait ended
    return tl::unexpected(io_error("read the response", ec, overall_));
  }

 private:
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<Parser> parser_;
  Clock::time_point deadline_;
  std::chrono::milliseconds overall_;
  int status_ = 0;
  HeaderList headers_;
  bool done_ = false;
};

// A kept-alive connection that the server closed while it sat idle fails
// before any byte of a response: the request never reached the server, so it
// is sent once more on a new connection (as curl and Go's client do).
bool retry_on_new_connection(bool reused, int attempt, bool got_response_bytes, const ErrorCode& ec) {
  return reused && attempt == 0 && !got_response_bytes && ec != boost::beast::error::timeout &&
         ec != boost::asio::error::operation_aborted;
}

const char* stage(bool sent, bool got_response_bytes) {
  if (!sent) return "send the request";
  return got_response_bytes ? "read the response" : "wait for the response";
}

class BeastHttpClient final : public HttpClient {
 public:
  BeastHttpClient(ServerAddress server, ClientOptions options, ossl::SslCtx tls)
      : HttpClient(std::move(server)), options_(std::move(options)), tls_(std::move(tls)) {}

  Result<ClientResponse> send(const ClientRequest& request, size_t max_body) override {
    const auto deadline = Clock::now() + options_.request_timeout;
    for (int attempt = 0;; ++attempt) {
      DH_TRY(conn, connection(deadline, request.cancel_fd));
      bool reused = conn->reused;
      beast_http::response_parser<beast_http::string_body> parser;
      parser.header_limit(kHeaderLimit);
      parser.body_limit(max_body);
      ErrorCode ec;
      beast_http::write(conn->io, beast_request(request, server_, options_.user_agent), ec);
      bool sent = !ec;
      if (sent) beast_http::read_header(conn->io, conn->buffer, parser, ec);
      // Beast 1.74 lets a Content-Length above the limit through (it compares with an optional).
      if (!ec && parser.content_length() && *parser.content_length() > max_body) ec = beast_http::error::body_limit;
      if (sent && !ec) beast_http::read(conn->io, conn->buffer, parser, ec);
      if (ec && retry_on_new_connection(reused, attempt, parser.got_some(), ec)) continue;
      if (ec == beast_http::error::body_limit)
        return fail(ErrorKind::ResourceExhausted, "read the response: its body is larger than {} bytes", max_body);
      if (ec) return tl::unexpected(io_error(stage(sent, parser.got_some()), ec, options_.request_timeout));
      ClientResponse response;
      response.status = static_cast<int>(parser.get().result_int());
      response.headers = header_list(parser.get());
      bool keep = parser.get().keep_alive() && !parser.need_eof();
      response.body = std::move(parser.get().body());
      if (keep) keep_idle(std::move(conn));
      return response;
    }
  }

  Result<std::unique_ptr<StreamedResponse>> open(const ClientRequest& request,
                                                 std::chrono::milliseconds overall_timeout) override {
    const auto start = Clock::now();
    const auto header_deadline = start + options_.request_timeout;
    for (int attempt = 0;; ++attempt) {
      DH_TRY(conn, connection(header_deadline, request.cancel_fd));
      bool reused = conn->reused;
      auto parser = std::make_unique<StreamedResponseImpl::Parser>();
      parser->header_limit(kHeaderLimit);
      // Not boost::none: Beast 1.74 then refuses every Content-Length.
      parser->body_limit(std::numeric_limits<std::uint64_t>::max());
      ErrorCode ec;
      beast_http::write(conn->io, beast_request(request, server_, options_.user_agent), ec);
      bool sent = !ec;
      if (sent) beast_http::read_header(conn->io, conn->buffer, *parser, ec);
      if (ec && retry_on_new_connection(reused, attempt, parser->got_some(), ec)) continue;
      if (ec) return tl::unexpected(io_error(stage(sent, parser->got_some()), ec, options_.request_timeout));
      auto deadline = overall_timeout.count() > 0 ? start + overall_timeout : Clock::time_point::max();
      conn->io.set_io_timeout(std::chrono::hours(24 * 365));
      return std::unique_ptr<StreamedResponse>(
          std::make_unique<StreamedResponseImpl>(std::move(conn), std::move(parser), deadline, overall_timeout));
    }
  }

 private:
  // An idle connection that is still open, or a new one.
  Result<std::unique_ptr<Connection>> connection(Clock::time_point deadline, int cancel_fd) {
    for (;;) {
      std::unique_ptr<Connection> idle;
      {
        std::lock_guard lock(mu_);
        if (idle_.empty()) break;
        idle = std::move(idle_.back());
        idle_.pop_back();
      }
      // Readable while idle means closed (or junk): either way not reusable.
      if (idle->io.peer_gone()) continue;
      idle->io.set_deadline(deadline);
      idle->io.set_stop_fd(cancel_fd);
      return idle;
    }
    return connect(deadline, cancel_fd);
  }

  Result<std::unique_ptr<Connection>> connect(Clock::time_point call_deadline, int cancel_fd) {
    const std::string where = host_port(server_);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = ::getaddrinfo(server_.host.c_str(), std::to_string(server_.port).c_str(), &hints, &found);
    if (rc != 0) return fail(ErrorKind::Unavailable, "resolve {}: {}", server_.host, ::gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
    auto deadline = std::min(call_deadline, Clock::now() + options_.connect_timeout);
    Result<UniqueFd> fd = fail(ErrorKind::Unavailable, "resolve {}: no address", server_.host);
    for (const addrinfo* ai = found; ai; ai = ai->ai_next) {
      fd = connect_one(*ai, deadline, cancel_fd, where, options_.connect_timeout);
      // Refused or unreachable (an errno) tries the next address; time and cancels are shared.
      if (fd || fd.error().sys_errno == 0) break;
    }
    if (!fd) return tl::unexpected(fd.error());
    auto conn = std::make_unique<Connection>(std::move(*fd), options_.request_timeout);
    conn->io.set_deadline(call_deadline);
    conn->io.set_stop_fd(cancel_fd);
    if (server_.tls) {
      auto shaken = conn->io.tls_connect(tls_.get(), server_.host, options_.verify_server);
      if (!shaken) return tl::unexpected(shaken.error().context("connect to {}", where));
    }
    return conn;
  }

  void keep_idle(std::unique_ptr<Connection> conn) {
    conn->reused = true;
    conn->io.set_stop_fd(-1);
    conn->io.set_deadline(Clock::time_point::max());
    std::lock_guard lock(mu_);
    if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(conn));
  }

  const ClientOptions options_;
  ossl::SslCtx tls_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace

std::string ServerAddress::url() const { return (tls ? "https://" : "http://") + host_port(*this); }

Result<std::pair<ServerAddress, std::string>> split_url(std::string_view url) {
  ServerAddress s;
  std::string_view rest;
  if (url.starts_with("https://")) {
    s.tls = true;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return fail(ErrorKind::InvalidArgument, "URL \"{}\" is not http:// or https://", url);
  }
  auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  std::string target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (target.starts_with('?')) target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos)
    return fail(ErrorKind::InvalidArgument, "URL \"{}\": user information is not supported", url);
  std::string_view port_text;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(ErrorKind::InvalidArgument, "URL \"{}\": unclosed [", url);
    s.host = std::string(authority.substr(1, close - 1));
    auto after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) return fail(ErrorKind::InvalidArgument, "URL \"{}\": junk after ]", url);
    if (!after.empty()) port_text = after.substr(1);
  } else {
    auto colon = authority.rfind(':');
    s.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (s.host.empty()) return fail(ErrorKind::InvalidArgument, "URL \"{}\" has no host", url);
  s.port = s.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
      return fail(ErrorKind::InvalidArgument, "URL \"{}\": bad port \"{}\"", url, port_text);
    s.port = static_cast<uint16_t>(port);
  }
  return std::make_pair(std::move(s), std::move(target));
}

Result<ServerAddress> parse_server_url(std::string_view url) {
  DH_TRY(split, split_url(url));
  if (split.second != "/") return fail(ErrorKind::InvalidArgument, "server URL \"{}\" has a path", url);
  return split.first;
}

std::string read_short_body(StreamedResponse& response, size_t max_bytes, std::chrono::milliseconds timeout) {
  std::string body;
  const auto deadline = Clock::now() + timeout;
  while (body.size() < max_bytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    auto more = response.read_some(body, left);
    if (!more || !*more) break;
  }
  if (body.size() > max_bytes) body.resize(max_bytes);
  return body;
}

std::optional<std::string> ClientResponse::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return value;
  return std::nullopt;
}

Result<std::unique_ptr<HttpClient>> HttpClient::create(ServerAddress server, ClientOptions options) {
  ossl::SslCtx tls;
  if (server.tls || !options.cert_pem.empty()) {
    DH_TRY(ctx, client_tls_context(options));
    tls = std::move(ctx);
  }
  return std::unique_ptr<HttpClient>(std::make_unique<BeastHttpClient>(std::move(server), std::move(options), std::move(tls)));
}

CancelSignal::CancelSignal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void CancelSignal::raise() {
  uint64_t one = 1;
  if (fd_) (void)!::write(fd_.get(), &one, sizeof one);
}

bool CancelSignal::raised() const {
  if (!fd_) return false;
  pollfd p{fd_.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

}  // namespace deckhand::http
