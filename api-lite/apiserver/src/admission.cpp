#include "admission.h"

#include <arpa/inet.h>

#include <cctype>

#include "deckhand/api/selector.h"
#include "deckhand/api/validation.h"
#include "deckhand/common/text.h"

namespace deckhand::apiserver {

namespace {

void set_default(Json& obj, const char* key, const Json& value) {
  if (!obj.contains(key) || obj[key].is_null()) obj[key] = value;
}

bool has_tag_or_digest(const std::string& image) {
  if (image.find('@') != std::string::npos) return true;
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  return colon != std::string::npos && (slash == std::string::npos || colon > slash);
}

void default_container(Json& c) {
  if (!c.is_object()) return;
  std::string image = c.contains("image") && c["image"].is_string() ? c["image"].get<std::string>() : "";
  bool latest = !has_tag_or_digest(image) || (image.size() >= 7 && image.compare(image.size() - 7, 7, ":latest") == 0);
  set_default(c, "imagePullPolicy", latest ? "Always" : "IfNotPresent");
  set_default(c, "terminationMessagePath", "/dev/termination-log");
  set_default(c, "terminationMessagePolicy", "File");
  set_default(c, "resources", Json::object());
  if (c.contains("ports") && c["ports"].is_array())
    for (auto& p : c["ports"])
      if (p.is_object()) set_default(p, "protocol", "TCP");
}

bool has_toleration(const Json& tolerations, const std::string& key) {
  for (const auto& t : tolerations)
    if (t.is_object() && t.value("key", "") == key && t.value("effect", "") == "NoExecute") return true;
  return false;
}

// As DefaultTolerationSeconds does: pods ride out a node going not-ready or
// unreachable for 300 s before they are evicted.
void default_tolerations(Json& spec) {
  if (!spec.contains("tolerations") || !spec["tolerations"].is_array()) spec["tolerations"] = Json::array();
  for (const char* key : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})
    if (!has_toleration(spec["tolerations"], key))
      spec["tolerations"].push_back(
          {{"key", key}, {"operator", "Exists"}, {"effect", "NoExecute"}, {"tolerationSeconds", 300}});
}

void default_pod_spec(Json& spec, bool is_pod) {
  if (!spec.is_object()) return;
  set_default(spec, "restartPolicy", "Always");
  set_default(spec, "dnsPolicy", "ClusterFirst");
  set_default(spec, "terminationGracePeriodSeconds", 30);
  set_default(spec, "schedulerName", "default-scheduler");
  set_default(spec, "securityContext", Json::object());
  set_default(spec, "enableServiceLinks", true);
  for (const char* list : {"containers", "initContainers"})
    if (spec.contains(list) && spec[list].is_array())
      for (auto& c : spec[list]) default_container(c);
  if (is_pod) {
    set_default(spec, "serviceAccountName", "default");
    set_default(spec, "priority", 0);
    default_tolerations(spec);
  }
}

void default_template(Json& obj) {
  if (obj.contains("spec") && obj["spec"].is_object() && obj["spec"].contains("template") &&
      obj["spec"]["template"].is_object()) {
    auto& t = obj["spec"]["template"];
    if (t.contains("spec")) default_pod_spec(t["spec"], false);
  }
}

void default_service(Json& obj) {
  if (!obj.contains("spec") || !obj["spec"].is_object()) obj["spec"] = Json::object();
  auto& spec = obj["spec"];
  set_default(spec, "type", "ClusterIP");
  set_default(spec, "sessionAffinity", "None");
  set_default(spec, "internalTrafficPolicy", "Cluster");
  if (spec.contains("ports") && spec["ports"].is_array())
    for (auto& p : spec["ports"]) {
      if (!p.is_object()) continue;
      set_default(p, "protocol", "TCP");
      if (p.contains("port")) set_default(p, "targetPort", p["port"]);
    }
}

// A workload's selector: valid, not empty, and matching its pod template.
std::vector<api::Cause> check_workload_selector(const Json& spec, const std::string& kind_lower) {
  const Json& sel = spec["selector"];
  auto parsed = api::LabelSelector::from_json(sel);
  if (!parsed) return {{"spec.selector", "FieldValueInvalid", "Invalid value: " + sel.dump() + ": " + parsed.error().message}};
  if (parsed->empty())
    return {{"spec.selector", "FieldValueInvalid",
             "Invalid value: " + sel.dump() + ": empty selector is invalid for " + kind_lower}};
  const Json labels = spec.contains("template") && spec["template"].is_object() &&
                              spec["template"].contains("metadata") && spec["template"]["metadata"].is_object()
                          ? spec["template"]["metadata"].value("labels", Json::object())
                          : Json::object();
  if (!parsed->matches_object(Json{{"metadata", {{"labels", labels}}}}))
    return {{"spec.template.metadata.labels", "FieldValueInvalid",
             "Invalid value: " + labels.dump() + ": `selector` does not match template `labels`"}};
  return {};
}

// As the batch/v1 defaults: one pod to completion, six retries, and (unless
// spec.manualSelector) a selector on the Job's uid, whose labels the
// template carries with the Job's name.
void default_job(Json& job) {
  Json& spec = job["spec"];
  if (!spec.is_object()) spec = Json::object();
  if (!spec.contains("completions") && !spec.contains("parallelism")) spec["completions"] = 1;
  set_default(spec, "parallelism", 1);
  set_default(spec, "backoffLimit", 6);
  set_default(spec, "completionMode", "NonIndexed");
  set_default(spec, "suspend", false);
  if (!spec.value("manualSelector", false) && !spec.contains("selector")) {
    std::string uid = job["metadata"].value("uid", ""), name = job["metadata"].value("name", "");
    spec["selector"] = {{"matchLabels", {{"batch.kubernetes.io/controller-uid", uid}}}};
    Json& labels = spec["template"]["metadata"]["labels"];
    labels["batch.kubernetes.io/controller-uid"] = labels["controller-uid"] = uid;
    labels["batch.kubernetes.io/job-name"] = labels["job-name"] = name;
  }
  default_template(job);
}

std::vector<api::Cause> check_job(const Json& spec) {
  std::vector<api::Cause> causes;
  for (const char* k : {"parallelism", "completions", "backoffLimit", "activeDeadlineSeconds"}) {
    if (!spec.contains(k) || spec[k].is_null()) continue;
    if (!spec[k].is_number_integer() || spec[k].get<int64_t>() < 0)
      causes.push_back({std::string("spec.") + k, "FieldValueInvalid",
                        "Invalid value: " + spec[k].dump() + ": must be greater than or equal to 0"});
  }
  std::string policy;
  if (spec.contains("template") && spec["template"].is_object() && spec["template"].contains("spec") &&
      spec["template"]["spec"].is_object())
    policy = spec["template"]["spec"].value("restartPolicy", "");
  if (policy != "Never" && policy != "OnFailure")
    causes.push_back({"spec.template.spec.restartPolicy", "FieldValueNotSupported",
                      "Unsupported value: \"" + policy + "\": supported values: \"OnFailure\", \"Never\""});
  return causes;
}

}  // namespace

void apply_defaults(const ResourceInfo& info, Json& obj) {
  if (info.kind == "Pod") {
    if (obj.contains("spec")) default_pod_spec(obj["spec"], true);
  } else if (info.kind == "Deployment") {
    set_default(obj["spec"], "replicas", 1);
    set_default(obj["spec"], "revisionHistoryLimit", 10);
    set_default(obj["spec"], "progressDeadlineSeconds", 600);
    set_default(obj["spec"], "strategy",
                Json{{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", "25%"}, {"maxSurge", "25%"}}}});
    default_template(obj);
  } else if (info.kind == "ReplicaSet") {
    set_default(obj["spec"], "replicas", 1);
    default_template(obj);
  } else if (info.kind == "DaemonSet") {
    set_default(obj["spec"], "revisionHistoryLimit", 10);
    set_default(obj["spec"], "updateStrategy",
                Json{{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 1}, {"maxSurge", 0}}}});
    default_template(obj);
  } else if (info.kind == "Job") {
    default_job(obj);
  } else if (info.kind == "Service") {
    default_service(obj);
  } else if (info.kind == "Namespace") {
    set_default(obj, "spec", Json::object());
    set_default(obj["spec"], "finalizers", Json::array({"kubernetes"}));
    obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = obj["metadata"].value("name", "");
  }
}

ApiResult<void> validate(const ResourceInfo& info, const Json& obj) {
  const Json& meta = obj.contains("metadata") ? obj["metadata"] : Json::object();
  auto rule = info.kind == "Namespace" || info.kind == "Service" ? api::NameRule::Dns1123Label
                                                                  : api::NameRule::Dns1123Subdomain;
  std::vector<api::Cause> causes = api::check_object_meta(meta, rule, info.namespaced);
  auto add = [&](std::vector<api::Cause> more) { causes.insert(causes.end(), more.begin(), more.end()); };
  if (info.kind == "Pod") {
    if (!obj.contains("spec") || !obj["spec"].is_object())
      causes.push_back({"spec", "FieldValueRequired", "Required value"});
    else
      add(api::check_pod_spec(obj["spec"], "spec"));
  } else if (info.kind == "Deployment" || info.kind == "ReplicaSet" || info.kind == "DaemonSet" ||
             info.kind == "Job") {
    const Json& spec = obj.contains("spec") ? obj["spec"] : Json::object();
    if (!spec.contains("selector") || !spec["selector"].is_object())
      causes.push_back({"spec.selector", "FieldValueRequired", "Required value"});
    else
      add(check_workload_selector(spec, ascii_lower(info.kind)));
    if (!spec.contains("template") || !spec["template"].is_object() || !spec["template"].contains("spec"))
      causes.push_back({"spec.template.spec", "FieldValueRequired", "Required value"});
    else
      add(api::check_pod_spec(spec["template"]["spec"], "spec.template.spec"));
    if (info.kind == "Job") add(check_job(spec));
    if (spec.contains("replicas") && (!spec["replicas"].is_number_integer() || spec["replicas"].get<int64_t>() < 0))
      causes.push_back({"spec.replicas", "FieldValueInvalid",
                        "Invalid value: " + spec["replicas"].dump() + ": must be greater than or equal to 0"});
  }
  if (causes.empty()) return {};
  return api_fail(api::invalid(info.kind, info.plural, info.group, meta.value("name", ""), causes));
}

Result<std::unique_ptr<ClusterIpAllocator>> ClusterIpAllocator::from_cidr(const std::string& cidr) {
  auto slash = cidr.find('/');
  in_addr addr{};
  int bits = -1;
  if (slash != std::string::npos) bits = std::atoi(cidr.substr(slash + 1).c_str());
  if (slash == std::string::npos || ::inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &addr) != 1 || bits < 8 ||
      bits > 28)
    return fail(ErrorKind::InvalidArgument, "service CIDR {}: want an IPv4 prefix between /8 and /28", cidr);
  uint32_t base = ntohl(addr.s_addr) & ~((1u << (32 - bits)) - 1);
  return std::unique_ptr<ClusterIpAllocator>(new ClusterIpAllocator(base, 1u << (32 - bits)));
}

static std::optional<uint32_t> parse_ipv4(const std::string& ip) {
  in_addr addr{};
  if (::inet_pton(AF_INET, ip.c_str(), &addr) != 1) return std::nullopt;
  return ntohl(addr.s_addr);
}

static std::string format_ipv4(uint32_t ip) {
  in_addr addr{htonl(ip)};
  char buf[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &addr, buf, sizeof buf);
  return buf;
}

void ClusterIpAllocator::mark_used(const std::string& ip) {
  auto v = parse_ipv4(ip);
  std::lock_guard lock(mu_);
  if (v && *v - base_ < size_) used_.insert(*v - base_);
}

void ClusterIpAllocator::release(const std::string& ip) {
  auto v = parse_ipv4(ip);
  std::lock_guard lock(mu_);
  if (v) used_.erase(*v - base_);
}

ApiResult<std::string> ClusterIpAllocator::allocate(const std::string& requested) {
  std::lock_guard lock(mu_);
  if (!requested.empty()) {
    auto v = parse_ipv4(requested);
    if (!v || *v - base_ >= size_ || *v == base_ || *v - base_ == size_ - 1)
      return api_fail(422, "Invalid",
                      "spec.clusterIPs: Invalid value: [\"" + requested + "\"]: failed to allocate IP " + requested +
                          ": the provided IP (" + requested + ") is not in the valid range");
    if (!used_.insert(*v - base_).second)
      return api_fail(422, "Invalid",
                      "spec.clusterIPs: Invalid value: [\"" + requested + "\"]: failed to allocate IP " + requested +
                          ": provided IP is already allocated");
    return requested;
  }
  for (uint32_t i = 0; i < size_ - 2; ++i) {
    uint32_t off = 1 + (next_ - 1 + i) % (size_ - 2);
    if (used_.insert(off).second) {
      next_ = off + 1;
      return format_ipv4(base_ + off);
    }
  }
  return api_fail(500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: range is full");
}

}  // namespace deckhand::apiserver
