#include "container_spec.h"

#include <signal.h>
#include <sys/stat.h>

#include <array>
#include <cstring>

#include "deckhand/common/fs.h"

namespace deckhand::cri {

namespace v1 = ::runtime::v1;

namespace {

std::vector<std::string> merged_env(const images::ImageConfig& image, const v1::ContainerConfig& c) {
  std::vector<std::string> env = image.env;
  for (auto& kv : c.envs()) {
    std::string prefix = kv.key() + "=";
    bool replaced = false;
    for (auto& e : env) {
      if (e.rfind(prefix, 0) == 0) {
        e = prefix + kv.value();
        replaced = true;
      }
    }
    if (!replaced) env.push_back(prefix + kv.value());
  }
  return env;
}

// Kubernetes' rule: command replaces the entrypoint, args replace the cmd.
std::vector<std::string> command_line(const images::ImageConfig& image, const v1::ContainerConfig& c) {
  std::vector<std::string> out;
  if (c.command_size()) {
    out.assign(c.command().begin(), c.command().end());
    out.insert(out.end(), c.args().begin(), c.args().end());
  } else if (c.args_size()) {
    out = image.entrypoint;
    out.insert(out.end(), c.args().begin(), c.args().end());
  } else {
    out = image.entrypoint;
    out.insert(out.end(), image.cmd.begin(), image.cmd.end());
  }
  return out;
}

std::string user_spec(const v1::LinuxContainerSecurityContext& sc, const images::ImageConfig& image) {
  if (sc.has_run_as_user()) {
    std::string u = std::to_string(sc.run_as_user().value());
    if (sc.has_run_as_group()) u += ":" + std::to_string(sc.run_as_group().value());
    return u;
  }
  if (!sc.run_as_username().empty()) {
    std::string u = sc.run_as_username();
    if (sc.has_run_as_group()) u += ":" + std::to_string(sc.run_as_group().value());
    return u;
  }
  return image.user;
}

const char* propagation_option(v1::MountPropagation p) {
  switch (p) {
    case v1::PROPAGATION_HOST_TO_CONTAINER: return "rslave";
    case v1::PROPAGATION_BIDIRECTIONAL: return "rshared";
    default: return "rprivate";
  }
}

Result<std::vector<runtime::MountSpec>> request_mounts(const v1::ContainerConfig& c) {
  std::vector<runtime::MountSpec> out;
  for (int i = 0; i < c.mounts_size(); ++i) {
    const auto& m = c.mounts(i);
    if (m.container_path().empty() || m.container_path()[0] != '/')
      return fail(ErrorKind::InvalidArgument, "mounts[{}].container_path \"{}\" must be an absolute path", i,
                  m.container_path());
    if (m.host_path().empty() || m.host_path()[0] != '/')
      return fail(ErrorKind::InvalidArgument, "mounts[{}].host_path \"{}\" must be an absolute path", i,
                  m.host_path());
    struct stat st {};
    if (::stat(m.host_path().c_str(), &st) != 0)
      return fail(ErrorKind::InvalidArgument, "mounts[{}].host_path \"{}\": {}", i, m.host_path(),
                  errno_text(errno));
    runtime::MountSpec ms;
    ms.destination = m.container_path();
    ms.source = m.host_path();
    ms.options = {"rbind", propagation_option(m.propagation())};
    ms.options.push_back(m.readonly() ? "ro" : "rw");
    out.push_back(std::move(ms));
  }
  return out;
}

bool has_destination(const std::vector<runtime::MountSpec>& mounts, const std::string& dst) {
  for (auto& m : mounts)
    if (m.destination == dst) return true;
  return false;
}

// The pod's files and /dev/shm, unless the request mounts something there itself.
void add_sandbox_mounts(std::vector<runtime::MountSpec>& mounts, const SandboxRecord& sb, bool readonly_rootfs) {
  const char* rw = readonly_rootfs ? "ro" : "rw";
  for (const char* f : {"hostname", "hosts", "resolv.conf"}) {
    std::string dst = std::string("/etc/") + f;
    if (!has_destination(mounts, dst)) mounts.push_back({dst, sb.dir + "/" + f, "bind", {"rbind", "rprivate", rw}});
  }
  if (!has_destination(mounts, "/dev/shm")) {
    std::string src = sb.shm_path.empty() ? "/dev/shm" : sb.shm_path;
    mounts.push_back({"/dev/shm", src, "bind", {"rbind", "rprivate", "rw"}});
  }
}

Result<runtime::NamespacePaths> namespaces(const v1::ContainerConfig& c, const SandboxRecord& sb) {
  const auto& pod_ns = sb.config.linux().security_context().namespace_options();
  const auto& ns = c.linux().security_context().namespace_options();
  std::string proc = "/proc/" + std::to_string(sb.pause_pid) + "/ns/";
  runtime::NamespacePaths p;
  if (pod_ns.network() != v1::NODE) {
    p.net = sb.netns_path;
    p.uts = proc + "uts";
  }
  if (pod_ns.ipc() != v1::NODE) p.ipc = proc + "ipc";
  switch (ns.pid()) {
    case v1::POD:
      if (pod_ns.pid() == v1::POD) p.pid = proc + "pid";
      else p.new_pid_ns = true;
      break;
    case v1::CONTAINER: p.new_pid_ns = true; break;
    case v1::NODE: break;
    case v1::TARGET:
      return fail(ErrorKind::Unimplemented, "linux.security_context.namespace_options.pid: TARGET is not supported");
    default: break;
  }
  return p;
}

}  // namespace

runtime::ResourceSpec to_resource_spec(const v1::LinuxContainerResources& r) {
  runtime::ResourceSpec s;
  s.cpu_shares = r.cpu_shares();
  s.cpu_quota = r.cpu_quota();
  s.cpu_period = r.cpu_period();
  s.memory_limit = r.memory_limit_in_bytes();
  s.cpuset_cpus = r.cpuset_cpus();
  s.cpuset_mems = r.cpuset_mems();
  for (auto& h : r.hugepage_limits())
    if (h.limit() > 0) s.hugepage_limits[h.page_size()] = h.limit();
  for (auto& [k, v] : r.unified()) s.unified[k] = v;
  return s;
}

int parse_signal(const std::string& name) {
  static const std::array<std::pair<const char*, int>, 20> table = {{
      {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL}, {"ABRT", SIGABRT},
      {"FPE", SIGFPE}, {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
      {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},
      {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"WINCH", SIGWINCH}, {"PWR", SIGPWR}, {"SYS", SIGSYS},
  }};
  if (name.empty()) return 0;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) {
    int n = std::atoi(name.c_str());
    return n > 0 && n < 65 ? n : 0;
  }
  std::string n = name.rfind("SIG", 0) == 0 ? name.substr(3) : name;
  for (auto& [k, v] : table)
    if (n == k) return v;
  return 0;
}

int stop_signal_for(const v1::ContainerConfig& config, const images::ImageConfig& image) {
  if (config.stop_signal() != v1::SIGNAL_RUNTIME_DEFAULT) {
    std::string name = v1::Signal_Name(config.stop_signal());  // "SIGNAL_SIGKILL"
    if (int s = parse_signal(name.substr(std::strlen("SIGNAL_")))) return s;
  }
  if (int s = parse_signal(image.stop_signal)) return s;
  return SIGTERM;
}

Status validate_container_config(const v1::ContainerConfig& c) {
  if (!c.has_metadata()) return fail(ErrorKind::InvalidArgument, "config.metadata is missing");
  if (c.metadata().name().empty()) return fail(ErrorKind::InvalidArgument, "config.metadata.name is empty");
  if (c.image().image().empty()) return fail(ErrorKind::InvalidArgument, "config.image.image is empty");
  if (c.tty() || c.stdin())
    return fail(ErrorKind::Unimplemented, "config.tty/stdin: interactive containers come with streaming");
  return {};
}

Result<runtime::ContainerSpec> make_container_spec(const ContainerSpecInput& in) {
  const auto& c = in.container.config;
  const auto& sc = c.linux().security_context();
  runtime::ContainerSpec s;
  s.id = in.container.id;
  s.rootfs = in.container.rootfs;
  s.readonly_rootfs = sc.readonly_rootfs();
  s.args = command_line(in.image.config, c);
  if (s.args.empty())
    return fail(ErrorKind::InvalidArgument, "no command: config.command, config.args and the image's entrypoint and cmd are all empty");
  s.env = merged_env(in.image.config, c);
  s.cwd = !c.working_dir().empty() ? c.working_dir()
          : !in.image.config.working_dir.empty() ? in.image.config.working_dir : "/";
  DH_TRY(user, runtime::resolve_user(s.rootfs, user_spec(sc, in.image.config)));
  s.uid = user.uid;
  s.gid = user.gid;
  s.additional_gids = user.additional_gids;
  for (auto g : sc.supplemental_groups()) s.additional_gids.push_back(static_cast<uint32_t>(g));
  DH_TRY(mounts, request_mounts(c));
  add_sandbox_mounts(mounts, in.sandbox, s.readonly_rootfs);
  s.mounts = std::move(mounts);
  DH_TRY(ns, namespaces(c, in.sandbox));
  s.namespaces = ns;
  s.cgroups_path = in.container.cgroup_path;
  s.resources = to_resource_spec(c.linux().resources());
  s.hugetlb_available = in.hugetlb_available;
  int oom = static_cast<int>(c.linux().resources().oom_score_adj());
  // Without CAP_SYS_RESOURCE the kernel refuses to lower oom_score_adj below ours.
  if (!in.can_lower_oom_score_adj && oom < in.own_oom_score_adj) oom = in.own_oom_score_adj;
  s.oom_score_adj = oom;
  s.cap_add.assign(sc.capabilities().add_capabilities().begin(), sc.capabilities().add_capabilities().end());
  s.cap_drop.assign(sc.capabilities().drop_capabilities().begin(), sc.capabilities().drop_capabilities().end());
  s.privileged = sc.privileged();
  s.no_new_privs = sc.no_new_privs();
  s.masked_paths.assign(sc.masked_paths().begin(), sc.masked_paths().end());
  s.readonly_paths.assign(sc.readonly_paths().begin(), sc.readonly_paths().end());
  s.default_masked_paths = sc.masked_paths_size() == 0 && sc.readonly_paths_size() == 0;
  for (auto& [k, v] : c.annotations()) s.annotations[k] = v;
  return s;
}

}  // namespace deckhand::cri
