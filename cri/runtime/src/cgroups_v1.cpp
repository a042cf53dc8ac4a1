// cgroupfs driver for cgroup v1: one hierarchy per controller (or per group of
// co-mounted controllers), the same relative path made in each.
#include <sys/stat.h>

#include <set>

#include "cgroups_impl.h"
#include "deckhand/common/fs.h"

namespace deckhand::runtime::cgroups_impl {
namespace {

class CgroupfsV1Driver final : public CgroupDriver {
 public:
  explicit CgroupfsV1Driver(const CgroupfsLayout& layout) : layout_(layout) {
    std::set<std::string> seen;
    for (const auto& [controller, dir] : layout_.v1_hierarchies)
      if (seen.insert(dir).second) hierarchies_.push_back(dir);
  }

  std::string name() const override { return "cgroupfs-v1"; }

  Status create(const std::string& path, const ResourceSpec& resources) override {
    DH_TRY(rel, relative_cgroup_path(path));
    if (!resources.unified.empty())
      return fail(ErrorKind::InvalidArgument, "cgroup {}: unified (cgroup v2) resources on a cgroup v1 host", path);
    CreatedDirs created;
    for (const auto& h : hierarchies_) {
      auto after = is_cpuset(h) ? std::function<Status(const std::string&, const std::string&)>(
                                      [this](const std::string& parent, const std::string& dir) {
                                        return fill_cpuset(parent, dir);
                                      })
                                : nullptr;
      DH_CHECK(with_context(make_cgroup_dirs(h, rel, created, nullptr, after), "create cgroup {}", path));
    }
    DH_CHECK(with_context(apply(rel, resources), "apply resources to cgroup {}", path));
    created.release();
    return {};
  }

  Status add_process(const std::string& path, pid_t pid) override {
    DH_TRY(rel, relative_cgroup_path(path));
    for (const auto& h : hierarchies_)
      DH_CHECK(with_context(write(h + "/" + rel, "cgroup.procs", std::to_string(pid)),
                            "add process {} to cgroup {}", pid, path));
    return {};
  }

  Result<std::vector<std::string>> procs_files(const std::string& path) const override {
    DH_TRY(rel, relative_cgroup_path(path));
    std::vector<std::string> out;
    for (const auto& h : hierarchies_) out.push_back(h + "/" + rel + "/cgroup.procs");
    return out;
  }

  Status remove(const std::string& path) override {
    DH_TRY(rel, relative_cgroup_path(path));
    auto deadline = std::chrono::steady_clock::now() + kRemoveTimeout;
    Status first;
    for (const auto& h : hierarchies_) {
      auto st = remove_cgroup_tree(h + "/" + rel, deadline, layout_.create_files);
      if (st) continue;
      if (first) first = st;  // go on: the other hierarchies are still worth cleaning; report the first
    }
    return first;
  }

  Result<CgroupStats> stats(const std::string& path) const override {
    DH_TRY(rel, relative_cgroup_path(path));
    if (!exists(path)) return fail(ErrorKind::NotFound, "cgroup {} not found", path);
    CgroupStats s;
    if (auto d = dir_of("cpuacct", rel)) {
      DH_TRY(v, read_u64_or_zero(*d, "cpuacct.usage"));
      s.cpu_usage_ns = v;
    }
    if (auto d = dir_of("memory", rel)) DH_CHECK(memory_stats(*d, s));
    if (auto d = dir_of("pids", rel)) {
      DH_TRY(v, read_u64_or_zero(*d, "pids.current"));
      s.pids = v;
    }
    return s;
  }

  // In every hierarchy: a cgroup that create() did not finish is not there yet.
  bool exists(const std::string& path) const override {
    auto rel = relative_cgroup_path(path);
    if (!rel) return false;
    for (const auto& h : hierarchies_)
      if (!fs::exists(h + "/" + *rel)) return false;
    return true;
  }

  bool has_hugetlb() const override { return layout_.v1_hierarchies.count("hugetlb") > 0; }

 private:
  bool is_cpuset(const std::string& hierarchy) const {
    auto it = layout_.v1_hierarchies.find("cpuset");
    return it != layout_.v1_hierarchies.end() && it->second == hierarchy;
  }

  std::optional<std::string> dir_of(const std::string& controller, const std::string& rel) const {
    auto it = layout_.v1_hierarchies.find(controller);
    if (it == layout_.v1_hierarchies.end()) return std::nullopt;
    return it->second + "/" + rel;
  }

  Status write(const std::string& dir, const std::string& file, const std::string& value) const {
    return write_control(dir, file, value, layout_.create_files);
  }

  // A new cpuset cgroup starts with empty cpus and mems, and no process can
  // join it until they are set: inherit the parent's.
  Status fill_cpuset(const std::string& parent, const std::string& dir) const {
    for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
      DH_TRY(mine, read_control(dir, file, true));
      if (mine.find_first_not_of(" \n") != std::string::npos) continue;
      DH_TRY(theirs, read_control(parent, file, true));
      if (theirs.find_first_not_of(" \n") == std::string::npos) continue;
      DH_CHECK(write(dir, file, theirs.substr(0, theirs.find_last_not_of(" \n") + 1)));
    }
    return {};
  }

  Status apply_cpu(const std::string& rel, const ResourceSpec& r) const {
    auto d = dir_of("cpu", rel);
    if (!d) return {};
    if (r.cpu_shares > 0) DH_CHECK(write(*d, "cpu.shares", std::to_string(r.cpu_shares)));
    // The kernel checks quota against period (and the parent's) on each write:
    // period first works for a fresh cgroup; the other order covers a lowered period.
    auto period = [&] { return r.cpu_period > 0 ? write(*d, "cpu.cfs_period_us", std::to_string(r.cpu_period)) : Status{}; };
    auto quota = [&] { return r.cpu_quota != 0 ? write(*d, "cpu.cfs_quota_us", std::to_string(r.cpu_quota)) : Status{}; };
    auto st = period();
    if (!st) {
      DH_CHECK(quota());
      return period();
    }
    return quota();
  }

  Status apply_hugetlb(const std::string& rel, const ResourceSpec& r) const {
    auto d = dir_of("hugetlb", rel);
    for (const auto& [size, limit] : r.hugepage_limits) {
      if (limit == 0) continue;
      if (!d) continue;  // no hugetlb controller: the limit is dropped (has_hugetlb() says so)
      DH_CHECK(write(*d, "hugetlb." + size + ".limit_in_bytes", std::to_string(limit)));
    }
    return {};
  }

  Status apply(const std::string& rel, const ResourceSpec& r) const {
    DH_CHECK(apply_cpu(rel, r));
    auto mem = dir_of("memory", rel);
    if (mem && r.memory_limit > 0) DH_CHECK(write(*mem, "memory.limit_in_bytes", std::to_string(r.memory_limit)));
    auto cs = dir_of("cpuset", rel);
    if (cs && !r.cpuset_cpus.empty()) DH_CHECK(write(*cs, "cpuset.cpus", r.cpuset_cpus));
    if (cs && !r.cpuset_mems.empty()) DH_CHECK(write(*cs, "cpuset.mems", r.cpuset_mems));
    auto pids = dir_of("pids", rel);
    if (pids && r.pids_limit != 0)
      DH_CHECK(write(*pids, "pids.max", r.pids_limit < 0 ? "max" : std::to_string(r.pids_limit)));
    return apply_hugetlb(rel, r);
  }

  // Hierarchical (total_*) counts where the kernel gives them: a pod cgroup's
  // own pages are few, its children's are what matters.
  static Status memory_stats(const std::string& dir, CgroupStats& s) {
    DH_TRY(usage, read_u64_or_zero(dir, "memory.usage_in_bytes"));
    DH_TRY(text, read_control(dir, "memory.stat", true));
    auto kv = parse_flat_keyed(text);
    auto get = [&](const std::string& key) {
      auto it = kv.find("total_" + key);
      if (it == kv.end()) it = kv.find(key);
      return it == kv.end() ? uint64_t{0} : it->second;
    };
    uint64_t inactive = get("inactive_file");
    s.memory_usage_bytes = usage;
    s.memory_working_set_bytes = usage > inactive ? usage - inactive : 0;
    s.memory_rss_bytes = get("rss");
    s.memory_page_faults = get("pgfault");
    s.memory_major_page_faults = get("pgmajfault");
    return {};
  }

  CgroupfsLayout layout_;
  std::vector<std::string> hierarchies_;  // each directory once, co-mounts merged
};

}  // namespace

std::unique_ptr<CgroupDriver> make_v1_driver(const CgroupfsLayout& layout) {
  return std::make_unique<CgroupfsV1Driver>(layout);
}

}  // namespace deckhand::runtime::cgroups_impl
