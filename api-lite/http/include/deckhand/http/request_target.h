// Request targets ("/api/v1/pods?labelSelector=a%3Db"): decoded by the
// server into the path and the query's name/value pairs; pieces encoded by
// clients.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace deckhand::http {

// %XX escapes decoded; with plus_is_space (query strings) '+' becomes ' '.
// nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);
// Every byte but RFC 3986's unreserved ones (A-Z a-z 0-9 - . _ ~) as %XX:
// safe in a path segment and in a query name or value.
std::string percent_encode(std::string_view text);

struct RequestTarget {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
};

// nullopt when the target is not origin-form ("/...") or has a malformed escape.
std::optional<RequestTarget> parse_request_target(std::string_view target);

}  // namespace deckhand::http
