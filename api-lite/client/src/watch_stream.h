// A watch over HTTP: its own curl handle driven by a reader thread (through
// the multi interface, so that closing the stream wakes it at once), which
// splits the chunked body into lines for next().
#pragma once

#include <memory>
#include <string>

#include "deckhand/client/api_client.h"
#include "deckhand/client/kubeconfig.h"

namespace deckhand::client::detail {

// Starts the GET of url and waits (up to config.request_timeout) for the
// response headers: a non-2xx answer is returned as its error here, not as
// a stream. overall_timeout bounds the whole watch (0 = none).
Result<std::unique_ptr<WatchStream>> open_watch(const ClientConfig& config, const std::string& url,
                                                std::chrono::milliseconds overall_timeout);

}  // namespace deckhand::client::detail
