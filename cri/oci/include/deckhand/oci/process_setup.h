// What the container's process gets besides its file system: hostname,
// sysctls, rlimits, oom_score_adj, then (last, as they take power away)
// groups, uid/gid, umask, capabilities and no_new_privs; and the executable
// found on the container's PATH. Used by the init (create) and by exec.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "deckhand/common/result.h"
#include "deckhand/oci/bundle_config.h"

namespace deckhand::oci {

Status set_hostname(const std::string& hostname);
// Writes each key (dots as slashes) under /proc/sys.
Status apply_sysctls(const std::map<std::string, std::string>& sysctls);
Status apply_rlimits(const std::vector<Rlimit>& rlimits);
// Sets oom_score_adj; a value below the current one needs CAP_SYS_RESOURCE,
// which root lacks on our hosts: then the current value is kept (clamped).
Status apply_oom_score_adj(int value);

// Switches to the user and drops to the configured capabilities.
Status apply_identity(const ProcessConfig& process);

// The executable args[0] names: itself when it holds a slash, else the first
// executable match on the PATH of env (the default PATH when env has none).
Result<std::string> find_executable(const std::string& name, const std::vector<std::string>& env);

// argv/envp arrays for execve, pointing into the strings.
std::vector<char*> exec_array(const std::vector<std::string>& strings);

}  // namespace deckhand::oci
