#include "node_object.h"

#include <ctime>

namespace deckhand::agent {

namespace {

std::string text_member(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

// "container runtime network not ready: NetworkReady=false reason:X message:Y", as the kubelet says it.
std::string not_ready_text(const char* what, const ::runtime::v1::RuntimeCondition& c) {
  return fmt::format("{}: {}=false reason:{} message:{}", what, c.type(), c.reason(), c.message());
}

Condition ready_condition(const Result<::runtime::v1::StatusResponse>& runtime_status) {
  Condition ready{"Ready", "False", "KubeletNotReady", ""};
  if (!runtime_status) {
    ready.message = "container runtime is down: " + runtime_status.error().message;
    return ready;
  }
  bool runtime_ok = false, network_ok = false;
  std::vector<std::string> problems;
  for (const auto& c : runtime_status->status().conditions()) {
    if (c.type() == "RuntimeReady") {
      runtime_ok = c.status();
      if (!runtime_ok) problems.push_back(not_ready_text("container runtime not ready", c));
    } else if (c.type() == "NetworkReady") {
      network_ok = c.status();
      if (!network_ok) problems.push_back(not_ready_text("container runtime network not ready", c));
    }
  }
  if (runtime_ok && network_ok)
    return {"Ready", "True", "KubeletReady", "deckhand-agent is posting ready status"};
  if (problems.empty()) problems.push_back("container runtime status lacks RuntimeReady or NetworkReady");
  for (size_t i = 0; i < problems.size(); ++i) ready.message += (i ? "; " : "") + problems[i];
  return ready;
}

Json resources_json(const StatusFacts& f) {
  return {{"cpu", std::to_string(f.host.cpus)},
          {"memory", std::to_string(f.host.memory_kib) + "Ki"},
          {"ephemeral-storage", std::to_string(f.host.ephemeral_storage_kib) + "Ki"},
          {"pods", std::to_string(f.max_pods)}};
}

Json node_info_json(const StatusFacts& f) {
  return {{"machineID", f.host.machine_id},    {"systemUUID", f.host.system_uuid},
          {"bootID", f.host.boot_id},          {"kernelVersion", f.host.kernel_version},
          {"osImage", f.host.os_image},        {"containerRuntimeVersion", f.runtime_version},
          {"kubeletVersion", kKubeletVersion}, {"kubeProxyVersion", ""},
          {"operatingSystem", "linux"},        {"architecture", f.host.architecture}};
}

Json conditions_json(const Json& old_conditions, const std::vector<Condition>& conditions,
                     const std::string& now) {
  Json out = Json::array();
  for (const auto& c : conditions) {
    std::string transition = now;
    if (old_conditions.is_array()) {
      for (const auto& old : old_conditions) {
        if (text_member(old, "type") == c.type && text_member(old, "status") == c.status &&
            !text_member(old, "lastTransitionTime").empty())
          transition = text_member(old, "lastTransitionTime");
      }
    }
    out.push_back({{"type", c.type},
                   {"status", c.status},
                   {"reason", c.reason},
                   {"message", c.message},
                   {"lastHeartbeatTime", now},
                   {"lastTransitionTime", transition}});
  }
  return out;
}

}  // namespace

Json& object_member(Json& j, const char* key) {
  if (!j.is_object()) j = Json::object();
  if (!j.contains(key) || !j[key].is_object()) j[key] = Json::object();
  return j[key];
}

std::map<std::string, std::string> owned_labels(const AgentConfig& config, const std::string& arch) {
  std::map<std::string, std::string> labels = {{"kubernetes.io/hostname", config.node_name},
                                               {"kubernetes.io/os", "linux"},
                                               {"kubernetes.io/arch", arch}};
  for (const auto& [k, v] : config.node_labels) labels[k] = v;
  return labels;
}

Json new_node(const std::string& name, const std::map<std::string, std::string>& labels,
              const std::vector<Taint>& taints) {
  Json node = {
      {"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}, {"spec", Json::object()}};
  apply_owned_metadata(node, labels, taints);
  return node;
}

bool apply_owned_metadata(Json& node, const std::map<std::string, std::string>& labels,
                          const std::vector<Taint>& taints) {
  Json before = node;
  Json& have = object_member(object_member(node, "metadata"), "labels");
  for (const auto& [k, v] : labels) have[k] = v;
  if (!taints.empty()) {
    Json& spec = object_member(node, "spec");
    if (!spec.contains("taints") || !spec["taints"].is_array()) spec["taints"] = Json::array();
    // Ours replace a taint of the same key and effect where it stands (so a
    // second apply changes nothing), or are added at the end.
    Json& list = spec["taints"];
    for (const auto& mine : taints) {
      bool replaced = false;
      for (auto& t : list)
        if (text_member(t, "key") == mine.key && text_member(t, "effect") == mine.effect) {
          t = api::taint_json(mine);
          replaced = true;
        }
      if (!replaced) list.push_back(api::taint_json(mine));
    }
  }
  return node != before;
}

std::vector<Condition> node_conditions(const Result<::runtime::v1::StatusResponse>& runtime_status) {
  return {ready_condition(runtime_status),
          {"MemoryPressure", "False", "KubeletHasSufficientMemory",
           "deckhand-agent has sufficient memory available"},
          {"DiskPressure", "False", "KubeletHasNoDiskPressure", "deckhand-agent has no disk pressure"},
          {"PIDPressure", "False", "KubeletHasSufficientPID", "deckhand-agent has sufficient PID available"}};
}

void apply_status(Json& node, const StatusFacts& facts, const std::vector<Condition>& conditions,
                  std::chrono::system_clock::time_point now) {
  Json& status = object_member(node, "status");
  status["capacity"] = resources_json(facts);
  status["allocatable"] = resources_json(facts);
  status["nodeInfo"] = node_info_json(facts);
  status["addresses"] = Json::array({{{"type", "InternalIP"}, {"address", facts.host.internal_ip}},
                                     {{"type", "Hostname"}, {"address", facts.node_name}}});
  status["daemonEndpoints"] = {{"kubeletEndpoint", {{"Port", facts.kubelet_port}}}};
  Json old = status.contains("conditions") ? status["conditions"] : Json::array();
  status["conditions"] = conditions_json(old, conditions, rfc3339(now));
}

std::string rfc3339(std::chrono::system_clock::time_point t, bool micro) {
  auto since_epoch = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(since_epoch / 1000000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!micro) return fmt::format("{}Z", buf);
  return fmt::format("{}.{:06d}Z", buf, since_epoch % 1000000);
}

void apply_lease(Json& lease, const std::string& node_name, const std::string& node_uid,
                 std::chrono::system_clock::time_point now) {
  lease["apiVersion"] = "coordination.k8s.io/v1";
  lease["kind"] = "Lease";
  Json& meta = object_member(lease, "metadata");
  meta["name"] = node_name;
  meta["namespace"] = kNodeLeaseNamespace;
  meta["ownerReferences"] =
      Json::array({{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node_name}, {"uid", node_uid}}});
  Json& spec = object_member(lease, "spec");
  spec["holderIdentity"] = node_name;
  spec["leaseDurationSeconds"] = kNodeLeaseDurationSeconds;
  spec["renewTime"] = rfc3339(now, true);
}

}  // namespace deckhand::agent
