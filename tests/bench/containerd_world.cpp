#include "containerd_world.h"

#include <fmt/format.h>

#include "containerd_config.h"
#include "deckhand/common/fs.h"
#include "proc_memory.h"

namespace deckhand::bench {

namespace {

std::string config_toml(const std::string& d, const std::string& v) {
  return test::containerd_config_toml({d, v + "/state",
                                       {{"runc", "", v + "/runc-root"}, {"crun", "/usr/bin/crun", v + "/crun-root"}}});
}

// containerd and crun over one containerd: same daemon, different handler,
// pods in a cgroup tree of their own so that pause processes are told apart.
class ContainerdHandler final : public RuntimeUnderTest {
 public:
  ContainerdHandler(ContainerdWorld& w, std::string handler) : w_(w), handler_(std::move(handler)) {}
  std::string label() const override { return "containerd+" + handler_; }
  cri::CriClient& client() override { return w_.client(); }
  std::string runtime_handler() const override { return handler_; }
  std::string cgroup_root() const override { return w_.cgroup_parent() + "/ctrd-" + handler_; }
  std::string log_root() const override { return w_.dir() + "/logs-" + handler_; }

  // One shim per pod (the sandbox and its containers share it) and the pause
  // process in each pod's cgroup (whose program is /pause from our image).
  Result<std::vector<pid_t>> per_pod_processes() const override {
    std::vector<pid_t> out = w_.shims();
    for (auto& p : list_processes())
      if (p.program == "pause" && in_cgroup_tree(p, cgroup_root())) out.push_back(p.pid);
    return out;
  }
  std::vector<pid_t> daemon_processes() const override { return {w_.daemon_pid()}; }

 private:
  ContainerdWorld& w_;
  std::string handler_;
};

}  // namespace

Result<std::unique_ptr<ContainerdWorld>> ContainerdWorld::start(const ContainerdSetup& setup) {
  const std::string& d = setup.dir;
  for (auto sub : {"root", "cni", "ipam", "opt"}) DH_CHECK(fs::make_dirs(d + "/" + sub));
  for (auto sub : {"state", "runc-root", "crun-root"})
    DH_CHECK(fs::make_dirs(setup.volatile_dir + "/" + sub));
  DH_TRY(net, plan_network('c', setup.cni));
  DH_CHECK(fs::write_file_atomic(d + "/cni/10-bench.conflist", cni_conflist(net, d + "/ipam")));
  DH_CHECK(link_cni_plugins(setup.cni, d + "/cni-bin"));
  DH_CHECK(fs::write_file_atomic(d + "/config.toml", config_toml(d, setup.volatile_dir)));
  std::string log = d + "/containerd.log";
  DH_TRY(daemon, Daemon::start({"/usr/bin/containerd", "--config", d + "/config.toml"}, log));
  std::unique_ptr<ContainerdWorld> w(new ContainerdWorld(setup, net, std::move(daemon)));
  DH_CHECK(wait_for_socket(w->daemon_, w->address(), log, std::chrono::seconds(30)));
  DH_TRY(client, cri::CriClient::connect("unix://" + w->address(), std::chrono::seconds(20)));
  client->set_timeout(std::chrono::seconds(60));
  w->client_ = std::move(client);
  DH_CHECK(w->import(setup.pause_tar));
  DH_CHECK(w->import(setup.busybox_tar));
  return w;
}

Status ContainerdWorld::import(const std::string& tar) {
  auto r = run_checked({"/usr/bin/ctr", "-a", address(), "-n", "k8s.io", "images", "import", "--platform",
                        "linux/amd64", tar});
  if (!r) return tl::unexpected(r.error().context("import {} into containerd", tar));
  return {};
}

std::unique_ptr<RuntimeUnderTest> ContainerdWorld::with_handler(const std::string& handler) {
  return std::make_unique<ContainerdHandler>(*this, handler);
}

std::vector<pid_t> ContainerdWorld::shims() const {
  std::vector<pid_t> out;
  std::string marker = "-address " + address() + " ";
  for (auto& p : list_processes())
    if (p.program == "containerd-shim-runc-v2" && (p.cmdline + " ").find(marker) != std::string::npos)
      out.push_back(p.pid);
  return out;
}

// Each shim writes the address of its socket (in /run/containerd/s, shared by
// every containerd on the host) into its bundle; a shim we kill leaves it.
std::vector<std::string> ContainerdWorld::shim_sockets() const {
  std::vector<std::string> out;
  std::string tasks = setup_.volatile_dir + "/state/io.containerd.runtime.v2.task/k8s.io";
  for (auto& id : fs::list_dir(tasks).value_or(std::vector<std::string>{})) {
    auto a = fs::read_file(tasks + "/" + id + "/address");
    if (!a) continue;
    std::string s = *a;
    if (s.rfind("unix://", 0) == 0) s = s.substr(7);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    if (s.rfind("/run/containerd/s/", 0) == 0) out.push_back(s);
  }
  return out;
}

void ContainerdWorld::remove_all_pods() {
  if (client_) remove_all_pods_of(*client_, "containerd");
}

ContainerdWorld::~ContainerdWorld() {
  remove_all_pods();
  client_.reset();
  auto sockets = shim_sockets();
  daemon_.stop(std::chrono::seconds(10));
  // Shims outlive containerd by design; ours go now, and with them their sockets.
  kill_pids(shims());
  wait_until([&] { return shims().empty(); }, std::chrono::seconds(5));
  for (auto& s : sockets) ::unlink(s.c_str());
  CgroupTree(setup_.cgroup_parent + "/ctrd-runc").kill_all();
  CgroupTree(setup_.cgroup_parent + "/ctrd-crun").kill_all();
  unmount_all_under(setup_.dir);
  unmount_all_under(setup_.volatile_dir);
  delete_link(net_.bridge);
  // libcni keeps results of ADD in /var/lib/cni/results as <network>-<id>-<ifname>.
  std::string results = "/var/lib/cni/results";
  for (auto& f : fs::list_dir(results).value_or(std::vector<std::string>{}))
    if (f.rfind(net_.network + "-", 0) == 0) ::unlink((results + "/" + f).c_str());
}

}  // namespace deckhand::bench
