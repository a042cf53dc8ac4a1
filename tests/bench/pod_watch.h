// A watch on pods for the benchmarks: per pod, when the first event showing
// it in a wanted state (Running, bound to a node, ...) arrived, and when its
// DELETED event did. Times are taken as the bytes come in, before parsing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>
#include <atomic>

#include "api_bench_http.h"
#include "deckhand/common/json.h"

namespace deckhand::bench {

// obj[key] when obj is an object and that is a string; "" otherwise (nlohmann's
// value() throws on a wrong type).
std::string text_of(const Json& obj, const char* key);
// obj[section][key], the same way.
std::string string_at(const Json& obj, const char* section, const char* key);

// One watch stream, read by its own thread through curl multi (so that the
// destructor can wake it at once).
class PodWatch {
 public:
  using Clock = std::chrono::steady_clock;
  // url: a pods URL with ?watch=1; state names what `reached` tells (for messages).
  static Result<std::unique_ptr<PodWatch>> open(const std::string& url, const TlsFiles& tls, std::string state,
                                                 std::function<bool(const Json& pod)> reached);
  ~PodWatch();
  PodWatch(const PodWatch&) = delete;
  PodWatch& operator=(const PodWatch&) = delete;

  Status wait_established(std::chrono::milliseconds timeout);
  // The receive time of each named pod's first event in the state.
  Result<std::map<std::string, Clock::time_point>> wait_reached(const std::vector<std::string>& names,
                                                              std::chrono::milliseconds timeout);
  size_t reached_count();  // pods seen in the state so far
  // The receive time of the last of their DELETED events.
  Result<Clock::time_point> wait_deleted(const std::vector<std::string>& names, std::chrono::milliseconds timeout);

 private:
  PodWatch() = default;
  void run_loop();
  void on_line(std::string_view line, Clock::time_point now);
  void record_error(std::string message);
  // Waits until done() holds (under mu_), an error, a stop request or the timeout.
  Status wait_for(std::unique_lock<std::mutex>& lock, const std::function<bool()>& done,
                  std::chrono::milliseconds timeout, const std::string& what);
  size_t count_in(const std::map<std::string, Clock::time_point>& m, const std::vector<std::string>& names) const;

  static size_t header_callback(char* data, size_t size, size_t n, void* user);
  static size_t write_callback(char* data, size_t size, size_t n, void* user);

  std::string state_;
  std::function<bool(const Json&)> reached_fn_;
  CurlList headers_;
  CurlEasy easy_;
  CURLM* multi_ = nullptr;
  std::thread loop_;
  std::atomic<bool> stopping_{false};
  std::string partial_line_;  // loop thread only

  std::mutex mu_;  // guards what follows
  std::condition_variable changed_;
  bool established_ = false;
  std::map<std::string, Clock::time_point> reached_, deleted_;
  std::optional<std::string> error_;
};

}  // namespace deckhand::bench
