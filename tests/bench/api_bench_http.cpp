#include "api_bench_http.h"

#include <atomic>
#include <barrier>
#include <chrono>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "bench_env.h"

namespace deckhand::bench {

namespace {

size_t append_to_string(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

Status curl_check(CURLcode c, const char* what) {
  if (c != CURLE_OK) return fail(ErrorKind::Internal, "curl {}: {}", what, curl_easy_strerror(c));
  return {};
}

}  // namespace

Result<CurlList> json_headers() {
  curl_slist* l = curl_slist_append(nullptr, "Content-Type: application/json");
  if (l) l = curl_slist_append(l, "Expect:");
  if (!l) return fail(ErrorKind::Internal, "curl_slist_append: out of memory");
  return CurlList(l);
}

Result<CurlEasy> make_easy(const TlsFiles& tls, const CurlList& headers) {
  CurlEasy easy(curl_easy_init());
  if (!easy) return fail(ErrorKind::Internal, "curl_easy_init failed");
  CURL* c = easy.get();
  DH_CHECK(curl_check(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L), "NOSIGNAL"));
  DH_CHECK(curl_check(curl_easy_setopt(c, CURLOPT_HTTP_VERSION, long(CURL_HTTP_VERSION_1_1)), "HTTP_VERSION"));
  DH_CHECK(curl_check(curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get()), "HTTPHEADER"));
  DH_CHECK(curl_check(curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 30000L), "CONNECTTIMEOUT"));
  DH_CHECK(curl_check(curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L), "TCP_NODELAY"));
  if (!tls.ca.empty()) {
    DH_CHECK(curl_check(curl_easy_setopt(c, CURLOPT_CAINFO, tls.ca.c_str()), "CAINFO"));
    DH_CHECK(curl_check(curl_easy_setopt(c, CURLOPT_SSLCERT, tls.cert.c_str()), "SSLCERT"));
    DH_CHECK(curl_check(curl_easy_setopt(c, CURLOPT_SSLKEY, tls.key.c_str()), "SSLKEY"));
  }
  return easy;
}

Result<HttpClient> HttpClient::make(const TlsFiles& tls) {
  DH_TRY(headers, json_headers());
  DH_TRY(easy, make_easy(tls, headers));
  // A request that takes a minute is a hung server, not a figure.
  DH_CHECK(curl_check(curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, 60000L), "TIMEOUT"));
  DH_CHECK(curl_check(curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, append_to_string), "WRITEFUNCTION"));
  return HttpClient(std::move(headers), std::move(easy));
}

Result<HttpReply> HttpClient::perform(const std::string& url) {
  HttpReply reply;
  CURL* c = easy_.get();
  DH_CHECK(curl_check(curl_easy_setopt(c, CURLOPT_URL, url.c_str()), "URL"));
  DH_CHECK(curl_check(curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body), "WRITEDATA"));
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) return fail(ErrorKind::Unavailable, "{}: {}", url, curl_easy_strerror(rc));
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

Result<HttpReply> HttpClient::get(const std::string& url) {
  DH_CHECK(curl_check(curl_easy_setopt(easy_.get(), CURLOPT_HTTPGET, 1L), "HTTPGET"));
  return perform(url);
}

Result<HttpReply> HttpClient::post(const std::string& url, const std::string& body) {
  CURL* c = easy_.get();
  DH_CHECK(curl_check(curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, long(body.size())), "POSTFIELDSIZE"));
  DH_CHECK(curl_check(curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data()), "POSTFIELDS"));
  return perform(url);
}

Status expect_success(const Result<HttpReply>& reply, std::string_view what) {
  if (!reply) return fail(reply.error().kind, "{}: {}", what, reply.error().message);
  if (reply->status < 200 || reply->status > 299)
    return fail(ErrorKind::Internal, "{}: HTTP {}: {}", what, reply->status, reply->body.substr(0, 300));
  return {};
}

Result<double> run_concurrently(int clients, int count, const TlsFiles& tls, const RequestFn& warm_up,
                                const RequestFn& request) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::mutex first_error_mu;
  std::optional<Error> first_error;
  auto record = [&](const Status& st) {
    if (st) return true;
    std::lock_guard lock(first_error_mu);
    if (!first_error) first_error = st.error();
    failed = true;
    return false;
  };
  // Everyone arrives, failed or not, so that nobody waits forever.
  std::barrier ready(clients + 1);
  auto worker = [&](int id) {
    auto client = HttpClient::make(tls);
    bool ok = record(client ? Status{} : Status(tl::unexpected(client.error()))) && record(warm_up(*client, id));
    ready.arrive_and_wait();
    while (ok && !failed) {
      int i = next++;
      if (i >= count) break;
      if (stop_requested()) ok = record(check_not_stopped());
      else ok = record(request(*client, i));
    }
  };
  std::vector<std::thread> threads;
  for (int id = 0; id < clients; ++id) {
    try {
      threads.emplace_back(worker, id);
    } catch (const std::system_error& e) {
      record(fail(ErrorKind::ResourceExhausted, "start client thread: {}", e.what()));
      ready.arrive_and_drop();  // stands in for the thread that never came
    }
  }
  ready.arrive_and_wait();
  auto t0 = std::chrono::steady_clock::now();
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (first_error) return tl::unexpected(*first_error);
  return seconds;
}

}  // namespace deckhand::bench
