#include "deckhand/controllers/expectations.h"

namespace deckhand::controllers {

void Expectations::expect_creations(const std::string& controller_key, int count) {
  std::lock_guard lock(mu_);
  pending_[controller_key] = Pending{count, {}, std::chrono::steady_clock::now()};
}

void Expectations::expect_deletions(const std::string& controller_key, const std::set<std::string>& pod_keys) {
  std::lock_guard lock(mu_);
  pending_[controller_key] = Pending{0, pod_keys, std::chrono::steady_clock::now()};
}

void Expectations::creation_observed(const std::string& controller_key) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(controller_key);
  if (it != pending_.end() && it->second.creations > 0) --it->second.creations;
}

void Expectations::deletion_observed(const std::string& controller_key, const std::string& pod_key) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(controller_key);
  if (it != pending_.end()) it->second.deletions.erase(pod_key);
}

bool Expectations::satisfied(const std::string& controller_key) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(controller_key);
  if (it == pending_.end()) return true;
  const Pending& p = it->second;
  if (p.creations <= 0 && p.deletions.empty()) return true;
  return std::chrono::steady_clock::now() - p.since > ttl_;
}

void Expectations::forget(const std::string& controller_key) {
  std::lock_guard lock(mu_);
  pending_.erase(controller_key);
}

}  // namespace deckhand::controllers
