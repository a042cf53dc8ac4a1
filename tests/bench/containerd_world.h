// Debian's containerd 1.6 with its CRI plugin, run privately for the
// benchmark: its own root, state, sockets and CNI config (a bridge and /24
// of its own), runc (and a "crun" handler) with cgroupfs and a private runc
// root, and the settings this host needs (see DESIGN.md). The pause image is
// deckhand-pause; it and busybox are imported with ctr. The destructor
// removes pods, the daemon, leftover shims and their sockets, mounts, the
// bridge and libcni's cache entries of our network.
#pragma once

#include <memory>
#include <string>

#include "bench_env.h"
#include "deckhand_world.h"
#include "runtime_under_test.h"

namespace deckhand::bench {

struct ContainerdSetup {
  std::string dir;            // private directory
  std::string volatile_dir;   // state and runc roots, on a tmpfs as /run is in production
  std::string cgroup_parent;  // pods go to <cgroup_parent>/ctrd-<handler>
  std::string busybox_tar;
  std::string pause_tar;  // deckhand.bench/pause:latest
  CniPlugins cni;
};

class ContainerdWorld {
 public:
  static Result<std::unique_ptr<ContainerdWorld>> start(const ContainerdSetup& setup);
  ~ContainerdWorld();

  // A view of this containerd with one runtime handler ("runc", "crun").
  std::unique_ptr<RuntimeUnderTest> with_handler(const std::string& handler);

  cri::CriClient& client() { return *client_; }
  std::string address() const { return setup_.dir + "/containerd.sock"; }
  std::string log() const { return setup_.dir + "/containerd.log"; }
  pid_t daemon_pid() const { return daemon_.pid(); }
  const std::string& dir() const { return setup_.dir; }
  const std::string& cgroup_parent() const { return setup_.cgroup_parent; }

  // Shims started by this containerd (their command line names our socket).
  std::vector<pid_t> shims() const;

 private:
  ContainerdWorld(ContainerdSetup setup, NetworkPlan net, Daemon daemon)
      : setup_(std::move(setup)), net_(std::move(net)), daemon_(std::move(daemon)) {}
  Status import(const std::string& tar);
  void remove_all_pods();
  std::vector<std::string> shim_sockets() const;

  ContainerdSetup setup_;
  NetworkPlan net_;
  Daemon daemon_;
  std::unique_ptr<cri::CriClient> client_;
};

}  // namespace deckhand::bench
