// Decoding of request targets ("/api/v1/pods?labelSelector=a%3Db"): the path
// percent-decoded, the query as decoded name/value pairs. Internal to
// deckhand-http; public for its tests.
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

struct RequestTarget {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
};

// nullopt when the target is not origin-form ("/...") or has a malformed escape.
std::optional<RequestTarget> parse_request_target(std::string_view target);

}  // namespace deckhand::http
