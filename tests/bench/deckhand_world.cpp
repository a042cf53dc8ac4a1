#include "deckhand_world.h"

#include <fmt/format.h>
#include <unistd.h>

#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "proc_memory.h"

namespace deckhand::bench {

namespace {

bool subnet_in_use(const std::string& prefix, const std::string& addrs, const std::string& routes) {
  return addrs.find(prefix) != std::string::npos || routes.find(prefix) != std::string::npos;
}

}  // namespace

CniPlugins reference_cni_plugins() {
  return {"bridge",
          "host-local",
          {{"bridge", "/usr/lib/cni/bridge"}, {"host-local", "/usr/lib/cni/host-local"},
           {"loopback", "/usr/lib/cni/loopback"}},
          "reference"};
}

CniPlugins deckhand_cni_plugins(const std::string& build_dir) {
  auto at = [&](const std::string& p) { return fs::join(build_dir, "cni-plugins/" + p + "/deckhand-" + p); };
  return {"deckhand-bridge",
          "deckhand-host-local",
          {{"deckhand-bridge", at("bridge")}, {"deckhand-host-local", at("host-local")}, {"loopback", at("loopback")}},
          "deckhand"};
}

Status link_cni_plugins(const CniPlugins& plugins, const std::string& dir) {
  DH_CHECK(fs::make_dirs(dir));
  for (const auto& [name, path] : plugins.binaries) {
    if (!fs::exists(path)) return fail(ErrorKind::NotFound, "CNI plugin {} not found (build it first)", path);
    std::string link = fs::join(dir, name);
    if (::symlink(path.c_str(), link.c_str()) != 0) return sys_fail("link {} to {}", link, path);
  }
  return {};
}

Result<NetworkPlan> plan_network(char variant, CniPlugins cni) {
  DH_TRY(addrs, run_checked({"ip", "-o", "-4", "addr", "show"}));
  DH_TRY(routes, run_checked({"ip", "-4", "route", "show", "table", "all"}));
  unsigned pid = static_cast<unsigned>(::getpid());
  unsigned slot = pid * 2 + (variant == 'c' ? 1 : 0);
  for (int tries = 0; tries < 64; ++tries, slot += 2) {
    std::string prefix = fmt::format("10.{}.{}.", 200 + (slot / 256) % 8, slot % 256);
    if (subnet_in_use(prefix, addrs, routes)) continue;
    NetworkPlan p;
    p.bridge = fmt::format("dhb{}{}", pid % 1000000, variant);
    p.subnet = prefix + "0/24";
    p.network = "dhbench-" + p.bridge;
    p.cni = cni;
    if (fs::exists("/sys/class/net/" + p.bridge))
      return fail(ErrorKind::AlreadyExists, "interface {} exists already", p.bridge);
    return p;
  }
  return fail(ErrorKind::ResourceExhausted, "no free /24 in 10.200.0.0/13 near slot {}", slot);
}

std::string cni_conflist(const NetworkPlan& plan, const std::string& ipam_dir) {
  // No "routes" in IPAM: pods get no default route, so nothing they send can
  // leave the bridge; no ipMasq either.
  Json bridge = {{"type", plan.cni.bridge_type},
                 {"bridge", plan.bridge},
                 {"isGateway", true},
                 {"ipMasq", false},
                 {"ipam",
                  {{"type", plan.cni.ipam_type},
                   {"ranges", Json::array({Json::array({{{"subnet", plan.subnet}}})})},
                   {"dataDir", ipam_dir}}}};
  Json list = {{"cniVersion", "1.0.0"}, {"name", plan.network}, {"plugins", Json::array({bridge})}};
  return list.dump(2);
}

Result<std::unique_ptr<DeckhandWorld>> DeckhandWorld::start(const DeckhandSetup& setup) {
  const std::string& d = setup.dir;
  for (auto sub : {"state", "cni", "ipam", "logs"}) DH_CHECK(fs::make_dirs(d + "/" + sub));
  DH_CHECK(fs::make_dirs(setup.volatile_dir));
  DH_TRY(net, plan_network('d', setup.cni));
  DH_CHECK(fs::write_file_atomic(d + "/cni/10-bench.conflist", cni_conflist(net, d + "/ipam")));
  DH_CHECK(link_cni_plugins(setup.cni, d + "/cni-bin"));
  // An empty config file: the host's /etc/deckhand/cri.toml must not count.
  DH_CHECK(fs::write_file_atomic(d + "/cri.toml", ""));
  std::vector<std::string> argv = {
      setup.binary,  "--config",      d + "/cri.toml", "--socket",         d + "/cri.sock",
      "--state-dir", d + "/state",    "--run-dir",     setup.volatile_dir, "--cni-conf-dir",
      d + "/cni",    "--cni-bin-dir", d + "/cni-bin",  "--cgroup-parent",  setup.cgroup_parent,
      "--log-level", setup.log_level,
  };
  std::string log = d + "/deckhand-cri.log";
  DH_TRY(daemon, Daemon::start(argv, log));
  std::unique_ptr<DeckhandWorld> w(new DeckhandWorld(setup, net, std::move(daemon)));
  DH_CHECK(wait_for_socket(w->daemon_, d + "/cri.sock", log, std::chrono::seconds(30)));
  DH_TRY(client, cri::CriClient::connect("unix://" + d + "/cri.sock", std::chrono::seconds(20)));
  client->set_timeout(std::chrono::seconds(60));
  w->client_ = std::move(client);
  DH_TRY(imported, w->client_->import_image(setup.busybox_tar));
  if (imported.empty()) return fail(ErrorKind::NotFound, "import {}: no image in it", setup.busybox_tar);
  return w;
}

// deckhand-pause processes sit in the pods' cgroups; deckhand-monitor
// processes are named by their command line, which holds our run dir.
Result<std::vector<pid_t>> DeckhandWorld::per_pod_processes() const {
  std::vector<pid_t> out;
  for (auto& p : list_processes()) {
    bool pause = p.program == "deckhand-pause" && in_cgroup_tree(p, cgroup_root());
    bool monitor =
        p.program == "deckhand-monitor" && (p.cmdline.find(setup_.dir + "/") != std::string::npos ||
                                            p.cmdline.find(setup_.volatile_dir + "/") != std::string::npos);
    if (pause || monitor) out.push_back(p.pid);
  }
  return out;
}

void DeckhandWorld::remove_all_pods() {
  if (client_) remove_all_pods_of(*client_, "deckhand-cri");
}

DeckhandWorld::~DeckhandWorld() {
  remove_all_pods();
  client_.reset();
  daemon_.stop(std::chrono::seconds(10));
  // What a failed removal left: monitors and pause processes outlive the daemon by design.
  if (auto left = per_pod_processes(); left && !left->empty()) kill_pids(*left);
  CgroupTree(cgroup_root()).kill_all();
  unmount_all_under(setup_.dir);
  unmount_all_under(setup_.volatile_dir);
  delete_link(net_.bridge);
}

}  // namespace deckhand::bench
