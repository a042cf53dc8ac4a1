// What the request path and the watch streams share: requests as the
// apiserver wants them, and answers and failures turned into Errors.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deckhand/client/api_client.h"
#include "deckhand/client/kubeconfig.h"
#include "deckhand/common/result.h"
#include "deckhand/http/client.h"

namespace deckhand::client::detail {

// A request with Accept, Content-Type (when given) and the bearer token.
http::ClientRequest api_request(const ClientConfig& config, std::string method, std::string target,
                                const char* accept, const char* content_type);

// "a=b&c=d" with the values percent-encoded; empty values are left out.
std::string query_string(const std::vector<std::pair<std::string, std::string>>& params);

// The error for a non-2xx response (body is the Status the server sent),
// recorded as this thread's last_status().
Error http_error(long code, std::string_view body);
// The error for a failed transfer (Unavailable), recorded as last_status() with code 0.
Error transport_error(std::string message);

}  // namespace deckhand::client::detail
