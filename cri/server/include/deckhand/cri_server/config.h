// deckhand-cri's configuration: defaults, overridden by /etc/deckhand/cri.toml
// (or --config), overridden by flags.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "deckhand/cni/invoker.h"
#include "deckhand/common/result.h"
#include "deckhand/images/image_puller.h"

namespace deckhand::cri {

struct CriConfig {
  std::string config_file = "/etc/deckhand/cri.toml";
  std::string socket = "/run/deckhand/cri.sock";
  std::string state_dir = "/var/lib/deckhand/cri";  // images, sandbox and container records
  std::string run_dir = "/run/deckhand/cri";        // netns pins, shm, runtime state
  std::string runtime_binary;                       // runc or crun; empty: what works here
  std::string pause_binary;                         // empty: deckhand-pause beside this program
  std::string monitor_binary;                       // empty: deckhand-monitor beside this program
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string default_cgroup_parent = "/deckhand";  // for pods whose config names none
  std::string log_level = "warn";
  std::chrono::milliseconds kill_grace{10000};      // wait after SIGKILL for the exit record
  cni::InvokerConfig cni;
  images::RegistryConfig registry;
  bool show_help = false;
};

// Reads defaults, then the config file (missing is fine unless given with
// --config), then flags. Errors name the flag, key or line at fault.
Result<CriConfig> load_config(int argc, char** argv);

const char* usage();

}  // namespace deckhand::cri
