#include "deckhand/controllers/endpoints_controller.h"

#include <algorithm>
#include <map>

#include "deckhand/api/selector.h"
#include "deckhand/client/informer.h"
#include "deckhand/controllers/objects.h"

namespace deckhand::controllers {

namespace res = client::resources;

namespace {

// The service's selector as a LabelSelector; nullopt for a service without one.
std::optional<api::LabelSelector> service_selector(const Json& svc) {
  const Json& sel = field(svc, {"spec", "selector"});
  if (!sel.is_object() || sel.empty()) return std::nullopt;
  std::map<std::string, std::string> labels;
  for (auto it = sel.begin(); it != sel.end(); ++it)
    if (it.value().is_string()) labels[it.key()] = it.value().get<std::string>();
  return api::LabelSelector::from_map(labels);
}

// A service port's target on one pod: a number, or a container port's name.
std::optional<int64_t> resolve_port(const Json& service_port, const Json& pod) {
  const Json& target = service_port.contains("targetPort") ? service_port["targetPort"] : service_port["port"];
  if (target.is_number_integer()) return target.get<int64_t>();
  if (!target.is_string()) return std::nullopt;
  std::string name = target.get<std::string>();
  for (const auto& c : field(pod, {"spec", "containers"}))
    for (const auto& p : field(c, {"ports"}))
      if (p.value("name", "") == name && p.contains("containerPort") && p["containerPort"].is_number_integer())
        return p["containerPort"].get<int64_t>();
  char* end = nullptr;
  long long n = std::strtoll(name.c_str(), &end, 10);  // "8080" as a string
  if (!name.empty() && *end == '\0') return n;
  return std::nullopt;
}

Json address_of(const Json& pod) {
  Json a = {{"ip", string_field(pod, {"status", "podIP"})},
            {"targetRef", {{"kind", "Pod"}, {"namespace", namespace_of(pod)}, {"name", name_of(pod)}, {"uid", uid_of(pod)}}}};
  std::string node = string_field(pod, {"spec", "nodeName"});
  if (!node.empty()) a["nodeName"] = node;
  return a;
}

}  // namespace

Json endpoint_subsets(const Json& service, const std::vector<Json>& pods) {
  std::map<std::string, Json> by_ports;  // the ports' JSON text -> subset
  const Json& ports = field(service, {"spec", "ports"});
  for (const auto& pod : pods) {
    if (string_field(pod, {"status", "podIP"}).empty() || is_terminating(pod)) continue;
    Json resolved = Json::array();
    for (const auto& sp : ports) {
      auto port = resolve_port(sp, pod);
      if (!port) continue;
      Json p = {{"port", *port}, {"protocol", sp.value("protocol", "TCP")}};
      if (sp.contains("name") && sp["name"].is_string() && !sp["name"].get<std::string>().empty()) p["name"] = sp["name"];
      resolved.push_back(std::move(p));
    }
    if (resolved.empty() && ports.is_array() && !ports.empty()) continue;
    Json& subset = by_ports[resolved.dump()];
    if (subset.is_null()) subset = {{"ports", resolved}};
    subset[pod_is_ready(pod) ? "addresses" : "notReadyAddresses"].push_back(address_of(pod));
  }
  Json out = Json::array();
  for (auto& [key, subset] : by_ports) {
    for (const char* list : {"addresses", "notReadyAddresses"})
      if (subset.contains(list))
        std::sort(subset[list].begin(), subset[list].end(),
                  [](const Json& a, const Json& b) { return a.value("ip", "") < b.value("ip", ""); });
    if (subset["ports"].empty()) subset.erase("ports");
    out.push_back(std::move(subset));
  }
  return out;
}

EndpointsController::EndpointsController(std::shared_ptr<client::ApiClient> api, SharedInformers& informers)
    : api_(std::move(api)),
      informers_(informers),
      workers_("endpoint", queue_, [this](const std::string& key) { return sync(key); }) {
  auto enqueue = [this](const Json& svc) { queue_.add(client::object_key(svc)); };
  informers_.subscribe(res::kServices, {enqueue, [enqueue](const Json&, const Json& s) { enqueue(s); }, enqueue});
  informers_.subscribe(res::kPods, {[this](const Json& p) { enqueue_services_of(p); },
                                    [this](const Json& o, const Json& n) {
                                      enqueue_services_of(o);
                                      if (labels_of(o) != labels_of(n)) enqueue_services_of(n);
                                    },
                                    [this](const Json& p) { enqueue_services_of(p); }});
  informers_.subscribe(res::kEndpoints, {nullptr, nullptr, enqueue});
}

EndpointsController::~EndpointsController() { stop(); }

void EndpointsController::run(int workers) { workers_.start(workers); }
void EndpointsController::stop() { workers_.stop(); }

void EndpointsController::enqueue_services_of(const Json& pod) {
  for (const auto& svc : informers_.list(res::kServices, namespace_of(pod))) {
    auto sel = service_selector(svc);
    if (sel && sel->matches_object(pod)) queue_.add(client::object_key(svc));
  }
}

Result<SyncResult> EndpointsController::sync(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return SyncResult{};
  std::string ns = key.substr(0, slash), name = key.substr(slash + 1);
  auto svc = informers_.get(res::kServices, key);
  auto current = informers_.get(res::kEndpoints, key);
  if (!svc) {
    // The service is gone: so are its endpoints (those we would have made).
    if (!current) return SyncResult{};
    auto st = api_->remove(res::kEndpoints, ns, name);
    if (!st && st.error().kind != ErrorKind::NotFound) return tl::unexpected(st.error());
    return SyncResult{};
  }
  auto sel = service_selector(*svc);
  if (!sel) return SyncResult{};  // a service without selector has hand-made endpoints
  std::vector<Json> pods;
  for (auto& pod : informers_.list(res::kPods, ns))
    if (sel->matches_object(pod)) pods.push_back(std::move(pod));
  Json subsets = endpoint_subsets(*svc, pods);
  Json labels = field(*svc, {"metadata", "labels"});
  if (current && field(*current, {"subsets"}) == subsets && field(*current, {"metadata", "labels"}) == labels)
    return SyncResult{};
  if (current && field(*current, {"subsets"}).is_null() && subsets.empty() &&
      field(*current, {"metadata", "labels"}) == labels)
    return SyncResult{};
  Json ep = current ? *current : Json{{"apiVersion", "v1"}, {"kind", "Endpoints"},
                                     {"metadata", {{"name", name}, {"namespace", ns}}}};
  if (labels.is_object()) ep["metadata"]["labels"] = labels;
  else if (ep["metadata"].contains("labels")) ep["metadata"].erase("labels");
  ep["subsets"] = subsets;
  auto written = current ? api_->update(res::kEndpoints, ep) : api_->create(res::kEndpoints, ns, ep);
  if (!written) return tl::unexpected(written.error().context("write endpoints {}", key));
  return SyncResult{};
}

}  // namespace deckhand::controllers
