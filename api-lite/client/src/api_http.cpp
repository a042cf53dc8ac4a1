#include "api_http.h"

#include "deckhand/http/request_target.h"

#include "deckhand/common/json.h"

namespace deckhand::client {

namespace {
thread_local ApiStatus t_last_status;
}

const ApiStatus& last_status() { return t_last_status; }

namespace detail {

namespace {

constexpr size_t kMaxMessageInError = 300;

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

}  // namespace


http::ClientRequest api_request(const ClientConfig& config, std::string method, std::string target,
                                const char* accept, const char* content_type) {
  http::ClientRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.headers.emplace_back("Accept", accept);
  if (content_type != nullptr) r.headers.emplace_back("Content-Type", content_type);
  if (!config.token.empty()) r.headers.emplace_back("Authorization", "Bearer " + config.token);
  return r;
}

std::string query_string(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    if (!out.empty()) out += '&';
    out += http::percent_encode(key) + "=" + http::percent_encode(value);
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
