// Talking to registries: libcurl transport, WWW-Authenticate challenges,
// Basic credentials and the Bearer token dance of the distribution spec.
#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "deckhand/common/digest.h"
#include "deckhand/common/json.h"
#include "deckhand/common/log.h"
#include "deckhand/common/text.h"
#include "registry_client.h"

namespace deckhand::images::registry {

namespace {

auto logger() { return log::get("images"); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

struct CurlEasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

// State shared with curl's callbacks during one transfer.
struct Transfer {
  const BodySink* sink = nullptr;
  size_t max_body = 0;
  HttpResponse response;
  long status = 0;  // of the response being received (redirects reset it)
  std::optional<Error> sink_error;
  bool too_large = false;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or 100-continue): forget the last one's headers.
    t->response.headers.clear();
    auto sp = line.find(' ');
    t->status = sp == std::string_view::npos ? 0 : std::strtol(line.data() + sp + 1, nullptr, 10);
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos)
    t->response.headers.emplace(ascii_lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view chunk(data, size * n);
  if (t->sink && t->status >= 200 && t->status < 300) {
    auto st = (*t->sink)(chunk);
    if (!st) {
      t->sink_error = st.error();
      return 0;  // aborts the transfer
    }
    return chunk.size();
  }
  if (t->response.body.size() + chunk.size() > t->max_body) {
    t->too_large = true;
    return 0;
  }
  t->response.body.append(chunk);
  return chunk.size();
}

Result<CurlSlist> header_list(const std::vector<std::string>& headers) {
  curl_slist* list = nullptr;
  for (auto& h : headers) {
    curl_slist* next = curl_slist_append(list, h.c_str());
    if (!next) {
      curl_slist_free_all(list);
      return fail(ErrorKind::Internal, "curl_slist_append: out of memory");
    }
    list = next;
  }
  return CurlSlist(list);
}

void set_options(CURL* c, const HttpRequest& req, curl_slist* headers, Transfer& t, char* errbuf) {
  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // we run on many threads
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  // Blob downloads redirect to storage backends; curl drops our
  // Authorization header when a redirect leaves the host.
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  // No total timeout (layers may be large); a stalled transfer fails instead.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "deckhand-cri/0.1");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, req.tls.verify ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, req.tls.verify ? 2L : 0L);
  if (!req.tls.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, req.tls.ca_file.c_str());
  if (req.direct) curl_easy_setopt(c, CURLOPT_PROXY, "");
  if (req.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(req.body.size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.c_str());
  }
}

}  // namespace

// ---- HTTP transport ------------------------------------------------------

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::vector<std::string> HttpResponse::header_values(const std::string& lower_name) const {
  std::vector<std::string> out;
  auto [b, e] = headers.equal_range(lower_name);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Result<HttpResponse> http_request(const HttpRequest& req, const BodySink* sink, size_t max_body) {
  init_curl();
  CurlEasy curl(curl_easy_init());
  if (!curl) return fail(ErrorKind::Internal, "{} {}: curl_easy_init failed", req.method, req.url);
  DH_TRY(headers, header_list(req.headers));
  Transfer t;
  t.sink = sink;
  t.max_body = max_body;
  char errbuf[CURL_ERROR_SIZE] = {};
  set_options(curl.get(), req, headers.get(), t, errbuf);
  CURLcode rc = curl_easy_perform(curl.get());
  if (t.sink_error) return tl::unexpected(*t.sink_error);
  if (t.too_large)
    return fail(ErrorKind::Internal, "{} {}: response larger than {} bytes", req.method, req.url, max_body);
  if (rc != CURLE_OK)
    return fail(ErrorKind::Unavailable, "{} {}: {}", req.method, req.url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &t.response.status);
  return std::move(t.response);
}

std::string url_escape(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// ---- Auth ----------------------------------------------------------------

// RFC 7235: challenge = scheme [ param=value *( "," param=value ) ], values
// plain tokens or quoted strings; several challenges may share one header.
std::vector<Challenge> parse_challenges(std::string_view h) {
  std::vector<Challenge> out;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t' || h[i] == ',')) ++i;
  };
  auto read_token = [&] {
    size_t start = i;
    while (i < h.size() && h[i] != ' ' && h[i] != '\t' && h[i] != '=' && h[i] != ',') ++i;
    return h.substr(start, i - start);
  };
  while (true) {
    skip_space();
    if (i >= h.size()) break;
    size_t mark = i;
    auto word = read_token();
    if (i < h.size() && h[i] == '=' && !out.empty()) {
      // A parameter of the current challenge.
      ++i;
      std::string value;
      if (i < h.size() && h[i] == '"') {
        for (++i; i < h.size() && h[i] != '"'; ++i) {
          if (h[i] == '\\' && i + 1 < h.size()) ++i;
          value += h[i];
        }
        ++i;  // closing quote
      } else {
        value = std::string(read_token());
      }
      out.back().params[ascii_lower(word)] = value;
    } else if (word.empty()) {
      i = mark + 1;  // stray character: skip it
    } else {
      out.push_back(Challenge{ascii_lower(word), {}});
    }
  }
  return out;
}

// A hash of all the secrets: a token obtained with one password must not
// serve a pull that gave another (or a wrong) one.
std::string Credentials::identity() const {
  if (empty()) return "anonymous";
  std::string all = username;
  for (auto* part : {&password, &identity_token, &registry_token}) all += '\0' + *part;
  return sha256_digest(all);
}

Result<Credentials> credentials_from(const PullAuth& auth) {
  Credentials c{auth.username, auth.password, auth.identity_token, auth.registry_token};
  if (!auth.auth.empty() && !c.has_basic()) {
    auto decoded = base64_decode(auth.auth);
    auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos)
      return fail(ErrorKind::InvalidArgument, "auth field is not base64 of \"user:password\"");
    c.username = decoded->substr(0, colon);
    c.password = decoded->substr(colon + 1);
  }
  return c;
}

std::optional<std::string> TokenCache::get(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(key);
  if (it == tokens_.end()) return std::nullopt;
  if (Clock::now() >= it->second.expires) {
    tokens_.erase(it);
    return std::nullopt;
  }
  return it->second.token;
}

void TokenCache::put(const std::string& key, std::string token, std::chrono::seconds ttl) {
  std::lock_guard lock(mu_);
  tokens_[key] = Entry{std::move(token), Clock::now() + ttl};
}

// ---- One repository on one endpoint ----------------------------------------

RegistryClient::RegistryClient(Endpoint ep, std::string repo, Credentials creds, TokenCache& tokens)
    : ep_(std::move(ep)), repo_(std::move(repo)), creds_(std::move(creds)), tokens_(tokens) {
  if (!creds_.registry_token.empty())
    authorization_ = "Bearer " + creds_.registry_token;
  else if (auto t = tokens_.get(cache_key(default_scope())))
    authorization_ = "Bearer " + *t;
}

std::string RegistryClient::cache_key(const std::string& scope) const {
  return ep_.authority + "|" + scope + "|" + creds_.identity();
}

Result<HttpResponse> RegistryClient::get(const std::string& path, const std::vector<std::string>& headers,
                                         const BodySink* sink, size_t max_body) {
  DH_TRY(first, send(path, headers, sink, max_body));
  if (first.status != 401) return first;
  DH_CHECK(authorize(first));
  DH_TRY(second, send(path, headers, sink, max_body));
  if (second.status == 401)
    return fail(ErrorKind::PermissionDenied, "{}: unauthorized: the registry rejected the credentials{}",
                ep_.base(), creds_.empty() ? " (none were given)" : "");
  return second;
}

Result<HttpResponse> RegistryClient::send(const std::string& path, const std::vector<std::string>& headers,
                                          const BodySink* sink, size_t max_body) {
  HttpRequest req;
  req.headers = headers;
  if (!authorization_.empty()) req.headers.push_back("Authorization: " + authorization_);
  req.tls = ep_.tls;
  req.direct = ep_.loopback;
  req.url = ep_.base() + "/v2/" + repo_ + "/" + path;
  auto r = http_request(req, sink, max_body);
  if (r) ep_.http_fallback = false;  // HTTPS works: later failures are real ones
  if (r || r.error().kind != ErrorKind::Unavailable || !ep_.http_fallback) return r;
  // An insecure registry may speak plain HTTP only, as Docker allows.
  logger()->info("{}: HTTPS failed ({}), retrying over plain HTTP", ep_.authority, r.error().message);
  ep_.scheme = "http";
  ep_.http_fallback = false;
  req.url = ep_.base() + "/v2/" + repo_ + "/" + path;
  return http_request(req, sink, max_body);
}

Status RegistryClient::authorize(const HttpResponse& unauthorized) {
  std::vector<Challenge> challenges;
  for (auto& h : unauthorized.header_values("www-authenticate"))
    for (auto& c : parse_challenges(h)) challenges.push_back(std::move(c));
  for (auto& c : challenges)
    if (c.scheme == "bearer") return authorize_bearer(c);
  for (auto& c : challenges) {
    if (c.scheme != "basic") continue;
    if (!creds_.has_basic())
      return fail(ErrorKind::PermissionDenied, "{}: unauthorized: the registry asks for credentials and none were given",
                  ep_.base());
    authorization_ = "Basic " + base64_encode(creds_.username + ":" + creds_.password);
    return {};
  }
  return fail(ErrorKind::PermissionDenied, "{}: unauthorized, with no Basic or Bearer challenge", ep_.base());
}

Status RegistryClient::authorize_bearer(const Challenge& c) {
  if (!creds_.registry_token.empty())
    return fail(ErrorKind::PermissionDenied, "{}: unauthorized: the registry rejected the registry token", ep_.base());
  auto realm = c.params.find("realm");
  if (realm == c.params.end() || realm->second.empty())
    return fail(ErrorKind::PermissionDenied, "{}: Bearer challenge without a realm", ep_.base());
  auto sc = c.params.find("scope");
  std::string scope = sc != c.params.end() && !sc->second.empty() ? sc->second : default_scope();
  DH_TRY(resp, request_token(c, scope));
  if (resp.status == 401 || resp.status == 403)
    return fail(ErrorKind::PermissionDenied, "token server {} refused {} (HTTP {})", realm->second,
                creds_.empty() ? "anonymous access" : "the credentials", resp.status);
  if (resp.status != 200)
    return fail(ErrorKind::Unavailable, "token server {}: HTTP {}", realm->second, resp.status);
  DH_TRY(j, parse_json(resp.body, "token response from " + realm->second));
  std::string token;
  for (const char* key : {"token", "access_token"})
    if (j.is_object() && j.contains(key) && j[key].is_string() && token.empty()) token = j[key].get<std::string>();
  if (token.empty()) return fail(ErrorKind::Unavailable, "token server {}: no token in the response", realm->second);
  // The spec's default lifetime is 60 s; keep a margin for clock skew and transfer time.
  int64_t ttl = j.contains("expires_in") && j["expires_in"].is_number_integer() ? j["expires_in"].get<int64_t>() : 60;
  ttl = std::clamp<int64_t>(ttl - 10, 0, 24 * 3600);
  if (ttl > 0) tokens_.put(cache_key(scope), token, std::chrono::seconds(ttl));
  authorization_ = "Bearer " + token;
  return {};
}

Result<HttpResponse> RegistryClient::request_token(const Challenge& c, const std::string& scope) {
  const std::string& realm = c.params.at("realm");
  auto svc = c.params.find("service");
  std::string service = svc == c.params.end() ? "" : svc->second;
  HttpRequest req;
  req.tls = ep_.tls;
  req.direct = ep_.loopback;
  if (!creds_.identity_token.empty()) {
    // OAuth2 refresh-token grant, as Docker does with an identity token.
    req.method = "POST";
    req.url = realm;
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
    req.body = "grant_type=refresh_token&client_id=deckhand&refresh_token=" + url_escape(creds_.identity_token) +
               "&service=" + url_escape(service) + "&scope=" + url_escape(scope);
  } else {
    req.url = realm + (realm.find('?') == std::string::npos ? "?" : "&") + "service=" + url_escape(service) +
              "&scope=" + url_escape(scope);
    if (creds_.has_basic())
      req.headers.push_back("Authorization: Basic " + base64_encode(creds_.username + ":" + creds_.password));
  }
  logger()->debug("requesting token from {} for {}", realm, scope);
  return http_request(req, nullptr, 1 << 20);
}

}  // namespace deckhand::images::registry
