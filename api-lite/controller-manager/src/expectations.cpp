#include "deckhand/controllers/expectations.h"

#include "deckhand/client/informer.h"
#include "deckhand/controllers/objects.h"

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

Status delete_expected_pods(client::ApiClient& api, Expectations& expectations, const std::string& controller_key,
                            const std::vector<Json>& pods) {
  Status result;
  for (const auto& pod : pods) {
    Json opts = {{"preconditions", {{"uid", uid_of(pod)}}}};
    auto st = api.remove(client::resources::kPods, namespace_of(pod), name_of(pod), opts);
    if (!st) {
      expectations.deletion_observed(controller_key, client::object_key(pod));
      if (st.error().kind != ErrorKind::NotFound && result) result = st;
    }
  }
  return result;
}

}  // namespace deckhand::controllers
