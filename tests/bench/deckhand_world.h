// deckhand-cri run privately for the benchmark: its state, run dir, socket,
// CNI config (a bridge with a name and /24 of its own, no masquerading, no
// default route) and IPAM data under one directory, pods in cgroups below
// /deckhand-bench-<pid>/dh. The destructor removes pods, daemon, leftover
// monitors and pause processes, mounts and the bridge.
#pragma once

#include <memory>
#include <string>

#include "bench_env.h"
#include "runtime_under_test.h"

namespace deckhand::bench {

// The CNI plugins a runtime's network uses: ours or the reference ones.
struct CniPlugins {
  std::string bridge_type, ipam_type;
  // Executables for a one-dir bin_dir (containerd takes one): name -> path.
  // Holds a "loopback" too, which containerd runs for lo of every pod.
  std::vector<std::pair<std::string, std::string>> binaries;
  std::string label;  // "deckhand" or "reference"
};
CniPlugins reference_cni_plugins();
CniPlugins deckhand_cni_plugins(const std::string& build_dir);
// Fills dir with links to the plugins' binaries (dir is the runtime's bin dir).
Status link_cni_plugins(const CniPlugins& plugins, const std::string& dir);

struct NetworkPlan {
  std::string bridge;   // at most 15 characters
  std::string subnet;   // "10.231.4.0/24"
  std::string network;  // CNI network name
  CniPlugins cni;
};

// A bridge name and a /24 in 10.200.0.0/13 that nothing on the host uses yet;
// variant tells the two runtimes of one run apart.
Result<NetworkPlan> plan_network(char variant, CniPlugins cni);

// The CNI conflist for plan: bridge as gateway, host-local IPAM with its data in ipam_dir.
std::string cni_conflist(const NetworkPlan& plan, const std::string& ipam_dir);

struct DeckhandSetup {
  std::string binary;         // deckhand-cri
  std::string dir;            // private directory (made and removed by the world)
  std::string volatile_dir;   // --run-dir, on a tmpfs as /run is in production
  std::string cgroup_parent;  // --cgroup-parent; pods go to <cgroup_parent>/dh
  std::string log_level;
  std::string busybox_tar;  // imported at start
  CniPlugins cni;
};

class DeckhandWorld final : public RuntimeUnderTest {
 public:
  static Result<std::unique_ptr<DeckhandWorld>> start(const DeckhandSetup& setup);
  ~DeckhandWorld() override;

  std::string label() const override { return "deckhand-cri"; }
  cri::CriClient& client() override { return *client_; }
  std::string cgroup_root() const override { return setup_.cgroup_parent + "/dh"; }
  std::string log_root() const override { return setup_.dir + "/logs"; }
  Result<std::vector<pid_t>> per_pod_processes() const override;
  std::vector<pid_t> daemon_processes() const override { return {daemon_.pid()}; }

  std::string daemon_log() const { return setup_.dir + "/deckhand-cri.log"; }

 private:
  DeckhandWorld(DeckhandSetup setup, NetworkPlan net, Daemon daemon)
      : setup_(std::move(setup)), net_(std::move(net)), daemon_(std::move(daemon)) {}
  void remove_all_pods();

  DeckhandSetup setup_;
  NetworkPlan net_;
  Daemon daemon_;
  std::unique_ptr<cri::CriClient> client_;
};

}  // namespace deckhand::bench
