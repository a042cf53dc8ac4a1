#include "restart_backoff.h"

#include <fmt/format.h>

namespace deckhand::agent {

using std::chrono::milliseconds;

milliseconds RestartBackoff::remaining(const std::string& key, Clock::time_point failed_at,
                                       Clock::time_point now) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return milliseconds(0);
  auto since = std::chrono::duration_cast<milliseconds>(now - failed_at);
  return since < it->second.delay ? it->second.delay - since : milliseconds(0);
}

milliseconds RestartBackoff::delay(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? milliseconds(0) : it->second.delay;
}

void RestartBackoff::retry(const std::string& key, Clock::time_point now) {
  auto it = entries_.find(key);
  bool stale = it != entries_.end() && now - it->second.last_update > 2 * max_;
  if (it == entries_.end() || stale) {
    entries_[key] = Entry{base_, now};
    return;
  }
  it->second.delay = std::min(it->second.delay * 2, max_);
  it->second.last_update = now;
}

std::string go_duration(milliseconds d) {
  if (d.count() == 0) return "0s";
  if (d < std::chrono::seconds(1)) return fmt::format("{}ms", d.count());
  int64_t ms = d.count();
  int64_t hours = ms / 3600000, minutes = ms / 60000 % 60, seconds = ms / 1000 % 60, frac = ms % 1000;
  std::string secs = std::to_string(seconds);
  if (frac != 0) {
    std::string f = fmt::format("{:03}", frac);
    while (f.back() == '0') f.pop_back();
    secs += "." + f;
  }
  if (hours > 0) return fmt::format("{}h{}m{}s", hours, minutes, secs);
  if (minutes > 0) return fmt::format("{}m{}s", minutes, secs);
  return secs + "s";
}

}  // namespace deckhand::agent
