#include "pod_watch.h"

#include <fmt/format.h>

#include <algorithm>
#include <system_error>

#include "bench_env.h"

namespace deckhand::bench {

using namespace std::chrono_literals;

std::string text_of(const Json& obj, const char* key) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return "";
  return obj[key].get<std::string>();
}

std::string string_at(const Json& obj, const char* section, const char* key) {
  if (!obj.is_object() || !obj.contains(section)) return "";
  return text_of(obj[section], key);
}

Result<std::unique_ptr<PodWatch>> PodWatch::open(const std::string& url, const TlsFiles& tls, std::string state,
                                                 std::function<bool(const Json& pod)> reached) {
  std::unique_ptr<PodWatch> w(new PodWatch());
  w->state_ = std::move(state);
  w->reached_fn_ = std::move(reached);
  DH_TRY(headers, json_headers());
  w->headers_ = std::move(headers);
  DH_TRY(easy, make_easy(tls, w->headers_));
  w->easy_ = std::move(easy);
  CURL* c = w->easy_.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &PodWatch::header_callback);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, w.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &PodWatch::write_callback);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, w.get());
  w->multi_ = curl_multi_init();
  if (!w->multi_) return fail(ErrorKind::Internal, "curl_multi_init failed");
  if (CURLMcode rc = curl_multi_add_handle(w->multi_, c); rc != CURLM_OK)
    return fail(ErrorKind::Internal, "curl_multi_add_handle: {}", curl_multi_strerror(rc));
  try {
    w->loop_ = std::thread([p = w.get()] { p->run_loop(); });
  } catch (const std::system_error& e) {
    return fail(ErrorKind::ResourceExhausted, "start the watch thread: {}", e.what());
  }
  return w;
}

PodWatch::~PodWatch() {
  stopping_ = true;
  if (multi_) curl_multi_wakeup(multi_);
  if (loop_.joinable()) loop_.join();
  if (multi_) {
    if (easy_) curl_multi_remove_handle(multi_, easy_.get());
    curl_multi_cleanup(multi_);
  }
}

void PodWatch::run_loop() {
  while (!stopping_) {
    int running = 0;
    if (CURLMcode rc = curl_multi_perform(multi_, &running); rc != CURLM_OK) {
      record_error(fmt::format("curl_multi_perform: {}", curl_multi_strerror(rc)));
      return;
    }
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      record_error(fmt::format("the watch ended: {}", curl_easy_strerror(m->data.result)));
      return;
    }
    curl_multi_poll(multi_, nullptr, 0, 1000, nullptr);
  }
}

size_t PodWatch::header_callback(char* data, size_t size, size_t n, void* user) {
  auto* w = static_cast<PodWatch*>(user);
  std::string_view line(data, size * n);
  if (line != "\r\n" && line != "\n") return size * n;
  long status = 0;
  curl_easy_getinfo(w->easy_.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status == 100) return size * n;  // an interim answer; the real headers follow
  if (status != 200) {
    w->record_error(fmt::format("watch: HTTP {}", status));
    return size * n;
  }
  // The apiserver sends its headers once the watch is registered.
  std::lock_guard lock(w->mu_);
  w->established_ = true;
  w->changed_.notify_all();
  return size * n;
}

size_t PodWatch::write_callback(char* data, size_t size, size_t n, void* user) {
  auto now = Clock::now();  // when the bytes were here, before any parsing
  auto* w = static_cast<PodWatch*>(user);
  std::string_view chunk(data, size * n);
  for (size_t nl; (nl = chunk.find('\n')) != std::string_view::npos; chunk.remove_prefix(nl + 1)) {
    if (w->partial_line_.empty()) {
      w->on_line(chunk.substr(0, nl), now);
    } else {
      w->partial_line_.append(chunk.substr(0, nl));
      w->on_line(w->partial_line_, now);
      w->partial_line_.clear();
    }
  }
  w->partial_line_.append(chunk);
  return size * n;
}

void PodWatch::on_line(std::string_view line, Clock::time_point now) {
  if (line.empty() || line == "\r") return;
  auto event = parse_json(line, "watch event");
  if (!event || !event->is_object() || !event->contains("object")) {
    record_error(fmt::format("watch: not an event: {}", line.substr(0, 300)));
    return;
  }
  std::string type = text_of(*event, "type");
  if (type == "ERROR") {
    record_error(fmt::format("watch: {}", line.substr(0, 300)));
    return;
  }
  const Json& pod = (*event)["object"];
  std::string name = string_at(pod, "metadata", "name");
  bool reached = type != "DELETED" && reached_fn_(pod);
  std::lock_guard lock(mu_);
  bool news = false;
  if (reached) news = reached_.emplace(name, now).second;  // the first one counts
  if (type == "DELETED") news = deleted_.emplace(name, now).second;
  if (news) changed_.notify_all();
}

void PodWatch::record_error(std::string message) {
  if (stopping_) return;
  std::lock_guard lock(mu_);
  if (!error_) error_ = std::move(message);
  changed_.notify_all();
}

Status PodWatch::wait_for(std::unique_lock<std::mutex>& lock, const std::function<bool()>& done,
                          std::chrono::milliseconds timeout, const std::string& what) {
  auto deadline = Clock::now() + timeout;
  // Short waits, so that a Ctrl-C is noticed.
  while (!done() && !error_ && !stop_requested() && Clock::now() < deadline)
    changed_.wait_for(lock, 100ms);
  if (error_) return fail(ErrorKind::Internal, "{}", *error_);
  if (done()) return {};
  DH_CHECK(check_not_stopped());
  return fail(ErrorKind::DeadlineExceeded, "{} after {} ms", what, timeout.count());
}

size_t PodWatch::count_in(const std::map<std::string, Clock::time_point>& m,
                          const std::vector<std::string>& names) const {
  return size_t(std::count_if(names.begin(), names.end(), [&](auto& n) { return m.count(n) > 0; }));
}

Status PodWatch::wait_established(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return wait_for(lock, [&] { return established_; }, timeout, "the watch is not established");
}

Result<std::map<std::string, PodWatch::Clock::time_point>> PodWatch::wait_reached(
    const std::vector<std::string>& names, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  // The size first: counting thousands of names at every event would cost more than the events.
  auto all = [&] { return reached_.size() >= names.size() && count_in(reached_, names) == names.size(); };
  auto st = wait_for(lock, all, timeout, "not all pods " + state_);
  if (!st)
    return tl::unexpected(st.error().context("{} of {} pods {}", count_in(reached_, names), names.size(), state_));
  return reached_;
}

size_t PodWatch::reached_count() {
  std::lock_guard lock(mu_);
  return reached_.size();
}

Result<PodWatch::Clock::time_point> PodWatch::wait_deleted(const std::vector<std::string>& names,
                                                 std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  auto all = [&] { return deleted_.size() >= names.size() && count_in(deleted_, names) == names.size(); };
  auto st = wait_for(lock, all, timeout, "not all pods gone");
  if (!st) return tl::unexpected(st.error().context("{} of {} pods gone", count_in(deleted_, names), names.size()));
  Clock::time_point last{};
  for (auto& n : names) last = std::max(last, deleted_[n]);
  return last;
}

}  // namespace deckhand::bench
