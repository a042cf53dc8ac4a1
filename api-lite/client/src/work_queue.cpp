// The work queue: ready keys in FIFO order, a "dirty" set of keys that need
// processing (queued, or re-queued when their processing ends) and a
// "processing" set, as client-go's workqueue. Delayed adds wait in a set
// ordered by due time that one timer thread moves into the queue.
#include "deckhand/client/work_queue.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace deckhand::client {

using Clock = std::chrono::steady_clock;

struct WorkQueue::State {
  WorkQueueOptions options;

  std::mutex mu;
  std::condition_variable ready_cv;  // getters wait here
  std::condition_variable timer_cv;  // the timer thread waits here
  bool shutting_down = false;

  std::deque<std::string> queue;
  std::unordered_set<std::string> dirty;
  std::unordered_set<std::string> processing;

  // Delayed keys: each key once, at its earliest due time.
  std::set<std::pair<Clock::time_point, std::string>> waiting;
  std::unordered_map<std::string, Clock::time_point> waiting_until;

  std::unordered_map<std::string, int> failures;

  std::mutex join_mu;  // shut_down may be called from several threads
  std::thread timer;

  void add_locked(const std::string& key) {
    if (shutting_down || dirty.count(key)) return;
    dirty.insert(key);
    if (processing.count(key)) return;  // done() queues it again
    queue.push_back(key);
    ready_cv.notify_one();
  }

  // The next ready key, now processing; nullopt if none or shutting down.
  std::optional<std::string> take_locked() {
    if (shutting_down || queue.empty()) return std::nullopt;
    std::string key = std::move(queue.front());
    queue.pop_front();
    dirty.erase(key);
    processing.insert(key);
    return key;
  }

  void run_timer() {
    std::unique_lock lock(mu);
    while (!shutting_down) {
      if (waiting.empty()) {
        timer_cv.wait(lock);
        continue;
      }
      auto [due, key] = *waiting.begin();
      if (Clock::now() < due) {
        timer_cv.wait_until(lock, due);
        continue;  // re-check: an earlier key may have come, or shut_down
      }
      waiting.erase(waiting.begin());
      waiting_until.erase(key);
      add_locked(key);
    }
  }
};

WorkQueue::WorkQueue(WorkQueueOptions options) : state_(std::make_unique<State>()) {
  state_->options = options;
  state_->timer = std::thread([s = state_.get()] { s->run_timer(); });
}

WorkQueue::~WorkQueue() { shut_down(); }

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(state_->mu);
  state_->add_locked(key);
}

void WorkQueue::add_after(const std::string& key, std::chrono::milliseconds delay) {
  State& s = *state_;
  std::lock_guard lock(s.mu);
  if (s.shutting_down) return;
  if (delay <= std::chrono::milliseconds::zero()) {
    s.add_locked(key);
    return;
  }
  auto due = Clock::now() + delay;
  auto it = s.waiting_until.find(key);
  if (it != s.waiting_until.end()) {
    if (it->second <= due) return;  // keep the earliest, as client-go does
    s.waiting.erase({it->second, key});
    it->second = due;
  } else {
    s.waiting_until.emplace(key, due);
  }
  s.waiting.emplace(due, key);
  s.timer_cv.notify_one();
}

// base * 2^n, capped at max, without overflowing for large n.
static std::chrono::milliseconds backoff_delay(const WorkQueueOptions& o, int n) {
  auto delay = o.base_delay;
  for (int i = 0; i < n && delay < o.max_delay; ++i) delay *= 2;
  return std::min(delay, o.max_delay);
}

void WorkQueue::add_rate_limited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(state_->mu);
    int& n = state_->failures[key];
    delay = backoff_delay(state_->options, n);
    ++n;
  }
  add_after(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(state_->mu);
  state_->failures.erase(key);
}

int WorkQueue::failures(const std::string& key) {
  std::lock_guard lock(state_->mu);
  auto it = state_->failures.find(key);
  return it == state_->failures.end() ? 0 : it->second;
}

std::optional<std::string> WorkQueue::get() {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  s.ready_cv.wait(lock, [&] { return s.shutting_down || !s.queue.empty(); });
  return s.take_locked();
}

std::optional<std::string> WorkQueue::get_for(std::chrono::milliseconds timeout) {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  s.ready_cv.wait_for(lock, timeout, [&] { return s.shutting_down || !s.queue.empty(); });
  return s.take_locked();
}

void WorkQueue::done(const std::string& key) {
  State& s = *state_;
  std::lock_guard lock(s.mu);
  s.processing.erase(key);
  if (s.dirty.count(key) && !s.shutting_down) {
    s.queue.push_back(key);
    s.ready_cv.notify_one();
  }
}

void WorkQueue::shut_down() {
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    s.shutting_down = true;
  }
  s.ready_cv.notify_all();
  s.timer_cv.notify_all();
  std::lock_guard join_lock(s.join_mu);
  if (s.timer.joinable()) s.timer.join();
}

size_t WorkQueue::size() {
  std::lock_guard lock(state_->mu);
  return state_->queue.size();
}

}  // namespace deckhand::client
