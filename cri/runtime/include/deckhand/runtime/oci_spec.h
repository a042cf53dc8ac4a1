// Builds an OCI runtime-spec config.json for a container from what the CRI
// request and the image config asked for.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"

namespace deckhand::runtime {

struct MountSpec {
  std::string destination;
  std::string source;
  std::string type = "bind";
  std::vector<std::string> options;  // "rbind", "ro", "rprivate", "rslave", "rshared", ...
};

struct ResourceSpec {
  int64_t cpu_shares = 0;    // 0: unset
  int64_t cpu_quota = 0;
  int64_t cpu_period = 0;
  int64_t memory_limit = 0;  // bytes
  std::string cpuset_cpus, cpuset_mems;
  std::map<std::string, uint64_t> hugepage_limits;  // page size ("2MB") -> bytes
  std::map<std::string, std::string> unified;       // cgroup v2 key -> value
  int64_t pids_limit = 0;    // 0: unset
};

// Paths of namespaces to join; an empty path means the namespace is not
// shared with the sandbox (host namespace for net/ipc/uts/pid when the pod
// uses the host's, a new one when new_pid_ns).
struct NamespacePaths {
  std::string net, ipc, uts, pid;
  bool new_pid_ns = false;  // container-private PID namespace
  // New namespaces of these kinds (the sandbox container itself); each is
  // exclusive with a path of the same kind.
  bool new_net_ns = false, new_ipc_ns = false, new_uts_ns = false;
};

struct ContainerSpec {
  std::string id;
  std::string rootfs;  // mounted overlay
  bool readonly_rootfs = false;
  std::vector<std::string> args;
  std::vector<std::string> env;  // KEY=VALUE
  std::string cwd = "/";
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
  std::string hostname;  // set only with namespaces.new_uts_ns (runc refuses it otherwise)
  std::vector<MountSpec> mounts;  // the request's mounts; /proc, /sys, /dev... are added
  NamespacePaths namespaces;
  std::string cgroups_path;       // cgroupfs path, e.g. /kubepods/pod<uid>/<id>
  ResourceSpec resources;
  int oom_score_adj = 0;          // already clamped by the caller where needed
  std::vector<std::string> cap_add, cap_drop;  // "NET_ADMIN" or "CAP_NET_ADMIN"; "ALL"
  bool privileged = false;
  bool no_new_privs = false;
  std::vector<std::string> masked_paths, readonly_paths;  // empty: defaults (none when privileged)
  bool default_masked_paths = true;  // false when the request gave explicit (possibly empty) lists
  std::map<std::string, std::string> sysctls;
  std::map<std::string, std::string> annotations;
  std::string apparmor_profile, seccomp_profile_path;  // unused on our hosts; kept for completeness
  bool tty = false;
  // Whether the runtime can apply hugetlb limits (CgroupDriver::has_hugetlb);
  // without it hugepage limits are left out, as runc fails a container that sets them.
  bool hugetlb_available = false;
};

// The config.json document, or InvalidArgument naming the field at fault.
Result<Json> build_oci_config(const ContainerSpec& spec);

struct UserIds {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
};

// Resolves "name", "uid", "name:group", "uid:gid" against <rootfs>/etc/passwd
// and /etc/group, reading them inside rootfs (symlinks cannot lead out).
// A numeric uid not in /etc/passwd is allowed, with gid 0.
Result<UserIds> resolve_user(const std::string& rootfs, const std::string& user);

}  // namespace deckhand::runtime
