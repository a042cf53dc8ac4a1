#include "deckhand/controllers/node_lifecycle_controller.h"

#include <algorithm>

#include "deckhand/client/informer.h"
#include "deckhand/common/log.h"

namespace deckhand::controllers {

namespace res = client::resources;

namespace {
constexpr const char* kLeaseNamespace = "kube-node-lease";
}

bool mark_node_status_unknown(Json& node, Clock::time_point now) {
  if (!node["status"].is_object()) node["status"] = Json::object();
  Json& conds = node["status"]["conditions"];
  if (!conds.is_array()) conds = Json::array();
  bool has_ready = false, changed = false;
  for (auto& c : conds) {
    if (!c.is_object()) continue;
    std::string type = c.value("type", "");
    has_ready = has_ready || type == "Ready";
    if (type != "Ready" && type != "MemoryPressure" && type != "DiskPressure" && type != "PIDPressure") continue;
    if (c.value("status", "") == "Unknown") continue;
    c["status"] = "Unknown";
    c["reason"] = "NodeStatusUnknown";
    c["message"] = "Kubelet stopped posting node status.";
    c["lastTransitionTime"] = format_time(now);
    changed = true;
  }
  if (!has_ready) {
    conds.push_back({{"type", "Ready"},
                     {"status", "Unknown"},
                     {"reason", "NodeStatusNeverUpdated"},
                     {"message", "Kubelet never posted node status."},
                     {"lastTransitionTime", format_time(now)}});
    changed = true;
  }
  return changed;
}

std::vector<std::string> wanted_lifecycle_taints(const Json& node) {
  // No Ready condition yet: a node still registering; staleness marks it
  // Unknown in time if it never posts.
  const Json* ready = find_condition(node, "Ready");
  if (ready == nullptr) return {};
  std::string status = ready->value("status", "");
  if (status == "True") return {};
  if (status == "False") return {kTaintNotReady};
  return {kTaintUnreachable};
}

std::optional<Json> reconcile_lifecycle_taints(const Json& node, const std::vector<std::string>& wanted,
                                               Clock::time_point now) {
  const Json& current = field(node, {"spec", "taints"});
  Json out = Json::array();
  bool changed = false;
  std::vector<std::string> present;
  if (current.is_array())
    for (const auto& t : current) {
      std::string key = string_field(t, {"key"});
      bool lifecycle = (key == kTaintUnreachable || key == kTaintNotReady) && string_field(t, {"effect"}) == "NoExecute";
      if (lifecycle && std::find(wanted.begin(), wanted.end(), key) == wanted.end()) {
        changed = true;  // dropped
        continue;
      }
      if (lifecycle) present.push_back(key);
      out.push_back(t);
    }
  for (const auto& key : wanted)
    if (std::find(present.begin(), present.end(), key) == present.end()) {
      out.push_back({{"key", key}, {"effect", "NoExecute"}, {"timeAdded", format_time(now)}});
      changed = true;
    }
  if (!changed) return std::nullopt;
  return out;
}

NodeLifecycleController::NodeLifecycleController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers,
                                                 NodeLifecycleOptions options)
    : api_(std::move(api)),
      informers_(informers),
      options_(options),
      workers_("nodelifecycle", queue_, [this](const std::string& key) { return sync(key); }) {
  auto enqueue_node = [this](const Json& node) { queue_.add(name_of(node)); };
  informers_.subscribe(res::kNodes, {enqueue_node, [enqueue_node](const Json&, const Json& n) { enqueue_node(n); },
                                     [this](const Json& n) {
                                       std::lock_guard lock(mu_);
                                       observed_.erase(name_of(n));
                                     }});
  auto lease_changed = [this](const Json& lease) {
    if (namespace_of(lease) != kLeaseNamespace) return;
    observe_lease(lease);
    queue_.add(name_of(lease));
  };
  informers_.subscribe(res::kLeases, {lease_changed, [lease_changed](const Json&, const Json& l) { lease_changed(l); },
                                      {}});
  auto pod_changed = [this](const Json& pod) {
    if (auto node = string_field(pod, {"spec", "nodeName"}); !node.empty()) queue_.add(node);
  };
  informers_.subscribe(res::kPods, {pod_changed, [pod_changed](const Json&, const Json& p) { pod_changed(p); }, {}});
}

NodeLifecycleController::~NodeLifecycleController() { stop(); }

void NodeLifecycleController::run(int workers) {
  workers_.start(workers);
  ticker_ = std::thread([this] { tick(); });
}

void NodeLifecycleController::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  workers_.stop();
}

// Every monitor period, every node is looked at: staleness is the passing
// of time, which no informer event announces.
void NodeLifecycleController::tick() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    for (const auto& node : informers_.list(res::kNodes)) queue_.add(name_of(node));
    lock.lock();
    wake_.wait_for(lock, options_.monitor_period, [this] { return stopping_; });
  }
}

void NodeLifecycleController::observe_lease(const Json& lease) {
  std::string renew = string_field(lease, {"spec", "renewTime"});
  std::lock_guard lock(mu_);
  auto& seen = observed_[name_of(lease)];
  if (seen.at == std::chrono::steady_clock::time_point{} || seen.renew_time != renew) {
    seen.renew_time = renew;
    seen.at = std::chrono::steady_clock::now();
  }
}

// Stale when the Lease has not changed for the grace period since we first
// saw the node (a node with no Lease counts from then too).
bool NodeLifecycleController::lease_stale(const std::string& node_name) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  auto [it, inserted] = observed_.try_emplace(node_name, Observed{"", now});
  return now - it->second.at > options_.grace_period;
}

Result<SyncResult> NodeLifecycleController::sync(const std::string& node_name) {
  auto cached = informers_.get(res::kNodes, node_name);
  if (!cached) return SyncResult{};
  Json node = *cached;
  auto now = Clock::now();
  if (lease_stale(node_name) && mark_node_status_unknown(node, now)) {
    log::get("controller-manager")->info("nodelifecycle: node {} stopped posting status", node_name);
    auto updated = api_->update_status(res::kNodes, node);
    if (!updated) return tl::unexpected(updated.error().context("mark node {} unknown", node_name));
    node = std::move(*updated);
  }
  if (auto taints = reconcile_lifecycle_taints(node, wanted_lifecycle_taints(node), now)) {
    node["spec"]["taints"] = std::move(*taints);
    auto updated = api_->update(res::kNodes, node);
    if (!updated) return tl::unexpected(updated.error().context("update taints of node {}", node_name));
    node = std::move(*updated);
  }
  DH_TRY(next_eviction, evict_pods(node));
  auto wait = options_.monitor_period;
  if (next_eviction) {
    auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*next_eviction - Clock::now());
    wait = std::clamp(until + std::chrono::milliseconds(100), std::chrono::milliseconds(100), wait);
    return SyncResult{wait};
  }
  return SyncResult{};
}

// Deletes the pods whose time is up; returns when the next one's is.
Result<std::optional<Clock::time_point>> NodeLifecycleController::evict_pods(const Json& node) {
  auto taints = node_taints(node);
  bool no_execute = std::any_of(taints.begin(), taints.end(), [](const Taint& t) { return t.effect == "NoExecute"; });
  if (!no_execute) return std::optional<Clock::time_point>{};
  std::optional<Clock::time_point> next;
  auto now = Clock::now();
  Status result;
  for (const auto& pod : informers_.list(res::kPods)) {
    if (string_field(pod, {"spec", "nodeName"}) != name_of(node) || is_terminating(pod)) continue;
    auto at = eviction_time(pod_tolerations(field(pod, {"spec"})), taints);
    if (!at) continue;
    if (*at > now) {
      next = next ? std::min(*next, *at) : *at;
      continue;
    }
    log::get("controller-manager")->info("nodelifecycle: evicting pod {} from node {}", client::object_key(pod),
                                         name_of(node));
    auto st = api_->remove(res::kPods, namespace_of(pod), name_of(pod), {{"preconditions", {{"uid", uid_of(pod)}}}});
    if (!st && st.error().kind != ErrorKind::NotFound && result) result = st;
  }
  if (!result) return tl::unexpected(result.error());
  return next;
}

}  // namespace deckhand::controllers
