// An HTTP/1.1 server (Boost.Beast) for the apiserver, and later the agent:
// HTTPS with optional client certificates, or plain HTTP on loopback only.
// One thread per connection, keep-alive, and streamed (chunked) responses for
// watches. Handlers see a parsed request and answer through a Responder.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deckhand/common/result.h"

namespace deckhand::http {

// Who sent the request, from a verified client certificate (CN = user,
// O = groups) or, for a bearer token, filled in by the handler's own lookup.
struct PeerIdentity {
  bool has_client_cert = false;
  std::string user;
  std::vector<std::string> groups;
};

struct Request {
  std::string method;                                        // "GET", "POST", ...
  std::string target;                                        // as sent: path plus query
  std::string path;                                          // percent-decoded path, without the query
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  PeerIdentity peer;
  std::string remote_address;

  // First value of a query parameter or header (name lower-case for headers).
  std::optional<std::string> query_param(std::string_view name) const;
  std::optional<std::string> header(std::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type among them
  std::string body;
};

// A streamed response (Transfer-Encoding: chunked). write() returns false once
// the client has gone; the handler then stops.
// Each write() is one chunk, sent at once (watch events must not wait).
// stop() waits for handlers to return: a handler that waits for events must
// check client_gone() (or write) at least every second or so.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  virtual bool write(std::string_view chunk) = 0;
  // True when the client closed its side (checked without blocking), or sent
  // anything (a client waiting for a stream never does), or the server is stopping.
  virtual bool client_gone() = 0;
};

class Responder {
 public:
  virtual ~Responder() = default;
  // Sends a whole response. Exactly one of send() or stream() per request.
  virtual void send(Response response) = 0;
  // Sends the status line and headers, then lets the handler write chunks;
  // the response ends when the handler returns.
  virtual ResponseStream& stream(int status, std::vector<std::pair<std::string, std::string>> headers) = 0;
};

// Called on the connection's thread. It must not throw: the server answers 500
// if it does, and logs it.
using Handler = std::function<void(const Request&, Responder&)>;

struct TlsOptions {
  std::string cert_file;       // serving certificate chain (PEM)
  std::string key_file;        // its private key (PEM)
  std::string client_ca_file;  // verify client certificates against this CA; empty = no client certs
  // With client_ca_file, a certificate is asked for but optional (no
  // certificate: an anonymous request); one that fails verification fails the handshake.
};

struct ServerOptions {
  std::string address = "0.0.0.0";
  uint16_t port = 6443;                     // 0 = pick a free port (see HttpServer::port())
  std::optional<TlsOptions> tls;            // nullopt = plain HTTP, refused unless address is loopback
  size_t max_body_bytes = 3 * 1024 * 1024;  // larger bodies get 413 without calling the handler
  std::chrono::seconds idle_timeout{120};   // keep-alive connections idle this long are closed;
                                            // also the longest wait for any read or write
  size_t max_connections = 4096;
};

class HttpServer {
 public:
  // Binds and starts accepting on a thread of its own. Errors name the
  // address and what failed (bind, certificate files).
  static Result<std::unique_ptr<HttpServer>> start(ServerOptions options, Handler handler);
  virtual ~HttpServer() = default;  // stops accepting and closes connections
  virtual uint16_t port() const = 0;
  // Stops accepting, ends every connection (blocked reads and writes return,
  // client_gone() turns true) and joins all threads. Not from a handler.
  virtual void stop() = 0;
};

}  // namespace deckhand::http
