// cgroupfs driver for cgroup v2: one tree; controllers are handed down by
// each ancestor's cgroup.subtree_control.
#include <array>
#include <set>

#include "cgroups_impl.h"
#include "deckhand/common/fs.h"

namespace deckhand::runtime::cgroups_impl {
namespace {

constexpr std::array<std::string_view, 6> kWantedControllers = {"cpu", "cpuset", "memory", "pids", "io", "hugetlb"};

std::set<std::string> words(std::string_view text) {
  std::set<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find_first_of(" \n", i);
    if (j == std::string_view::npos) j = text.size();
    if (j > i) out.emplace(text.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

class CgroupfsV2Driver final : public CgroupDriver {
 public:
  CgroupfsV2Driver(const CgroupfsLayout& layout, bool hugetlb) : layout_(layout), hugetlb_(hugetlb) {}

  std::string name() const override { return "cgroupfs-v2"; }

  Status create(const std::string& path, const ResourceSpec& resources) override {
    DH_TRY(rel, relative_cgroup_path(path));
    CreatedDirs created;
    auto enable = [this](const std::string& parent) { return enable_controllers(parent); };
    DH_CHECK(with_context(make_cgroup_dirs(layout_.v2_root, rel, created, enable, nullptr), "create cgroup {}", path));
    DH_CHECK(with_context(apply(dir(rel), resources), "apply resources to cgroup {}", path));
    created.release();
    return {};
  }

  Status add_process(const std::string& path, pid_t pid) override {
    DH_TRY(rel, relative_cgroup_path(path));
    return with_context(write(dir(rel), "cgroup.procs", std::to_string(pid)),
                        "add process {} to cgroup {}", pid, path);
  }

  Result<std::vector<std::string>> procs_files(const std::string& path) const override {
    DH_TRY(rel, relative_cgroup_path(path));
    return std::vector<std::string>{dir(rel) + "/cgroup.procs"};
  }

  Status remove(const std::string& path) override {
    DH_TRY(rel, relative_cgroup_path(path));
    return remove_cgroup_tree(dir(rel), std::chrono::steady_clock::now() + kRemoveTimeout, layout_.create_files);
  }

  Result<CgroupStats> stats(const std::string& path) const override {
    DH_TRY(rel, relative_cgroup_path(path));
    std::string d = dir(rel);
    if (!fs::exists(d)) return fail(ErrorKind::NotFound, "cgroup {} not found", path);
    CgroupStats s;
    // cpu.stat's usage_usec is there even without the cpu controller.
    DH_TRY(cpu, read_control(d, "cpu.stat", true));
    auto cpu_kv = parse_flat_keyed(cpu);
    s.cpu_usage_ns = cpu_kv.count("usage_usec") ? cpu_kv["usage_usec"] * 1000 : 0;
    DH_TRY(usage, read_u64_or_zero(d, "memory.current"));
    DH_TRY(mem, read_control(d, "memory.stat", true));
    auto kv = parse_flat_keyed(mem);
    auto get = [&](const char* key) { return kv.count(key) ? kv[key] : uint64_t{0}; };
    uint64_t inactive = get("inactive_file");
    s.memory_usage_bytes = usage;
    s.memory_working_set_bytes = usage > inactive ? usage - inactive : 0;
    s.memory_rss_bytes = get("anon");
    s.memory_page_faults = get("pgfault");
    s.memory_major_page_faults = get("pgmajfault");
    DH_TRY(pids, read_u64_or_zero(d, "pids.current"));
    s.pids = pids;
    return s;
  }

  bool exists(const std::string& path) const override {
    auto rel = relative_cgroup_path(path);
    return rel && fs::exists(dir(*rel));
  }

  bool has_hugetlb() const override { return hugetlb_; }

 private:
  std::string dir(const std::string& rel) const { return layout_.v2_root + "/" + rel; }

  Status write(const std::string& d, const std::string& file, const std::string& value) const {
    return write_control(d, file, value, layout_.create_files);
  }

  // Hands every wanted controller the parent has down to its children, as far
  // as the kernel lets us: a controller that cannot be enabled (an ancestor
  // with processes of its own, a threaded subtree) only matters if a limit
  // needs it, and then writing that limit fails with the path in the error.
  Status enable_controllers(const std::string& parent) const {
    DH_TRY(avail_text, read_control(parent, "cgroup.controllers", true));
    DH_TRY(enabled_text, read_control(parent, "cgroup.subtree_control", true));
    auto avail = words(avail_text), enabled = words(enabled_text);
    for (auto c : kWantedControllers) {
      std::string name(c);
      if (!avail.count(name) || enabled.count(name)) continue;
      auto st = write_control(parent, "cgroup.subtree_control", "+" + name, layout_.create_files);
      // A controller that cannot be enabled shows when its files are written.
      if (st && layout_.create_files) {
        enabled.insert(name);  // a plain file keeps only the last write: keep the whole list
        std::string all;
        for (const auto& e : enabled) all += (all.empty() ? "" : " ") + e;
        DH_CHECK(write(parent, "cgroup.subtree_control", all));
      }
    }
    return {};
  }

  Status apply_cpu(const std::string& d, const ResourceSpec& r) const {
    if (r.cpu_shares > 0)
      DH_CHECK(write(d, "cpu.weight", std::to_string(shares_to_weight(static_cast<uint64_t>(r.cpu_shares)))));
    if (r.cpu_quota != 0 || r.cpu_period > 0) {
      std::string quota = r.cpu_quota > 0 ? std::to_string(r.cpu_quota) : "max";
      std::string period = std::to_string(r.cpu_period > 0 ? r.cpu_period : 100000);
      DH_CHECK(write(d, "cpu.max", quota + " " + period));
    }
    if (!r.cpuset_cpus.empty()) DH_CHECK(write(d, "cpuset.cpus", r.cpuset_cpus));
    if (!r.cpuset_mems.empty()) DH_CHECK(write(d, "cpuset.mems", r.cpuset_mems));
    return {};
  }

  Status apply_unified(const std::string& d, const ResourceSpec& r) const {
    for (const auto& [key, value] : r.unified) {
      if (key.empty() || key.find('/') != std::string::npos || key[0] == '.')
        return fail(ErrorKind::InvalidArgument, "unified key \"{}\" is not a cgroup file name", key);
      DH_CHECK(write(d, key, value));
    }
    return {};
  }

  Status apply(const std::string& d, const ResourceSpec& r) const {
    DH_CHECK(apply_cpu(d, r));
    if (r.memory_limit > 0) DH_CHECK(write(d, "memory.max", std::to_string(r.memory_limit)));
    if (r.pids_limit != 0) DH_CHECK(write(d, "pids.max", r.pids_limit < 0 ? "max" : std::to_string(r.pids_limit)));
    for (const auto& [size, limit] : r.hugepage_limits) {
      if (limit == 0) continue;
      if (!hugetlb_) continue;  // hugetlb not usable: the limit is dropped (has_hugetlb() says so)
      DH_CHECK(write(d, "hugetlb." + size + ".max", std::to_string(limit)));
    }
    return apply_unified(d, r);
  }

  CgroupfsLayout layout_;
  bool hugetlb_;
};

}  // namespace

Result<std::unique_ptr<CgroupDriver>> make_v2_driver(const CgroupfsLayout& layout) {
  if (layout.v2_root.empty()) return fail(ErrorKind::InvalidArgument, "cgroup v2 layout without a root");
  DH_TRY(controllers, read_control(layout.v2_root, "cgroup.controllers", true));
  bool hugetlb = layout.v2_only_hierarchy && words(controllers).count("hugetlb") > 0;
  return std::unique_ptr<CgroupDriver>(std::make_unique<CgroupfsV2Driver>(layout, hugetlb));
}

}  // namespace deckhand::runtime::cgroups_impl
