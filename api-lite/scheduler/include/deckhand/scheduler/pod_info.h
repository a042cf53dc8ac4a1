// Pods and nodes as the scheduler sees them: parsed once, when an informer
// delivers them, into compact structs that filters and scores read without
// touching JSON again.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/api/quantity.h"
#include "deckhand/api/selector.h"
#include "deckhand/api/taints.h"
#include "deckhand/common/json.h"

namespace deckhand::scheduler {

using api::quantity_milli;  // quantities as integers: cpu in millicores,
using api::quantity_value;  // the rest in bytes (or a count)

struct Resources {
  int64_t milli_cpu = 0;
  int64_t memory = 0;
  int64_t ephemeral_storage = 0;

  Resources& operator+=(const Resources& o);
  Resources& operator-=(const Resources& o);
  // Each resource the larger of the two.
  void set_max(const Resources& o);
  bool operator==(const Resources&) const = default;
};

using api::Taint;
using api::tolerated;
using api::Toleration;

// One requirement of a NodeSelectorTerm (matchExpressions or matchFields).
struct NodeSelectorRequirement {
  std::string key;
  std::string op;  // In NotIn Exists DoesNotExist Gt Lt
  std::vector<std::string> values;
  bool matches(const std::map<std::string, std::string>& labels) const;
};

struct NodeSelectorTerm {
  std::vector<NodeSelectorRequirement> match_expressions;
  std::vector<NodeSelectorRequirement> match_fields;  // key metadata.name only
  // A term with no requirements matches nothing (Kubernetes' rule).
  bool matches(const std::map<std::string, std::string>& labels, const std::string& node_name) const;
};

struct PreferredNodeTerm {
  int32_t weight = 0;
  NodeSelectorTerm term;
};

// A pod (anti-)affinity term: pods matching `selector` in `namespaces`.
struct PodAffinityTerm {
  api::LabelSelector selector;
  std::vector<std::string> namespaces;  // empty: the pod's own namespace
  bool all_namespaces = false;          // namespaceSelector {} (non-empty selectors: treated as all)
  std::string topology_key;
};

struct HostPort {
  std::string protocol = "TCP";
  std::string host_ip;  // "" or 0.0.0.0 = every address
  int32_t port = 0;
  bool conflicts(const HostPort& o) const;
};

struct PodInfo {
  std::string ns, name, uid, key;  // key "<ns>/<name>"
  std::string resource_version;
  std::string node_name;
  std::string scheduler_name = "default-scheduler";
  std::string phase;
  bool terminating = false;
  int32_t priority = 0;
  std::map<std::string, std::string> labels;
  std::string owner_uid;  // the controller owner reference's uid, for spreading

  Resources requests;           // what fit checks count
  Resources nonzero_requests;   // scoring: 100m cpu / 200 MiB for containers that request none
  std::map<std::string, std::string> node_selector;
  std::vector<NodeSelectorTerm> required_node_terms;  // ORed; empty = no requirement
  std::vector<PreferredNodeTerm> preferred_node_terms;
  std::vector<Toleration> tolerations;
  std::vector<HostPort> host_ports;
  std::vector<PodAffinityTerm> required_affinity;
  std::vector<PodAffinityTerm> required_anti_affinity;
  std::vector<std::string> images;  // normalized image names of its containers
  bool preempt_never = false;       // preemptionPolicy: Never
  std::string unschedulable_message;  // of a PodScheduled=False condition already on it

  bool bound() const { return !node_name.empty(); }
  bool finished() const { return phase == "Succeeded" || phase == "Failed"; }
};

std::shared_ptr<const PodInfo> parse_pod(const Json& pod);

// What of a Node the scheduler reads.
struct NodeSpecInfo {
  std::string name;
  std::map<std::string, std::string> labels;
  std::vector<Taint> taints;
  bool unschedulable = false;
  bool ready = false;
  Resources allocatable;
  int64_t allowed_pods = 110;
  std::map<std::string, int64_t> image_sizes;  // normalized name -> bytes

  bool operator==(const NodeSpecInfo&) const = default;
};

NodeSpecInfo parse_node(const Json& node);

// "busybox" -> "docker.io/library/busybox:latest", as node status and pod specs are compared.
std::string normalize_image(const std::string& image);

}  // namespace deckhand::scheduler
