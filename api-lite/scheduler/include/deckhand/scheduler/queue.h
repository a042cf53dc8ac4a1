// The scheduling queue: pending pods by priority then arrival; pods that did
// not fit wait (unschedulable) until a cluster change or a periodic flush,
// and never retry before their back-off (initial doubling per attempt up to
// max) has passed; pods whose bind failed retry after their back-off.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "deckhand/scheduler/pod_info.h"

namespace deckhand::scheduler {

class SchedulingQueue {
 public:
  using Clock = std::chrono::steady_clock;
  SchedulingQueue(std::chrono::milliseconds initial_backoff, std::chrono::milliseconds max_backoff,
                  std::chrono::milliseconds unschedulable_flush = std::chrono::minutes(5));

  // A pending pod from the informer (new or changed). A changed pod that was
  // waiting as unschedulable is tried again (after its back-off).
  void add_or_update(std::shared_ptr<const PodInfo> pod);
  // The pod was deleted or bound: forget it.
  void remove(const std::string& key);

  // Blocks up to `wait` for a pod to try; nullptr on timeout or after close().
  std::shared_ptr<const PodInfo> pop(std::chrono::milliseconds wait);
  // The popped pod did not fit: it waits for a cluster change (or, if one
  // came while it was being tried, only for its back-off).
  void unschedulable(const std::string& key);
  // The popped pod's bind failed: retry after the back-off.
  void retry_after_error(const std::string& key);
  // The popped pod was assumed and is being bound: leave it out until the
  // informer reports it bound (remove) or the bind fails (retry_after_error).
  void scheduled(const std::string& key);
  // Nodes were added or changed, pods left: unschedulable pods may fit now.
  void move_all_to_active();
  void close();

  std::chrono::milliseconds backoff_for(int attempts) const;
  struct Counts {
    size_t active = 0, backoff = 0, unschedulable = 0, in_flight = 0;
  };
  Counts counts();

 private:
  enum class Where { Active, Backoff, Unschedulable, InFlight, Scheduled };
  struct Entry {
    std::shared_ptr<const PodInfo> pod;
    Where where = Where::Active;
    int attempts = 0;
    uint64_t seq = 0;             // arrival order
    Clock::time_point ready_at;   // end of back-off
    Clock::time_point parked_at;  // when it became unschedulable
    uint64_t moves_at_pop = 0;
    bool updated_in_flight = false;
  };
  using ActiveKey = std::tuple<int32_t, uint64_t, std::string>;  // -priority, seq, key

  void to_active(const std::string& key, Entry& e);
  void to_backoff(const std::string& key, Entry& e);
  void detach(const std::string& key, Entry& e);
  void promote_ready(Clock::time_point now);
  Clock::time_point next_wakeup() const;

  const std::chrono::milliseconds initial_, max_, flush_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  uint64_t next_seq_ = 0;
  uint64_t moves_ = 0;  // cluster changes so far
  std::unordered_map<std::string, Entry> entries_;
  std::set<ActiveKey> active_;
  std::multimap<Clock::time_point, std::string> backoff_;
  std::unordered_set<std::string> unschedulable_;
  Clock::time_point last_flush_check_;
};

}  // namespace deckhand::scheduler
