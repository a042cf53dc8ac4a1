// What deckhand-oci remembers about a container between its commands:
// <root>/<id>/state.json, and the exec FIFO whose presence means "created,
// not started yet".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "deckhand/common/result.h"

namespace deckhand::oci {

enum class ContainerStatus { Created, Running, Stopped };

const char* status_name(ContainerStatus s);

struct ContainerState {
  std::string id;
  pid_t pid = 0;                 // host pid of the init; 0 while create is under way
  uint64_t pid_start_time = 0;   // /proc/<pid>/stat field 22: tells a reused pid apart
  std::string bundle;
  std::string rootfs;
  std::string cgroups_path;
  std::string created;           // RFC 3339, UTC, nanoseconds
};

// The state directory <root>/<id> and the files in it.
class StateDir {
 public:
  StateDir(std::string root, std::string id);
  const std::string& path() const { return path_; }
  std::string state_file() const { return path_ + "/state.json"; }
  std::string exec_fifo() const { return path_ + "/exec.fifo"; }

  // Makes the directory; an existing one is AlreadyExists ("container with id exists").
  Status make() const;
  // NotFound with "container does not exist" when there is no state directory.
  Result<ContainerState> load() const;
  Status save(const ContainerState& state) const;
  // Removes the directory and everything in it; a missing one is fine.
  Status remove() const;
  bool exists() const;

 private:
  std::string id_;
  std::string path_;
};

// Created while the exec FIFO is there and the init alive, running once
// started, stopped when the init is gone or a zombie (or never got a pid).
ContainerStatus status_of(const StateDir& dir, const ContainerState& state);

// `state` output in runc's shape: ociVersion, id, pid, status, bundle, rootfs, created.
std::string state_json(const ContainerState& state, ContainerStatus status);

// Now as RFC 3339 with nanoseconds, e.g. "2024-05-01T10:00:00.123456789Z".
std::string rfc3339_now();

}  // namespace deckhand::oci
