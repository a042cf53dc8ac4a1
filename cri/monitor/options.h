// Command line of deckhand-monitor, as start_monitor (monitor_client.cpp) writes it.
#pragma once

#include <string>

#include "deckhand/common/result.h"

namespace deckhand::monitor {

struct MonitorOptions {
  std::string id;            // --id: container id
  std::string bundle;        // --bundle: directory with config.json
  std::string runtime;       // --runtime: runc / crun
  std::string runtime_root;  // --runtime-root: the runtime's --root
  std::string log_path;      // --log-path: CRI log file; absent: output discarded
  std::string state_dir;     // --state-dir: exit, monitor.pid, container.pid
  int sync_fd = -1;          // --sync-fd: where the result of create is reported
};

Result<MonitorOptions> parse_options(int argc, char** argv);

}  // namespace deckhand::monitor
