// The container's cgroup: made and filled through the CgroupDriver of
// deckhand-cri (v1 hierarchies or v2), plus what that driver does not cover:
// device rules (v1 devices controller) and the view of it mounted inside.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "deckhand/common/result.h"
#include "deckhand/oci/bundle_config.h"
#include "deckhand/runtime/cgroups.h"

namespace deckhand::oci {

class ContainerCgroup {
 public:
  // The host's layout under /sys/fs/cgroup (DECKHAND_OCI_CGROUP_ROOT overrides, for tests).
  static Result<ContainerCgroup> open(std::string path);

  const std::string& path() const { return path_; }
  const runtime::CgroupfsLayout& layout() const { return layout_; }
  runtime::CgroupDriver& driver() { return *driver_; }

  // Makes the cgroup in every hierarchy and applies resources and device rules.
  Status create(const runtime::ResourceSpec& resources, const std::vector<DeviceRule>& devices);
  // Applies resources to the existing cgroup.
  Status update(const runtime::ResourceSpec& resources);
  // The caller joins the cgroup in every hierarchy (writes "0" to each cgroup.procs),
  // which works from inside a new pid namespace too.
  Status join() const;
  // Host pids of the processes in it (cgroup.procs of one hierarchy).
  Result<std::vector<pid_t>> pids() const;
  // Waits (up to the deadline) for it to empty, then removes it everywhere.
  Status remove(std::chrono::milliseconds wait_for_empty);
  // Where the container's own cgroup directory is, per hierarchy: (name seen
  // inside under /sys/fs/cgroup, host directory). v2: one entry with an empty name.
  std::vector<std::pair<std::string, std::string>> host_dirs() const;

 private:
  ContainerCgroup(std::string path, runtime::CgroupfsLayout layout, std::unique_ptr<runtime::CgroupDriver> driver);
  Status apply_devices(const std::vector<DeviceRule>& devices) const;

  std::string path_;
  runtime::CgroupfsLayout layout_;
  std::unique_ptr<runtime::CgroupDriver> driver_;
};

}  // namespace deckhand::oci
