#include "watch_stream.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

#include "curl_handles.h"
#include "deckhand/common/json.h"

namespace deckhand::client::detail {

namespace {

// Events held for a consumer that does not keep up: past kPauseAt the
// transfer pauses (the server's writes then wait in TCP), below kResumeAt it
// goes on.
constexpr size_t kPauseAt = 4096;
constexpr size_t kResumeAt = 1024;
constexpr size_t kMaxErrorBody = 64 * 1024;
// How long the reader sleeps in curl when nothing happens; closing the stream wakes it at once.
constexpr int kPollMs = 1000;
constexpr std::chrono::hours kLongestWait{24};

bool is_blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

class HttpWatchStream final : public WatchStream {
 public:
  HttpWatchStream(EasyHandle easy, MultiHandle multi, HeaderList headers)
      : headers_(std::move(headers)), easy_(std::move(easy)), multi_(std::move(multi)) {}

  ~HttpWatchStream() override {
    stop_ = true;
    if (reader_.joinable()) {
      curl_multi_wakeup(multi_.get());
      reader_.join();
    }
    if (added_) curl_multi_remove_handle(multi_.get(), easy_.get());
  }

  HttpWatchStream(const HttpWatchStream&) = delete;
  HttpWatchStream& operator=(const HttpWatchStream&) = delete;

  Status start(const std::string& url, std::chrono::milliseconds overall_timeout) {
    CURL* c = easy_.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers_.get());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_buffer_);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(overall_timeout.count()));
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &HttpWatchStream::on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &HttpWatchStream::on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, this);
    CURLMcode mc = curl_multi_add_handle(multi_.get(), c);
    if (mc != CURLM_OK)
      return fail(ErrorKind::Internal, "curl_multi_add_handle: {}", curl_multi_strerror(mc));
    added_ = true;
    try {
      reader_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
      return fail(ErrorKind::ResourceExhausted, "start watch reader thread: {}", e.what());
    }
    return {};
  }

  // Waits for the response headers; a non-2xx answer becomes its error.
  Status await_response(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!changed_.wait_for(lock, timeout, [&] { return code_ != 0 || ended_; })) {
      return tl::unexpected(transport_error(fmt::format("no response within {} ms", timeout.count())));
    }
    if (code_ == 0) return tl::unexpected(transport_error(end_message_));
    if (code_ >= 200 && code_ < 300) return {};
    changed_.wait_for(lock, timeout, [&] { return ended_; });  // the Status body is short
    return tl::unexpected(http_error(code_, error_body_));
  }

  Result<std::optional<WatchEvent>> next(std::chrono::milliseconds wait) override {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, std::min<std::chrono::milliseconds>(wait, kLongestWait),
                      [&] { return !lines_.empty() || ended_; });
    if (lines_.empty()) {
      if (!ended_) return std::optional<WatchEvent>();
      std::string message = end_message_.empty() ? "watch ended" : "watch ended: " + end_message_;
      lock.unlock();
      return tl::unexpected(transport_error(std::move(message)));
    }
    std::string line = std::move(lines_.front());
    lines_.pop_front();
    if (paused_ && lines_.size() < kResumeAt) {
      paused_ = false;
      resume_ = true;
      curl_multi_wakeup(multi_.get());
    }
    lock.unlock();
    return parse_event(line);
  }

 private:
  static Result<std::optional<WatchEvent>> parse_event(const std::string& line) {
    DH_TRY(event, parse_json(line, "watch event"));
    if (!event.is_object() || !event.contains("type") || !event["type"].is_string()) {
      return fail(ErrorKind::Internal, "watch event without a type: {}", line.substr(0, 200));
    }
    WatchEvent out;
    out.type = event["type"].get<std::string>();
    if (event.contains("object")) out.object = std::move(event["object"]);
    return std::optional<WatchEvent>(std::move(out));
  }

  static size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<HttpWatchStream*>(user);
    std::string_view line(data, size * count);
    if (line == "\r\n" || line == "\n") {  // the end of a header block
      long code = 0;
      curl_easy_getinfo(self->easy_.get(), CURLINFO_RESPONSE_CODE, &code);
      if (code >= 200) {
        std::lock_guard lock(self->mu_);
        self->code_ = code;
        self->changed_.notify_all();
      }
    }
    return size * count;
  }

  static size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* self = static_cast<HttpWatchStream*>(user);
    if (self->stop_) return 0;  // aborts the transfer
    return self->take_body(std::string_view(data, size * count));
  }

  size_t take_body(std::string_view data) {
    const size_t total = data.size();
    std::lock_guard lock(mu_);
    if (code_ < 200 || code_ >= 300) {
      error_body_.append(data.substr(0, kMaxErrorBody - std::min(kMaxErrorBody, error_body_.size())));
      return total;
    }
    if (lines_.size() >= kPauseAt) {
      paused_ = true;
      return CURL_WRITEFUNC_PAUSE;  // curl hands the same data again after the resume
    }
    size_t old_lines = lines_.size();
    for (size_t nl = data.find('\n'); nl != std::string_view::npos; nl = data.find('\n')) {
      partial_.append(data.substr(0, nl));
      if (!is_blank(partial_)) lines_.push_back(std::move(partial_));
      partial_.clear();
      data.remove_prefix(nl + 1);
    }
    partial_.append(data);
    if (lines_.size() != old_lines) changed_.notify_all();
    return total;
  }

  void run() {
    CURLM* m = multi_.get();
    CURLMcode mc = CURLM_OK;
    int running = 1;
    while (!stop_) {
      if (resume_.exchange(false)) curl_easy_pause(easy_.get(), CURLPAUSE_CONT);
      mc = curl_multi_perform(m, &running);
      if (mc != CURLM_OK || running == 0) break;
      mc = curl_multi_poll(m, nullptr, 0, kPollMs, nullptr);
      if (mc != CURLM_OK) break;
    }
    CURLcode rc = CURLE_OK;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(m, &left)) {
      if (msg->msg == CURLMSG_DONE) rc = msg->data.result;
    }
    finish(mc, rc);
  }

  void finish(CURLMcode mc, CURLcode rc) {
    std::lock_guard lock(mu_);
    if (!is_blank(partial_)) lines_.push_back(std::move(partial_));
    partial_.clear();
    ended_ = true;
    if (stop_) {
      end_message_ = "closed";
    } else if (mc != CURLM_OK) {
      end_message_ = curl_multi_strerror(mc);
    } else if (rc != CURLE_OK) {
      end_message_ = curl_easy_strerror(rc);
      if (error_buffer_[0] != '\0') end_message_ += std::string(": ") + error_buffer_;
    }
    changed_.notify_all();
  }

  HeaderList headers_;  // declared first: curl may read it until the handles are gone
  EasyHandle easy_;
  MultiHandle multi_;
  bool added_ = false;
  char error_buffer_[CURL_ERROR_SIZE] = "";
  std::atomic<bool> stop_{false};
  std::atomic<bool> resume_{false};

  std::mutex mu_;
  std::condition_variable changed_;
  long code_ = 0;  // the response's status, 0 until its headers are in
  bool ended_ = false;
  std::string end_message_;
  std::deque<std::string> lines_;
  std::string partial_;
  std::string error_body_;
  bool paused_ = false;

  std::thread reader_;  // last: it starts after everything above exists
};

}  // namespace

Result<std::unique_ptr<WatchStream>> open_watch(const ClientConfig& config, const std::string& url,
                                                std::chrono::milliseconds overall_timeout) {
  DH_TRY(easy, new_easy_handle(config));
  DH_TRY(headers, request_headers(config, "application/json", nullptr));
  MultiHandle multi(curl_multi_init());
  if (!multi) return fail(ErrorKind::Internal, "curl_multi_init failed");
  auto stream = std::make_unique<HttpWatchStream>(std::move(easy), std::move(multi), std::move(headers));
  DH_CHECK(stream->start(url, overall_timeout));
  DH_CHECK(stream->await_response(config.request_timeout));
  return std::unique_ptr<WatchStream>(std::move(stream));
}

}  // namespace deckhand::client::detail
