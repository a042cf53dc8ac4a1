// The scheduling queue (see queue.h): one map of entries, an ordered set of
// the active ones and a time-ordered multimap of those backing off.
#include "deckhand/scheduler/queue.h"

#include <vector>

namespace deckhand::scheduler {

SchedulingQueue::SchedulingQueue(std::chrono::milliseconds initial_backoff, std::chrono::milliseconds max_backoff,
                                 std::chrono::milliseconds unschedulable_flush)
    : initial_(initial_backoff), max_(max_backoff), flush_(unschedulable_flush) {}

std::chrono::milliseconds SchedulingQueue::backoff_for(int attempts) const {
  if (attempts <= 0) return std::chrono::milliseconds(0);
  auto d = initial_;
  for (int i = 1; i < attempts && d < max_; ++i) d *= 2;
  return std::min(d, max_);
}

void SchedulingQueue::detach(const std::string& key, Entry& e) {
  if (e.where == Where::Active) {
    active_.erase(ActiveKey{-e.pod->priority, e.seq, key});
  } else if (e.where == Where::Backoff) {
    auto [lo, hi] = backoff_.equal_range(e.ready_at);
    for (auto it = lo; it != hi; ++it)
      if (it->second == key) {
        backoff_.erase(it);
        break;
      }
  } else if (e.where == Where::Unschedulable) {
    unschedulable_.erase(key);
  }
}

void SchedulingQueue::to_active(const std::string& key, Entry& e) {
  e.where = Where::Active;
  active_.emplace(-e.pod->priority, e.seq, key);
  cv_.notify_one();
}

void SchedulingQueue::to_backoff(const std::string& key, Entry& e) {
  if (Clock::now() >= e.ready_at) return to_active(key, e);
  e.where = Where::Backoff;
  backoff_.emplace(e.ready_at, key);
  cv_.notify_one();  // the waiter may need an earlier wake-up
}

void SchedulingQueue::add_or_update(std::shared_ptr<const PodInfo> pod) {
  std::lock_guard lock(mu_);
  std::string key = pod->key;
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    Entry e;
    e.pod = std::move(pod);
    e.seq = next_seq_++;
    auto& stored = entries_[key] = std::move(e);
    to_active(key, stored);
    return;
  }
  Entry& e = it->second;
  switch (e.where) {
    case Where::Active:
      detach(key, e);
      e.pod = std::move(pod);
      to_active(key, e);
      break;
    case Where::Backoff:
      detach(key, e);
      e.pod = std::move(pod);
      to_backoff(key, e);
      break;
    case Where::Unschedulable:
      detach(key, e);
      e.pod = std::move(pod);
      to_backoff(key, e);
      break;
    case Where::InFlight:
      e.pod = std::move(pod);
      e.updated_in_flight = true;
      break;
    case Where::Scheduled:
      e.pod = std::move(pod);  // its bind is on the way
      break;
  }
}

void SchedulingQueue::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  detach(key, it->second);
  entries_.erase(it);
}

void SchedulingQueue::promote_ready(Clock::time_point now) {
  while (!backoff_.empty() && backoff_.begin()->first <= now) {
    std::string key = backoff_.begin()->second;
    backoff_.erase(backoff_.begin());
    auto it = entries_.find(key);
    if (it != entries_.end()) to_active(key, it->second);
  }
  // Pods parked too long as unschedulable get another try (kube: 5 minutes).
  if (now - last_flush_check_ < std::chrono::seconds(1)) return;
  last_flush_check_ = now;
  std::vector<std::string> due;
  for (const auto& key : unschedulable_)
    if (now - entries_.at(key).parked_at >= flush_) due.push_back(key);
  for (const auto& key : due) {
    Entry& e = entries_.at(key);
    detach(key, e);
    to_backoff(key, e);
  }
}

SchedulingQueue::Clock::time_point SchedulingQueue::next_wakeup() const {
  auto next = Clock::now() + std::chrono::seconds(1);  // also bounds the flush check's delay
  if (!backoff_.empty()) next = std::min(next, backoff_.begin()->first);
  return next;
}

std::shared_ptr<const PodInfo> SchedulingQueue::pop(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  auto deadline = Clock::now() + wait;
  for (;;) {
    if (closed_) return nullptr;
    promote_ready(Clock::now());
    if (!active_.empty()) break;
    auto now = Clock::now();
    if (now >= deadline) return nullptr;
    cv_.wait_until(lock, std::min(deadline, next_wakeup()));
  }
  auto first = active_.begin();
  std::string key = std::get<2>(*first);
  active_.erase(first);
  Entry& e = entries_.at(key);
  e.where = Where::InFlight;
  e.moves_at_pop = moves_;
  e.updated_in_flight = false;
  ++e.attempts;
  return e.pod;
}

void SchedulingQueue::unschedulable(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  auto now = Clock::now();
  e.ready_at = now + backoff_for(e.attempts);
  // A change that came while the pod was being tried may have made it fit.
  if (e.updated_in_flight || moves_ != e.moves_at_pop) return to_backoff(key, e);
  e.where = Where::Unschedulable;
  e.parked_at = now;
  unschedulable_.insert(key);
}

void SchedulingQueue::retry_after_error(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  e.ready_at = Clock::now() + backoff_for(e.attempts);
  to_backoff(key, e);
}

void SchedulingQueue::scheduled(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) it->second.where = Where::Scheduled;
}

void SchedulingQueue::move_all_to_active() {
  std::lock_guard lock(mu_);
  ++moves_;
  std::unordered_set<std::string> waiting;
  waiting.swap(unschedulable_);
  for (const auto& key : waiting) to_backoff(key, entries_.at(key));
}

void SchedulingQueue::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

SchedulingQueue::Counts SchedulingQueue::counts() {
  std::lock_guard lock(mu_);
  Counts c;
  for (const auto& [key, e] : entries_) {
    switch (e.where) {
      case Where::Active: ++c.active; break;
      case Where::Backoff: ++c.backoff; break;
      case Where::Unschedulable: ++c.unschedulable; break;
      case Where::InFlight:
      case Where::Scheduled: ++c.in_flight; break;
    }
  }
  return c;
}

}  // namespace deckhand::scheduler
