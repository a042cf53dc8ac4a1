// Parsing pods and nodes into the scheduler's structs, and the small rules
// that go with them (quantities, tolerations, node selector terms, ports).
#include "deckhand/scheduler/pod_info.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

namespace deckhand::scheduler {

namespace {

const Json kNull;

const Json& at(const Json& obj, const char* key) {
  if (!obj.is_object()) return kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

std::string str(const Json& obj, const char* key) {
  const Json& v = at(obj, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

std::map<std::string, std::string> string_map(const Json& obj) {
  std::map<std::string, std::string> out;
  if (!obj.is_object()) return out;
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (it.value().is_string()) out.emplace(it.key(), it.value().get<std::string>());
  return out;
}

std::vector<std::string> strings(const Json& arr) {
  std::vector<std::string> out;
  if (!arr.is_array()) return out;
  for (const Json& v : arr)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

// requests, else limits (the API defaults an absent request to the limit).
const Json& resource_amount(const Json& container, const char* name) {
  const Json& resources = at(container, "resources");
  const Json& req = at(at(resources, "requests"), name);
  return req.is_null() ? at(at(resources, "limits"), name) : req;
}

constexpr int64_t kDefaultMilliCpu = 100;                // scoring only, as kube-scheduler
constexpr int64_t kDefaultMemory = 200LL * 1024 * 1024;

Resources container_requests(const Json& c, bool nonzero) {
  Resources r;
  r.milli_cpu = quantity_milli(resource_amount(c, "cpu")).value_or(0);
  r.memory = quantity_value(resource_amount(c, "memory")).value_or(0);
  r.ephemeral_storage = quantity_value(resource_amount(c, "ephemeral-storage")).value_or(0);
  if (nonzero) {
    if (resource_amount(c, "cpu").is_null()) r.milli_cpu = kDefaultMilliCpu;
    if (resource_amount(c, "memory").is_null()) r.memory = kDefaultMemory;
  }
  return r;
}

// kube-scheduler's rule: max(sum of app containers and sidecars, each
// regular init container plus the sidecars started before it), plus overhead.
Resources pod_requests(const Json& spec, bool nonzero) {
  Resources apps, init_peak, sidecars;
  for (const Json& c : at(spec, "containers").is_array() ? at(spec, "containers") : Json::array())
    apps += container_requests(c, nonzero);
  const Json& inits = at(spec, "initContainers");
  if (inits.is_array()) {
    for (const Json& c : inits) {
      Resources r = container_requests(c, nonzero);
      if (str(c, "restartPolicy") == "Always") {
        sidecars += r;
        init_peak.set_max(sidecars);
      } else {
        r += sidecars;
        init_peak.set_max(r);
      }
    }
  }
  apps += sidecars;
  apps.set_max(init_peak);
  const Json& overhead = at(spec, "overhead");
  if (overhead.is_object()) {
    Resources o;
    o.milli_cpu = quantity_milli(at(overhead, "cpu")).value_or(0);
    o.memory = quantity_value(at(overhead, "memory")).value_or(0);
    o.ephemeral_storage = quantity_value(at(overhead, "ephemeral-storage")).value_or(0);
    apps += o;
  }
  return apps;
}

NodeSelectorRequirement parse_requirement(const Json& r) {
  return NodeSelectorRequirement{str(r, "key"), str(r, "operator"), strings(at(r, "values"))};
}

NodeSelectorTerm parse_term(const Json& t) {
  NodeSelectorTerm term;
  for (const Json& r : at(t, "matchExpressions").is_array() ? at(t, "matchExpressions") : Json::array())
    term.match_expressions.push_back(parse_requirement(r));
  for (const Json& r : at(t, "matchFields").is_array() ? at(t, "matchFields") : Json::array())
    term.match_fields.push_back(parse_requirement(r));
  return term;
}

std::vector<PodAffinityTerm> parse_pod_terms(const Json& terms) {
  std::vector<PodAffinityTerm> out;
  if (!terms.is_array()) return out;
  for (const Json& t : terms) {
    PodAffinityTerm term;
    auto selector = api::LabelSelector::from_json(at(t, "labelSelector"));
    // An invalid selector matches nothing; a missing one (null) too, as in Kubernetes.
    term.selector = selector ? *selector : *api::LabelSelector::from_json(nullptr);
    term.namespaces = strings(at(t, "namespaces"));
    term.all_namespaces = at(t, "namespaceSelector").is_object();
    term.topology_key = str(t, "topologyKey");
    out.push_back(std::move(term));
  }
  return out;
}

void parse_affinity(const Json& affinity, PodInfo& p) {
  const Json& node = at(affinity, "nodeAffinity");
  const Json& required = at(at(node, "requiredDuringSchedulingIgnoredDuringExecution"), "nodeSelectorTerms");
  if (required.is_array())
    for (const Json& t : required) p.required_node_terms.push_back(parse_term(t));
  const Json& preferred = at(node, "preferredDuringSchedulingIgnoredDuringExecution");
  if (preferred.is_array())
    for (const Json& t : preferred)
      p.preferred_node_terms.push_back({at(t, "weight").is_number_integer() ? at(t, "weight").get<int32_t>() : 0,
                                        parse_term(at(t, "preference"))});
  p.required_affinity =
      parse_pod_terms(at(at(affinity, "podAffinity"), "requiredDuringSchedulingIgnoredDuringExecution"));
  p.required_anti_affinity =
      parse_pod_terms(at(at(affinity, "podAntiAffinity"), "requiredDuringSchedulingIgnoredDuringExecution"));
}

void parse_containers(const Json& spec, PodInfo& p) {
  for (const char* list : {"initContainers", "containers"}) {
    const Json& cs = at(spec, list);
    if (!cs.is_array()) continue;
    for (const Json& c : cs) {
      if (std::string image = str(c, "image"); !image.empty()) p.images.push_back(normalize_image(image));
      const Json& ports = at(c, "ports");
      if (!ports.is_array()) continue;
      for (const Json& port : ports) {
        const Json& host_port = at(port, "hostPort");
        if (!host_port.is_number_integer() || host_port.get<int64_t>() <= 0) continue;
        std::string protocol = str(port, "protocol");
        p.host_ports.push_back({protocol.empty() ? "TCP" : protocol, str(port, "hostIP"), host_port.get<int32_t>()});
      }
    }
  }
}

}  // namespace

Resources& Resources::operator+=(const Resources& o) {
  milli_cpu += o.milli_cpu;
  memory += o.memory;
  ephemeral_storage += o.ephemeral_storage;
  return *this;
}

Resources& Resources::operator-=(const Resources& o) {
  milli_cpu -= o.milli_cpu;
  memory -= o.memory;
  ephemeral_storage -= o.ephemeral_storage;
  return *this;
}

void Resources::set_max(const Resources& o) {
  milli_cpu = std::max(milli_cpu, o.milli_cpu);
  memory = std::max(memory, o.memory);
  ephemeral_storage = std::max(ephemeral_storage, o.ephemeral_storage);
}

bool NodeSelectorRequirement::matches(const std::map<std::string, std::string>& labels) const {
  auto it = labels.find(key);
  bool has = it != labels.end();
  auto in_values = [&] { return has && std::find(values.begin(), values.end(), it->second) != values.end(); };
  if (op == "In") return in_values();
  if (op == "NotIn") return !in_values();
  if (op == "Exists") return has;
  if (op == "DoesNotExist") return !has;
  if (op == "Gt" || op == "Lt") {
    if (!has || values.size() != 1) return false;
    char* end1 = nullptr;
    char* end2 = nullptr;
    long long label = std::strtoll(it->second.c_str(), &end1, 10);
    long long bound = std::strtoll(values[0].c_str(), &end2, 10);
    if (it->second.empty() || *end1 != '\0' || values[0].empty() || *end2 != '\0') return false;
    return op == "Gt" ? label > bound : label < bound;
  }
  return false;
}

bool NodeSelectorTerm::matches(const std::map<std::string, std::string>& labels, const std::string& node_name) const {
  if (match_expressions.empty() && match_fields.empty()) return false;
  for (const auto& r : match_expressions)
    if (!r.matches(labels)) return false;
  for (const auto& r : match_fields) {
    if (r.key != "metadata.name") return false;
    if (!r.matches({{"metadata.name", node_name}})) return false;
  }
  return true;
}

bool HostPort::conflicts(const HostPort& o) const {
  if (port != o.port || protocol != o.protocol) return false;
  auto any = [](const std::string& ip) { return ip.empty() || ip == "0.0.0.0" || ip == "::"; };
  return any(host_ip) || any(o.host_ip) || host_ip == o.host_ip;
}

std::shared_ptr<const PodInfo> parse_pod(const Json& pod) {
  auto p = std::make_shared<PodInfo>();
  const Json& meta = at(pod, "metadata");
  const Json& spec = at(pod, "spec");
  p->ns = str(meta, "namespace");
  p->name = str(meta, "name");
  p->uid = str(meta, "uid");
  p->key = p->ns + "/" + p->name;
  p->resource_version = str(meta, "resourceVersion");
  p->terminating = !at(meta, "deletionTimestamp").is_null();
  p->labels = string_map(at(meta, "labels"));
  const Json& owners = at(meta, "ownerReferences");
  if (owners.is_array())
    for (const Json& o : owners)
      if (at(o, "controller").is_boolean() && at(o, "controller").get<bool>()) p->owner_uid = str(o, "uid");
  p->node_name = str(spec, "nodeName");
  if (std::string s = str(spec, "schedulerName"); !s.empty()) p->scheduler_name = s;
  p->phase = str(at(pod, "status"), "phase");
  const Json& conditions = at(at(pod, "status"), "conditions");
  if (conditions.is_array())
    for (const Json& c : conditions)
      if (str(c, "type") == "PodScheduled" && str(c, "status") == "False") p->unschedulable_message = str(c, "message");
  if (at(spec, "priority").is_number_integer()) p->priority = at(spec, "priority").get<int32_t>();
  p->preempt_never = str(spec, "preemptionPolicy") == "Never";
  p->requests = pod_requests(spec, false);
  p->nonzero_requests = pod_requests(spec, true);
  p->node_selector = string_map(at(spec, "nodeSelector"));
  parse_affinity(at(spec, "affinity"), *p);
  p->tolerations = api::parse_tolerations(at(spec, "tolerations"));
  parse_containers(spec, *p);
  return p;
}

NodeSpecInfo parse_node(const Json& node) {
  NodeSpecInfo n;
  const Json& meta = at(node, "metadata");
  const Json& spec = at(node, "spec");
  const Json& status = at(node, "status");
  n.name = str(meta, "name");
  n.labels = string_map(at(meta, "labels"));
  n.unschedulable = at(spec, "unschedulable").is_boolean() && at(spec, "unschedulable").get<bool>();
  n.taints = api::parse_taints(at(spec, "taints"));
  const Json& conditions = at(status, "conditions");
  if (conditions.is_array())
    for (const Json& c : conditions)
      if (str(c, "type") == "Ready") n.ready = str(c, "status") == "True";
  const Json& alloc = at(status, "allocatable").is_object() ? at(status, "allocatable") : at(status, "capacity");
  n.allocatable.milli_cpu = quantity_milli(at(alloc, "cpu")).value_or(0);
  n.allocatable.memory = quantity_value(at(alloc, "memory")).value_or(0);
  n.allocatable.ephemeral_storage = quantity_value(at(alloc, "ephemeral-storage")).value_or(0);
  n.allowed_pods = quantity_value(at(alloc, "pods")).value_or(0);
  const Json& images = at(status, "images");
  if (images.is_array())
    for (const Json& image : images) {
      int64_t size = at(image, "sizeBytes").is_number_integer() ? at(image, "sizeBytes").get<int64_t>() : 0;
      for (const std::string& name : strings(at(image, "names"))) n.image_sizes[normalize_image(name)] = size;
    }
  return n;
}

std::string normalize_image(const std::string& image) {
  std::string name = image;
  size_t slash = name.find('/');
  std::string first = slash == std::string::npos ? "" : name.substr(0, slash);
  bool has_registry = !first.empty() &&
                      (first.find('.') != std::string::npos || first.find(':') != std::string::npos || first == "localhost");
  if (!has_registry) name = (slash == std::string::npos ? "docker.io/library/" : "docker.io/") + name;
  size_t last_slash = name.rfind('/');
  if (name.find('@') == std::string::npos && name.find(':', last_slash) == std::string::npos) name += ":latest";
  return name;
}

}  // namespace deckhand::scheduler
