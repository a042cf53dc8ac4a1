// config.json per OCI runtime-spec 1.0.2, shaped the way runc 1.1 accepts it
// and with the defaults containerd gives a CRI container.
#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <string_view>

#include "deckhand/runtime/oci_spec.h"

namespace deckhand::runtime {
namespace {

constexpr std::string_view kOciVersion = "1.0.2";

// Every capability the kernels we run on know, in number order.
constexpr std::array<std::string_view, 41> kAllCaps = {
    "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
    "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
    "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
    "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

// The set containerd gives an unprivileged container.
constexpr std::array<std::string_view, 14> kDefaultCaps = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",      "CAP_FOWNER",           "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",      "CAP_SETFCAP",          "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
};

constexpr std::array<std::string_view, 11> kDefaultMaskedPaths = {
    "/proc/acpi",        "/proc/asound",     "/proc/kcore",       "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi",        "/sys/firmware",    "/sys/devices/virtual/powercap",
};

constexpr std::array<std::string_view, 5> kDefaultReadonlyPaths = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

bool is_all(const std::string& name) {
  std::string up;
  for (char c : name) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return up == "ALL" || up == "CAP_ALL";
}

// "net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" all name CAP_NET_ADMIN.
Result<std::string> canonical_cap(const std::string& name) {
  std::string up;
  for (char c : name) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (up.rfind("CAP_", 0) != 0) up = "CAP_" + up;
  if (std::find(kAllCaps.begin(), kAllCaps.end(), up) == kAllCaps.end())
    return fail(ErrorKind::InvalidArgument, "capabilities: unknown capability \"{}\"", name);
  return up;
}

std::vector<std::string> in_kernel_order(const std::set<std::string>& caps) {
  std::vector<std::string> out;
  for (auto c : kAllCaps)
    if (caps.count(std::string(c))) out.emplace_back(c);
  return out;
}

// containerd's order: "ALL" in add, then "ALL" in drop, then the named adds, then the named drops.
Result<std::vector<std::string>> effective_caps(const ContainerSpec& spec) {
  std::set<std::string> caps(kDefaultCaps.begin(), kDefaultCaps.end());
  std::vector<std::string> add, drop;
  bool add_all = false, drop_all = false;
  for (const auto& c : spec.cap_add) {
    if (is_all(c)) { add_all = true; continue; }
    DH_TRY(name, canonical_cap(c));
    add.push_back(name);
  }
  for (const auto& c : spec.cap_drop) {
    if (is_all(c)) { drop_all = true; continue; }
    DH_TRY(name, canonical_cap(c));
    drop.push_back(name);
  }
  if (spec.privileged || add_all) caps = std::set<std::string>(kAllCaps.begin(), kAllCaps.end());
  if (spec.privileged) return in_kernel_order(caps);  // privileged ignores add/drop
  if (drop_all) caps.clear();
  caps.insert(add.begin(), add.end());
  for (const auto& d : drop) caps.erase(d);
  return in_kernel_order(caps);
}

Result<Json> process_json(const ContainerSpec& spec) {
  if (spec.args.empty()) return fail(ErrorKind::InvalidArgument, "args: no command to run (empty args)");
  if (spec.cwd.empty() || spec.cwd[0] != '/')
    return fail(ErrorKind::InvalidArgument, "cwd: \"{}\" is not an absolute path", spec.cwd);
  for (size_t i = 0; i < spec.env.size(); ++i) {
    auto eq = spec.env[i].find('=');
    if (eq == std::string::npos || eq == 0)
      return fail(ErrorKind::InvalidArgument, "env[{}]: \"{}\" is not KEY=VALUE", i, spec.env[i]);
  }
  DH_TRY(caps, effective_caps(spec));
  Json user = {{"uid", spec.uid}, {"gid", spec.gid}};
  if (!spec.additional_gids.empty()) user["additionalGids"] = spec.additional_gids;
  Json p = {
      {"terminal", spec.tty},
      {"user", user},
      {"args", spec.args},
      {"env", spec.env},
      {"cwd", spec.cwd},
      {"capabilities",
       {{"bounding", caps}, {"effective", caps}, {"permitted", caps}, {"inheritable", Json::array()}}},
      {"noNewPrivileges", spec.no_new_privs},
  };
  // 0 is left out so the container inherits ours: writing a value lower than
  // the current one needs CAP_SYS_RESOURCE, which root lacks on our hosts.
  if (spec.oom_score_adj != 0) p["oomScoreAdj"] = spec.oom_score_adj;
  return p;
}

Json mount_json(const std::string& dest, const std::string& type, const std::string& source,
                std::vector<std::string> options) {
  return {{"destination", dest}, {"type", type}, {"source", source}, {"options", std::move(options)}};
}

std::vector<Json> default_mounts(bool privileged) {
  const std::string sys_rw = privileged ? "rw" : "ro";
  return {
      mount_json("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      mount_json("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount_json("/dev/pts", "devpts", "devpts",
                 {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mount_json("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      mount_json("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      mount_json("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", sys_rw}),
      mount_json("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", sys_rw}),
  };
}

bool is_propagation(const std::string& o) {
  static const std::set<std::string> kProp = {"private", "rprivate", "slave",      "rslave",
                                              "shared",  "rshared",  "unbindable", "runbindable"};
  return kProp.count(o) > 0;
}

std::string describe(const MountSpec& m) {
  return fmt::format("mount \"{}\" (source \"{}\")", m.destination, m.source);
}

// A bind mount gets "rbind" and "rprivate" unless the request chose otherwise,
// as containerd does; other options pass through.
Result<Json> request_mount_json(const MountSpec& m) {
  if (m.destination.empty() || m.destination[0] != '/')
    return fail(ErrorKind::InvalidArgument, "{}: destination must be an absolute path", describe(m));
  if (m.type.empty()) return fail(ErrorKind::InvalidArgument, "{}: no type", describe(m));
  std::vector<std::string> opts = m.options;
  size_t props = std::count_if(opts.begin(), opts.end(), is_propagation);
  if (props > 1)
    return fail(ErrorKind::InvalidArgument, "{}: more than one propagation option", describe(m));
  if (m.type == "bind") {
    if (m.source.empty()) return fail(ErrorKind::InvalidArgument, "{}: bind mount without a source", describe(m));
    bool has_bind = std::find_if(opts.begin(), opts.end(),
                                 [](const auto& o) { return o == "bind" || o == "rbind"; }) != opts.end();
    if (!has_bind) opts.insert(opts.begin(), "rbind");
    if (props == 0) opts.push_back("rprivate");
  }
  return mount_json(m.destination, m.type, m.source, std::move(opts));
}

size_t depth(const std::string& path) { return std::count(path.begin(), path.end(), '/'); }

// Defaults first, a request mount at a default destination taking its place;
// the other request mounts after them, parents before children.
Result<Json> mounts_json(const ContainerSpec& spec) {
  std::vector<Json> out = default_mounts(spec.privileged);
  std::vector<std::pair<size_t, Json>> extra;  // (depth, mount)
  for (const auto& m : spec.mounts) {
    DH_TRY(j, request_mount_json(m));
    auto same = std::find_if(out.begin(), out.end(),
                             [&](const Json& d) { return d["destination"] == m.destination; });
    if (same != out.end()) {
      *same = std::move(j);
    } else {
      extra.emplace_back(depth(m.destination), std::move(j));
    }
  }
  std::stable_sort(extra.begin(), extra.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& e : extra) out.push_back(std::move(e.second));
  return Json(out);
}

// A shared or slave mount inside the container needs a root of the same
// propagation, else the kernel silently keeps it private.
std::string rootfs_propagation(const ContainerSpec& spec) {
  bool shared = false, slave = false;
  for (const auto& m : spec.mounts)
    for (const auto& o : m.options) {
      shared |= o == "rshared" || o == "shared";
      slave |= o == "rslave" || o == "slave";
    }
  return shared ? "rshared" : slave ? "rslave" : "";
}

Status add_namespace(Json& out, const char* type, const std::string& path, bool make_new) {
  if (!path.empty() && make_new)
    return fail(ErrorKind::InvalidArgument, "namespaces: {} has both a path ({}) and a new namespace", type, path);
  if (!path.empty() && path[0] != '/')
    return fail(ErrorKind::InvalidArgument, "namespaces: {} path \"{}\" is not absolute", type, path);
  if (!path.empty()) {
    out.push_back({{"type", type}, {"path", path}});
  } else if (make_new) {
    out.push_back({{"type", type}});
  }
  return {};
}

Result<Json> namespaces_json(const NamespacePaths& ns) {
  Json out = Json::array({{{"type", "mount"}}});
  DH_CHECK(add_namespace(out, "network", ns.net, ns.new_net_ns));
  DH_CHECK(add_namespace(out, "ipc", ns.ipc, ns.new_ipc_ns));
  DH_CHECK(add_namespace(out, "uts", ns.uts, ns.new_uts_ns));
  DH_CHECK(add_namespace(out, "pid", ns.pid, ns.new_pid_ns));
  return out;
}

Json device_rule(bool allow, const char* type, int64_t major, int64_t minor, const char* access) {
  Json r = {{"allow", allow}, {"access", access}};
  if (type) r["type"] = type;
  if (major >= 0) r["major"] = major;
  if (minor >= 0) r["minor"] = minor;
  return r;
}

// Deny everything, then allow what every container needs; runc adds the same
// rules itself, but saying so here keeps the config complete for other runtimes.
Json device_rules(bool privileged) {
  if (privileged) return Json::array({device_rule(true, nullptr, -1, -1, "rwm")});
  return Json::array({
      device_rule(false, nullptr, -1, -1, "rwm"),
      device_rule(true, "c", 1, 3, "rwm"),    // null
      device_rule(true, "c", 1, 5, "rwm"),    // zero
      device_rule(true, "c", 1, 7, "rwm"),    // full
      device_rule(true, "c", 1, 8, "rwm"),    // random
      device_rule(true, "c", 1, 9, "rwm"),    // urandom
      device_rule(true, "c", 5, 0, "rwm"),    // tty
      device_rule(true, "c", 5, 2, "rwm"),    // ptmx
      device_rule(true, "c", 136, -1, "rwm"), // pts/*
  });
}

Result<Json> cpu_json(const ResourceSpec& r) {
  if (r.cpu_shares < 0 || r.cpu_period < 0)
    return fail(ErrorKind::InvalidArgument, "resources: negative cpu shares ({}) or period ({})", r.cpu_shares,
                r.cpu_period);
  Json cpu = Json::object();
  if (r.cpu_shares > 0) cpu["shares"] = static_cast<uint64_t>(r.cpu_shares);
  if (r.cpu_quota != 0) cpu["quota"] = r.cpu_quota;  // -1 is "no limit", as the kernel takes it
  if (r.cpu_period > 0) cpu["period"] = static_cast<uint64_t>(r.cpu_period);
  if (!r.cpuset_cpus.empty()) cpu["cpus"] = r.cpuset_cpus;
  if (!r.cpuset_mems.empty()) cpu["mems"] = r.cpuset_mems;
  return cpu;
}

Result<Json> resources_json(const ContainerSpec& spec) {
  const ResourceSpec& r = spec.resources;
  Json res = {{"devices", device_rules(spec.privileged)}};
  DH_TRY(cpu, cpu_json(r));
  if (!cpu.empty()) res["cpu"] = cpu;
  if (r.memory_limit < 0)
    return fail(ErrorKind::InvalidArgument, "resources: negative memory limit {}", r.memory_limit);
  if (r.memory_limit > 0) res["memory"] = {{"limit", r.memory_limit}};
  if (r.pids_limit != 0) res["pids"] = {{"limit", r.pids_limit}};
  Json huge = Json::array();
  if (spec.hugetlb_available) {
    for (const auto& [size, limit] : r.hugepage_limits)
      if (limit > 0) huge.push_back({{"pageSize", size}, {"limit", limit}});
  }
  if (!huge.empty()) res["hugepageLimits"] = huge;
  if (!r.unified.empty()) res["unified"] = r.unified;
  return res;
}

Json path_list(const std::vector<std::string>& given, bool use_defaults, const auto& defaults) {
  if (!use_defaults || !given.empty()) return given;
  Json out = Json::array();
  for (auto p : defaults) out.push_back(std::string(p));
  return out;
}

Result<Json> linux_json(const ContainerSpec& spec) {
  DH_TRY(ns, namespaces_json(spec.namespaces));
  DH_TRY(res, resources_json(spec));
  Json lx = {{"namespaces", ns}, {"resources", res}};
  if (!spec.cgroups_path.empty()) lx["cgroupsPath"] = spec.cgroups_path;
  for (const auto& [k, v] : spec.sysctls)
    if (k.empty()) return fail(ErrorKind::InvalidArgument, "sysctls: empty key (value \"{}\")", v);
  if (!spec.sysctls.empty()) lx["sysctl"] = spec.sysctls;
  auto prop = rootfs_propagation(spec);
  if (!prop.empty()) lx["rootfsPropagation"] = prop;
  if (!spec.privileged) {
    Json masked = path_list(spec.masked_paths, spec.default_masked_paths, kDefaultMaskedPaths);
    Json ro = path_list(spec.readonly_paths, spec.default_masked_paths, kDefaultReadonlyPaths);
    if (!masked.empty()) lx["maskedPaths"] = masked;
    if (!ro.empty()) lx["readonlyPaths"] = ro;
  }
  return lx;
}

}  // namespace

Result<Json> build_oci_config(const ContainerSpec& spec) {
  if (spec.rootfs.empty()) return fail(ErrorKind::InvalidArgument, "rootfs: empty path");
  DH_TRY(process, process_json(spec));
  DH_TRY(mounts, mounts_json(spec));
  DH_TRY(lx, linux_json(spec));
  Json cfg = {
      {"ociVersion", kOciVersion},
      {"process", process},
      {"root", {{"path", spec.rootfs}, {"readonly", spec.readonly_rootfs}}},
      {"mounts", mounts},
      {"linux", lx},
  };
  // runc refuses a hostname without a UTS namespace of the container's own,
  // and one joined by path belongs to the sandbox, which set it already.
  if (spec.namespaces.new_uts_ns && !spec.hostname.empty()) cfg["hostname"] = spec.hostname;
  if (!spec.annotations.empty()) cfg["annotations"] = spec.annotations;
  // The request's strings reach us unchecked; dump() would throw on invalid
  // UTF-8 later, at the caller, so find it here and say so.
  try {
    (void)cfg.dump();
  } catch (const Json::exception& e) {
    return fail(ErrorKind::InvalidArgument, "config.json for container {}: {}", spec.id, e.what());
  }
  return cfg;
}

}  // namespace deckhand::runtime
