#include "deckhand/controllers/daemon_set_controller.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "deckhand/client/informer.h"
#include "deckhand/common/log.h"
#include "deckhand/controllers/taints.h"

namespace deckhand::controllers {

namespace res = client::resources;

Json daemon_pod_tolerations(const Json& pod_spec) {
  Json out = field(pod_spec, {"tolerations"}).is_array() ? field(pod_spec, {"tolerations"}) : Json::array();
  auto add = [&](const char* key, const char* effect) {
    for (const auto& t : out)
      if (t.is_object() && t.value("key", "") == key && t.value("effect", "") == effect) return;
    out.push_back({{"key", key}, {"operator", "Exists"}, {"effect", effect}});
  };
  add(kTaintNotReady, "NoExecute");
  add(kTaintUnreachable, "NoExecute");
  add("node.kubernetes.io/disk-pressure", "NoSchedule");
  add("node.kubernetes.io/memory-pressure", "NoSchedule");
  add("node.kubernetes.io/pid-pressure", "NoSchedule");
  add("node.kubernetes.io/unschedulable", "NoSchedule");
  if (field(pod_spec, {"hostNetwork"}) == Json(true)) add("node.kubernetes.io/network-unavailable", "NoSchedule");
  return out;
}

namespace {

bool requirement_holds(const Json& req, const std::optional<std::string>& actual) {
  std::string op = string_field(req, {"operator"});
  std::vector<std::string> values;
  if (const Json& v = field(req, {"values"}); v.is_array())
    for (const auto& s : v)
      if (s.is_string()) values.push_back(s.get<std::string>());
  bool listed = actual && std::find(values.begin(), values.end(), *actual) != values.end();
  if (op == "In") return listed;
  if (op == "NotIn") return !listed;
  if (op == "Exists") return actual.has_value();
  if (op == "DoesNotExist") return !actual.has_value();
  if ((op == "Gt" || op == "Lt") && actual && values.size() == 1) {
    char* end = nullptr;
    long long have = std::strtoll(actual->c_str(), &end, 10);
    if (end == actual->c_str() || *end != '\0') return false;
    long long want = std::strtoll(values[0].c_str(), nullptr, 10);
    return op == "Gt" ? have > want : have < want;
  }
  return false;
}

// A NodeSelectorTerm: every requirement holds; an empty term matches nothing.
bool term_matches(const Json& term, const Json& node) {
  auto labels = labels_of(node);
  bool any = false;
  for (const char* kind : {"matchExpressions", "matchFields"}) {
    const Json& reqs = field(term, {kind});
    if (!reqs.is_array()) continue;
    for (const auto& req : reqs) {
      any = true;
      std::string key = string_field(req, {"key"});
      std::optional<std::string> actual;
      if (std::string(kind) == "matchFields") {
        if (key == "metadata.name") actual = name_of(node);
      } else if (auto it = labels.find(key); it != labels.end()) {
        actual = it->second;
      }
      if (!requirement_holds(req, actual)) return false;
    }
  }
  return any;
}

}  // namespace

bool node_matches_pod_placement(const Json& pod_spec, const Json& node) {
  auto labels = labels_of(node);
  if (const Json& sel = field(pod_spec, {"nodeSelector"}); sel.is_object())
    for (auto it = sel.begin(); it != sel.end(); ++it) {
      auto l = labels.find(it.key());
      if (l == labels.end() || !it.value().is_string() || l->second != it.value().get<std::string>()) return false;
    }
  const Json& terms =
      field(pod_spec, {"affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"});
  if (!terms.is_array()) return true;
  return std::any_of(terms.begin(), terms.end(), [&](const Json& t) { return term_matches(t, node); });
}

NodeEligibility daemon_node_eligibility(const Json& ds, const Json& node) {
  const Json& spec = field(ds, {"spec", "template", "spec"});
  if (!node_matches_pod_placement(spec, node)) return {};
  auto tolerations = api::parse_tolerations(daemon_pod_tolerations(spec));
  auto taints = node_taints(node);
  return {tolerates_all(tolerations, taints, {"NoSchedule", "NoExecute"}),
          tolerates_all(tolerations, taints, {"NoExecute"})};
}

std::string template_hash(const Json& ds) {
  // FNV-1a over the template's canonical dump (nlohmann sorts keys).
  uint32_t h = 2166136261u;
  for (unsigned char c : field(ds, {"spec", "template"}).dump()) {
    h ^= c;
    h *= 16777619u;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", h);
  return buf;
}

Json daemon_pod(const Json& ds, const std::string& node_name, const std::string& hash) {
  const Json& tmpl = field(ds, {"spec", "template"});
  Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}};
  pod["metadata"] = field(tmpl, {"metadata"}).is_object() ? field(tmpl, {"metadata"}) : Json::object();
  pod["metadata"].erase("name");
  pod["metadata"]["generateName"] = name_of(ds) + "-";
  pod["metadata"]["namespace"] = namespace_of(ds);
  pod["metadata"]["labels"]["controller-revision-hash"] = hash;
  pod["metadata"]["ownerReferences"] = Json::array({make_controller_ref(ds, "apps/v1", "DaemonSet")});
  pod["spec"] = field(tmpl, {"spec"}).is_object() ? field(tmpl, {"spec"}) : Json::object();
  pod["spec"]["tolerations"] = daemon_pod_tolerations(pod["spec"]);
  // As Kubernetes since 1.12: the scheduler places it, held to this node.
  Json term = {{"matchFields", Json::array({{{"key", "metadata.name"}, {"operator", "In"}, {"values", {node_name}}}})}};
  pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = {
      {"nodeSelectorTerms", Json::array({term})}};
  return pod;
}

std::string daemon_pod_node(const Json& pod) {
  if (auto bound = string_field(pod, {"spec", "nodeName"}); !bound.empty()) return bound;
  const Json& terms =
      field(pod, {"spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"});
  if (!terms.is_array()) return "";
  for (const auto& term : terms) {
    const Json& fields = field(term, {"matchFields"});
    if (!fields.is_array()) continue;
    for (const auto& req : fields) {
      const Json& values = field(req, {"values"});
      if (string_field(req, {"key"}) == "metadata.name" && string_field(req, {"operator"}) == "In" &&
          values.is_array() && values.size() == 1 && values[0].is_string())
        return values[0].get<std::string>();
    }
  }
  return "";
}

int max_unavailable(const Json& ds, int desired) {
  const Json& v = field(ds, {"spec", "updateStrategy", "rollingUpdate", "maxUnavailable"});
  int n = 1;
  if (v.is_number_integer()) n = v.get<int>();
  else if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (!s.empty() && s.back() == '%') n = std::atoi(s.c_str()) * desired / 100;  // rounds down, as Kubernetes
    else n = std::atoi(s.c_str());
  }
  return std::max(n, 1);
}

DaemonSetController::DaemonSetController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers)
    : api_(std::move(api)),
      informers_(informers),
      workers_("daemonset", queue_, [this](const std::string& key) { return sync(key); }) {
  auto enqueue = [this](const Json& ds) { queue_.add(client::object_key(ds)); };
  informers_.subscribe(res::kDaemonSets, {enqueue, [enqueue](const Json&, const Json& ds) { enqueue(ds); },
                                          [this](const Json& ds) { expectations_.forget(client::object_key(ds)); }});
  auto any_node = [this](const Json&) { enqueue_all(); };
  informers_.subscribe(res::kNodes, {any_node, [any_node](const Json&, const Json& n) { any_node(n); }, any_node});
  auto pod_seen = [this](const Json& pod, bool deleted) {
    auto ds = owner_of(pod);
    if (!ds) return;
    std::string key = client::object_key(*ds);
    if (deleted) expectations_.deletion_observed(key, client::object_key(pod));
    else expectations_.creation_observed(key);
    queue_.add(key);
  };
  informers_.subscribe(res::kPods, {[pod_seen](const Json& p) { pod_seen(p, is_terminating(p)); },
                                    [this, pod_seen](const Json& o, const Json& n) {
                                      if (is_terminating(n) && !is_terminating(o)) pod_seen(n, true);
                                      else if (auto ds = owner_of(n)) queue_.add(client::object_key(*ds));
                                    },
                                    [pod_seen](const Json& p) { pod_seen(p, true); }});
}

DaemonSetController::~DaemonSetController() { stop(); }
void DaemonSetController::run(int workers) { workers_.start(workers); }
void DaemonSetController::stop() { workers_.stop(); }

void DaemonSetController::enqueue_all() {
  for (const auto& ds : informers_.list(res::kDaemonSets)) queue_.add(client::object_key(ds));
}

std::optional<Json> DaemonSetController::owner_of(const Json& pod) {
  return controlling_owner(informers_, res::kDaemonSets, pod);
}

Result<SyncResult> DaemonSetController::sync(const std::string& key) {
  auto found = informers_.get(res::kDaemonSets, key);
  if (!found) {
    expectations_.forget(key);
    return SyncResult{};
  }
  const Json& ds = *found;
  if (is_terminating(ds)) return SyncResult{};
  bool need_manage = expectations_.satisfied(key);
  std::string hash = template_hash(ds);
  int64_t min_ready = int_field(ds, {"spec", "minReadySeconds"}, 0);
  auto now = Clock::now();

  std::map<std::string, std::vector<Json>> pods_by_node;
  for (auto& pod : informers_.list(res::kPods, namespace_of(ds))) {
    auto ref = controller_ref(pod);
    if (ref && ref->value("uid", "") == uid_of(ds) && !is_terminating(pod))
      pods_by_node[daemon_pod_node(pod)].push_back(std::move(pod));
  }
  std::vector<std::string> create_on;
  std::vector<Json> doomed;
  std::vector<Json> kept_old;  // running an old template, on a node that should run one
  int desired = 0, current = 0, misscheduled = 0, ready = 0, available = 0, updated = 0, unavailable = 0;
  for (const auto& node : informers_.list(res::kNodes)) {
    auto elig = daemon_node_eligibility(ds, node);
    auto it = pods_by_node.find(name_of(node));
    std::vector<Json> pods = it == pods_by_node.end() ? std::vector<Json>{} : std::move(it->second);
    if (it != pods_by_node.end()) pods_by_node.erase(it);
    if (elig.should_run) ++desired;
    if (pods.empty()) {
      if (elig.should_run) {
        create_on.push_back(name_of(node));
        ++unavailable;
      }
      continue;
    }
    if (!elig.should_keep_running) {
      ++misscheduled;
      doomed.insert(doomed.end(), pods.begin(), pods.end());
      continue;
    }
    // One pod per node: keep the oldest.
    std::sort(pods.begin(), pods.end(), [](const Json& a, const Json& b) {
      return meta_string(a, "creationTimestamp") < meta_string(b, "creationTimestamp");
    });
    doomed.insert(doomed.end(), pods.begin() + 1, pods.end());
    const Json& pod = pods.front();
    if (!elig.should_run) {
      ++misscheduled;
      continue;
    }
    ++current;
    bool is_available = pod_is_available(pod, min_ready, now);
    ready += pod_is_ready(pod) ? 1 : 0;
    available += is_available ? 1 : 0;
    unavailable += is_available ? 0 : 1;
    if (labels_of(pod)["controller-revision-hash"] == hash) ++updated;
    else kept_old.push_back(pod);
  }
  for (auto& [node, pods] : pods_by_node) doomed.insert(doomed.end(), pods.begin(), pods.end());  // nodes gone

  // Rolling update: old pods that are unavailable anyway go first, then
  // available ones while the unavailable stay within maxUnavailable.
  if (string_field(ds, {"spec", "updateStrategy", "type"}) != "OnDelete") {
    int budget = max_unavailable(ds, desired);
    std::stable_sort(kept_old.begin(), kept_old.end(), [&](const Json& a, const Json& b) {
      return !pod_is_available(a, min_ready, now) && pod_is_available(b, min_ready, now);
    });
    for (const auto& pod : kept_old) {
      if (!pod_is_available(pod, min_ready, now)) doomed.push_back(pod);
      else if (unavailable < budget) {
        doomed.push_back(pod);
        ++unavailable;
      }
    }
  }

  Status result;
  if (need_manage && (!create_on.empty() || !doomed.empty())) {
    std::set<std::string> doomed_keys;
    for (const auto& p : doomed) doomed_keys.insert(client::object_key(p));
    expectations_.expect_deletions(key, doomed_keys);
    expectations_.expect_creations(key, static_cast<int>(create_on.size()));
    for (const auto& node : create_on) {
      auto r = api_->create(res::kPods, namespace_of(ds), daemon_pod(ds, node, hash));
      if (!r) {
        expectations_.creation_observed(key);
        if (result) result = tl::unexpected(r.error().context("create daemon pod for node {}", node));
      }
    }
    if (auto deleted = delete_expected_pods(*api_, expectations_, key, doomed); !deleted && result) result = deleted;
  }
  Json status = {{"desiredNumberScheduled", desired},  {"currentNumberScheduled", current},
                 {"numberMisscheduled", misscheduled}, {"numberReady", ready},
                 {"numberAvailable", available},       {"numberUnavailable", std::max(desired - available, 0)},
                 {"updatedNumberScheduled", updated},  {"observedGeneration", generation_of(ds)}};
  DH_CHECK(update_status(ds, status));
  if (!result) return tl::unexpected(result.error());
  if (min_ready > 0 && ready != available) return SyncResult{std::chrono::seconds(1)};
  return SyncResult{};
}

Status DaemonSetController::update_status(const Json& ds, const Json& status) {
  Json merged = field(ds, {"status"}).is_object() ? field(ds, {"status"}) : Json::object();
  for (auto it = status.begin(); it != status.end(); ++it) merged[it.key()] = it.value();
  if (merged == field(ds, {"status"})) return {};
  Json updated = ds;
  updated["status"] = merged;
  auto r = api_->update_status(res::kDaemonSets, updated);
  if (!r && r.error().kind == ErrorKind::NotFound) return {};
  if (!r) return tl::unexpected(r.error().context("update status of daemonset {}", name_of(ds)));
  return {};
}

}  // namespace deckhand::controllers
