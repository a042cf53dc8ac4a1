#include "deckhand/oci/process_setup.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include "deckhand/common/fs.h"

namespace deckhand::oci {
namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

Status write_proc_file(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return sys_fail("open {}", path);
  UniqueFd f(fd);
  if (::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    return sys_fail("write \"{}\" to {}", value, path);
  return {};
}

Status drop_bounding(uint64_t keep) {
  // PR_CAPBSET_READ fails with EINVAL past the last capability this kernel knows.
  for (int cap = 0; cap < 64 && ::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; ++cap) {
    if (keep & (uint64_t{1} << cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return sys_fail("drop capability {} from the bounding set", cap);
  }
  return {};
}

Status set_capabilities(const CapabilitySets& caps) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] {};
  for (int i = 0; i < 2; ++i) {
    data[i].effective = static_cast<uint32_t>(caps.effective >> (32 * i));
    data[i].permitted = static_cast<uint32_t>(caps.permitted >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(caps.inheritable >> (32 * i));
  }
  if (::syscall(SYS_capset, &header, data) != 0) return sys_fail("set capabilities");
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return sys_fail("clear ambient capabilities");
  for (int cap = 0; cap < 64; ++cap)
    if ((caps.ambient & (uint64_t{1} << cap)) && ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
      return sys_fail("raise ambient capability {}", cap);
  return {};
}

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

Status set_hostname(const std::string& hostname) {
  if (::sethostname(hostname.data(), hostname.size()) != 0) return sys_fail("set hostname \"{}\"", hostname);
  return {};
}

Status apply_sysctls(const std::map<std::string, std::string>& sysctls) {
  for (const auto& [key, value] : sysctls) {
    std::string path = "/proc/sys/" + key;
    for (size_t i = 10; i < path.size(); ++i)
      if (path[i] == '.') path[i] = '/';
    DH_CHECK(with_context(write_proc_file(path, value), "sysctl {}", key));
  }
  return {};
}

Status apply_rlimits(const std::vector<Rlimit>& rlimits) {
  for (const auto& r : rlimits) {
    rlimit lim{static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)};
    if (::setrlimit(static_cast<__rlimit_resource_t>(r.resource), &lim) != 0)
      return sys_fail("set {} to soft {} hard {}", r.name, r.soft, r.hard);
  }
  return {};
}

Status apply_oom_score_adj(int value) {
  const std::string path = "/proc/self/oom_score_adj";
  auto st = write_proc_file(path, std::to_string(value));
  if (st) return {};
  int e = st.error().sys_errno;
  if (e != EACCES && e != EPERM) return st;
  // Lowering it needs CAP_SYS_RESOURCE: keep what we have, the lowest we may.
  auto current = fs::read_file(path);
  if (current && value < std::atoi(current->c_str())) return {};
  return st;
}

Status apply_identity(const ProcessConfig& p) {
  ::umask(p.umask.value_or(022));
  DH_CHECK(drop_bounding(p.caps.bounding));
  // Keep the permitted set across the switch to a non-root uid; capset trims it after.
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return sys_fail("set keepcaps");
  if (::setgroups(p.additional_gids.size(), p.additional_gids.data()) != 0)
    return sys_fail("set additional groups");
  if (::setresgid(p.gid, p.gid, p.gid) != 0) return sys_fail("set gid {}", p.gid);
  if (::setresuid(p.uid, p.uid, p.uid) != 0) return sys_fail("set uid {}", p.uid);
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return sys_fail("clear keepcaps");
  DH_CHECK(set_capabilities(p.caps));
  if (p.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return sys_fail("set no_new_privs");
  return {};
}

Result<std::string> find_executable(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) {
    if (is_executable_file(name)) return name;
    return sys_fail("executable {}", name);
  }
  std::string path = kDefaultPath;
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find(':', pos);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(pos, end - pos);
    pos = end + 1;
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
  }
  return fail(ErrorKind::NotFound, "executable \"{}\" not found in $PATH ({})", name, path);
}

std::vector<char*> exec_array(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace deckhand::oci
