// The one set of libcurl handles for every HTTP client of ours (the API
// client, the agent's probes, the apiserver's calls to node agents): RAII for
// easy and multi handles and header lists, and curl_global_init once per process.
#pragma once

#include <curl/curl.h>

#include <memory>

#include "deckhand/common/result.h"

namespace deckhand::client {

struct EasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
using MultiHandle = std::unique_ptr<CURLM, MultiDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using HeaderList = std::unique_ptr<curl_slist, SlistDeleter>;

// curl_global_init, once per process; its failure is remembered.
Status init_curl();

}  // namespace deckhand::client
