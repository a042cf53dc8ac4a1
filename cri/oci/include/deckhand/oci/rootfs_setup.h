// The container's file system view, built in its own (new) mount namespace:
// the rootfs bound to itself, the spec's mounts in order, default devices,
// pivot_root, then masked and read-only paths and a read-only root.
// Runs in the container's init before it executes anything of the image.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "deckhand/common/fd.h"
#include "deckhand/common/result.h"
#include "deckhand/oci/bundle_config.h"

namespace deckhand::oci {

// mount(2) flags and data from a mount's options.
struct MountFlags {
  unsigned long flags = 0;        // MS_* except propagation
  unsigned long propagation = 0;  // MS_PRIVATE, MS_SLAVE, ... with MS_REC when "r"-prefixed
  std::string data;               // the rest, comma-joined (size=, mode=, ...)
};
MountFlags parse_mount_options(const std::vector<std::string>& options);

// Opens path (relative to the root dirfd, symlinks resolved as if root were
// "/", so they cannot lead out of it) as an O_PATH fd; with create, missing
// components are made as directories, the last one as a directory or
// (make_file) an empty file.
enum class Create { No, Dir, File };
Result<UniqueFd> open_in_root(int root_fd, const std::string& path, Create create);

class RootfsSetup {
 public:
  // cgroup_dirs: the container's cgroup per hierarchy, for "cgroup" mounts
  // (see ContainerCgroup::host_dirs).
  RootfsSetup(const BundleConfig& config, std::vector<std::pair<std::string, std::string>> cgroup_dirs);

  // Before pivot_root, in the new mount namespace.
  Status prepare();
  // pivot_root into the rootfs and detach the old root.
  Status pivot();
  // After pivot_root (and after sysctls, which need a writable /proc/sys).
  Status finish();

 private:
  Status mount_one(const MountEntry& m);
  Status mount_bind(const MountEntry& m, const MountFlags& mf);
  Status mount_cgroup(const MountEntry& m, const MountFlags& mf);
  Status make_devices();
  Status make_cwd();
  Status mask_paths();
  Status make_readonly_paths();
  Status make_root_readonly();

  const BundleConfig& config_;
  std::vector<std::pair<std::string, std::string>> cgroup_dirs_;
  UniqueFd root_fd_;
};

}  // namespace deckhand::oci
