#include "containerd_config.h"

#include <fmt/format.h>

namespace deckhand::test {

namespace {

// Plugins that only probe the host at start (or fail there) and that we do not use.
constexpr const char* kDisabledPlugins =
    R"(["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"])";

std::string runtime_table(const ContainerdRuntimeHandler& r) {
  std::string t = fmt::format(R"(
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{0}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{0}.options]
        SystemdCgroup = false
        Root = "{1}"
)",
                              r.name, r.root);
  if (!r.binary.empty()) t += fmt::format("        BinaryName = \"{}\"\n", r.binary);
  return t;
}

}  // namespace

std::string containerd_config_toml(const ContainerdConfig& c) {
  std::string t = fmt::format(R"(version = 2
root = "{0}/root"
state = "{1}"
disabled_plugins = {2}

[grpc]
  address = "{0}/containerd.sock"
[ttrpc]
  address = "{0}/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{0}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{3}"
  restrict_oom_score_adj = true
  tolerate_missing_hugetlb_controller = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{0}/cni-bin"
    conf_dir = "{0}/cni"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "{4}"
    snapshotter = "overlayfs"
)",
                              c.dir, c.state_dir, kDisabledPlugins, kContainerdPauseImage,
                              c.runtimes.empty() ? "runc" : c.runtimes.front().name);
  for (const auto& r : c.runtimes) t += runtime_table(r);
  return t;
}

}  // namespace deckhand::test
