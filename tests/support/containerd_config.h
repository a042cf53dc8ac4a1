// The config.toml of a private containerd that the tests and benchmarks run
// beside deckhand-cri: its own root, state, sockets and CNI directories, our
// pause image as the sandbox image, runc-type runtimes with roots of their
// own. The settings this host needs are in DESIGN.md ("Facts about the CI
// and development machines").
#pragma once

#include <string>
#include <vector>

namespace deckhand::test {

// The name tests/bench/make_pause_image.py gives its image.
inline constexpr const char* kContainerdPauseImage = "deckhand.bench/pause:latest";

struct ContainerdRuntimeHandler {
  std::string name;    // the CRI runtime handler, e.g. "runc"
  std::string binary;  // the OCI runtime; empty: runc from PATH
  std::string root;    // its state root (--root)
};

struct ContainerdConfig {
  std::string dir;        // root/, the sockets, opt/, cni-bin/ and cni/ are made below it
  std::string state_dir;  // containerd's volatile state
  std::vector<ContainerdRuntimeHandler> runtimes;  // the first is the default
};

std::string containerd_config_toml(const ContainerdConfig& config);

}  // namespace deckhand::test
