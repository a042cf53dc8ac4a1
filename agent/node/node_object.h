// The JSON of the agent's Node and Lease, as the kubelet writes them: labels
// and taints it owns, status (capacity, nodeInfo, addresses, conditions) and
// the heartbeat Lease in kube-node-lease. No I/O here.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "deckhand/agent/config.h"
#include "deckhand/api/taints.h"
#include "deckhand/common/json.h"
#include "host_facts.h"
#include "runtime.pb.h"

namespace deckhand::agent {

inline constexpr const char* kKubeletVersion = "v1.33.0-deckhand";
inline constexpr const char* kNodeLeaseNamespace = "kube-node-lease";
inline constexpr int kNodeLeaseDurationSeconds = 40;
inline constexpr int kKubeletPort = 10250;

using api::Taint;

// kubernetes.io/hostname, /os, /arch, then the configured labels (which win).
std::map<std::string, std::string> owned_labels(const AgentConfig& config, const std::string& arch);

// A new Node: metadata.name, labels, spec.taints.
Json new_node(const std::string& name, const std::map<std::string, std::string>& labels,
              const std::vector<Taint>& taints);

// Sets our labels on an existing Node and adds or replaces our taints (same
// key and effect); others' labels and taints stay. True when it changed.
bool apply_owned_metadata(Json& node, const std::map<std::string, std::string>& labels,
                          const std::vector<Taint>& taints);

struct Condition {
  std::string type, status, reason, message;
};

// Ready from the runtime's Status (or the error of asking for it), then the
// pressure conditions, which we do not measure yet and report as False.
std::vector<Condition> node_conditions(const Result<::runtime::v1::StatusResponse>& runtime_status);

// What the status update writes, besides conditions.
struct StatusFacts {
  HostFacts host;
  std::string node_name;
  std::string runtime_version;  // "<runtime_name>://<runtime_version>", empty when unknown
  int64_t max_pods = 0;
  int kubelet_port = kKubeletPort;  // the node server's, for the apiserver to reach
};

// Writes capacity, allocatable, nodeInfo, addresses, daemonEndpoints and
// conditions into node.status; other status fields stay. A condition keeps
// its lastTransitionTime unless its status changed; lastHeartbeatTime is now.
void apply_status(Json& node, const StatusFacts& facts, const std::vector<Condition>& conditions,
                  std::chrono::system_clock::time_point now);

// RFC 3339 UTC: "2026-11-28T00:00:00Z", or with microseconds ("...00.000000Z") as MicroTime wants.
std::string rfc3339(std::chrono::system_clock::time_point t, bool micro = false);

// Makes lease the Node's heartbeat Lease renewed at now: holder, duration,
// renewTime, and an owner reference to the Node (so that the Lease goes with it).
void apply_lease(Json& lease, const std::string& node_name, const std::string& node_uid,
                 std::chrono::system_clock::time_point now);

// The object at j[key], made an empty object first when absent or not an object.
Json& object_member(Json& j, const char* key);

}  // namespace deckhand::agent
