// cgroup drivers behind one interface: cgroupfs for v1 (one hierarchy per
// controller, as on hybrid hosts) and v2 (unified); systemd (sd-bus) later.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

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

}  // namespace deckhand::runtime
