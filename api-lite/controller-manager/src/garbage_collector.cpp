#include "deckhand/controllers/garbage_collector.h"

#include <algorithm>

#include "deckhand/client/informer.h"
#include "deckhand/common/log.h"
#include "deckhand/controllers/objects.h"

namespace deckhand::controllers {

namespace res = client::resources;

std::vector<client::Resource> default_gc_resources() {
  return {res::kPods,     res::kReplicaSets, res::kDeployments, res::kDaemonSets, res::kControllerRevisions,
          res::kJobs,     res::kServices,    res::kEndpoints,   res::kConfigMaps,  res::kSecrets};
}

OwnerState owner_state(const std::optional<Json>& owner, const std::string& ref_uid) {
  if (!owner || uid_of(*owner) != ref_uid) return OwnerState::Dangling;
  if (is_terminating(*owner) && has_finalizer(*owner, "foregroundDeletion")) return OwnerState::WaitingForDependents;
  return OwnerState::Solid;
}

GcVerdict gc_verdict(const Json& obj, const std::vector<OwnerState>& owners, bool has_dependents) {
  if (owners.empty() || is_terminating(obj)) return GcVerdict::Keep;
  auto count = [&](OwnerState s) { return std::count(owners.begin(), owners.end(), s); };
  if (count(OwnerState::Solid) > 0) return count(OwnerState::Solid) == static_cast<long>(owners.size()) ? GcVerdict::Keep : GcVerdict::RemoveRefs;
  if (count(OwnerState::WaitingForDependents) > 0)
    return has_dependents ? GcVerdict::DeleteForeground : GcVerdict::DeleteBackground;
  if (has_finalizer(obj, "orphan")) return GcVerdict::DeleteOrphan;
  if (has_finalizer(obj, "foregroundDeletion")) return GcVerdict::DeleteForeground;
  return GcVerdict::DeleteBackground;
}

GarbageCollector::GarbageCollector(std::shared_ptr<client::ApiClient> api, SharedInformers& informers,
                                   std::vector<client::Resource> resources)
    : api_(std::move(api)),
      informers_(informers),
      resources_(std::move(resources)),
      workers_("garbagecollector", queue_, [this](const std::string& item) { return sync(item); }) {
  for (size_t i = 0; i < resources_.size(); ++i) {
    informers_.subscribe(resources_[i], {[this, i](const Json& obj) { on_change(i, nullptr, obj); },
                                         [this, i](const Json& o, const Json& n) { on_change(i, &o, n); },
                                         [this, i](const Json& obj) { on_delete(i, obj); }});
  }
}

GarbageCollector::~GarbageCollector() { stop(); }

void GarbageCollector::run(int workers) { workers_.start(workers); }
void GarbageCollector::stop() { workers_.stop(); }

void GarbageCollector::enqueue(const char* kind, size_t resource, const std::string& key) {
  queue_.add(std::string(kind) + "|" + std::to_string(resource) + "|" + key);
}

void GarbageCollector::index(size_t resource, const Json& obj) {
  std::string uid = uid_of(obj);
  if (uid.empty()) return;
  std::lock_guard lock(mu_);
  Node node{resource, client::object_key(obj)};
  by_uid_[uid] = node;
  for (const auto& owner : owners_[uid]) dependents_[owner].erase(node);
  std::vector<std::string> owners;
  for (const auto& ref : owner_references(obj)) {
    std::string owner = ref.value("uid", "");
    if (owner.empty()) continue;
    dependents_[owner].insert(node);
    owners.push_back(owner);
  }
  owners_[uid] = std::move(owners);
}

void GarbageCollector::unindex(const Json& obj) {
  std::string uid = uid_of(obj);
  std::lock_guard lock(mu_);
  auto node = by_uid_.find(uid);
  if (node == by_uid_.end()) return;
  for (const auto& owner : owners_[uid]) {
    auto deps = dependents_.find(owner);
    if (deps == dependents_.end()) continue;
    deps->second.erase(node->second);
    if (deps->second.empty()) dependents_.erase(deps);
  }
  owners_.erase(uid);
  by_uid_.erase(node);
}

std::vector<GarbageCollector::Node> GarbageCollector::dependents_of(const std::string& uid) {
  std::lock_guard lock(mu_);
  auto it = dependents_.find(uid);
  if (it == dependents_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

void GarbageCollector::on_change(size_t resource, const Json* old_obj, const Json& obj) {
  index(resource, obj);
  std::string key = client::object_key(obj);
  bool refs_changed = !old_obj || owner_references(*old_obj) != owner_references(obj);
  if (!owner_references(obj).empty() && refs_changed) enqueue("dependent", resource, key);
  if (is_terminating(obj) && (has_finalizer(obj, "foregroundDeletion") || has_finalizer(obj, "orphan")))
    enqueue("owner", resource, key);
}

void GarbageCollector::on_delete(size_t resource, const Json& obj) {
  (void)resource;
  for (const auto& dep : dependents_of(uid_of(obj))) enqueue("dependent", dep.resource, dep.key);
  // Owners waiting in the foreground for this one to go may be done now.
  for (const auto& ref : owner_references(obj)) {
    std::lock_guard lock(mu_);
    auto owner = by_uid_.find(ref.value("uid", ""));
    if (owner != by_uid_.end()) queue_.add("owner|" + std::to_string(owner->second.resource) + "|" + owner->second.key);
  }
  unindex(obj);
}

Result<SyncResult> GarbageCollector::sync(const std::string& item) {
  auto first = item.find('|'), second = item.find('|', first + 1);
  if (first == std::string::npos || second == std::string::npos) return SyncResult{};
  size_t resource = std::stoul(item.substr(first + 1, second - first - 1));
  std::string key = item.substr(second + 1);
  if (resource >= resources_.size()) return SyncResult{};
  return item.compare(0, first, "owner") == 0 ? sync_owner(resource, key) : sync_dependent(resource, key);
}

namespace {

// The resource of an owner reference's apiVersion and kind, if we know it.
std::optional<client::Resource> resource_of_kind(const std::string& api_version, const std::string& kind) {
  std::string group = api_version.find('/') == std::string::npos ? "" : api_version.substr(0, api_version.find('/'));
  for (const auto* r : {&res::kPods, &res::kNodes, &res::kNamespaces, &res::kServices, &res::kEndpoints, &res::kEvents,
                        &res::kConfigMaps, &res::kSecrets, &res::kServiceAccounts, &res::kLeases, &res::kDeployments,
                        &res::kReplicaSets, &res::kDaemonSets, &res::kControllerRevisions, &res::kJobs})
    if (r->kind == kind && r->group == group) return *r;
  return std::nullopt;
}

}  // namespace

// The owner a reference names as it is now: the cached copy when the cache
// has that uid, else a GET (the cache may lag behind a new owner).
Result<std::optional<Json>> GarbageCollector::find_owner(const Json& ref, const std::string& dependent_ns) {
  std::string uid = ref.value("uid", "");
  std::optional<Node> cached;
  {
    std::lock_guard lock(mu_);
    if (auto it = by_uid_.find(uid); it != by_uid_.end()) cached = it->second;
  }
  if (cached)
    if (auto obj = informers_.get(resources_[cached->resource], cached->key); obj && uid_of(*obj) == uid) return obj;
  auto r = resource_of_kind(ref.value("apiVersion", ""), ref.value("kind", ""));
  if (!r) return fail(ErrorKind::Unimplemented, "owner kind {} {} unknown", ref.value("apiVersion", ""),
                      ref.value("kind", ""));
  auto live = api_->get(*r, r->namespaced ? dependent_ns : "", ref.value("name", ""));
  if (!live && live.error().kind == ErrorKind::NotFound) return std::optional<Json>{};
  if (!live) return tl::unexpected(live.error());
  return std::optional<Json>{std::move(*live)};
}

Result<SyncResult> GarbageCollector::sync_dependent(size_t resource, const std::string& key) {
  auto obj = informers_.get(resources_[resource], key);
  if (!obj || is_terminating(*obj)) return SyncResult{};
  Json refs = owner_references(*obj);
  std::vector<OwnerState> states;
  std::set<std::string> not_solid;
  for (const auto& ref : refs) {
    auto owner = find_owner(ref, namespace_of(*obj));
    if (!owner && owner.error().kind == ErrorKind::Unimplemented) {
      states.push_back(OwnerState::Solid);  // we cannot tell: keep the object
      continue;
    }
    if (!owner) return tl::unexpected(owner.error());
    OwnerState s = owner_state(*owner, ref.value("uid", ""));
    states.push_back(s);
    if (s != OwnerState::Solid) not_solid.insert(ref.value("uid", ""));
  }
  GcVerdict verdict = gc_verdict(*obj, states, !dependents_of(uid_of(*obj)).empty());
  const auto& r = resources_[resource];
  auto remove = [&](const char* policy) -> Result<SyncResult> {
    log::get("controller-manager")->info("garbagecollector: deleting {} {} ({})", r.kind, key, policy);
    Json opts = {{"propagationPolicy", policy}, {"preconditions", {{"uid", uid_of(*obj)}}}};
    auto st = api_->remove(r, namespace_of(*obj), name_of(*obj), opts);
    if (!st && st.error().kind != ErrorKind::NotFound) return tl::unexpected(st.error());
    return SyncResult{};
  };
  switch (verdict) {
    case GcVerdict::Keep:
      return SyncResult{};
    case GcVerdict::RemoveRefs:
      DH_CHECK(remove_owner_refs(resource, *obj, not_solid));
      return SyncResult{};
    case GcVerdict::DeleteBackground:
      return remove("Background");
    case GcVerdict::DeleteForeground:
      return remove("Foreground");
    case GcVerdict::DeleteOrphan:
      return remove("Orphan");
  }
  return SyncResult{};
}

Result<SyncResult> GarbageCollector::sync_owner(size_t resource, const std::string& key) {
  auto obj = informers_.get(resources_[resource], key);
  if (!obj || !is_terminating(*obj)) return SyncResult{};
  std::string uid = uid_of(*obj);
  auto deps = dependents_of(uid);
  if (has_finalizer(*obj, "orphan")) {
    for (const auto& dep : deps)
      if (auto dep_obj = informers_.get(resources_[dep.resource], dep.key))
        DH_CHECK(remove_owner_refs(dep.resource, *dep_obj, {uid}));
    DH_CHECK(remove_finalizer(resource, *obj, "orphan"));
    return SyncResult{};
  }
  if (!has_finalizer(*obj, "foregroundDeletion")) return SyncResult{};
  bool blocked = false;
  for (const auto& dep : deps) {
    auto dep_obj = informers_.get(resources_[dep.resource], dep.key);
    if (!dep_obj) continue;
    for (const auto& ref : owner_references(*dep_obj))
      if (ref.value("uid", "") == uid && ref.value("blockOwnerDeletion", false)) blocked = true;
    if (!is_terminating(*dep_obj)) enqueue("dependent", dep.resource, dep.key);
  }
  if (blocked) return SyncResult{std::chrono::seconds(10)};  // their deletions bring us back sooner
  DH_CHECK(remove_finalizer(resource, *obj, "foregroundDeletion"));
  return SyncResult{};
}

Status GarbageCollector::remove_finalizer(size_t resource, const Json& obj, const std::string& finalizer) {
  Json kept = Json::array();
  for (const auto& f : field(obj, {"metadata", "finalizers"}))
    if (f != finalizer) kept.push_back(f);
  Json patch = {{"metadata", {{"finalizers", kept}, {"resourceVersion", meta_string(obj, "resourceVersion")}}}};
  auto r = api_->patch(resources_[resource], namespace_of(obj), name_of(obj), client::PatchType::Merge, patch);
  if (!r && r.error().kind != ErrorKind::NotFound) return tl::unexpected(r.error());
  return {};
}

Status GarbageCollector::remove_owner_refs(size_t resource, const Json& obj, const std::set<std::string>& owner_uids) {
  Json kept = Json::array();
  for (const auto& ref : owner_references(obj))
    if (!owner_uids.count(ref.value("uid", ""))) kept.push_back(ref);
  Json patch = {{"metadata", {{"ownerReferences", kept}, {"resourceVersion", meta_string(obj, "resourceVersion")}}}};
  auto r = api_->patch(resources_[resource], namespace_of(obj), name_of(obj), client::PatchType::Merge, patch);
  if (!r && r.error().kind != ErrorKind::NotFound) return tl::unexpected(r.error());
  return {};
}

}  // namespace deckhand::controllers
