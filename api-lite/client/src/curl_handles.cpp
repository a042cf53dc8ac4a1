#include "curl_handles.h"

#include <mutex>

#include "deckhand/common/json.h"

namespace deckhand::client {

namespace {
thread_local ApiStatus t_last_status;
}

const ApiStatus& last_status() { return t_last_status; }

namespace detail {

namespace {

constexpr size_t kMaxMessageInError = 300;

// Pointing curl at a copy of the PEM: curl keeps its own (CURL_BLOB_COPY).
Status set_blob(CURL* c, CURLoption option, const std::string& pem, const char* what) {
  curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
  CURLcode rc = curl_easy_setopt(c, option, &blob);
  if (rc != CURLE_OK) {
    return fail(ErrorKind::Unimplemented, "libcurl cannot take the {} from memory: {}", what,
                curl_easy_strerror(rc));
  }
  return {};
}

Status configure_tls(CURL* c, const ClientConfig& config) {
  if (config.insecure_skip_tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!config.ca_pem.empty()) {
    DH_CHECK(set_blob(c, CURLOPT_CAINFO_BLOB, config.ca_pem, "CA certificate"));
    // The cluster's CA alone, as kubectl trusts it: not the system roots too.
    curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
  }
  if (!config.cert_pem.empty()) {
    DH_CHECK(set_blob(c, CURLOPT_SSLCERT_BLOB, config.cert_pem, "client certificate"));
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    DH_CHECK(set_blob(c, CURLOPT_SSLKEY_BLOB, config.key_pem, "client key"));
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }
  return {};
}

const char* default_reason(long code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "Unknown";
  }
}

ErrorKind kind_of(long code, const std::string& reason) {
  if (code == 404) return ErrorKind::NotFound;
  if (code == 409)
    return reason == "AlreadyExists" ? ErrorKind::AlreadyExists : ErrorKind::FailedPrecondition;
  if (code == 410) return ErrorKind::FailedPrecondition;
  if (code == 401 || code == 403) return ErrorKind::PermissionDenied;
  if (code == 400 || code == 422) return ErrorKind::InvalidArgument;
  if (code == 405) return ErrorKind::Unimplemented;
  if (code == 429 || code >= 500) return ErrorKind::Unavailable;
  return ErrorKind::Internal;
}

std::string string_member(const Json& j, const char* key) {
  if (j.is_object() && j.contains(key) && j[key].is_string()) return j[key].get<std::string>();
  return "";
}

bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

std::string percent_encode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

}  // namespace


Result<EasyHandle> new_easy_handle(const ClientConfig& config) {
  EasyHandle handle(curl_easy_init());
  if (!handle) return fail(ErrorKind::Internal, "curl_easy_init failed");
  CURL* c = handle.get();
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // several threads; no SIGALRM for DNS timeouts
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config.request_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 10L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "deckhand-client");
  DH_CHECK(configure_tls(c, config));
  return handle;
}

Result<HeaderList> request_headers(const ClientConfig& config, const char* accept, const char* content_type) {
  std::vector<std::string> lines = {std::string("Accept: ") + accept, "Expect:"};
  if (content_type != nullptr) lines.push_back(std::string("Content-Type: ") + content_type);
  if (!config.token.empty()) lines.push_back("Authorization: Bearer " + config.token);
  curl_slist* list = nullptr;
  for (const auto& line : lines) {
    curl_slist* longer = curl_slist_append(list, line.c_str());
    if (longer == nullptr) {
      curl_slist_free_all(list);
      return fail(ErrorKind::Internal, "curl_slist_append failed");
    }
    list = longer;
  }
  return HeaderList(list);
}

std::string query_string(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    if (!out.empty()) out += '&';
    out += percent_encode(key) + "=" + percent_encode(value);
  }
  return out;
}

Error http_error(long code, std::string_view body) {
  ApiStatus status;
  status.code = static_cast<int>(code);
  auto parsed = parse_json(body, "Status");
  if (parsed) {
    status.reason = string_member(*parsed, "reason");
    status.message = string_member(*parsed, "message");
  }
  if (status.reason.empty()) status.reason = default_reason(code);
  if (status.message.empty()) {
    std::string_view text = body.substr(0, kMaxMessageInError);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
      text.remove_suffix(1);
    status.message = text.empty() ? "(no message)" : std::string(text);
  }
  ErrorKind kind = kind_of(code, status.reason);
  Error error{kind, 0, fmt::format("{} {}: {}", code, status.reason, status.message)};
  t_last_status = std::move(status);
  return error;
}

Error transport_error(CURLcode rc, const char* error_buffer) {
  std::string message = curl_easy_strerror(rc);
  if (error_buffer != nullptr && error_buffer[0] != '\0') message += std::string(": ") + error_buffer;
  return transport_error(std::move(message));
}

Error transport_error(std::string message) {
  t_last_status = ApiStatus{0, "", message};
  return Error{ErrorKind::Unavailable, 0, std::move(message)};
}

}  // namespace detail

namespace {

// "409 ..." at the start, or after a context prefix ("PUT /api/...: 409 ...").
bool has_code(const Error& e, std::string_view code) {
  std::string prefix = std::string(code) + " ";
  return e.message.rfind(prefix, 0) == 0 || e.message.find(": " + prefix) != std::string::npos;
}

}  // namespace

bool is_conflict(const Error& e) { return e.kind == ErrorKind::FailedPrecondition && has_code(e, "409"); }
bool is_gone(const Error& e) { return e.kind == ErrorKind::FailedPrecondition && has_code(e, "410"); }

}  // namespace deckhand::client

namespace deckhand::client {

Status init_curl() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (result != CURLE_OK)
    return fail(ErrorKind::Internal, "curl_global_init: {}", curl_easy_strerror(result));
  return {};
}

}  // namespace deckhand::client
