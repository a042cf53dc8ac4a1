// Private to deckhand-images: HTTP to registries over libcurl, and a client
// for one repository on one registry endpoint that answers 401 challenges
// (Basic, or the Bearer token dance) and caches tokens.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/common/base64.h"
#include "deckhand/common/result.h"
#include "deckhand/images/image_puller.h"

namespace deckhand::images::registry {

// ---- HTTP transport ------------------------------------------------------

struct Tls {
  bool verify = true;
  std::string ca_file;  // empty: the system's CAs
};

struct HttpRequest {
  std::string method = "GET";  // GET or POST
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // POST body
  Tls tls;
  bool direct = false;  // no proxy (loopback registries)
};

struct HttpResponse {
  long status = 0;
  // Headers of the final response (after redirects), names lowercased.
  std::multimap<std::string, std::string> headers;
  std::string body;  // the body unless it was streamed into a sink

  std::string header(const std::string& lower_name) const;  // first value, or ""
  std::vector<std::string> header_values(const std::string& lower_name) const;
};

// Receives a 2xx body chunk by chunk; an error aborts the transfer.
using BodySink = std::function<Status(std::string_view)>;

// Sets up libcurl once per process (curl_global_init is not thread safe).
void init_curl();

// Performs one request, following redirects. A 2xx body goes to sink when
// one is given; other bodies are kept in the response, up to max_body bytes.
// Fails with Unavailable when no HTTP response came back at all.
Result<HttpResponse> http_request(const HttpRequest& req, const BodySink* sink, size_t max_body);

std::string url_escape(std::string_view s);

// ---- Auth ----------------------------------------------------------------

// One challenge of a WWW-Authenticate header: scheme lowercased ("bearer",
// "basic"), parameter names lowercased.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};
std::vector<Challenge> parse_challenges(std::string_view header);

struct Credentials {
  std::string username, password;
  std::string identity_token;  // OAuth2 refresh token
  std::string registry_token;  // sent as the bearer token, no token dance
  bool has_basic() const { return !username.empty() || !password.empty(); }
  bool empty() const { return !has_basic() && identity_token.empty() && registry_token.empty(); }
  // Distinguishes cached tokens obtained with different credentials.
  std::string identity() const;
};

// PullAuth's fields, with "auth" (base64 "user:password") decoded.
Result<Credentials> credentials_from(const PullAuth& auth);

// Bearer tokens per (registry, scope, credentials), until they expire. Thread safe.
class TokenCache {
 public:
  std::optional<std::string> get(const std::string& key);
  void put(const std::string& key, std::string token, std::chrono::seconds ttl);

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::string token;
    Clock::time_point expires;
  };
  std::mutex mu_;
  std::map<std::string, Entry> tokens_;
};

// ---- One repository on one endpoint ----------------------------------------

struct Endpoint {
  std::string scheme;     // "https" or "http"
  std::string authority;  // host[:port] as contacted ("registry-1.docker.io")
  std::string prefix;     // path prefix of a mirror URL, usually ""
  Tls tls;
  bool http_fallback = false;  // insecure: retry over plain HTTP when HTTPS gets no response
  bool loopback = false;
  std::string base() const { return scheme + "://" + authority + prefix; }
};

// Used by one pull at a time: remembers the Authorization that worked.
class RegistryClient {
 public:
  RegistryClient(Endpoint ep, std::string repo, Credentials creds, TokenCache& tokens);

  // GET <base>/v2/<repo>/<path>, answering one 401 challenge. A 401 after
  // that fails with PermissionDenied; other statuses are for the caller.
  Result<HttpResponse> get(const std::string& path, const std::vector<std::string>& headers,
                           const BodySink* sink, size_t max_body);
  const Endpoint& endpoint() const { return ep_; }

 private:
  Result<HttpResponse> send(const std::string& path, const std::vector<std::string>& headers,
                            const BodySink* sink, size_t max_body);
  Status authorize(const HttpResponse& unauthorized);
  Status authorize_bearer(const Challenge& c);
  Result<HttpResponse> request_token(const Challenge& c, const std::string& scope);
  std::string default_scope() const { return "repository:" + repo_ + ":pull"; }
  std::string cache_key(const std::string& scope) const;

  Endpoint ep_;
  std::string repo_;
  Credentials creds_;
  TokenCache& tokens_;
  std::string authorization_;  // value of the Authorization header, or empty
};

}  // namespace deckhand::images::registry
