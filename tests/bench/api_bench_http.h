// HTTP(S) clients of deckhand-api-bench, over libcurl: one keep-alive
// connection per client, and many of them driven from threads at once.
#pragma once

#include <curl/curl.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "bench_env.h"
#include "deckhand/common/result.h"

namespace deckhand::bench {

// Client certificate and CA for HTTPS; all empty for plain HTTP.
struct TlsFiles {
  std::string ca, cert, key;
};

struct HttpReply {
  long status = 0;
  std::string body;
};

struct CurlEasyFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyFree>;
struct CurlListFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlList = std::unique_ptr<curl_slist, CurlListFree>;

// A new easy handle set up for our servers: TLS files, HTTP/1.1, no
// signals, JSON content type and no `Expect: 100-continue` (a put to etcd is
// over 1 KiB, where curl would otherwise wait for a 100 first). headers
// must outlive the handle.
Result<CurlEasy> make_easy(const TlsFiles& tls, const CurlList& headers);
Result<CurlList> json_headers();

// One easy handle, so one connection that stays open between requests.
// Not thread-safe: one per thread.
class HttpClient {
 public:
  static Result<HttpClient> make(const TlsFiles& tls);
  Result<HttpReply> get(const std::string& url);
  Result<HttpReply> post(const std::string& url, const std::string& body);

 private:
  HttpClient(CurlList headers, CurlEasy easy) : headers_(std::move(headers)), easy_(std::move(easy)) {}
  Result<HttpReply> perform(const std::string& url);
  CurlList headers_;
  CurlEasy easy_;
};

// Fails unless the reply has a 2xx status (the message quotes the body).
Status expect_success(const Result<HttpReply>& reply, std::string_view what);


// `count` requests from `clients` threads, each with its own connection,
// which first calls warm_up (connects, handshakes) and then, once all are
// ready, takes request numbers 0..count-1 in turn. Returns the seconds from
// the moment all were ready to the last answer; the first failure stops all.
using RequestFn = std::function<Status(HttpClient&, int index)>;
Result<double> run_concurrently(int clients, int count, const TlsFiles& tls, const RequestFn& warm_up,
                                const RequestFn& request);

// The main of a benchmark that talks HTTP: stop signals blocked before any
// thread starts, the options parsed (a bad one: exit 2 with the message),
// --help (Options::show_help), root when needed, libcurl set up around run.
template <typename Options>
int bench_main(const char* program, int argc, char** argv, Result<Options> (*parse)(int, char**),
               const char* usage, bool needs_root, int (*run)(const Options&)) {
  block_stop_signals();
  auto o = parse(argc, argv);
  if (!o) {
    std::fprintf(stderr, "%s: %s\n", program, o.error().message.c_str());
    return 2;
  }
  if (o->show_help) {
    std::fputs(usage, stdout);
    return 0;
  }
  if (needs_root && ::geteuid() != 0) {
    std::fprintf(stderr, "%s: run as root (it starts container runtimes)\n", program);
    return 2;
  }
  if (CURLcode rc = curl_global_init(CURL_GLOBAL_ALL); rc != CURLE_OK) {
    std::fprintf(stderr, "%s: curl_global_init: %s\n", program, curl_easy_strerror(rc));
    return 1;
  }
  int code = run(*o);
  curl_global_cleanup();
  return code;
}

}  // namespace deckhand::bench
