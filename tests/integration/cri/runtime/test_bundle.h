// A throw-away OCI bundle for runc: a busybox rootfs, a minimal config.json
// with a unique id and cgroup, and a runtime root, all under one TempDir.
// Everything (container, runc state, cgroups) is removed on destruction.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/runtime/monitor.h"
#include "deckhand/runtime/oci_runtime.h"
#include "test_env.h"

namespace deckhand::test {

class TestBundle {
 public:
  // args run as the container's process; edit may change the config before it is written;
  // runtime_binary is the OCI runtime (runc by default, or deckhand-oci).
  explicit TestBundle(std::vector<std::string> args, const std::function<void(Json&)>& edit = {},
                      const std::string& runtime_binary = runtime::OciRuntime::default_binary());
  ~TestBundle();
  TestBundle(const TestBundle&) = delete;
  TestBundle& operator=(const TestBundle&) = delete;

  const std::string& id() const { return id_; }
  std::string bundle() const { return dir_.sub("bundle"); }
  std::string runtime_root() const { return dir_.sub("runc"); }
  std::string state_dir() const { return dir_.sub("state"); }
  std::string log_path() const { return dir_.sub("logs/c.log"); }
  const std::string& cgroup_path() const { return cgroup_; }
  std::string sub(const std::string& name) const { return dir_.sub(name); }
  runtime::OciRuntime& runtime() { return runtime_; }
  runtime::MonitorSpec monitor_spec() const;

 private:
  TempDir dir_{"dh-cri-rt"};
  std::string id_;
  std::string cgroup_;
  runtime::OciRuntime runtime_;
};

// The OCI runtimes the lifecycle tests run under: runc and our deckhand-oci.
std::vector<std::string> oci_runtime_binaries();


// Waits for the exit record of the container monitored in state_dir.
std::optional<runtime::ExitRecord> wait_exit(const std::string& state_dir,
                                             std::chrono::milliseconds timeout = std::chrono::seconds(15));



// SIGKILLs pid when it goes out of scope unless it already exited.
struct KillOnExit {
  KillOnExit(pid_t p, uint64_t start) : pid(p), start_time(start) {}
  KillOnExit(const KillOnExit&) = delete;
  KillOnExit& operator=(const KillOnExit&) = delete;
  ~KillOnExit();
  pid_t pid = 0;
  uint64_t start_time = 0;
};

}  // namespace deckhand::test
