// What a controller is waiting to see in its informers after its own
// creates and deletes, as kube-controller-manager's expectations: a sync
// that runs before the informer caught up must not act on the stale copy
// (that would create or delete twice). Expectations older than the TTL are
// treated as met, so that a lost watch event cannot stall a controller.
#pragma once

#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "deckhand/client/api_client.h"

namespace deckhand::controllers {

class Expectations {
 public:
  explicit Expectations(std::chrono::steady_clock::duration ttl = std::chrono::minutes(5)) : ttl_(ttl) {}

  // Replaces the expectations of `controller_key`.
  void expect_creations(const std::string& controller_key, int count);
  void expect_deletions(const std::string& controller_key, const std::set<std::string>& pod_keys);
  void creation_observed(const std::string& controller_key);
  // Idempotent: a pod seen deleted twice (terminating, then gone) counts once.
  void deletion_observed(const std::string& controller_key, const std::string& pod_key);
  // True when nothing is pending (or what is pending is older than the TTL).
  bool satisfied(const std::string& controller_key);
  void forget(const std::string& controller_key);

 private:
  struct Pending {
    int creations = 0;
    std::set<std::string> deletions;
    std::chrono::steady_clock::time_point since;
  };
  std::chrono::steady_clock::duration ttl_;
  std::mutex mu_;
  std::unordered_map<std::string, Pending> pending_;
};

// Deletes pods (each on the condition of its uid) whose deletions are
// expected under controller_key; one that did not happen is observed at
// once, as the informer will never show it. The first error but NotFound.
Status delete_expected_pods(client::ApiClient& api, Expectations& expectations, const std::string& controller_key,
                            const std::vector<Json>& pods);

}  // namespace deckhand::controllers
