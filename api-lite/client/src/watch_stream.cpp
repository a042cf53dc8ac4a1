#include "watch_stream.h"

#include "api_http.h"
#include "deckhand/common/json.h"

namespace deckhand::client::detail {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxErrorBody = 64 * 1024;
// The longest single wait of next(): a caller asking for longer is answered
// "nothing yet" after this and asks again.
constexpr std::chrono::hours kLongestWait{24};

bool is_blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

class HttpWatchStream final : public WatchStream {
 public:
  explicit HttpWatchStream(std::unique_ptr<http::StreamedResponse> response) : response_(std::move(response)) {}

  Result<std::optional<WatchEvent>> next(std::chrono::milliseconds wait) override {
    const auto deadline = Clock::now() + std::min<std::chrono::milliseconds>(wait, kLongestWait);
    for (;;) {
      if (auto line = take_line()) return parse_event(*line);
      if (ended_) return tl::unexpected(transport_error(end_message_));
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::optional<WatchEvent>();
      auto more = response_->read_some(buffer_, left);
      if (!more) {
        end("watch ended: " + more.error().message);
      } else if (!*more) {
        end("watch ended");
      }
    }
  }

 private:
  // The next non-blank line; at the end, what is left after the last newline.
  std::optional<std::string> take_line() {
    for (;;) {
      auto nl = buffer_.find('\n', scanned_);
      if (nl == std::string::npos) {
        scanned_ = buffer_.size();
        if (!ended_ || is_blank(buffer_)) return std::nullopt;
        std::string rest = std::move(buffer_);
        buffer_.clear();
        scanned_ = 0;
        return rest;
      }
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      scanned_ = 0;
      if (!is_blank(line)) return line;
    }
  }

  void end(std::string message) {
    ended_ = true;
    end_message_ = std::move(message);
  }

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

  std::unique_ptr<http::StreamedResponse> response_;
  std::string buffer_;   // body bytes not yet returned as events
  size_t scanned_ = 0;   // buffer_ holds no newline before this
  bool ended_ = false;
  std::string end_message_;
};

}  // namespace

Result<std::unique_ptr<WatchStream>> open_watch(http::HttpClient& http, const ClientConfig& config,
                                                const std::string& target, std::chrono::milliseconds overall_timeout) {
  auto response = http.open(api_request(config, "GET", target, "application/json", nullptr), overall_timeout);
  if (!response) return tl::unexpected(transport_error(std::move(response.error().message)));
  int status = (*response)->status();
  if (status < 200 || status >= 300)  // the Status the server refused it with
    return tl::unexpected(http_error(status, http::read_short_body(**response, kMaxErrorBody, config.request_timeout)));
  return std::unique_ptr<WatchStream>(std::make_unique<HttpWatchStream>(std::move(*response)));
}

}  // namespace deckhand::client::detail
