// The part of an OCI runtime-spec config.json that deckhand-oci implements,
// parsed and checked up front so that a bad bundle fails before anything is
// made, with an error naming the field at fault.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"
#include "deckhand/runtime/oci_spec.h"

namespace deckhand::oci {

inline constexpr const char* kOciVersion = "1.0.2";

enum class NamespaceKind { Mount, Network, Ipc, Uts, Pid, Cgroup };

// "network", "mount", ... as config.json names them.
const char* namespace_type_name(NamespaceKind kind);
// The file under /proc/<pid>/ns/ for a kind ("net", "mnt", ...).
const char* namespace_proc_name(NamespaceKind kind);
int namespace_clone_flag(NamespaceKind kind);

struct NamespaceEntry {
  NamespaceKind kind = NamespaceKind::Mount;
  std::string path;  // empty: a new namespace
};

struct MountEntry {
  std::string destination;
  std::string type;
  std::string source;  // made absolute (relative to the bundle) for bind mounts
  std::vector<std::string> options;
};

struct Rlimit {
  std::string name;  // "RLIMIT_NOFILE"
  int resource = 0;
  uint64_t soft = 0, hard = 0;
};

// Capability sets as bit masks (bit n = capability number n).
struct CapabilitySets {
  uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
};

struct ProcessConfig {
  std::vector<std::string> args;
  std::vector<std::string> env;  // KEY=VALUE
  std::string cwd = "/";
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
  std::optional<mode_t> umask;
  CapabilitySets caps;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  std::vector<Rlimit> rlimits;
};

// One linux.resources.devices rule, for the v1 devices controller.
struct DeviceRule {
  bool allow = false;
  char type = 'a';  // 'a', 'c' or 'b'
  int64_t major = -1, minor = -1;  // -1: any
  std::string access = "rwm";
};

struct BundleConfig {
  std::string bundle;  // absolute bundle directory
  std::string rootfs;  // absolute root.path
  bool readonly_root = false;
  std::string hostname;
  ProcessConfig process;
  std::vector<MountEntry> mounts;
  std::vector<NamespaceEntry> namespaces;
  std::string cgroups_path;  // "/<id>" when config.json names none, as runc does
  runtime::ResourceSpec resources;
  std::vector<DeviceRule> devices;
  std::map<std::string, std::string> sysctls;
  std::vector<std::string> masked_paths, readonly_paths;
  std::string rootfs_propagation;  // "" (rslave), "rprivate", "rshared", ...

  const NamespaceEntry* find_namespace(NamespaceKind kind) const;
  bool new_namespace(NamespaceKind kind) const {
    auto* ns = find_namespace(kind);
    return ns && ns->path.empty();
  }
};

// Reads <bundle>/config.json; id fills in the default cgroup path.
Result<BundleConfig> load_bundle_config(const std::string& bundle, const std::string& id);
Result<BundleConfig> parse_bundle_config(const Json& config, const std::string& bundle, const std::string& id);

// A "process" object (config.json's, or the process.json of `exec --process`).
Result<ProcessConfig> parse_process_config(const Json& process);

// A "linux.resources" object (config.json's, or what `update --resources` reads).
Result<runtime::ResourceSpec> parse_resources(const Json& resources, std::vector<DeviceRule>* devices);

// Capability number of "CAP_NET_ADMIN", or -1.
int capability_number(std::string_view name);

}  // namespace deckhand::oci
