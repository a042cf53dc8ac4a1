#include "api_bench_watch.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

namespace deckhand::bench {

WatchFanout::WatchFanout(int watchers, int changes, WatchProtocol protocol)
    : watcher_count_(watchers),
      protocol_(std::move(protocol)),
      arrivals_(size_t(changes), 0),
      arrival_times_(size_t(changes)) {}

Result<std::unique_ptr<WatchFanout>> WatchFanout::open(int watchers, int changes, WatchProtocol protocol,
                                                       const TlsFiles& tls) {
  std::unique_ptr<WatchFanout> f(new WatchFanout(watchers, changes, std::move(protocol)));
  f->epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (f->epoll_fd_ < 0) return sys_fail("epoll_create1");
  f->multi_ = curl_multi_init();
  if (!f->multi_) return fail(ErrorKind::Internal, "curl_multi_init failed");
  curl_multi_setopt(f->multi_, CURLMOPT_SOCKETFUNCTION, &WatchFanout::socket_callback);
  curl_multi_setopt(f->multi_, CURLMOPT_SOCKETDATA, f.get());
  curl_multi_setopt(f->multi_, CURLMOPT_TIMERFUNCTION, &WatchFanout::timer_callback);
  curl_multi_setopt(f->multi_, CURLMOPT_TIMERDATA, f.get());
  DH_TRY(headers, json_headers());
  f->headers_ = std::move(headers);
  DH_CHECK(f->add_watchers(tls));
  try {
    f->loop_ = std::thread([p = f.get()] { p->run_loop(); });
  } catch (const std::system_error& e) {
    return fail(ErrorKind::ResourceExhausted, "start the watch loop thread: {}", e.what());
  }
  return f;
}

// Every watch is its own easy handle, so its own connection (HTTP/1.1 has no
// multiplexing); curl connects them all at once.
Status WatchFanout::add_watchers(const TlsFiles& tls) {
  for (int id = 0; id < watcher_count_; ++id) {
    auto w = std::make_unique<Watcher>();
    w->owner = this;
    w->id = id;
    DH_TRY(easy, make_easy(tls, headers_));
    CURL* c = easy.get();
    curl_easy_setopt(c, CURLOPT_URL, protocol_.url.c_str());
    if (!protocol_.post_body.empty()) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, long(protocol_.post_body.size()));
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, protocol_.post_body.data());
    }
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &WatchFanout::header_callback);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, w.get());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WatchFanout::write_callback);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, w.get());
    curl_easy_setopt(c, CURLOPT_PRIVATE, w.get());
    w->easy = std::move(easy);
    if (CURLMcode rc = curl_multi_add_handle(multi_, c); rc != CURLM_OK)
      return fail(ErrorKind::Internal, "curl_multi_add_handle: {}", curl_multi_strerror(rc));
    watchers_.push_back(std::move(w));
  }
  return {};
}

WatchFanout::~WatchFanout() {
  stopping_ = true;
  if (loop_.joinable()) loop_.join();
  for (auto& w : watchers_) curl_multi_remove_handle(multi_, w->easy.get());
  watchers_.clear();
  if (multi_) curl_multi_cleanup(multi_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

int WatchFanout::socket_callback(CURL*, curl_socket_t s, int what, void* user, void*) {
  auto* f = static_cast<WatchFanout*>(user);
  if (what == CURL_POLL_REMOVE) {
    ::epoll_ctl(f->epoll_fd_, EPOLL_CTL_DEL, s, nullptr);
    return 0;
  }
  epoll_event ev{};
  ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
  ev.data.fd = s;
  if (::epoll_ctl(f->epoll_fd_, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
    ::epoll_ctl(f->epoll_fd_, EPOLL_CTL_ADD, s, &ev);
  return 0;
}

int WatchFanout::timer_callback(CURLM*, long timeout_ms, void* user) {
  auto* f = static_cast<WatchFanout*>(user);
  if (timeout_ms < 0) f->timer_.reset();
  else f->timer_ = Clock::now() + std::chrono::milliseconds(timeout_ms);
  return 0;
}

void WatchFanout::run_loop() {
  std::vector<epoll_event> ready(512);
  int running = 0;
  while (!stopping_) {
    // Short waits, so that the destructor is never held up for long.
    int wait_ms = 100;
    if (timer_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*timer_ - Clock::now()).count();
      wait_ms = int(std::clamp<long long>(left, 0, wait_ms));
    }
    int n = ::epoll_wait(epoll_fd_, ready.data(), int(ready.size()), wait_ms);
    for (int i = 0; i < n; ++i) {
      int flags = (ready[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) | (ready[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                  (ready[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
      curl_multi_socket_action(multi_, ready[i].data.fd, flags, &running);
    }
    if (timer_ && Clock::now() >= *timer_) {
      timer_.reset();
      curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      Watcher* w = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &w);
      record_error(Error{ErrorKind::Unavailable, 0,
                         fmt::format("watch {} ended: {}", w ? w->id : -1, curl_easy_strerror(m->data.result))});
    }
  }
}

size_t WatchFanout::header_callback(char* data, size_t size, size_t n, void* user) {
  auto* w = static_cast<Watcher*>(user);
  std::string_view line(data, size * n);
  if (line == "\r\n" || line == "\n") w->owner->on_headers_done(*w);
  return size * n;
}

void WatchFanout::on_headers_done(Watcher& w) {
  long status = 0;
  curl_easy_getinfo(w.easy.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status == 100) return;  // an interim answer; the real headers follow
  if (status != 200) {
    record_error(Error{ErrorKind::Internal, 0, fmt::format("watch {}: HTTP {}", w.id, status)});
    return;
  }
  if (protocol_.marks_established || w.established) return;
  w.established = true;
  std::lock_guard lock(mu_);
  if (++established_ == watcher_count_) changed_.notify_all();
}

size_t WatchFanout::write_callback(char* data, size_t size, size_t n, void* user) {
  auto now = Clock::now();  // once, before any parsing: when the bytes were here
  auto* w = static_cast<Watcher*>(user);
  std::string_view chunk(data, size * n);
  for (size_t nl; (nl = chunk.find('\n')) != std::string_view::npos; chunk.remove_prefix(nl + 1)) {
    if (w->partial_line.empty()) {
      w->owner->on_line(*w, chunk.substr(0, nl), now);
    } else {
      w->partial_line.append(chunk.substr(0, nl));
      w->owner->on_line(*w, w->partial_line, now);
      w->partial_line.clear();
    }
  }
  w->partial_line.append(chunk);
  return size * n;
}

void WatchFanout::on_line(Watcher& w, std::string_view line, Clock::time_point now) {
  if (line.empty() || line == "\r") return;
  bool newly_established = !w.established && protocol_.marks_established && protocol_.marks_established(line);
  int events = protocol_.events_in(line);
  // The waiter is woken only for what it waits for: a thousand wake-ups per
  // change would compete with this thread for the CPUs it measures.
  bool wake = false;
  std::lock_guard lock(mu_);
  if (newly_established) {
    w.established = true;
    wake = ++established_ == watcher_count_;
  }
  if (events < 0 && !error_) {
    error_ = Error{ErrorKind::Internal, 0, fmt::format("watch {}: {}", w.id, line.substr(0, 300))};
    wake = true;
  }
  for (int e = 0; e < events; ++e) {
    int k = w.changes_seen++;
    if (k >= int(arrivals_.size())) {
      if (!error_) error_ = Error{ErrorKind::Internal, 0, fmt::format("watch {}: more events than writes", w.id)};
      wake = true;
      break;
    }
    if (++arrivals_[k] == 1) arrival_times_[k].first = now;
    if (arrivals_[k] == watcher_count_) {
      arrival_times_[k].last = now;
      wake = true;
    }
  }
  if (wake) changed_.notify_all();
}

void WatchFanout::record_error(Error e) {
  if (stopping_) return;
  std::lock_guard lock(mu_);
  if (!error_) error_ = std::move(e);
  changed_.notify_all();
}

double WatchFanout::loop_cpu_seconds() const {
  clockid_t clock{};
  timespec ts{};
  if (pthread_getcpuclockid(const_cast<std::thread&>(loop_).native_handle(), &clock) != 0 ||
      ::clock_gettime(clock, &ts) != 0)
    return 0;
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

Status WatchFanout::wait_established(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return error_ || established_ == watcher_count_; });
  if (error_) return tl::unexpected(*error_);
  if (established_ < watcher_count_)
    return fail(ErrorKind::DeadlineExceeded, "{} of {} watches established after {} ms", established_,
                watcher_count_, timeout.count());
  return {};
}

Result<WatchFanout::Arrival> WatchFanout::wait_for_change(int k, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, timeout, [&] { return error_ || arrivals_[size_t(k)] == watcher_count_; });
  if (error_) return tl::unexpected(*error_);
  if (arrivals_[size_t(k)] < watcher_count_)
    return fail(ErrorKind::DeadlineExceeded, "change {} reached {} of {} watchers in {} ms", k, arrivals_[size_t(k)],
                watcher_count_, timeout.count());
  return arrival_times_[size_t(k)];
}

}  // namespace deckhand::bench
