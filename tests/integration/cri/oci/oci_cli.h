// What the deckhand-oci tests share: a busybox bundle built with
// build_oci_config (deckhand-cri's own generator), a state root and a cgroup
// under /deckhand-test/<unique>, all removed again; and ways to run the CLI.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/process.h"
#include "deckhand/runtime/oci_runtime.h"
#include "deckhand/runtime/oci_spec.h"
#include "test_env.h"

namespace deckhand::test {

std::string oci_binary();

class OciBundle {
 public:
  // edit changes the ContainerSpec; edit_json the generated config.json.
  explicit OciBundle(std::vector<std::string> args,
                     const std::function<void(runtime::ContainerSpec&)>& edit = {},
                     const std::function<void(Json&)>& edit_json = {});
  ~OciBundle();
  OciBundle(const OciBundle&) = delete;
  OciBundle& operator=(const OciBundle&) = delete;

  const std::string& id() const { return id_; }
  std::string bundle() const { return dir_.sub("bundle"); }
  std::string rootfs() const { return dir_.sub("bundle/rootfs"); }
  std::string state_root() const { return dir_.sub("state"); }
  std::string pid_file() const { return dir_.sub("container.pid"); }
  std::string out_file() const { return dir_.sub("stdout"); }
  std::string err_file() const { return dir_.sub("stderr"); }
  std::string sub(const std::string& name) const { return dir_.sub(name); }
  const std::string& cgroup_path() const { return cgroup_; }
  runtime::OciRuntime& runtime() { return runtime_; }

  // `deckhand-oci create` with stdout/stderr to out_file()/err_file(); its exit code.
  int create();
  // The container's init pid from the pid file (0 if none).
  pid_t init_pid() const;
  // Reaps the init (we are its subreaper) and returns its exit code, or nullopt on timeout.
  std::optional<int> wait_init(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // `deckhand-oci <args>` with captured output.
  RunOutput cli(std::vector<std::string> args);
  std::string status();  // "status" from `state`, or "" when it fails
  std::string out() const;
  std::string err() const;

 private:
  TempDir dir_{"dh-oci"};
  std::string id_;
  std::string cgroup_parent_;
  std::string cgroup_;
  runtime::OciRuntime runtime_;
};


// Lines of our mountinfo that mention needle.
std::vector<std::string> mounts_with(const std::string& needle);

}  // namespace deckhand::test
