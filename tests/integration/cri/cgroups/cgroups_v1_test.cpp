// The cgroupfs v1 driver on the host's real /sys/fs/cgroup, under a parent
// cgroup of the test's own that is removed pass or fail.
#include <doctest/doctest.h>

#include "child.h"
#include "deckhand/common/fs.h"
#include "deckhand/runtime/cgroups.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::runtime;

namespace {

constexpr const char* kRoot = "/sys/fs/cgroup";

std::string read_trimmed(const std::string& path) {
  auto r = fs::read_file(path);
  if (!r) return "<" + r.error().message + ">";
  std::string s = *r;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Removes the test's parent cgroup (and what is under it) however the test ends.
struct CgroupGuard {
  CgroupDriver& driver;
  std::string path;
  ~CgroupGuard() {
    auto st = driver.remove(path);
    if (!st) MESSAGE("cleanup: " << st.error().message);
  }
};

bool is_v1_host() {
  auto layout = detect_cgroupfs_layout(kRoot);
  return layout && layout->version == CgroupfsLayout::Version::V1;
}

}  // namespace

TEST_CASE("cgroupfs v1 on the host: create, limits, process, stats, remove") {
  if (!is_v1_host()) {
    MESSAGE("SKIP: " << kRoot << " is not a cgroup v1 layout");
    return;
  }
  auto layout = detect_cgroupfs_layout(kRoot).value();
  auto d = make_cgroupfs_driver(kRoot);
  REQUIRE(d);
  CgroupDriver& drv = **d;
  CHECK(drv.name() == "cgroupfs-v1");
  // This host mounts no v1 hugetlb; cgroup2 listing it does not make it usable.
  CHECK(drv.has_hugetlb() == (layout.v1_hierarchies.count("hugetlb") > 0));

  std::string parent = "/" + test::unique_name("deckhand-cgtest-", 64);
  std::string path = parent + "/c1";
  CgroupGuard guard{drv, parent};

  ResourceSpec r;
  r.cpu_shares = 512;
  r.cpu_quota = 50000;
  r.cpu_period = 100000;
  r.memory_limit = 64 << 20;
  r.pids_limit = 32;
  r.hugepage_limits = {{"2MB", 2 << 20}};  // dropped: no hugetlb here
  REQUIRE(drv.create(path, r));
  CHECK(drv.exists(path));
  for (const auto& [name, hdir] : layout.v1_hierarchies) CHECK_MESSAGE(fs::exists(hdir + path), name);
  CHECK(drv.create(path, r));  // again: existing directories are fine

  auto dir = [&](const char* c) { return layout.v1_hierarchies.at(c) + path; };
  CHECK(read_trimmed(dir("cpu") + "/cpu.shares") == "512");
  CHECK(read_trimmed(dir("cpu") + "/cpu.cfs_quota_us") == "50000");
  CHECK(read_trimmed(dir("cpu") + "/cpu.cfs_period_us") == "100000");
  CHECK(read_trimmed(dir("memory") + "/memory.limit_in_bytes") == std::to_string(64 << 20));
  if (layout.v1_hierarchies.count("pids")) CHECK(read_trimmed(dir("pids") + "/pids.max") == "32");
  if (layout.v1_hierarchies.count("cpuset"))
    CHECK(read_trimmed(dir("cpuset") + "/cpuset.cpus") == read_trimmed(layout.v1_hierarchies.at("cpuset") + "/cpuset.cpus"));

  test::CgroupTestChild child;
  REQUIRE(drv.add_process(path, child.pid()));
  child.start();
  auto procs = read_trimmed(dir("memory") + "/cgroup.procs");
  CHECK(procs == std::to_string(child.pid()));
  auto s = drv.stats(path);
  REQUIRE(s);
  CHECK(s->cpu_usage_ns > 0);
  CHECK(s->memory_usage_bytes >= (8u << 20));
  CHECK(s->memory_working_set_bytes > 0);
  CHECK(s->memory_rss_bytes > 0);
  CHECK(s->memory_page_faults > 0);
  if (layout.v1_hierarchies.count("pids")) CHECK(s->pids == 1);

  auto busy = drv.remove(path);
  REQUIRE(!busy);
  CHECK(busy.error().message.find(path) != std::string::npos);
  CHECK(drv.exists(path));

  child.kill();
  REQUIRE(drv.remove(path));
  CHECK(!drv.exists(path));
  for (const auto& [name, hdir] : layout.v1_hierarchies) CHECK_MESSAGE(!fs::exists(hdir + path), name);
  CHECK(drv.remove(path));  // missing is fine
  CHECK(drv.stats(path).error().kind == ErrorKind::NotFound);
}

TEST_CASE("cgroupfs v1 on the host: a limit the kernel refuses rolls the cgroup back") {
  if (!is_v1_host()) {
    MESSAGE("SKIP: not a cgroup v1 layout");
    return;
  }
  auto d = make_cgroupfs_driver(kRoot);
  REQUIRE(d);
  std::string parent = "/" + test::unique_name("deckhand-cgtest-", 64);
  CgroupGuard guard{**d, parent};
  ResourceSpec r;
  r.cpuset_cpus = "4096";  // no such CPU
  auto st = (*d)->create(parent + "/c", r);
  REQUIRE(!st);
  CHECK(st.error().message.find("cpuset.cpus") != std::string::npos);
  CHECK(!(*d)->exists(parent + "/c"));
  CHECK(!fs::exists("/sys/fs/cgroup/memory" + parent));
}
