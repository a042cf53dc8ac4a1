// config.json -> BundleConfig. Every access checks the JSON type first, so
// nlohmann never throws; what is wrong comes back naming its field, e.g.
// "config.json: mounts[3].destination: \"tmp\" is not an absolute path".
#include "deckhand/oci/bundle_config.h"

#include <sched.h>
#include <sys/stat.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <set>

#include "deckhand/common/fs.h"

namespace deckhand::oci {
namespace {

constexpr std::array<std::string_view, 41> kCapabilityNames = {
    "CAP_CHOWN",       "CAP_DAC_OVERRIDE",     "CAP_DAC_READ_SEARCH", "CAP_FOWNER",       "CAP_FSETID",
    "CAP_KILL",        "CAP_SETGID",           "CAP_SETUID",          "CAP_SETPCAP",      "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",     "CAP_NET_RAW",      "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",   "CAP_SYS_MODULE",       "CAP_SYS_RAWIO",       "CAP_SYS_CHROOT",   "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",   "CAP_SYS_ADMIN",        "CAP_SYS_BOOT",        "CAP_SYS_NICE",     "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",    "CAP_SYS_TTY_CONFIG",   "CAP_MKNOD",           "CAP_LEASE",        "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP",        "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",  "CAP_BLOCK_SUSPEND",    "CAP_AUDIT_READ",      "CAP_PERFMON",      "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

struct RlimitName {
  std::string_view name;
  int resource;
};
constexpr std::array<RlimitName, 16> kRlimits = {{
    {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_STACK", RLIMIT_STACK},     {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_LOCKS", RLIMIT_LOCKS},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},     {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
}};

struct NamespaceName {
  std::string_view type;
  NamespaceKind kind;
};
constexpr std::array<NamespaceName, 6> kNamespaceTypes = {{
    {"mount", NamespaceKind::Mount}, {"network", NamespaceKind::Network}, {"ipc", NamespaceKind::Ipc},
    {"uts", NamespaceKind::Uts},     {"pid", NamespaceKind::Pid},         {"cgroup", NamespaceKind::Cgroup},
}};

tl::unexpected<Error> bad(const std::string& field, std::string_view why) {
  return fail(ErrorKind::InvalidArgument, "config.json: {}: {}", field, why);
}

std::string sub(const std::string& where, std::string_view key) {
  return where.empty() ? std::string(key) : where + "." + std::string(key);
}

std::string at(const std::string& where, size_t i) { return fmt::format("{}[{}]", where, i); }

// The member key of obj, or nullptr when absent or null.
const Json* member(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

Result<std::string> string_of(const Json& obj, std::string_view key, const std::string& where, bool required) {
  const Json* v = member(obj, key);
  if (!v) {
    if (required) return bad(sub(where, key), "missing");
    return std::string();
  }
  if (!v->is_string()) return bad(sub(where, key), "not a string");
  return v->get<std::string>();
}

Result<bool> bool_of(const Json& obj, std::string_view key, const std::string& where) {
  const Json* v = member(obj, key);
  if (!v) return false;
  if (!v->is_boolean()) return bad(sub(where, key), "not a boolean");
  return v->get<bool>();
}

Result<std::optional<int64_t>> int_of(const Json& obj, std::string_view key, const std::string& where) {
  const Json* v = member(obj, key);
  if (!v) return std::optional<int64_t>();
  if (!v->is_number_integer()) return bad(sub(where, key), "not an integer");
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    return bad(sub(where, key), "out of range");
  return std::optional<int64_t>(v->get<int64_t>());
}

Result<uint64_t> u64_of(const Json& obj, std::string_view key, const std::string& where) {
  const Json* v = member(obj, key);
  if (!v) return bad(sub(where, key), "missing");
  if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0))
    return bad(sub(where, key), "not a non-negative integer");
  return v->get<uint64_t>();
}

Result<uint32_t> id_of(const Json& obj, std::string_view key, const std::string& where) {
  DH_TRY(v, int_of(obj, key, where));
  if (!v) return uint32_t{0};
  if (*v < 0 || *v > UINT32_MAX) return bad(sub(where, key), fmt::format("{} is not a valid id", *v));
  return static_cast<uint32_t>(*v);
}

Result<std::vector<std::string>> strings_of(const Json& obj, std::string_view key, const std::string& where) {
  std::vector<std::string> out;
  const Json* v = member(obj, key);
  if (!v) return out;
  if (!v->is_array()) return bad(sub(where, key), "not an array");
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) return bad(at(sub(where, key), i), "not a string");
    out.push_back((*v)[i].get<std::string>());
  }
  return out;
}

Result<const Json*> object_of(const Json& obj, std::string_view key, const std::string& where, bool required) {
  const Json* v = member(obj, key);
  if (!v) {
    if (required) return bad(sub(where, key), "missing");
    return nullptr;
  }
  if (!v->is_object()) return bad(sub(where, key), "not an object");
  return v;
}

Result<const Json*> array_of(const Json& obj, std::string_view key, const std::string& where) {
  const Json* v = member(obj, key);
  if (v && !v->is_array()) return bad(sub(where, key), "not an array");
  return v;
}

bool is_absolute(const std::string& p) { return !p.empty() && p[0] == '/'; }

// Something present and not empty: a feature we would have to implement.
bool is_set(const Json* v) { return v && !v->empty(); }

Result<uint64_t> capability_mask(const Json& caps, std::string_view key, const std::string& where) {
  DH_TRY(names, strings_of(caps, key, where));
  uint64_t mask = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    int n = capability_number(names[i]);
    if (n < 0) return bad(at(sub(where, key), i), fmt::format("unknown capability \"{}\"", names[i]));
    mask |= uint64_t{1} << n;
  }
  return mask;
}

Result<CapabilitySets> parse_capabilities(const Json& process, const std::string& where) {
  CapabilitySets sets;
  DH_TRY(caps, object_of(process, "capabilities", where, false));
  if (!caps) return sets;
  std::string w = sub(where, "capabilities");
  DH_TRY(bounding, capability_mask(*caps, "bounding", w));
  DH_TRY(effective, capability_mask(*caps, "effective", w));
  DH_TRY(permitted, capability_mask(*caps, "permitted", w));
  DH_TRY(inheritable, capability_mask(*caps, "inheritable", w));
  DH_TRY(ambient, capability_mask(*caps, "ambient", w));
  return CapabilitySets{bounding, effective, permitted, inheritable, ambient};
}

Result<std::vector<Rlimit>> parse_rlimits(const Json& process, const std::string& where) {
  std::vector<Rlimit> out;
  DH_TRY(list, array_of(process, "rlimits", where));
  if (!list) return out;
  for (size_t i = 0; i < list->size(); ++i) {
    std::string w = at(sub(where, "rlimits"), i);
    DH_TRY(type, string_of((*list)[i], "type", w, true));
    auto known = std::find_if(kRlimits.begin(), kRlimits.end(), [&](auto& r) { return r.name == type; });
    if (known == kRlimits.end()) return bad(sub(w, "type"), fmt::format("unknown rlimit \"{}\"", type));
    DH_TRY(hard, u64_of((*list)[i], "hard", w));
    DH_TRY(soft, u64_of((*list)[i], "soft", w));
    if (soft > hard) return bad(w, fmt::format("soft limit {} above hard limit {}", soft, hard));
    out.push_back({type, known->resource, soft, hard});
  }
  return out;
}

Status parse_user(const Json& process, const std::string& where, ProcessConfig& p) {
  DH_TRY(user, object_of(process, "user", where, false));
  if (!user) return {};
  std::string w = sub(where, "user");
  DH_TRY(uid, id_of(*user, "uid", w));
  DH_TRY(gid, id_of(*user, "gid", w));
  p.uid = uid;
  p.gid = gid;
  DH_TRY(gids, array_of(*user, "additionalGids", w));
  for (size_t i = 0; gids && i < gids->size(); ++i) {
    const Json& g = (*gids)[i];
    if (!g.is_number_unsigned() || g.get<uint64_t>() > UINT32_MAX)
      return bad(at(sub(w, "additionalGids"), i), "not a valid gid");
    p.additional_gids.push_back(g.get<uint32_t>());
  }
  DH_TRY(umask, int_of(*user, "umask", w));
  if (umask) {
    if (*umask < 0 || *umask > 0777) return bad(sub(w, "umask"), fmt::format("{} is not a umask", *umask));
    p.umask = static_cast<mode_t>(*umask);
  }
  if (member(*user, "username")) return bad(sub(w, "username"), "Windows only");
  return {};
}

Status check_env(const std::vector<std::string>& env, const std::string& where) {
  for (size_t i = 0; i < env.size(); ++i) {
    auto eq = env[i].find('=');
    if (eq == std::string::npos || eq == 0) return bad(at(where, i), fmt::format("\"{}\" is not KEY=VALUE", env[i]));
  }
  return {};
}

Result<MountEntry> parse_mount(const Json& m, const std::string& where, const std::string& bundle) {
  if (!m.is_object()) return bad(where, "not an object");
  MountEntry e;
  DH_TRY(dest, string_of(m, "destination", where, true));
  if (!is_absolute(dest)) return bad(sub(where, "destination"), fmt::format("\"{}\" is not an absolute path", dest));
  if (dest == "/") return bad(sub(where, "destination"), "cannot mount over the root");
  DH_TRY(type, string_of(m, "type", where, false));
  DH_TRY(source, string_of(m, "source", where, false));
  DH_TRY(options, strings_of(m, "options", where));
  bool bind = std::any_of(options.begin(), options.end(), [](auto& o) { return o == "bind" || o == "rbind"; });
  if (type.empty() && bind) type = "bind";
  if (type.empty()) return bad(sub(where, "type"), "missing (and no bind option)");
  if (type == "bind" && !bind) options.insert(options.begin(), "bind");
  if (type == "bind") {
    if (source.empty()) return bad(sub(where, "source"), "a bind mount needs a source");
    if (!is_absolute(source)) source = fs::join(bundle, source);
  }
  e.destination = std::move(dest);
  e.type = std::move(type);
  e.source = std::move(source);
  e.options = std::move(options);
  return e;
}

Result<std::vector<NamespaceEntry>> parse_namespaces(const Json& lx, const std::string& where) {
  std::vector<NamespaceEntry> out;
  DH_TRY(list, array_of(lx, "namespaces", where));
  std::set<NamespaceKind> seen;
  for (size_t i = 0; list && i < list->size(); ++i) {
    std::string w = at(sub(where, "namespaces"), i);
    DH_TRY(type, string_of((*list)[i], "type", w, true));
    DH_TRY(path, string_of((*list)[i], "path", w, false));
    if (type == "user" || type == "time")
      return bad(sub(w, "type"), fmt::format("{} namespaces are not supported by deckhand-oci", type));
    auto known = std::find_if(kNamespaceTypes.begin(), kNamespaceTypes.end(), [&](auto& n) { return n.type == type; });
    if (known == kNamespaceTypes.end()) return bad(sub(w, "type"), fmt::format("unknown namespace type \"{}\"", type));
    if (!path.empty() && !is_absolute(path)) return bad(sub(w, "path"), fmt::format("\"{}\" is not absolute", path));
    if (!seen.insert(known->kind).second) return bad(sub(w, "type"), fmt::format("{} namespace given twice", type));
    out.push_back({known->kind, path});
  }
  return out;
}

Result<std::vector<DeviceRule>> parse_device_rules(const Json& res, const std::string& where) {
  std::vector<DeviceRule> out;
  DH_TRY(list, array_of(res, "devices", where));
  for (size_t i = 0; list && i < list->size(); ++i) {
    std::string w = at(sub(where, "devices"), i);
    const Json& d = (*list)[i];
    if (!d.is_object()) return bad(w, "not an object");
    DeviceRule r;
    DH_TRY(allow, bool_of(d, "allow", w));
    r.allow = allow;
    DH_TRY(type, string_of(d, "type", w, false));
    if (type.size() > 1 || type.find_first_not_of("abc") != std::string::npos)
      return bad(sub(w, "type"), fmt::format("\"{}\" is not a, b or c", type));
    r.type = type.empty() ? 'a' : type[0];
    DH_TRY(major, int_of(d, "major", w));
    DH_TRY(minor, int_of(d, "minor", w));
    r.major = major.value_or(-1);
    r.minor = minor.value_or(-1);
    DH_TRY(access, string_of(d, "access", w, false));
    if (access.find_first_not_of("rwm") != std::string::npos)
      return bad(sub(w, "access"), fmt::format("\"{}\" is not made of r, w and m", access));
    r.access = access.empty() ? "rwm" : access;
    out.push_back(r);
  }
  return out;
}

Status parse_cpu(const Json& res, const std::string& where, runtime::ResourceSpec& r) {
  DH_TRY(cpu, object_of(res, "cpu", where, false));
  if (!cpu) return {};
  std::string w = sub(where, "cpu");
  DH_TRY(shares, int_of(*cpu, "shares", w));
  DH_TRY(quota, int_of(*cpu, "quota", w));
  DH_TRY(period, int_of(*cpu, "period", w));
  if (shares.value_or(0) < 0 || period.value_or(0) < 0) return bad(w, "negative shares or period");
  r.cpu_shares = shares.value_or(0);
  r.cpu_quota = quota.value_or(0);
  r.cpu_period = period.value_or(0);
  DH_TRY(cpus, string_of(*cpu, "cpus", w, false));
  DH_TRY(mems, string_of(*cpu, "mems", w, false));
  r.cpuset_cpus = cpus;
  r.cpuset_mems = mems;
  return {};
}

Status parse_hugepages(const Json& res, const std::string& where, runtime::ResourceSpec& r) {
  DH_TRY(list, array_of(res, "hugepageLimits", where));
  for (size_t i = 0; list && i < list->size(); ++i) {
    std::string w = at(sub(where, "hugepageLimits"), i);
    DH_TRY(size, string_of((*list)[i], "pageSize", w, true));
    DH_TRY(limit, u64_of((*list)[i], "limit", w));
    r.hugepage_limits[size] = limit;
  }
  return {};
}

Status parse_unified(const Json& res, const std::string& where, runtime::ResourceSpec& r) {
  DH_TRY(unified, object_of(res, "unified", where, false));
  if (!unified) return {};
  for (auto it = unified->begin(); it != unified->end(); ++it) {
    if (!it->is_string()) return bad(sub(sub(where, "unified"), it.key()), "not a string");
    r.unified[it.key()] = it->get<std::string>();
  }
  return {};
}

Result<std::map<std::string, std::string>> parse_sysctls(const Json& lx, const std::string& where) {
  std::map<std::string, std::string> out;
  DH_TRY(sysctl, object_of(lx, "sysctl", where, false));
  if (!sysctl) return out;
  for (auto it = sysctl->begin(); it != sysctl->end(); ++it) {
    const std::string& key = it.key();
    std::string w = sub(sub(where, "sysctl"), key);
    if (!it->is_string()) return bad(w, "not a string");
    if (key.empty() || key.find('/') != std::string::npos || key.find("..") != std::string::npos || key[0] == '.')
      return bad(w, "not a sysctl name");
    out[key] = it->get<std::string>();
  }
  return out;
}

Status check_paths(const std::vector<std::string>& paths, const std::string& where) {
  for (size_t i = 0; i < paths.size(); ++i)
    if (!is_absolute(paths[i])) return bad(at(where, i), fmt::format("\"{}\" is not an absolute path", paths[i]));
  return {};
}

// Features we would have to implement to honour them; ignoring them silently
// would run a container less confined than asked.
Status refuse_unsupported(const Json& config, const Json* lx) {
  if (is_set(member(config, "hooks"))) return bad("hooks", "hooks are not supported by deckhand-oci");
  if (!lx) return {};
  const char* refused[] = {"seccomp", "uidMappings", "gidMappings", "devices", "intelRdt", "personality"};
  for (const char* key : refused)
    if (is_set(member(*lx, key))) return bad(sub("linux", key), "not supported by deckhand-oci");
  return {};
}

Status parse_linux(const Json& lx, BundleConfig& c, const std::string& id) {
  const std::string where = "linux";
  DH_TRY(namespaces, parse_namespaces(lx, where));
  c.namespaces = std::move(namespaces);
  DH_TRY(cgroups_path, string_of(lx, "cgroupsPath", where, false));
  if (cgroups_path.find(':') != std::string::npos)
    return bad("linux.cgroupsPath", fmt::format("\"{}\" is a systemd cgroup path; deckhand-oci uses cgroupfs", cgroups_path));
  c.cgroups_path = cgroups_path.empty() ? "/" + id : cgroups_path;
  if (c.cgroups_path[0] != '/') c.cgroups_path = "/" + c.cgroups_path;
  DH_TRY(res, object_of(lx, "resources", where, false));
  if (res) {
    DH_TRY(resources, parse_resources(*res, &c.devices));
    c.resources = std::move(resources);
  }
  DH_TRY(sysctls, parse_sysctls(lx, where));
  c.sysctls = std::move(sysctls);
  DH_TRY(masked, strings_of(lx, "maskedPaths", where));
  DH_TRY(readonly, strings_of(lx, "readonlyPaths", where));
  DH_CHECK(check_paths(masked, "linux.maskedPaths"));
  DH_CHECK(check_paths(readonly, "linux.readonlyPaths"));
  c.masked_paths = std::move(masked);
  c.readonly_paths = std::move(readonly);
  DH_TRY(prop, string_of(lx, "rootfsPropagation", where, false));
  static const std::set<std::string> kProps = {"",      "private", "rprivate", "slave",      "rslave",
                                               "shared", "rshared", "unbindable", "runbindable"};
  if (!kProps.count(prop)) return bad("linux.rootfsPropagation", fmt::format("unknown propagation \"{}\"", prop));
  c.rootfs_propagation = prop;
  return {};
}

Status parse_root(const Json& config, const std::string& bundle, BundleConfig& c) {
  DH_TRY(root, object_of(config, "root", "", true));
  DH_TRY(path, string_of(*root, "path", "root", true));
  if (path.empty()) return bad("root.path", "empty");
  c.rootfs = is_absolute(path) ? path : fs::join(bundle, path);
  struct stat st {};
  if (::stat(c.rootfs.c_str(), &st) != 0)
    return bad("root.path", fmt::format("{}: {}", c.rootfs, errno_text(errno)));
  if (!S_ISDIR(st.st_mode)) return bad("root.path", fmt::format("{} is not a directory", c.rootfs));
  DH_TRY(ro, bool_of(*root, "readonly", "root"));
  c.readonly_root = ro;
  return {};
}

Result<BundleConfig> parse_checked(const Json& config, const std::string& bundle, const std::string& id) {
  if (!config.is_object()) return bad("(top level)", "not an object");
  BundleConfig c;
  c.bundle = bundle;
  DH_TRY(version, string_of(config, "ociVersion", "", true));
  if (version.rfind("1.", 0) != 0) return bad("ociVersion", fmt::format("\"{}\" is not a 1.x version", version));
  DH_TRY(process, object_of(config, "process", "", true));
  DH_TRY(p, parse_process_config(*process));
  c.process = std::move(p);
  DH_CHECK(parse_root(config, bundle, c));
  DH_TRY(hostname, string_of(config, "hostname", "", false));
  c.hostname = hostname;
  DH_TRY(mounts, array_of(config, "mounts", ""));
  for (size_t i = 0; mounts && i < mounts->size(); ++i) {
    DH_TRY(m, parse_mount((*mounts)[i], at("mounts", i), bundle));
    c.mounts.push_back(std::move(m));
  }
  DH_TRY(lx, object_of(config, "linux", "", false));
  DH_CHECK(refuse_unsupported(config, lx));
  if (lx) DH_CHECK(parse_linux(*lx, c, id));
  if (!lx) c.cgroups_path = "/" + id;
  if (!c.hostname.empty() && !c.new_namespace(NamespaceKind::Uts))
    return bad("hostname", "setting it needs a new uts namespace");
  if (!c.new_namespace(NamespaceKind::Mount))
    return bad("linux.namespaces", "a new mount namespace is required");
  return c;
}

}  // namespace

const char* namespace_type_name(NamespaceKind kind) {
  for (auto& n : kNamespaceTypes)
    if (n.kind == kind) return n.type.data();
  return "?";
}

const char* namespace_proc_name(NamespaceKind kind) {
  switch (kind) {
    case NamespaceKind::Mount: return "mnt";
    case NamespaceKind::Network: return "net";
    case NamespaceKind::Ipc: return "ipc";
    case NamespaceKind::Uts: return "uts";
    case NamespaceKind::Pid: return "pid";
    case NamespaceKind::Cgroup: return "cgroup";
  }
  return "?";
}

int namespace_clone_flag(NamespaceKind kind) {
  switch (kind) {
    case NamespaceKind::Mount: return CLONE_NEWNS;
    case NamespaceKind::Network: return CLONE_NEWNET;
    case NamespaceKind::Ipc: return CLONE_NEWIPC;
    case NamespaceKind::Uts: return CLONE_NEWUTS;
    case NamespaceKind::Pid: return CLONE_NEWPID;
    case NamespaceKind::Cgroup: return CLONE_NEWCGROUP;
  }
  return 0;
}

int capability_number(std::string_view name) {
  auto it = std::find(kCapabilityNames.begin(), kCapabilityNames.end(), name);
  return it == kCapabilityNames.end() ? -1 : static_cast<int>(it - kCapabilityNames.begin());
}

const NamespaceEntry* BundleConfig::find_namespace(NamespaceKind kind) const {
  for (const auto& ns : namespaces)
    if (ns.kind == kind) return &ns;
  return nullptr;
}

Result<ProcessConfig> parse_process_config(const Json& process) {
  const std::string where = "process";
  if (!process.is_object()) return bad(where, "not an object");
  ProcessConfig p;
  DH_TRY(terminal, bool_of(process, "terminal", where));
  if (terminal) return bad("process.terminal", "terminals are not supported by deckhand-oci");
  DH_TRY(args, strings_of(process, "args", where));
  if (args.empty() || args[0].empty()) return bad("process.args", "no command to run");
  p.args = std::move(args);
  DH_TRY(env, strings_of(process, "env", where));
  DH_CHECK(check_env(env, "process.env"));
  p.env = std::move(env);
  DH_TRY(cwd, string_of(process, "cwd", where, true));
  if (!is_absolute(cwd)) return bad("process.cwd", fmt::format("\"{}\" is not an absolute path", cwd));
  p.cwd = cwd;
  DH_CHECK(parse_user(process, where, p));
  DH_TRY(caps, parse_capabilities(process, where));
  p.caps = caps;
  DH_TRY(nnp, bool_of(process, "noNewPrivileges", where));
  p.no_new_privileges = nnp;
  DH_TRY(oom, int_of(process, "oomScoreAdj", where));
  if (oom && (*oom < -1000 || *oom > 1000)) return bad("process.oomScoreAdj", fmt::format("{} is outside [-1000, 1000]", *oom));
  if (oom) p.oom_score_adj = static_cast<int>(*oom);
  DH_TRY(rlimits, parse_rlimits(process, where));
  p.rlimits = std::move(rlimits);
  return p;
}

Result<runtime::ResourceSpec> parse_resources(const Json& res, std::vector<DeviceRule>* devices) {
  const std::string where = "linux.resources";
  if (!res.is_object()) return bad(where, "not an object");
  runtime::ResourceSpec r;
  DH_CHECK(parse_cpu(res, where, r));
  DH_TRY(memory, object_of(res, "memory", where, false));
  if (memory) {
    DH_TRY(limit, int_of(*memory, "limit", sub(where, "memory")));
    if (limit.value_or(0) < -1) return bad("linux.resources.memory.limit", "negative");
    r.memory_limit = limit.value_or(0) < 0 ? 0 : limit.value_or(0);
  }
  DH_TRY(pids, object_of(res, "pids", where, false));
  if (pids) {
    DH_TRY(limit, int_of(*pids, "limit", sub(where, "pids")));
    r.pids_limit = limit.value_or(0);
  }
  DH_CHECK(parse_hugepages(res, where, r));
  DH_CHECK(parse_unified(res, where, r));
  if (devices) {
    DH_TRY(rules, parse_device_rules(res, where));
    *devices = std::move(rules);
  }
  return r;
}

Result<BundleConfig> parse_bundle_config(const Json& config, const std::string& bundle, const std::string& id) {
  // The accessors above check types first; this only guards against what they missed.
  try {
    return parse_checked(config, bundle, id);
  } catch (const Json::exception& e) {
    return fail(ErrorKind::InvalidArgument, "config.json: {}", e.what());
  }
}

Result<BundleConfig> load_bundle_config(const std::string& bundle, const std::string& id) {
  DH_TRY(config, read_json_file(fs::join(bundle, "config.json")));
  return parse_bundle_config(config, bundle, id);
}

}  // namespace deckhand::oci
