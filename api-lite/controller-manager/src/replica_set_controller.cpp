// The ReplicaSet controller's loop: informer events to keys, and sync(key).
#include <algorithm>
#include <mutex>
#include <thread>

#include "deckhand/api/selector.h"
#include "deckhand/client/informer.h"
#include "deckhand/common/log.h"
#include "deckhand/controllers/ownership.h"
#include "deckhand/controllers/replica_set_controller.h"

namespace deckhand::controllers {

namespace res = client::resources;

ReplicaSetController::ReplicaSetController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers,
                                           ReplicaSetControllerOptions options)
    : api_(std::move(api)),
      informers_(informers),
      options_(options),
      workers_("replicaset", queue_, [this](const std::string& key) { return sync(key); }) {
  auto enqueue = [this](const Json& rs) { queue_.add(client::object_key(rs)); };
  informers_.subscribe(res::kReplicaSets, {enqueue, [enqueue](const Json&, const Json& rs) { enqueue(rs); },
                                           [this](const Json& rs) {
                                             expectations_.forget(client::object_key(rs));
                                             queue_.add(client::object_key(rs));
                                           }});
  informers_.subscribe(res::kPods, {[this](const Json& p) { on_pod_add(p); },
                                    [this](const Json& o, const Json& n) { on_pod_update(o, n); },
                                    [this](const Json& p) { on_pod_delete(p); }});
}

ReplicaSetController::~ReplicaSetController() { stop(); }

void ReplicaSetController::run(int workers) { workers_.start(workers); }
void ReplicaSetController::stop() { workers_.stop(); }

// The ReplicaSet a pod's controller reference names, if it is still that one.
std::optional<Json> ReplicaSetController::owner_of(const Json& pod) {
  return controlling_owner(informers_, res::kReplicaSets, pod);
}

// An orphan: every ReplicaSet that might adopt it looks again.
void ReplicaSetController::enqueue_matching(const Json& pod) {
  for (const auto& rs : informers_.list(res::kReplicaSets, namespace_of(pod))) {
    auto sel = api::LabelSelector::from_json(field(rs, {"spec", "selector"}));
    if (sel && !sel->empty() && sel->matches_object(pod)) queue_.add(client::object_key(rs));
  }
}

void ReplicaSetController::on_pod_add(const Json& pod) {
  if (is_terminating(pod)) return on_pod_delete(pod);
  if (auto rs = owner_of(pod)) {
    expectations_.creation_observed(client::object_key(*rs));
    queue_.add(client::object_key(*rs));
  } else if (!controller_ref(pod)) {
    enqueue_matching(pod);
  }
}

void ReplicaSetController::on_pod_update(const Json& old_pod, const Json& new_pod) {
  if (is_terminating(new_pod) && !is_terminating(old_pod)) on_pod_delete(new_pod);
  auto old_ref = controller_ref(old_pod), new_ref = controller_ref(new_pod);
  if (old_ref && old_ref != new_ref)
    if (auto rs = owner_of(old_pod)) queue_.add(client::object_key(*rs));
  if (auto rs = owner_of(new_pod)) {
    queue_.add(client::object_key(*rs));
    // Availability comes minReadySeconds after readiness: look again then.
    int64_t min_ready = int_field(*rs, {"spec", "minReadySeconds"}, 0);
    if (min_ready > 0 && pod_is_ready(new_pod) && !pod_is_ready(old_pod))
      queue_.add_after(client::object_key(*rs), std::chrono::seconds(min_ready) + std::chrono::milliseconds(100));
  } else if (!new_ref && (labels_of(old_pod) != labels_of(new_pod) || old_ref)) {
    enqueue_matching(new_pod);
  }
}

void ReplicaSetController::on_pod_delete(const Json& pod) {
  if (auto rs = owner_of(pod)) {
    std::string key = client::object_key(*rs);
    expectations_.deletion_observed(key, client::object_key(pod));
    queue_.add(key);
  }
}

Result<std::vector<Json>> ReplicaSetController::claim_pods(const Json& rs, const std::vector<Json>& pods) {
  auto sel = api::LabelSelector::from_json(field(rs, {"spec", "selector"}));
  if (!sel) return fail(ErrorKind::InvalidArgument, "replicaset {}: selector: {}", name_of(rs), sel.error().message);
  if (sel->empty()) return std::vector<Json>{};  // an empty selector would claim everything: claim nothing
  return claim_objects(*api_, res::kPods, rs, {"apps/v1", "ReplicaSet"}, *sel, pods);
}

Result<SyncResult> ReplicaSetController::sync(const std::string& key) {
  auto rs = informers_.get(res::kReplicaSets, key);
  if (!rs) {
    expectations_.forget(key);
    return SyncResult{};
  }
  // Ask the expectations before listing: a creation observed in between
  // then shows in the list.
  bool need_manage = expectations_.satisfied(key) && !is_terminating(*rs);
  std::vector<Json> active;
  for (auto& pod : informers_.list(res::kPods, namespace_of(*rs)))
    if (pod_is_active(pod)) active.push_back(std::move(pod));
  DH_TRY(owned, claim_pods(*rs, active));
  Status managed = need_manage ? manage_replicas(key, *rs, owned) : Status{};
  DH_CHECK(update_status(*rs, owned));
  if (!managed) return tl::unexpected(managed.error());
  int64_t min_ready = int_field(*rs, {"spec", "minReadySeconds"}, 0);
  auto status = replica_set_status(*rs, owned, Clock::now());
  if (min_ready > 0 && status["readyReplicas"] != status["availableReplicas"])
    return SyncResult{std::chrono::seconds(1)};
  return SyncResult{};
}

Status ReplicaSetController::manage_replicas(const std::string& key, const Json& rs, const std::vector<Json>& pods) {
  int64_t want = int_field(rs, {"spec", "replicas"}, 1);
  int64_t diff = static_cast<int64_t>(pods.size()) - want;
  if (diff < 0) {
    int count = static_cast<int>(std::min<int64_t>(-diff, options_.burst_replicas));
    return create_pods(key, rs, count);
  }
  if (diff == 0) return {};
  auto doomed = pods_to_delete(pods, static_cast<size_t>(std::min<int64_t>(diff, options_.burst_replicas)));
  std::set<std::string> keys;
  for (const auto& p : doomed) keys.insert(client::object_key(p));
  expectations_.expect_deletions(key, keys);
  return delete_expected_pods(*api_, expectations_, key, doomed);
}

// Creates in batches of 1, 2, 4, ...: a systematic failure (quota, a bad
// template) then costs one call, not hundreds.
Status ReplicaSetController::create_pods(const std::string& key, const Json& rs, int count) {
  expectations_.expect_creations(key, count);
  Json pod = pod_from_template(rs);
  int done = 0;
  for (int batch : slow_start_batches(count)) {
    std::mutex mu;
    std::optional<Error> first_error;
    int created = 0;
    auto create_one = [&] {
      auto r = api_->create(res::kPods, namespace_of(rs), pod);
      std::lock_guard lock(mu);
      if (r) ++created;
      else if (!first_error) first_error = r.error();
    };
    std::vector<std::thread> threads;
    int parallel = std::min(batch, 8);
    for (int t = 0; t < parallel; ++t)
      threads.emplace_back([&, t] {
        for (int i = t; i < batch; i += parallel) create_one();
      });
    for (auto& th : threads) th.join();
    done += batch;
    for (int i = created; i < batch; ++i) expectations_.creation_observed(key);
    if (first_error) {
      for (int i = done; i < count; ++i) expectations_.creation_observed(key);  // never tried
      return tl::unexpected(first_error->context("create pods of replicaset {}", key));
    }
  }
  return {};
}

Status ReplicaSetController::update_status(const Json& rs, const std::vector<Json>& pods) {
  Json status = replica_set_status(rs, pods, Clock::now());
  if (field(rs, {"status"}) == status) return {};
  Json updated = rs;
  updated["status"] = status;
  auto r = api_->update_status(res::kReplicaSets, updated);
  if (!r && r.error().kind == ErrorKind::NotFound) return {};
  if (!r) return tl::unexpected(r.error().context("update status of replicaset {}", name_of(rs)));
  return {};
}

}  // namespace deckhand::controllers
