// The Deployment controller's loop: informer events to keys, and sync(key)
// through one rollout step (at most one kind of change per sync, as
// kube-controller-manager: the next sync sees its effect first).
#include <algorithm>
#include <set>

#include "deckhand/api/selector.h"
#include "deckhand/client/informer.h"
#include "deckhand/controllers/deployment_controller.h"
#include "deckhand/controllers/ownership.h"

namespace deckhand::controllers {

namespace res = client::resources;

struct DeploymentController::Sets {
  std::optional<Json> new_rs;
  std::vector<Json> old_rs;  // oldest first
  std::vector<Json> all() const {
    std::vector<Json> v = old_rs;
    if (new_rs) v.push_back(*new_rs);
    return v;
  }
};

namespace {

bool created_before(const Json& a, const Json& b) {
  auto ta = creation_time(a), tb = creation_time(b);
  if (ta != tb) return ta < tb;
  return name_of(a) < name_of(b);
}

bool is_recreate(const Json& d) { return string_field(d, {"spec", "strategy", "type"}) == "Recreate"; }

// The deployment's annotations a ReplicaSet carries too (not its own bookkeeping).
void copy_annotations(const Json& d, Json& rs) {
  static const std::set<std::string> kSkip = {"kubectl.kubernetes.io/last-applied-configuration",
                                              kRevisionAnnotation,
                                              "deployment.kubernetes.io/revision-history",
                                              kDesiredReplicasAnnotation,
                                              kMaxReplicasAnnotation,
                                              "deprecated.deployment.rollback.to"};
  const Json& from = field(d, {"metadata", "annotations"});
  if (!from.is_object()) return;
  for (auto it = from.begin(); it != from.end(); ++it)
    if (!kSkip.count(it.key())) rs["metadata"]["annotations"][it.key()] = it.value();
}

bool scaling_event(const Json& d, const std::vector<Json>& all_rs) {
  for (const auto& rs : all_rs) {
    if (replicas_of(rs) == 0) continue;
    std::string desired = annotation(rs, kDesiredReplicasAnnotation);
    if (!desired.empty() && desired != std::to_string(replicas_of(d))) return true;
  }
  return false;
}

}  // namespace

DeploymentController::DeploymentController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers)
    : api_(std::move(api)),
      informers_(informers),
      workers_("deployment", queue_, [this](const std::string& key) { return sync(key); }) {
  auto enqueue = [this](const Json& d) { queue_.add(client::object_key(d)); };
  informers_.subscribe(res::kDeployments, {enqueue, [enqueue](const Json&, const Json& d) { enqueue(d); }, enqueue});
  informers_.subscribe(res::kReplicaSets, {[this](const Json& rs) { on_rs_change(rs); },
                                           [this](const Json& o, const Json& n) { on_rs_update(o, n); },
                                           [this](const Json& rs) { on_rs_change(rs); }});
  informers_.subscribe(res::kPods, {nullptr, nullptr, [this](const Json& p) { on_pod_delete(p); }});
}

DeploymentController::~DeploymentController() { stop(); }

void DeploymentController::run(int workers) { workers_.start(workers); }
void DeploymentController::stop() { workers_.stop(); }

std::optional<Json> DeploymentController::owner_of(const Json& rs) {
  return controlling_owner(informers_, res::kDeployments, rs);
}

void DeploymentController::on_rs_change(const Json& rs) {
  if (auto d = owner_of(rs)) return queue_.add(client::object_key(*d));
  if (controller_ref(rs)) return;
  for (const auto& d : informers_.list(res::kDeployments, namespace_of(rs))) {
    auto sel = api::LabelSelector::from_json(field(d, {"spec", "selector"}));
    if (sel && !sel->empty() && sel->matches_object(rs)) queue_.add(client::object_key(d));
  }
}

void DeploymentController::on_rs_update(const Json& old_rs, const Json& new_rs) {
  if (controller_ref(old_rs) != controller_ref(new_rs))
    if (auto d = owner_of(old_rs)) queue_.add(client::object_key(*d));
  on_rs_change(new_rs);
}

// Recreate waits for the old pods to be gone: their deletion is news.
void DeploymentController::on_pod_delete(const Json& pod) {
  auto ref = controller_ref(pod);
  if (!ref || ref->value("kind", "") != "ReplicaSet") return;
  auto rs = informers_.get(res::kReplicaSets, namespace_of(pod) + "/" + ref->value("name", ""));
  if (!rs) return;
  if (auto d = owner_of(*rs); d && is_recreate(*d)) queue_.add(client::object_key(*d));
}

Result<std::vector<Json>> DeploymentController::claim_replica_sets(const Json& d) {
  auto sel = api::LabelSelector::from_json(field(d, {"spec", "selector"}));
  if (!sel) return fail(ErrorKind::InvalidArgument, "deployment {}: selector: {}", name_of(d), sel.error().message);
  if (sel->empty()) return std::vector<Json>{};
  return claim_objects(*api_, res::kReplicaSets, d, {"apps/v1", "Deployment"}, *sel,
                       informers_.list(res::kReplicaSets, namespace_of(d)));
}

Result<SyncResult> DeploymentController::sync(const std::string& key) {
  auto found = informers_.get(res::kDeployments, key);
  if (!found) return SyncResult{};
  Json d = *found;
  DH_TRY(owned, claim_replica_sets(d));
  if (is_terminating(d)) {
    DH_TRY(sets, split_and_sync_revision(d, owned, false));
    return write_status(d, deployment_status(d, sets.all(), sets.new_rs, Clock::now()));
  }
  DH_CHECK(sync_paused_condition(d));
  if (field(d, {"spec", "paused"}) == true || scaling_event(d, owned)) return sync_scaling(d, owned);
  return is_recreate(d) ? rollout_recreate(d, owned) : rollout_rolling(d, owned);
}

// Splits the deployment's ReplicaSets into the one of its current template
// (made when `create`) and the old ones; the new one gets the next revision,
// and the deployment carries the new one's revision.
Result<DeploymentController::Sets> DeploymentController::split_and_sync_revision(Json& d, std::vector<Json> owned,
                                                                                 bool create) {
  std::sort(owned.begin(), owned.end(), created_before);
  Sets sets;
  const Json& tmpl = field(d, {"spec", "template"});
  for (auto& rs : owned) {
    if (!sets.new_rs && templates_equal_ignoring_hash(field(rs, {"spec", "template"}), tmpl)) sets.new_rs = rs;
    else sets.old_rs.push_back(rs);
  }
  int64_t revision = 1;
  for (const auto& rs : sets.old_rs) revision = std::max(revision, revision_of(rs) + 1);
  if (sets.new_rs) {
    DH_TRY(synced, sync_existing_new_rs(d, *sets.new_rs, revision));
    sets.new_rs = std::move(synced);
    if (field(d, {"spec", "progressDeadlineSeconds"}).is_number_integer() && !find_condition(d, "Progressing")) {
      Json updated = d;
      set_condition(updated["status"], "Progressing", "True", "FoundNewReplicaSet",
                    "Found new replica set \"" + name_of(*sets.new_rs) + "\"", Clock::now());
      DH_TRY(written, api_->update_status(res::kDeployments, updated));
      d = std::move(written);
    }
  } else if (create) {
    DH_TRY(created, create_new_rs(d, sets.old_rs, revision));
    sets.new_rs = std::move(created);
  }
  if (sets.new_rs) {
    std::string rev = annotation(*sets.new_rs, kRevisionAnnotation);
    if (!rev.empty() && annotation(d, kRevisionAnnotation) != rev) {
      Json updated = d;
      updated["metadata"]["annotations"][kRevisionAnnotation] = rev;
      DH_TRY(written, api_->update(res::kDeployments, updated));
      d = std::move(written);
    }
  }
  return sets;
}

Result<Json> DeploymentController::sync_existing_new_rs(const Json& d, Json rs, int64_t revision) {
  Json want = rs;
  copy_annotations(d, want);
  if (revision_of(rs) < revision) want["metadata"]["annotations"][kRevisionAnnotation] = std::to_string(revision);
  const Json& min_ready = field(d, {"spec", "minReadySeconds"});
  if (field(rs, {"spec", "minReadySeconds"}) != min_ready) {
    if (min_ready.is_null()) want["spec"].erase("minReadySeconds");
    else want["spec"]["minReadySeconds"] = min_ready;
  }
  if (want == rs) return rs;
  return with_context(api_->update(res::kReplicaSets, want), "update replicaset {}", name_of(rs));
}

Result<Json> DeploymentController::create_new_rs(Json& d, const std::vector<Json>& old_rs, int64_t revision) {
  const Json& collisions = field(d, {"status", "collisionCount"});
  std::optional<int64_t> collision_count;
  if (collisions.is_number_integer()) collision_count = collisions.get<int64_t>();
  std::string hash = pod_template_hash(field(d, {"spec", "template"}), collision_count);
  Json tmpl = field(d, {"spec", "template"});
  tmpl["metadata"]["labels"][kPodTemplateHashLabel] = hash;
  Json selector = field(d, {"spec", "selector"});
  selector["matchLabels"][kPodTemplateHashLabel] = hash;
  Json rs = {{"apiVersion", "apps/v1"},
             {"kind", "ReplicaSet"},
             {"metadata",
              {{"name", name_of(d) + "-" + hash},
               {"namespace", namespace_of(d)},
               {"labels", tmpl["metadata"]["labels"]},
               {"annotations", Json::object()},
               {"ownerReferences", Json::array({make_controller_ref(d, "apps/v1", "Deployment")})}}},
             {"spec", {{"replicas", 0}, {"selector", selector}, {"template", tmpl}}}};
  if (field(d, {"spec", "minReadySeconds"}).is_number_integer())
    rs["spec"]["minReadySeconds"] = field(d, {"spec", "minReadySeconds"});
  copy_annotations(d, rs);
  auto& annotations = rs["metadata"]["annotations"];
  annotations[kRevisionAnnotation] = std::to_string(revision);
  annotations[kDesiredReplicasAnnotation] = std::to_string(replicas_of(d));
  annotations[kMaxReplicasAnnotation] = std::to_string(replicas_of(d) + rollout_limits(d).max_surge);
  std::vector<Json> all = old_rs;
  all.push_back(rs);
  rs["spec"]["replicas"] = new_rs_replicas(d, all, rs);

  auto created = api_->create(res::kReplicaSets, namespace_of(d), rs);
  if (!created && created.error().kind == ErrorKind::AlreadyExists) {
    DH_TRY(existing, api_->get(res::kReplicaSets, namespace_of(d), name_of(rs)));
    auto ref = controller_ref(existing);
    if (ref && ref->value("uid", "") == uid_of(d) &&
        templates_equal_ignoring_hash(field(existing, {"spec", "template"}), field(d, {"spec", "template"})))
      return existing;
    // A different template hashed to the same name: hash again with a new count.
    Json updated = d;
    updated["status"]["collisionCount"] = collision_count.value_or(0) + 1;
    DH_TRY(written, api_->update_status(res::kDeployments, updated));
    d = std::move(written);
    return fail(ErrorKind::Unavailable, "replicaset {} exists with another template: hash collision, will retry",
                name_of(rs));
  }
  if (!created) return tl::unexpected(created.error().context("create replicaset {}", name_of(rs)));
  if (field(d, {"spec", "progressDeadlineSeconds"}).is_number_integer()) {
    Json updated = d;
    set_condition(updated["status"], "Progressing", "True", "NewReplicaSetCreated",
                  "Created new replica set \"" + name_of(*created) + "\"", Clock::now());
    DH_TRY(written, api_->update_status(res::kDeployments, updated));
    d = std::move(written);
  }
  return created;
}

Status DeploymentController::scale_rs(const Json& d, Json& rs, int64_t replicas) {
  Json want = rs;
  want["spec"]["replicas"] = replicas;
  want["metadata"]["annotations"][kDesiredReplicasAnnotation] = std::to_string(replicas_of(d));
  want["metadata"]["annotations"][kMaxReplicasAnnotation] =
      std::to_string(replicas_of(d) + rollout_limits(d).max_surge);
  if (want == rs) return {};
  DH_TRY(written, with_context(api_->update(res::kReplicaSets, want), "scale replicaset {} to {}", name_of(rs), replicas));
  rs = std::move(written);
  return {};
}

Result<SyncResult> DeploymentController::sync_scaling(Json& d, std::vector<Json> owned) {
  DH_TRY(sets, split_and_sync_revision(d, std::move(owned), false));
  DH_CHECK(scale_proportionally(d, sets));
  if (field(d, {"spec", "paused"}) == true) DH_CHECK(cleanup_history(d, sets.old_rs));
  return write_status(d, deployment_status(d, sets.all(), sets.new_rs, Clock::now()));
}

Status DeploymentController::scale_proportionally(const Json& d, Sets& sets) {
  std::vector<Json*> active;
  for (auto& rs : sets.old_rs)
    if (replicas_of(rs) > 0) active.push_back(&rs);
  if (sets.new_rs && replicas_of(*sets.new_rs) > 0) active.push_back(&*sets.new_rs);
  if (active.size() <= 1) {
    Json* target = !active.empty()         ? active[0]
                   : sets.new_rs           ? &*sets.new_rs
                   : !sets.old_rs.empty()  ? &sets.old_rs.back()
                                           : nullptr;
    if (target == nullptr) return {};
    return scale_rs(d, *target, replicas_of(d));
  }
  const Json* new_rs = sets.new_rs ? &*sets.new_rs : nullptr;
  bool saturated = new_rs && replicas_of(*new_rs) == replicas_of(d) &&
                   annotation(*new_rs, kDesiredReplicasAnnotation) == std::to_string(replicas_of(d)) &&
                   int_field(*new_rs, {"status", "availableReplicas"}, 0) == replicas_of(d);
  if (saturated) {
    for (auto& rs : sets.old_rs)
      if (replicas_of(rs) > 0) DH_CHECK(scale_rs(d, rs, 0));
    return {};
  }
  if (is_recreate(d)) return {};
  int64_t total = 0;
  for (auto* rs : active) total += replicas_of(*rs);
  bool growing = replicas_of(d) + rollout_limits(d).max_surge > total;
  // Largest first; among equals, newer first when growing and older first when shrinking.
  std::stable_sort(active.begin(), active.end(), [growing](const Json* a, const Json* b) {
    if (replicas_of(*a) != replicas_of(*b)) return replicas_of(*a) > replicas_of(*b);
    return growing ? created_before(*b, *a) : created_before(*a, *b);
  });
  std::vector<Json> ordered;
  for (auto* rs : active) ordered.push_back(*rs);
  auto sizes = proportional_sizes(d, ordered);
  for (size_t i = 0; i < active.size(); ++i) DH_CHECK(scale_rs(d, *active[i], sizes[i]));
  return {};
}

Result<SyncResult> DeploymentController::rollout_rolling(Json& d, std::vector<Json> owned) {
  DH_TRY(sets, split_and_sync_revision(d, std::move(owned), true));
  if (sets.new_rs) {
    int64_t want = replicas_of(d), now = replicas_of(*sets.new_rs);
    int64_t target = now >= want ? want : new_rs_replicas(d, sets.all(), *sets.new_rs);
    if (target != now) {
      DH_CHECK(scale_rs(d, *sets.new_rs, target));
      return rollout_status(d, sets);
    }
  }
  auto sizes = old_rs_scale_down(d, sets.old_rs, sets.new_rs);
  bool scaled = false;
  for (size_t i = 0; i < sets.old_rs.size(); ++i) {
    if (sizes[i] == replicas_of(sets.old_rs[i])) continue;
    DH_CHECK(scale_rs(d, sets.old_rs[i], sizes[i]));
    scaled = true;
  }
  if (!scaled && deployment_complete(d, deployment_status(d, sets.all(), sets.new_rs, Clock::now())))
    DH_CHECK(cleanup_history(d, sets.old_rs));
  return rollout_status(d, sets);
}

Result<SyncResult> DeploymentController::rollout_recreate(Json& d, std::vector<Json> owned) {
  DH_TRY(sets, split_and_sync_revision(d, owned, false));
  bool scaled = false;
  for (auto& rs : sets.old_rs) {
    if (replicas_of(rs) == 0) continue;
    DH_CHECK(scale_rs(d, rs, 0));
    scaled = true;
  }
  if (scaled || old_pods_running(sets.old_rs)) return rollout_status(d, sets);
  if (!sets.new_rs) {
    DH_TRY(with_new, split_and_sync_revision(d, std::move(owned), true));
    sets = std::move(with_new);
  }
  if (sets.new_rs && replicas_of(*sets.new_rs) != replicas_of(d)) {
    DH_CHECK(scale_rs(d, *sets.new_rs, replicas_of(d)));
    return rollout_status(d, sets);
  }
  if (deployment_complete(d, deployment_status(d, sets.all(), sets.new_rs, Clock::now())))
    DH_CHECK(cleanup_history(d, sets.old_rs));
  return rollout_status(d, sets);
}

bool DeploymentController::old_pods_running(const std::vector<Json>& old_rs) {
  std::set<std::string> uids;
  for (const auto& rs : old_rs) {
    if (int_field(rs, {"status", "replicas"}, 0) > 0) return true;
    uids.insert(uid_of(rs));
  }
  if (old_rs.empty()) return false;
  for (const auto& pod : informers_.list(res::kPods, namespace_of(old_rs.front()))) {
    auto ref = controller_ref(pod);
    std::string phase = pod_phase(pod);
    if (ref && uids.count(ref->value("uid", "")) && phase != "Failed" && phase != "Succeeded") return true;
  }
  return false;
}

Status DeploymentController::cleanup_history(const Json& d, const std::vector<Json>& old_rs) {
  const Json& limit_field = field(d, {"spec", "revisionHistoryLimit"});
  if (!limit_field.is_number_integer()) return {};
  std::vector<Json> alive;
  for (const auto& rs : old_rs)
    if (!is_terminating(rs)) alive.push_back(rs);
  int64_t excess = static_cast<int64_t>(alive.size()) - limit_field.get<int64_t>();
  if (excess <= 0) return {};
  std::stable_sort(alive.begin(), alive.end(), [](const Json& a, const Json& b) {
    if (revision_of(a) != revision_of(b)) return revision_of(a) < revision_of(b);
    return created_before(a, b);
  });
  for (int64_t i = 0; i < excess; ++i) {
    const Json& rs = alive[static_cast<size_t>(i)];
    if (int_field(rs, {"status", "replicas"}, 0) != 0 || replicas_of(rs) != 0 ||
        generation_of(rs) > int_field(rs, {"status", "observedGeneration"}, 0))
      continue;
    auto st = api_->remove(res::kReplicaSets, namespace_of(rs), name_of(rs), {{"preconditions", {{"uid", uid_of(rs)}}}});
    if (!st && st.error().kind != ErrorKind::NotFound) return st;
  }
  return {};
}

Result<SyncResult> DeploymentController::rollout_status(const Json& d, const Sets& sets) {
  auto now = Clock::now();
  Json status = deployment_status(d, sets.all(), sets.new_rs, now);
  update_progressing(d, status, sets.new_rs, now);
  return write_status(d, std::move(status));
}

Result<SyncResult> DeploymentController::write_status(const Json& d, Json status) {
  if (field(d, {"status"}) != status) {
    Json updated = d;
    updated["status"] = std::move(status);
    auto r = api_->update_status(res::kDeployments, updated);
    if (!r && r.error().kind != ErrorKind::NotFound)
      return tl::unexpected(r.error().context("update status of deployment {}", name_of(d)));
    return SyncResult{};
  }
  // Nothing changed: if a rollout is under way, look again when its deadline passes.
  const Json* progressing = find_condition(d, "Progressing");
  int64_t deadline = int_field(d, {"spec", "progressDeadlineSeconds"}, -1);
  if (progressing == nullptr || deadline < 0 || deployment_complete(d, status) ||
      progressing->value("reason", "") == "ProgressDeadlineExceeded")
    return SyncResult{};
  auto from = parse_time(progressing->value("lastUpdateTime", ""));
  if (!from) return SyncResult{};
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*from + std::chrono::seconds(deadline) - Clock::now());
  return SyncResult{std::max(left + std::chrono::seconds(1), std::chrono::milliseconds(1000))};
}

Status DeploymentController::sync_paused_condition(Json& d) {
  if (!field(d, {"spec", "progressDeadlineSeconds"}).is_number_integer()) return {};
  const Json* cond = find_condition(d, "Progressing");
  std::string reason = cond ? cond->value("reason", "") : "";
  bool paused = field(d, {"spec", "paused"}) == true;
  Json updated = d;
  if (paused && reason != "DeploymentPaused")
    set_condition(updated["status"], "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", Clock::now());
  else if (!paused && reason == "DeploymentPaused")
    set_condition(updated["status"], "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed",
                  Clock::now());
  else
    return {};
  DH_TRY(written, api_->update_status(res::kDeployments, updated));
  d = std::move(written);
  return {};
}

}  // namespace deckhand::controllers
