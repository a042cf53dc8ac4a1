// What the cgroupfs drivers (v1, v2) share: control-file access, path checks,
// directory creation with rollback, and removal with a deadline.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/common/result.h"
#include "deckhand/runtime/cgroups.h"

namespace deckhand::runtime::cgroups_impl {

// Controllers the drivers know by name; anything else in mount options is a flag.
bool is_known_controller(std::string_view name);

// "/kubepods/pod1/c1" -> "kubepods/pod1/c1"; empty, "." and ".." components are refused.
Result<std::string> relative_cgroup_path(const std::string& path);

// Reads dir/file; a missing file gives an empty string when missing_ok.
Result<std::string> read_control(const std::string& dir, const std::string& file, bool missing_ok = false);

// Writes value to dir/file in one write(2), as the kernel wants for control files.
// With create (fake trees) the file is created and truncated first.
Status write_control(const std::string& dir, const std::string& file, std::string_view value, bool create);

// "key value" lines (memory.stat, cpu.stat); lines that do not parse are skipped.
std::map<std::string, uint64_t> parse_flat_keyed(std::string_view text);

// A single number (possibly newline-terminated); "max" is refused.
Result<uint64_t> parse_u64(std::string_view text, const std::string& what);

// A number file in dir; a missing file (controller not there) gives 0.
Result<uint64_t> read_u64_or_zero(const std::string& dir, const std::string& file);

// Directories made by create(), removed again (deepest first) unless release()d:
// a create that fails half way leaves nothing behind.
class CreatedDirs {
 public:
  CreatedDirs() = default;
  CreatedDirs(const CreatedDirs&) = delete;
  CreatedDirs& operator=(const CreatedDirs&) = delete;
  ~CreatedDirs();
  void add(std::string dir) { dirs_.push_back(std::move(dir)); }
  void release() { dirs_.clear(); }

 private:
  std::vector<std::string> dirs_;
};

// Makes root/rel one level at a time, calling before_child(parent_dir) ahead of
// each mkdir and after_dir(parent_dir, dir) after it (whether new or not).
Status make_cgroup_dirs(const std::string& root, const std::string& rel, CreatedDirs& created,
                        const std::function<Status(const std::string&)>& before_child,
                        const std::function<Status(const std::string&, const std::string&)>& after_dir);

// Removes dir and the cgroups below it, deepest first. rmdir of a cgroup that
// still holds exiting processes fails with EBUSY for a moment: retried until
// the deadline. A missing dir is fine. With remove_files (fake trees) plain
// files inside are deleted first.
Status remove_cgroup_tree(const std::string& dir, std::chrono::steady_clock::time_point deadline,
                          bool remove_files);

constexpr std::chrono::milliseconds kRemoveTimeout{1000};

// runc's mapping of cgroup v1 cpu.shares [2, 262144] to v2 cpu.weight [1, 10000].
uint64_t shares_to_weight(uint64_t shares);

// v1 hierarchies (controller -> mount point) mounted at or under root, from mountinfo text.
std::map<std::string, std::string> v1_mounts_from_mountinfo(std::string_view mountinfo, const std::string& root);

// The hierarchies without controllers that runc also places a container in on
// v1 hosts, mounted under root: "name=systemd" and, on hybrid hosts, "unified"
// (the cgroup2 mount). The driver makes and removes the path there too, so
// that what runc makes below a pod cgroup is not left behind.
std::map<std::string, std::string> v1_companion_mounts(std::string_view mountinfo, const std::string& root);

// Whether mountinfo lists any v1 hierarchy carrying a controller.
bool has_v1_controller_mounts(std::string_view mountinfo);

std::unique_ptr<CgroupDriver> make_v1_driver(const CgroupfsLayout& layout);
Result<std::unique_ptr<CgroupDriver>> make_v2_driver(const CgroupfsLayout& layout);

}  // namespace deckhand::runtime::cgroups_impl
