// Back-off between restarts of a failing container (and between pulls of an
// image that failed), as kubelet's: the first retry waits `base`, each next
// one twice the last, up to `max`; an entry untouched for 2 * max starts
// over. Not thread-safe: each pod's worker owns its own.
#pragma once

#include <chrono>
#include <map>
#include <string>

namespace deckhand::agent {

using Clock = std::chrono::system_clock;

class RestartBackoff {
 public:
  RestartBackoff(std::chrono::milliseconds base, std::chrono::milliseconds max) : base_(base), max_(max) {}

  // The wait still due for key if its last failure was at failed_at: zero
  // when it may be retried now (no entry, or the entry's delay has passed).
  std::chrono::milliseconds remaining(const std::string& key, Clock::time_point failed_at,
                                      Clock::time_point now) const;
  // The delay of key's entry (what the CrashLoopBackOff message names); zero without one.
  std::chrono::milliseconds delay(const std::string& key) const;
  // A retry happens now: the next failure waits base, or twice the last delay.
  void retry(const std::string& key, Clock::time_point now);
  void reset(const std::string& key) { entries_.erase(key); }

 private:
  struct Entry {
    std::chrono::milliseconds delay{0};
    Clock::time_point last_update;
  };
  std::chrono::milliseconds base_, max_;
  std::map<std::string, Entry> entries_;
};

// A duration as Go prints it (kubelet's messages do): "200ms", "10s", "1m20s", "5m0s".
std::string go_duration(std::chrono::milliseconds d);

}  // namespace deckhand::agent
