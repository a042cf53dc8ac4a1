// Debian's containerd 1.6 with its CRI plugin, run as a child for one test:
// its own root, state, sockets, CNI config (our bridge + host-local +
// loopback plugins from the build dir, a bridge and /24 of its own, no
// default route, no masquerading), runc with cgroupfs, and the pause image
// (deckhand-pause) imported with ctr. Everything is removed on destruction,
// pass or fail: pods, the daemon, its shims, mounts, the bridge, the cgroup
// tree, libcni's cache entries and the host directories it created.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "deckhand/cri/client.h"
#include "test_env.h"

namespace deckhand::test {

class ContainerdRuntime {
 public:
  // nullptr, with *why_not set, when containerd cannot run here (not installed);
  // any other failure is a test failure (REQUIRE) with containerd's log tail.
  static std::unique_ptr<ContainerdRuntime> start(std::string* why_not);
  ~ContainerdRuntime();
  ContainerdRuntime(const ContainerdRuntime&) = delete;
  ContainerdRuntime& operator=(const ContainerdRuntime&) = delete;

  std::string endpoint() const { return "unix://" + socket(); }        // "unix:///.../containerd.sock"
  const std::string& cgroup_parent() const { return cgroup_parent_; }  // the agent's --cgroup-root
  const std::string& subnet_prefix() const { return subnet_prefix_; }  // "10.x.y."
  // ctr -n k8s.io images import (REQUIREs success), then waits until the CRI
  // plugin lists every image the tar named.
  void import_image(const std::string& oci_tar);
  cri::CriClient& client() { return *client_; }
  std::string log_tail(size_t bytes = 4000) const;

  // For tests that check the cleanup: what must be gone after destruction.
  const std::string& root() const { return dir_.path(); }
  std::string socket() const { return dir_.sub("containerd.sock"); }
  const std::string& bridge() const { return bridge_; }
  const std::string& network() const { return network_; }
  // containerd-shim processes whose command line names our socket.
  std::vector<pid_t> shims() const;
  // Mount points below root(), deepest first.
  std::vector<std::string> mounts_under_root() const;

 private:
  ContainerdRuntime();
  void plan_network();
  void write_cni_config();
  std::string pause_image_tar();
  void write_config();
  void launch();
  std::vector<std::string> shim_sockets() const;
  void remove_all_pods();
  void stop_daemon();
  void kill_shims();
  void remove_cgroups() const;
  void remove_cni_cache() const;

  // Host directories containerd and libcni make as a side effect; those
  // absent at start are removed at the end when empty (children first).
  std::vector<std::string> absent_host_dirs_;
  TempDir dir_;
  std::string bridge_, network_, subnet_prefix_, cgroup_parent_;
  pid_t daemon_ = -1;
  std::unique_ptr<cri::CriClient> client_;
};

}  // namespace deckhand::test
