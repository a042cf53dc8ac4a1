// A pod's spec turned into what the CRI runtime runs: its PodSandboxConfig
// and a ContainerConfig per container, as kubelet builds them (the labels it
// finds them by again, DNS by dnsPolicy, cgroup parent by QoS class, log
// paths, resources, environment). Pure functions of the pod JSON and the
// agent's settings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"
#include "pod_volumes.h"
#include "runtime.pb.h"

namespace deckhand::agent {

// The CRI labels that tie sandboxes and containers to their pod.
inline constexpr const char* kPodNameLabel = "io.kubernetes.pod.name";
inline constexpr const char* kPodNamespaceLabel = "io.kubernetes.pod.namespace";
inline constexpr const char* kPodUidLabel = "io.kubernetes.pod.uid";
inline constexpr const char* kContainerNameLabel = "io.kubernetes.container.name";

struct ResolvConf {
  std::vector<std::string> servers, searches, options;
};
// nameserver, search/domain and options lines of a resolv.conf.
ResolvConf parse_resolv_conf(std::string_view text);

// What of the agent shapes a pod's runtime config.
struct PodSettings {
  std::string node_name;
  std::string host_name;  // the node's host name: hostNetwork pods get it
  std::string host_ip;
  std::string pod_log_dir;
  std::string cgroup_root;
  std::vector<std::string> cluster_dns;
  std::string cluster_domain = "cluster.local";
  ResolvConf host_dns;  // from the agent's resolv_conf: dnsPolicy Default
  // The node's allocatable CPU and memory: resourceFieldRef of a limit the container does not set.
  int64_t node_cpu_millis = 0;
  int64_t node_memory_bytes = 0;
};

// Name, namespace and uid of a pod object (empty strings when missing).
struct PodId {
  std::string ns, name, uid;
  static PodId of(const Json& pod);
  std::string text() const { return ns + "/" + name; }  // for logs
};

// Quantities: CPU in millicores ("250m", "1", "0.5"), memory in bytes
// ("128Mi", "1G", "1e3"); nullopt when the text is not a quantity.
std::optional<int64_t> cpu_millis(const Json& quantity);
std::optional<int64_t> quantity_bytes(const Json& quantity);

// "Guaranteed", "Burstable" or "BestEffort" from the containers' resources.
std::string qos_class(const Json& pod);
// <root>/pod<uid> for Guaranteed, <root>/burstable/pod<uid>, <root>/besteffort/pod<uid>.
std::string pod_cgroup_parent(const Json& pod, const std::string& cgroup_root);
// <pod_log_dir>/<ns>_<name>_<uid>
std::string pod_log_directory(const Json& pod, const std::string& pod_log_dir);

Result<::runtime::v1::DNSConfig> pod_dns_config(const Json& pod, const PodSettings& s);
Result<::runtime::v1::PodSandboxConfig> make_sandbox_config(const Json& pod, const PodSettings& s,
                                                            uint32_t attempt);

// What a container's config is made of besides the pod and the agent's settings.
struct ContainerInputs {
  uint32_t restart_count = 0;
  std::string pod_ip;
  ObjectGetter objects;                         // ConfigMaps and Secrets for env and envFrom
  std::vector<::runtime::v1::Mount> mounts;     // its volumeMounts, from container_mounts()
};

// The container's environment as kubelet makes it: envFrom (ConfigMaps and
// Secrets, with prefix) first, then env with valueFrom (fieldRef,
// resourceFieldRef, configMapKeyRef, secretKeyRef) and $(VAR) references
// expanded. An error names the variable, or the object or key it cannot find
// (a NotFound error when the object is missing and not optional).
Result<std::vector<std::pair<std::string, std::string>>> container_env(const Json& pod, const Json& container,
                                                                       const ContainerInputs& in,
                                                                       const PodSettings& s);
// Kubernetes' $(VAR) expansion: defined names are replaced, $$ is a literal
// $, anything else is left as written.
std::string expand_vars(std::string_view text, const std::vector<std::pair<std::string, std::string>>& env);

Result<::runtime::v1::ContainerConfig> make_container_config(const Json& pod, const Json& container,
                                                             const ContainerInputs& in, const PodSettings& s);

// imagePullPolicy, or its default: Always for ":latest" or no tag, else IfNotPresent.
std::string image_pull_policy(const Json& container);

// Small readers of pod JSON shared by the worker and the status code.
const Json& json_at(const Json& obj, const char* key);  // obj[key], or null
const Json& array_or_empty(const Json& v);              // v when an array, else an empty one (no copy)
std::string json_string(const Json& obj, const char* key, const std::string& fallback = "");
const Json& pod_containers(const Json& pod,
                           bool init);        // spec.containers or spec.initContainers (array or null)
std::string restart_policy(const Json& pod);  // Always when unset
// An init container with restartPolicy Always: a sidecar, started in order and kept running.
bool is_sidecar(const Json& init_container);

}  // namespace deckhand::agent
