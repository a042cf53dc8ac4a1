// A watch over HTTP: the streamed response of a GET with watch=1, read on the
// caller's thread by next(), which splits the body into events, one per line.
// The server's writes wait in TCP while the caller is busy elsewhere.
#pragma once

#include <memory>
#include <string>

#include "deckhand/client/api_client.h"
#include "deckhand/client/kubeconfig.h"
#include "deckhand/http/client.h"

namespace deckhand::client::detail {

// Sends the GET of target and waits (up to config.request_timeout) for the
// response headers: a non-2xx answer is returned as its error here, not as
// a stream. overall_timeout bounds the whole watch (0 = none).
Result<std::unique_ptr<WatchStream>> open_watch(http::HttpClient& http, const ClientConfig& config,
                                                const std::string& target, std::chrono::milliseconds overall_timeout);

}  // namespace deckhand::client::detail
