#include <algorithm>
#include <set>

#include <doctest/doctest.h>

#include "deckhand/common/json.h"
#include "deckhand/common/process.h"
#include "deckhand/runtime/oci_spec.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::runtime;

namespace {

ContainerSpec basic_spec() {
  ContainerSpec s;
  s.id = "c1";
  s.rootfs = "/run/deckhand/test/rootfs";
  s.args = {"/bin/sh", "-c", "echo ok"};
  s.env = {"PATH=/bin", "A=b=c"};
  s.cgroups_path = "/kubepods/pod1/c1";
  s.namespaces.net = "/run/netns/pod1";
  s.namespaces.ipc = "/proc/42/ns/ipc";
  s.namespaces.uts = "/proc/42/ns/uts";
  return s;
}

Json build(const ContainerSpec& s) {
  auto r = build_oci_config(s);
  if (!r) FAIL(r.error().message);
  return *r;
}

std::vector<std::string> strings(const Json& j) {
  std::vector<std::string> out;
  for (const auto& e : j) out.push_back(e.get<std::string>());
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

const Json* mount_at(const Json& cfg, const std::string& dest) {
  for (const auto& m : cfg["mounts"])
    if (m["destination"] == dest) return &m;
  return nullptr;
}

size_t count_at(const Json& cfg, const std::string& dest) {
  return std::count_if(cfg["mounts"].begin(), cfg["mounts"].end(),
                       [&](const Json& m) { return m["destination"] == dest; });
}

std::vector<std::string> namespace_types(const Json& cfg) {
  std::vector<std::string> out;
  for (const auto& ns : cfg["linux"]["namespaces"]) out.push_back(ns["type"]);
  return out;
}

// The checks runc's spec loader makes on the shape of config.json, plus the
// invariants it relies on (absolute destinations, known namespace types).
void check_structure(const Json& cfg) {
  REQUIRE(cfg.is_object());
  CHECK(cfg["ociVersion"].is_string());
  const Json& p = cfg["process"];
  REQUIRE(p.is_object());
  CHECK(p["terminal"].is_boolean());
  CHECK(p["user"]["uid"].is_number_unsigned());
  CHECK(p["user"]["gid"].is_number_unsigned());
  CHECK(p["args"].is_array());
  CHECK(!p["args"].empty());
  for (const auto& a : p["args"]) CHECK(a.is_string());
  for (const auto& e : p["env"]) CHECK(e.get<std::string>().find('=') != std::string::npos);
  CHECK(p["cwd"].get<std::string>().front() == '/');
  for (const char* set : {"bounding", "effective", "permitted", "inheritable"}) {
    REQUIRE(p["capabilities"][set].is_array());
    for (const auto& c : p["capabilities"][set]) CHECK(c.get<std::string>().rfind("CAP_", 0) == 0);
  }
  CHECK(p["noNewPrivileges"].is_boolean());
  CHECK(cfg["root"]["path"].is_string());
  CHECK(cfg["root"]["readonly"].is_boolean());
  for (const auto& m : cfg["mounts"]) {
    CHECK(m["destination"].get<std::string>().front() == '/');
    CHECK(m["type"].is_string());
    CHECK(m["source"].is_string());
    for (const auto& o : m["options"]) CHECK(o.is_string());
  }
  const std::set<std::string> known_ns = {"mount", "network", "ipc", "uts", "pid", "user", "cgroup"};
  std::set<std::string> seen;
  for (const auto& ns : cfg["linux"]["namespaces"]) {
    CHECK(known_ns.count(ns["type"].get<std::string>()));
    CHECK(seen.insert(ns["type"].get<std::string>()).second);  // runc refuses duplicates
    if (ns.contains("path")) CHECK(ns["path"].get<std::string>().front() == '/');
  }
  for (const auto& d : cfg["linux"]["resources"]["devices"]) {
    CHECK(d["allow"].is_boolean());
    CHECK(d["access"].is_string());
  }
}

// Where both documents have a key, its JSON type must agree with what
// `runc spec` writes: catches a number written as a string and the like.
void check_types_like(const Json& ours, const Json& theirs, const std::string& where) {
  if (theirs.is_number()) {
    CHECK_MESSAGE(ours.is_number(), where);
    return;
  }
  CHECK_MESSAGE(ours.type() == theirs.type(), where);
  if (ours.is_object() && theirs.is_object()) {
    for (auto it = theirs.begin(); it != theirs.end(); ++it)
      if (ours.contains(it.key())) check_types_like(ours[it.key()], it.value(), where + "." + it.key());
  } else if (ours.is_array() && theirs.is_array() && !ours.empty() && !theirs.empty()) {
    check_types_like(ours[0], theirs[0], where + "[0]");
  }
}

}  // namespace

TEST_CASE("defaults: process, root, mounts, masked paths, devices") {
  Json cfg = build(basic_spec());
  check_structure(cfg);
  CHECK(cfg["ociVersion"] == "1.0.2");
  CHECK(cfg["process"]["args"] == Json({"/bin/sh", "-c", "echo ok"}));
  CHECK(cfg["process"]["env"] == Json({"PATH=/bin", "A=b=c"}));
  CHECK(cfg["process"]["cwd"] == "/");
  CHECK(cfg["process"]["terminal"] == false);
  CHECK(!cfg["process"].contains("rlimits"));
  CHECK(!cfg["process"].contains("oomScoreAdj"));
  auto caps = strings(cfg["process"]["capabilities"]["bounding"]);
  CHECK(caps.size() == 14);
  for (const char* c : {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"})
    CHECK_MESSAGE(contains(caps, c), c);
  CHECK(cfg["process"]["capabilities"]["effective"] == cfg["process"]["capabilities"]["bounding"]);
  CHECK(cfg["process"]["capabilities"]["permitted"] == cfg["process"]["capabilities"]["bounding"]);
  CHECK(cfg["process"]["capabilities"]["inheritable"].empty());
  CHECK(cfg["root"] == Json({{"path", "/run/deckhand/test/rootfs"}, {"readonly", false}}));

  std::vector<std::string> dests;
  for (const auto& m : cfg["mounts"]) dests.push_back(m["destination"]);
  CHECK(dests == std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                                          "/sys/fs/cgroup"});
  CHECK((*mount_at(cfg, "/dev"))["options"] == Json({"nosuid", "strictatime", "mode=755", "size=65536k"}));
  CHECK(contains(strings((*mount_at(cfg, "/dev/pts"))["options"]), "newinstance"));
  CHECK(contains(strings((*mount_at(cfg, "/dev/pts"))["options"]), "gid=5"));
  CHECK((*mount_at(cfg, "/dev/shm"))["type"] == "tmpfs");
  CHECK((*mount_at(cfg, "/sys"))["options"] == Json({"nosuid", "noexec", "nodev", "ro"}));
  CHECK((*mount_at(cfg, "/sys/fs/cgroup"))["type"] == "cgroup");
  CHECK(contains(strings((*mount_at(cfg, "/sys/fs/cgroup"))["options"]), "ro"));

  const Json& lx = cfg["linux"];
  CHECK(lx["cgroupsPath"] == "/kubepods/pod1/c1");
  auto masked = strings(lx["maskedPaths"]);
  CHECK(masked.size() == 11);
  CHECK(contains(masked, "/proc/kcore"));
  CHECK(contains(masked, "/sys/devices/virtual/powercap"));
  CHECK(strings(lx["readonlyPaths"]) ==
        std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"});
  const Json& dev = lx["resources"]["devices"];
  CHECK(dev[0] == Json({{"allow", false}, {"access", "rwm"}}));
  CHECK(dev.size() == 9);
  CHECK(std::any_of(dev.begin(), dev.end(), [](const Json& d) {
    return d.value("major", -1) == 136 && !d.contains("minor") && d["allow"] == true;
  }));
  CHECK(!lx.contains("devices"));
  CHECK(!lx["resources"].contains("cpu"));
  CHECK(!lx["resources"].contains("memory"));
  CHECK(!cfg.contains("hostname"));
  CHECK(!cfg.contains("annotations"));
}

TEST_CASE("the config has the types runc spec writes") {
  auto cfg = build(basic_spec());
  test::TempDir dir;
  auto run = run_process({.argv = {"runc", "spec", "--bundle", dir.path()}});
  if (!run || run->exit_code != 0) {
    MESSAGE("runc not available: type comparison skipped");
    return;
  }
  auto theirs = read_json_file(dir.sub("config.json"));
  REQUIRE(theirs);
  check_types_like(cfg, *theirs, "config");
}

TEST_CASE("cap_add and cap_drop, with and without CAP_, and ALL") {
  auto spec = basic_spec();
  spec.cap_add = {"NET_ADMIN", "CAP_SYS_PTRACE", "sys_time"};
  spec.cap_drop = {"CAP_MKNOD", "net_raw"};
  auto caps = strings(build(spec)["process"]["capabilities"]["bounding"]);
  CHECK(contains(caps, "CAP_NET_ADMIN"));
  CHECK(contains(caps, "CAP_SYS_PTRACE"));
  CHECK(contains(caps, "CAP_SYS_TIME"));
  CHECK(!contains(caps, "CAP_MKNOD"));
  CHECK(!contains(caps, "CAP_NET_RAW"));
  CHECK(caps.size() == 15);

  SUBCASE("drop ALL then add some") {
    spec.cap_add = {"CHOWN"};
    spec.cap_drop = {"ALL"};
    CHECK(strings(build(spec)["process"]["capabilities"]["effective"]) == std::vector<std::string>{"CAP_CHOWN"});
  }
  SUBCASE("add ALL then drop some") {
    spec.cap_add = {"all"};
    spec.cap_drop = {"SYS_ADMIN"};
    auto all = strings(build(spec)["process"]["capabilities"]["permitted"]);
    CHECK(all.size() == 40);
    CHECK(!contains(all, "CAP_SYS_ADMIN"));
    CHECK(contains(all, "CAP_BPF"));
  }
  SUBCASE("unknown capability names the capability") {
    spec.cap_add = {"NET_ADMIN", "CAP_FLY"};
    auto r = build_oci_config(spec);
    REQUIRE(!r);
    CHECK(r.error().kind == ErrorKind::InvalidArgument);
    CHECK(r.error().message.find("CAP_FLY") != std::string::npos);
  }
}

TEST_CASE("privileged: all caps, rw sys, no masked paths, all devices") {
  auto spec = basic_spec();
  spec.privileged = true;
  spec.cap_drop = {"ALL"};  // privileged wins, as in containerd
  auto cfg = build(spec);
  check_structure(cfg);
  CHECK(cfg["process"]["capabilities"]["bounding"].size() == 41);
  CHECK(contains(strings((*mount_at(cfg, "/sys"))["options"]), "rw"));
  CHECK(!contains(strings((*mount_at(cfg, "/sys"))["options"]), "ro"));
  CHECK(!cfg["linux"].contains("maskedPaths"));
  CHECK(!cfg["linux"].contains("readonlyPaths"));
  CHECK(cfg["linux"]["resources"]["devices"] == Json::array({{{"allow", true}, {"access", "rwm"}}}));
}

TEST_CASE("masked and readonly paths given explicitly replace the defaults") {
  auto spec = basic_spec();
  spec.default_masked_paths = false;
  auto cfg = build(spec);
  CHECK(!cfg["linux"].contains("maskedPaths"));
  CHECK(!cfg["linux"].contains("readonlyPaths"));
  spec.masked_paths = {"/proc/secret"};
  spec.readonly_paths = {"/proc/ro"};
  cfg = build(spec);
  CHECK(cfg["linux"]["maskedPaths"] == Json({"/proc/secret"}));
  CHECK(cfg["linux"]["readonlyPaths"] == Json({"/proc/ro"}));
}

TEST_CASE("request mounts: replace defaults, bind options, propagation, order") {
  auto spec = basic_spec();
  spec.mounts = {
      {"/data/sub", "/host/sub", "bind", {"ro"}},
      {"/dev/shm", "/run/deckhand/sandbox/shm", "bind", {"rbind", "rw"}},
      {"/data", "/host/data", "bind", {"rslave"}},
      {"/etc/hosts", "/run/deckhand/sandbox/hosts", "bind", {}},
  };
  auto cfg = build(spec);
  check_structure(cfg);
  CHECK(count_at(cfg, "/dev/shm") == 1);
  const Json& shm = *mount_at(cfg, "/dev/shm");
  CHECK(shm["source"] == "/run/deckhand/sandbox/shm");
  CHECK(shm["options"] == Json({"rbind", "rw", "rprivate"}));
  CHECK(cfg["mounts"][3]["destination"] == "/dev/shm");  // in the default's place, before /sys
  // Parents before children, whatever the request's order.
  std::vector<std::string> tail;
  for (size_t i = 7; i < cfg["mounts"].size(); ++i) tail.push_back(cfg["mounts"][i]["destination"]);
  CHECK(tail == std::vector<std::string>{"/data", "/data/sub", "/etc/hosts"});
  CHECK((*mount_at(cfg, "/data"))["options"] == Json({"rbind", "rslave"}));
  CHECK((*mount_at(cfg, "/data/sub"))["options"] == Json({"rbind", "ro", "rprivate"}));
  CHECK(cfg["linux"]["rootfsPropagation"] == "rslave");

  spec.mounts.push_back({"/shared", "/host/shared", "bind", {"rshared"}});
  CHECK(build(spec)["linux"]["rootfsPropagation"] == "rshared");
}

TEST_CASE("a tmpfs mount keeps its own options") {
  auto spec = basic_spec();
  spec.mounts = {{"/tmp", "tmpfs", "tmpfs", {"nosuid", "size=1m"}}};
  auto cfg = build(spec);
  CHECK((*mount_at(cfg, "/tmp"))["options"] == Json({"nosuid", "size=1m"}));
  CHECK(!cfg["linux"].contains("rootfsPropagation"));
}

TEST_CASE("mount validation names the mount") {
  auto spec = basic_spec();
  spec.mounts = {{"data", "/host/data", "bind", {}}};
  auto r = build_oci_config(spec);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::InvalidArgument);
  CHECK(r.error().message.find("\"data\"") != std::string::npos);
  CHECK(r.error().message.find("absolute") != std::string::npos);

  spec.mounts = {{"/data", "", "bind", {}}};
  r = build_oci_config(spec);
  REQUIRE(!r);
  CHECK(r.error().message.find("/data") != std::string::npos);

  spec.mounts = {{"/data", "/x", "bind", {"rshared", "rprivate"}}};
  r = build_oci_config(spec);
  REQUIRE(!r);
  CHECK(r.error().message.find("propagation") != std::string::npos);
}

TEST_CASE("namespaces: mount always new, paths joined, host when empty") {
  auto spec = basic_spec();
  auto cfg = build(spec);
  CHECK(namespace_types(cfg) == std::vector<std::string>{"mount", "network", "ipc", "uts"});
  CHECK(cfg["linux"]["namespaces"][1] == Json({{"type", "network"}, {"path", "/run/netns/pod1"}}));
  CHECK(!cfg["linux"]["namespaces"][0].contains("path"));

  spec.namespaces.pid = "/proc/42/ns/pid";
  CHECK(build(spec)["linux"]["namespaces"][4] == Json({{"type", "pid"}, {"path", "/proc/42/ns/pid"}}));

  spec.namespaces = {};
  spec.namespaces.new_pid_ns = true;
  cfg = build(spec);
  CHECK(namespace_types(cfg) == std::vector<std::string>{"mount", "pid"});
  CHECK(!cfg["linux"]["namespaces"][1].contains("path"));

  spec.namespaces = {};
  CHECK(namespace_types(build(spec)) == std::vector<std::string>{"mount"});  // host net, ipc, uts, pid

  spec.namespaces.pid = "/proc/1/ns/pid";
  spec.namespaces.new_pid_ns = true;
  auto r = build_oci_config(spec);
  REQUIRE(!r);
  CHECK(r.error().message.find("pid") != std::string::npos);

  spec.namespaces = {};
  spec.namespaces.net = "run/netns/x";
  CHECK(!build_oci_config(spec));
}

TEST_CASE("hostname only with a UTS namespace of the container's own") {
  auto spec = basic_spec();
  spec.hostname = "pod-a";
  CHECK(!build(spec).contains("hostname"));  // joins the sandbox's UTS by path
  spec.namespaces.uts.clear();
  CHECK(!build(spec).contains("hostname"));  // host UTS
  spec.namespaces.new_uts_ns = true;
  spec.namespaces.new_net_ns = true;
  spec.namespaces.net.clear();
  spec.namespaces.new_ipc_ns = true;
  spec.namespaces.ipc.clear();
  auto cfg = build(spec);
  CHECK(cfg["hostname"] == "pod-a");
  CHECK(namespace_types(cfg) == std::vector<std::string>{"mount", "network", "ipc", "uts"});
}

TEST_CASE("resources: set values, zeros dropped, hugepages only when available") {
  auto spec = basic_spec();
  auto& r = spec.resources;
  r.cpu_shares = 512;
  r.cpu_quota = 50000;
  r.cpu_period = 100000;
  r.cpuset_cpus = "0-1";
  r.cpuset_mems = "0";
  r.memory_limit = 64 << 20;
  r.pids_limit = 100;
  r.hugepage_limits = {{"2MB", 4 << 20}, {"1GB", 0}};
  r.unified = {{"memory.high", "50000000"}};
  auto cfg = build(spec);
  check_structure(cfg);
  const Json& res = cfg["linux"]["resources"];
  CHECK(res["cpu"] == Json({{"shares", 512}, {"quota", 50000}, {"period", 100000}, {"cpus", "0-1"}, {"mems", "0"}}));
  CHECK(res["memory"] == Json({{"limit", 64 << 20}}));
  CHECK(res["pids"] == Json({{"limit", 100}}));
  CHECK(res["unified"] == Json({{"memory.high", "50000000"}}));
  CHECK(!res.contains("hugepageLimits"));  // hugetlb_available defaults to false

  spec.hugetlb_available = true;
  CHECK(build(spec)["linux"]["resources"]["hugepageLimits"] ==
        Json::array({{{"pageSize", "2MB"}, {"limit", 4 << 20}}}));

  r.hugepage_limits = {{"2MB", 0}};
  CHECK(!build(spec)["linux"]["resources"].contains("hugepageLimits"));

  r = {};
  r.cpu_shares = 2;
  CHECK(build(spec)["linux"]["resources"]["cpu"] == Json({{"shares", 2}}));

  r.memory_limit = -1;
  CHECK(!build_oci_config(spec));
}

TEST_CASE("sysctls, annotations, user, oom score, tty, readonly root") {
  auto spec = basic_spec();
  spec.sysctls = {{"net.ipv4.ip_unprivileged_port_start", "0"}};
  spec.annotations = {{"io.kubernetes.cri.container-type", "container"}};
  spec.uid = 1000;
  spec.gid = 1000;
  spec.additional_gids = {10, 20};
  spec.oom_score_adj = 500;
  spec.tty = true;
  spec.no_new_privs = true;
  spec.readonly_rootfs = true;
  spec.cwd = "/work";
  auto cfg = build(spec);
  check_structure(cfg);
  CHECK(cfg["linux"]["sysctl"] == Json({{"net.ipv4.ip_unprivileged_port_start", "0"}}));
  CHECK(cfg["annotations"] == Json({{"io.kubernetes.cri.container-type", "container"}}));
  CHECK(cfg["process"]["user"] == Json({{"uid", 1000}, {"gid", 1000}, {"additionalGids", {10, 20}}}));
  CHECK(cfg["process"]["oomScoreAdj"] == 500);
  CHECK(cfg["process"]["terminal"] == true);
  CHECK(cfg["process"]["noNewPrivileges"] == true);
  CHECK(cfg["root"]["readonly"] == true);
  CHECK(cfg["process"]["cwd"] == "/work");
}

TEST_CASE("validation errors name the field") {
  auto spec = basic_spec();
  SUBCASE("empty args") {
    spec.args.clear();
    auto r = build_oci_config(spec);
    REQUIRE(!r);
    CHECK(r.error().kind == ErrorKind::InvalidArgument);
    CHECK(r.error().message.rfind("args: ", 0) == 0);
  }
  SUBCASE("relative cwd") {
    spec.cwd = "work";
    auto r = build_oci_config(spec);
    REQUIRE(!r);
    CHECK(r.error().message.rfind("cwd: ", 0) == 0);
  }
  SUBCASE("env without =") {
    spec.env.push_back("JUSTNAME");
    auto r = build_oci_config(spec);
    REQUIRE(!r);
    CHECK(r.error().message.find("env[2]") != std::string::npos);
  }
  SUBCASE("no rootfs") {
    spec.rootfs.clear();
    auto r = build_oci_config(spec);
    REQUIRE(!r);
    CHECK(r.error().message.rfind("rootfs: ", 0) == 0);
  }
  SUBCASE("invalid UTF-8 is an error, not an exception") {
    spec.env.push_back("BAD=\xff\xfe");
    auto r = build_oci_config(spec);
    REQUIRE(!r);
    CHECK(r.error().kind == ErrorKind::InvalidArgument);
  }
}
