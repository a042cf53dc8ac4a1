// Clients for the server tests: libcurl for HTTP(S) requests, raw TCP sockets
// for what curl would not send (malformed requests, idle connections).
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/common/fd.h"

namespace deckhand::http::test {

struct ClientRequest {
  std::string method = "GET";
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  std::string ca_pem;                // trust this CA (HTTPS)
  std::string cert_pem, key_pem;     // client certificate, if any
  // Sees each piece of the response body as it arrives; false aborts the transfer.
  std::function<bool(std::string_view)> on_data;
  std::chrono::milliseconds timeout{10000};
};

struct ClientResponse {
  CURLcode code = CURLE_OK;
  std::string error;
  long status = 0;
  std::string body;
  std::vector<std::string> headers;  // raw header lines
  long new_connections = 0;          // CURLINFO_NUM_CONNECTS
  long http_version = 0;             // CURLINFO_HTTP_VERSION
};

// One curl easy handle: requests through the same client reuse its connection.
class CurlClient {
 public:
  CurlClient();
  ~CurlClient();
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;
  ClientResponse request(const std::string& url, const ClientRequest& request);

 private:
  CURL* curl_;
};

// A one-off request on a fresh client.
ClientResponse fetch(const std::string& url, const ClientRequest& request = {});

// Raw TCP to 127.0.0.1:port (blocking socket).
UniqueFd connect_loopback(uint16_t port);
bool send_text(int fd, std::string_view text);
// Everything the peer sends until it closes or timeout passes.
std::string read_until_closed(int fd, std::chrono::milliseconds timeout);
// True when the peer closed the connection (EOF or reset) within timeout.
bool closed_by_peer(int fd, std::chrono::milliseconds timeout);

}  // namespace deckhand::http::test
