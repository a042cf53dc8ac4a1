// The OCI runtime binary (runc or crun), driven through its command line.
// Creation is done by deckhand-monitor (see monitor.h); this covers the rest.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "deckhand/common/process.h"
#include "deckhand/common/result.h"
#include "deckhand/runtime/oci_spec.h"

namespace deckhand::runtime {

struct OciState {
  std::string status;  // "created", "running", "stopped", "paused"
  int pid = 0;
};

class OciRuntime {
 public:
  // binary: path or name of runc/crun; state_root: its --root directory.
  OciRuntime(std::string binary, std::string state_root);

  const std::string& binary() const { return binary_; }
  const std::string& state_root() const { return state_root_; }

  Status start(const std::string& id);
  // Sends sig to the container's init (all=true: to every process of it).
  Status kill(const std::string& id, int sig, bool all = false);
  // force: kill a running container first. A container the runtime does not know is fine.
  Status remove(const std::string& id, bool force);
  Result<OciState> state(const std::string& id);
  // Runs args in the container; the output and exit code are in RunOutput.
  Result<RunOutput> exec(const std::string& id, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout);
  Status update(const std::string& id, const ResourceSpec& resources);

  // The runtime that works on this host: runc unless asked otherwise; crun
  // refuses hybrid cgroup hosts (v1 controllers beside a cgroup2 mount).
  static std::string default_binary();

 private:
  Result<RunOutput> run(std::vector<std::string> args, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::string binary_;
  std::string state_root_;
};

}  // namespace deckhand::runtime
