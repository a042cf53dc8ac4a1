// libcurl pieces that the request path and the watch streams share: RAII for
// handles and header lists, one-time global init, TLS and HTTP settings from
// a ClientConfig, and turning failures into Errors.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deckhand/client/api_client.h"
#include "deckhand/client/curl.h"
#include "deckhand/client/kubeconfig.h"
#include "deckhand/common/result.h"

namespace deckhand::client::detail {

using client::EasyHandle;
using client::HeaderList;
using client::init_curl;
using client::MultiHandle;

// A new easy handle with the connection settings of config: TLS trust and
// client identity, HTTP/1.1, connect and request timeouts, keep-alive.
Result<EasyHandle> new_easy_handle(const ClientConfig& config);

// Accept, Content-Type (when given), the bearer token and no "Expect: 100-continue".
Result<HeaderList> request_headers(const ClientConfig& config, const char* accept, const char* content_type);

// "a=b&c=d" with the values percent-encoded; empty values are left out.
std::string query_string(const std::vector<std::pair<std::string, std::string>>& params);

// The error for a non-2xx response (body is the Status the server sent),
// recorded as this thread's last_status().
Error http_error(long code, std::string_view body);
// The error for a failed transfer (Unavailable), recorded as last_status() with code 0.
Error transport_error(CURLcode rc, const char* error_buffer);
Error transport_error(std::string message);

}  // namespace deckhand::client::detail
