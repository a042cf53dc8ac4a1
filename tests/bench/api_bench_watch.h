// Many watch streams at once, each on its own connection, read by one event
// loop thread (libcurl's multi interface over epoll, so that a wake-up only
// touches the connections that have data). Tells when the first and the last
// watcher received each change: the fan-out latency of a write.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api_bench_http.h"
#include "deckhand/common/result.h"

namespace deckhand::bench {

// How one server's watch stream reads: newline-delimited JSON.
struct WatchProtocol {
  std::string url;
  std::string post_body;  // empty: GET
  // Change events carried by one line; negative: the line reports an error.
  std::function<int(std::string_view line)> events_in;
  // Whether a line says the watch is registered; null: the response headers say so.
  std::function<bool(std::string_view line)> marks_established;
};

class WatchFanout {
 public:
  using Clock = std::chrono::steady_clock;
  struct Arrival {
    Clock::time_point first, last;  // the first and the last watcher to receive it
  };

  // Opens `watchers` watches that each expect `changes` change events, the
  // k-th change being the k-th event on every stream.
  static Result<std::unique_ptr<WatchFanout>> open(int watchers, int changes, WatchProtocol protocol,
                                                   const TlsFiles& tls);
  ~WatchFanout();
  WatchFanout(const WatchFanout&) = delete;
  WatchFanout& operator=(const WatchFanout&) = delete;

  Status wait_established(std::chrono::milliseconds timeout);
  // Waits until every watcher received change k (0-based).
  Result<Arrival> wait_for_change(int k, std::chrono::milliseconds timeout);
  // CPU time the event loop thread (all streams' TLS and parsing) used so far.
  double loop_cpu_seconds() const;

 private:
  struct Watcher {
    WatchFanout* owner = nullptr;
    int id = 0;
    CurlEasy easy;
    std::string partial_line;
    int changes_seen = 0;
    bool established = false;
  };

  WatchFanout(int watchers, int changes, WatchProtocol protocol);
  Status add_watchers(const TlsFiles& tls);
  void run_loop();
  void on_headers_done(Watcher& w);
  void on_line(Watcher& w, std::string_view line, Clock::time_point now);
  void record_error(Error e);

  static size_t header_callback(char* data, size_t size, size_t n, void* user);
  static size_t write_callback(char* data, size_t size, size_t n, void* user);
  static int socket_callback(CURL* easy, curl_socket_t s, int what, void* user, void* socket_user);
  static int timer_callback(CURLM* multi, long timeout_ms, void* user);

  const int watcher_count_;
  const WatchProtocol protocol_;
  CurlList headers_;
  CURLM* multi_ = nullptr;
  int epoll_fd_ = -1;
  std::optional<Clock::time_point> timer_;  // when curl wants a timeout call; loop thread only
  std::vector<std::unique_ptr<Watcher>> watchers_;
  std::thread loop_;
  std::atomic<bool> stopping_{false};

  std::mutex mu_;  // guards what follows, written by the loop thread
  std::condition_variable changed_;
  int established_ = 0;
  std::vector<int> arrivals_;  // per change: watchers that received it
  std::vector<Arrival> arrival_times_;
  std::optional<Error> error_;
};

}  // namespace deckhand::bench
