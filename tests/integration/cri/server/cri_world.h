// A private world for deckhand-cri integration tests: a temporary root
// holding the daemon's state, run dir, socket, CNI config (a bridge with a
// unique name and a unique /24, no default route, no masquerading) and IPAM
// data, a unique cgroup parent, and the daemon itself as a child process.
// Everything is removed on destruction, pass or fail.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "deckhand/common/process.h"
#include "deckhand/cri/client.h"
#include "test_env.h"

namespace deckhand::test {

struct WorldOptions {
  std::string runtime;              // --runtime; empty: the default
  std::vector<std::string> extra_plugins;  // raw JSON plugin entries appended to the chain
  std::string extra_bin_dir;        // searched before the plugin dirs
  bool reference_plugins = false;   // Debian's bridge + host-local instead of ours
  std::string cni_version = "1.0.0";
  // A network namespace (its pinned path) to run the daemon in, as on a node
  // of its own; its bridge and pods' veths are made there. Empty: ours.
  std::string netns;
  // Routes pods get through their bridge (the gateway), e.g. "10.0.0.0/8"
  // to pods of other nodes; none by default: pods reach their subnet only.
  std::vector<std::string> pod_routes;
};

class CriWorld {
 public:
  explicit CriWorld(WorldOptions opts = {});
  ~CriWorld();

  // Starts (or restarts) the daemon and connects a client.
  void start();
  // kill -9 of the daemon, as a crash.
  void crash();
  cri::CriClient& client() { return *client_; }

  const std::string& root() const { return dir_.path(); }
  std::string state_dir() const { return dir_.sub("state"); }
  std::string run_dir() const { return dir_.sub("run"); }
  const std::string& bridge() const { return bridge_; }
  const std::string& network() const { return network_; }
  std::string ipam_dir() const { return dir_.sub("ipam/" + network_); }
  const std::string& subnet_prefix() const { return subnet_prefix_; }  // "10.199.7."
  const std::string& cgroup_parent() const { return cgroup_parent_; }
  std::string daemon_log() const;

  // Imports the busybox fixture image; returns its name.
  std::string import_busybox();

  ::runtime::v1::PodSandboxConfig pod_config(const std::string& name) const;
  ::runtime::v1::ContainerConfig container_config(const std::string& name, const std::vector<std::string>& command) const;

  // What a removed pod must not leave behind.
  std::vector<std::string> bridge_ports() const;
  std::vector<std::string> ip_leases() const;
  std::vector<std::string> netns_pins() const;
  std::vector<std::string> mounts_under_root() const;
  bool cgroup_exists(const std::string& path) const;  // in the memory hierarchy (v1) or the unified one

 private:
  void stop_daemon();
  void write_cni_config();

  WorldOptions opts_;
  TempDir dir_;
  std::string bridge_, subnet_prefix_, network_, cgroup_parent_;
  pid_t daemon_ = -1;
  std::unique_ptr<cri::CriClient> client_;
};


}  // namespace deckhand::test
