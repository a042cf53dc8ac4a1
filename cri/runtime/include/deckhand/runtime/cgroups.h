// cgroup drivers behind one interface: cgroupfs for v1 (one hierarchy per
// controller, as on hybrid hosts) and v2 (unified); systemd (sd-bus) later.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "deckhand/common/result.h"
#include "deckhand/runtime/oci_spec.h"

namespace deckhand::runtime {

struct CgroupStats {
  uint64_t cpu_usage_ns = 0;          // cumulative
  uint64_t memory_usage_bytes = 0;
  uint64_t memory_working_set_bytes = 0;  // usage - inactive file
  uint64_t memory_rss_bytes = 0;
  uint64_t memory_page_faults = 0, memory_major_page_faults = 0;
  uint64_t pids = 0;
};

class CgroupDriver {
 public:
  virtual ~CgroupDriver() = default;
  virtual std::string name() const = 0;  // "cgroupfs-v1", "cgroupfs-v2"
  // Creates the cgroup path (e.g. "/kubepods/pod<uid>") in every hierarchy and applies resources.
  virtual Status create(const std::string& path, const ResourceSpec& resources) = 0;
  virtual Status add_process(const std::string& path, pid_t pid) = 0;
  // The cgroup.procs files of path, one per hierarchy: a process joins the
  // cgroup by writing "0" to each (deckhand-pause does so itself).
  virtual Result<std::vector<std::string>> procs_files(const std::string& path) const = 0;
  // Removes path (it must hold no processes); a missing path is fine.
  virtual Status remove(const std::string& path) = 0;
  virtual Result<CgroupStats> stats(const std::string& path) const = 0;
  virtual bool exists(const std::string& path) const = 0;
  // Whether the hugetlb controller is available (limits are dropped where not).
  virtual bool has_hugetlb() const = 0;
};

// Detects the layout under mount_root: v2 when mount_root is a cgroup2 mount,
// else v1 controllers in mount_root/<controller>.
Result<std::unique_ptr<CgroupDriver>> make_cgroupfs_driver(const std::string& mount_root = "/sys/fs/cgroup");

// Where the hierarchies are, as detected or as a test states it.
struct CgroupfsLayout {
  enum class Version { V1, V2 };
  Version version = Version::V1;
  // v1: controller ("cpu", "memory", ...) -> the directory of its hierarchy;
  // co-mounted controllers ("cpu,cpuacct") share one directory. Detection also
  // adds "name=systemd" and "unified" (hybrid hosts): no controllers there, but
  // runc puts containers in them, so the driver makes and removes paths there too.
  std::map<std::string, std::string> v1_hierarchies;
  // v2: the cgroup2 mount.
  std::string v2_root;
  // v2: whether cgroup2 is the only cgroup file system in use. On hybrid hosts
  // the v1 hierarchies own the controllers and v2's hugetlb is not usable by runc.
  bool v2_only_hierarchy = true;
  // For fake trees in plain directories (tests): control files are created
  // on write instead of having to exist already.
  bool create_files = false;
};

// The layout under mount_root: v2 when it is a cgroup2 mount; else the v1
// hierarchies mounted under it (from /proc/self/mountinfo) or, when none is
// mounted there, its subdirectories named after controllers.
Result<CgroupfsLayout> detect_cgroupfs_layout(const std::string& mount_root = "/sys/fs/cgroup");

// A cgroupfs driver for an explicit layout.
Result<std::unique_ptr<CgroupDriver>> make_cgroupfs_driver(const CgroupfsLayout& layout);

}  // namespace deckhand::runtime
