#include "resources.h"

#include <algorithm>

namespace deckhand::apiserver {

namespace {

std::vector<ResourceInfo> make_resources() {
  std::vector<std::string> all{"all"};
  return {
      {"", "v1", "Namespace", "namespaces", "namespace", {"ns"}, false, {}, {"status", "finalize"}},
      {"", "v1", "Pod", "pods", "pod", {"po"}, true, all, {"status", "binding", "log", "exec", "eviction"}},
      {"", "v1", "Node", "nodes", "node", {"no"}, false, {}, {"status"}},
      {"", "v1", "Service", "services", "service", {"svc"}, true, all, {"status"}},
      {"", "v1", "Endpoints", "endpoints", "endpoints", {"ep"}, true, {}, {}},
      {"", "v1", "Event", "events", "event", {"ev"}, true, {}, {}},
      {"", "v1", "ConfigMap", "configmaps", "configmap", {"cm"}, true, {}, {}},
      {"", "v1", "Secret", "secrets", "secret", {}, true, {}, {}},
      {"", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", {"sa"}, true, {}, {}},
      {"apps", "v1", "Deployment", "deployments", "deployment", {"deploy"}, true, all, {"status", "scale"}, true},
      {"apps", "v1", "ReplicaSet", "replicasets", "replicaset", {"rs"}, true, all, {"status", "scale"}, true},
      {"apps", "v1", "DaemonSet", "daemonsets", "daemonset", {"ds"}, true, all, {"status"}, true},
      {"apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", {}, true, {}, {}},
      {"batch", "v1", "Job", "jobs", "job", {}, true, all, {"status"}, true},
      {"coordination.k8s.io", "v1", "Lease", "leases", "lease", {}, true, {}, {}},
  };
}

const std::vector<std::string> kVerbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};

Json resource_entry(const ResourceInfo& r) {
  Json e{{"name", r.plural},        {"singularName", r.singular}, {"namespaced", r.namespaced},
         {"kind", r.kind},          {"verbs", kVerbs}};
  if (!r.short_names.empty()) e["shortNames"] = r.short_names;
  if (!r.categories.empty()) e["categories"] = r.categories;
  return e;
}

Json subresource_entry(const ResourceInfo& r, const std::string& sub) {
  Json e{{"name", r.plural + "/" + sub}, {"singularName", ""}, {"namespaced", r.namespaced}, {"kind", r.kind}};
  if (sub == "status") e["verbs"] = {"get", "patch", "update"};
  else if (sub == "scale") {
    e["group"] = "autoscaling";
    e["version"] = "v1";
    e["kind"] = "Scale";
    e["verbs"] = {"get", "patch", "update"};
  } else if (sub == "binding") {
    e["kind"] = "Binding";
    e["verbs"] = {"create"};
  } else if (sub == "eviction") {
    e["group"] = "policy";
    e["version"] = "v1";
    e["kind"] = "Eviction";
    e["verbs"] = {"create"};
  } else if (sub == "log") {
    e["verbs"] = {"get"};
  } else if (sub == "exec") {
    e["kind"] = "PodExecOptions";
    e["verbs"] = {"create", "get"};
  } else {
    e["verbs"] = {"update"};
  }
  return e;
}

std::vector<std::string> groups() {
  std::vector<std::string> out;
  for (const auto& r : all_resources())
    if (!r.group.empty() && std::find(out.begin(), out.end(), r.group) == out.end()) out.push_back(r.group);
  return out;
}

Json group_entry(const std::string& group) {
  Json v{{"groupVersion", group + "/v1"}, {"version", "v1"}};
  return {{"name", group}, {"versions", Json::array({v})}, {"preferredVersion", v}};
}

}  // namespace

bool ResourceInfo::has_subresource(const std::string& s) const {
  return std::find(subresources.begin(), subresources.end(), s) != subresources.end();
}

std::string ResourceInfo::key_prefix() const {
  return "/registry/" + (group.empty() ? std::string("core") : group) + "/" + plural + "/";
}

std::string ResourceInfo::key(const std::string& namespace_name, const std::string& name) const {
  return namespaced ? key_prefix() + namespace_name + "/" + name : key_prefix() + name;
}

const std::vector<ResourceInfo>& all_resources() {
  static const std::vector<ResourceInfo> resources = make_resources();
  return resources;
}

const ResourceInfo* find_resource(const std::string& group, const std::string& version, const std::string& plural) {
  for (const auto& r : all_resources())
    if (r.group == group && r.version == version && r.plural == plural) return &r;
  return nullptr;
}

const ResourceInfo* find_resource_by_kind(const std::string& api_version, const std::string& kind) {
  for (const auto& r : all_resources())
    if (r.api_version() == api_version && r.kind == kind) return &r;
  return nullptr;
}

Json core_api_versions() {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs", Json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", ""}}})}};
}

Json api_group_list() {
  Json list = Json::array();
  for (const auto& g : groups()) list.push_back(group_entry(g));
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", list}};
}

std::optional<Json> api_group(const std::string& group) {
  for (const auto& g : groups())
    if (g == group) {
      Json e = group_entry(g);
      e["kind"] = "APIGroup";
      e["apiVersion"] = "v1";
      return e;
    }
  return std::nullopt;
}

std::optional<Json> api_resource_list(const std::string& group, const std::string& version) {
  Json list = Json::array();
  for (const auto& r : all_resources()) {
    if (r.group != group || r.version != version) continue;
    list.push_back(resource_entry(r));
    for (const auto& s : r.subresources) list.push_back(subresource_entry(r, s));
  }
  if (list.empty()) return std::nullopt;
  return Json{{"kind", "APIResourceList"},
              {"apiVersion", "v1"},
              {"groupVersion", group.empty() ? version : group + "/" + version},
              {"resources", list}};
}

}  // namespace deckhand::apiserver
