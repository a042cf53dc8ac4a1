// deckhand-oci's commands, one method each: the runc command-line subset that
// deckhand-cri uses (create, start, state, kill, delete, exec, update).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "deckhand/common/result.h"

namespace deckhand::oci {

inline constexpr const char* kDefaultStateRoot = "/run/deckhand-oci";

struct CreateOptions {
  std::string id;
  std::string bundle;
  std::string pid_file;  // empty: none
};

struct ExecOptions {
  std::string id;
  std::vector<std::string> args;
  std::string pid_file;
  std::string process_file;  // a process.json replacing config.json's process
  std::optional<std::string> cwd;
  std::vector<std::string> env;  // KEY=VALUE, over the container's
  std::optional<std::string> user;  // "uid" or "uid:gid"
};

class Launcher {
 public:
  explicit Launcher(std::string state_root);

  // Sets the container up to the point where only exec of its process is left;
  // returns once its init waits for start. The caller's stdio becomes the container's.
  Status create(const CreateOptions& opts);
  Status start(const std::string& id);
  // runc-shaped state JSON.
  Result<std::string> state(const std::string& id);
  Status kill(const std::string& id, int sig, bool all);
  Status remove(const std::string& id, bool force);
  // Runs a process in the container and returns its exit code (128+signal if killed).
  Result<int> exec(const ExecOptions& opts);
  // Applies a linux.resources JSON document to the container's cgroup.
  Status update(const std::string& id, const std::string& resources_json);

 private:
  std::string root_;
};

// "KILL", "SIGKILL", "9" -> 9.
Result<int> parse_signal(const std::string& text);

}  // namespace deckhand::oci
