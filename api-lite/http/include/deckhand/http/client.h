// An HTTP/1.1 client (Boost.Beast over the same poll()-driven socket and
// OpenSSL I/O as the server): the API client, the agent's probes and the
// apiserver's calls to node agents all use it.
//
// An HttpClient talks to one server (scheme, host, port) and keeps a few
// idle keep-alive connections for the next calls; a request that finds its
// reused connection closed by the server is sent again on a new one. Every
// wait ends at the call's deadline or when its cancel fd becomes readable.
// Streamed responses (watches, logs) own their connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deckhand/common/fd.h"
#include "deckhand/common/result.h"

namespace deckhand::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// "http[s]://host[:port]" with nothing after it but an optional "/".
struct ServerAddress {
  bool tls = false;
  std::string host;  // a name, or an IP address (IPv6 without brackets)
  uint16_t port = 0;
  std::string url() const;  // "https://[::1]:6443"
};
Result<ServerAddress> parse_server_url(std::string_view url);
// "scheme://host:port/path?query" into the server and the request target ("/path?query").
Result<std::pair<ServerAddress, std::string>> split_url(std::string_view url);

struct ClientOptions {
  // Trust this CA bundle (PEM) alone; empty: the system's roots.
  std::string ca_pem;
  // A client certificate (PEM, maybe with its chain) and its key; both or neither.
  std::string cert_pem, key_pem;
  // false: neither the certificate nor the name of the server is checked
  // (probes, as kubelet's; the apiserver's calls to agents).
  bool verify_server = true;
  std::chrono::milliseconds connect_timeout{5000};
  // How long a whole call may take; streams are bounded by their own timeout.
  std::chrono::milliseconds request_timeout{30000};
  size_t max_idle_connections = 16;
  // Sent unless the request carries its own.
  std::string user_agent = "deckhand-client";
};

struct ClientRequest {
  std::string method = "GET";
  std::string target = "/";  // path and query, already encoded
  HeaderList headers;        // Host and User-Agent are ours unless given here
  std::string body;          // sent with Content-Length when not empty (or when the method is POST/PUT/PATCH)
  int cancel_fd = -1;        // readable = give up now (borrowed)
};

struct ClientResponse {
  int status = 0;
  HeaderList headers;  // names lower-cased
  std::string body;
  std::optional<std::string> header(std::string_view lower_name) const;
};

// A response whose body is read as it arrives. Reading happens on the
// caller's thread; a stream is used by one thread at a time.
class StreamedResponse {
 public:
  virtual ~StreamedResponse() = default;
  virtual int status() const = 0;
  virtual const HeaderList& headers() const = 0;
  // Appends what arrives within wait (at least one byte unless the wait ends
  // first) to out. Returns false once the body has ended (with nothing
  // appended); DeadlineExceeded when the stream's own deadline passes,
  // Unavailable when the connection fails or the cancel fd is readable.
  virtual Result<bool> read_some(std::string& out, std::chrono::milliseconds wait) = 0;
};

// What is left of a short body (an error answer's), up to max_bytes, read
// within timeout; whatever arrived when the body, the bytes or the time ran out.
std::string read_short_body(StreamedResponse& response, size_t max_bytes, std::chrono::milliseconds timeout);

class HttpClient {
 public:
  static Result<std::unique_ptr<HttpClient>> create(ServerAddress server, ClientOptions options);
  virtual ~HttpClient() = default;

  const ServerAddress& server() const { return server_; }

  // The whole response, any status. At most max_body bytes of body are kept
  // (the rest is read and dropped when small enough, or the connection is
  // closed). Errors: DeadlineExceeded when request_timeout runs out,
  // Unavailable for connection and TLS failures and cancels (the message says which).
  virtual Result<ClientResponse> send(const ClientRequest& request, size_t max_body = kDefaultMaxBody) = 0;
  // Sends the request and returns once the response headers are in (within
  // request_timeout). The body is then read through the stream, until
  // overall_timeout from now (0: no limit).
  virtual Result<std::unique_ptr<StreamedResponse>> open(const ClientRequest& request,
                                                         std::chrono::milliseconds overall_timeout) = 0;

  static constexpr size_t kDefaultMaxBody = 256 * 1024 * 1024;

 protected:
  explicit HttpClient(ServerAddress server) : server_(std::move(server)) {}
  ServerAddress server_;
};

// An eventfd that makes calls given its fd() give up: one per cancellable
// activity (a probe, a watch being torn down).
class CancelSignal {
 public:
  CancelSignal();
  int fd() const { return fd_.get(); }
  void raise();
  bool raised() const;

 private:
  UniqueFd fd_;
};

}  // namespace deckhand::http
