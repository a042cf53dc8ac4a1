// cgroup drivers on fake trees (plain directories), and the parsers they use.
#include <doctest/doctest.h>

#include "cgroups_impl.h"
#include "deckhand/common/fs.h"
#include "deckhand/runtime/cgroups.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::runtime;

namespace {

std::string read(const std::string& path) {
  auto r = fs::read_file(path);
  return r ? *r : "<" + r.error().message + ">";
}

void put(const std::string& path, const std::string& text) { REQUIRE(fs::write_file_atomic(path, text)); }

// A v1 tree like this host's: cpu and cpuacct apart, no hugetlb.
struct FakeV1 {
  test::TempDir dir{"deckhand-cg1"};
  CgroupfsLayout layout;
  FakeV1() {
    for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio"}) {
      REQUIRE(fs::make_dirs(dir.sub(c)));
      layout.v1_hierarchies[c] = dir.sub(c);
    }
    put(dir.sub("cpuset/cpuset.cpus"), "0-1\n");
    put(dir.sub("cpuset/cpuset.mems"), "0\n");
    layout.create_files = true;
  }
};

struct FakeV2 {
  test::TempDir dir{"deckhand-cg2"};
  CgroupfsLayout layout;
  FakeV2(const std::string& controllers = "cpuset cpu io memory hugetlb pids") {
    put(dir.sub("cgroup.controllers"), controllers + "\n");
    put(dir.sub("cgroup.subtree_control"), "");
    layout.version = CgroupfsLayout::Version::V2;
    layout.v2_root = dir.path();
    layout.create_files = true;
  }
};

std::unique_ptr<CgroupDriver> driver(const CgroupfsLayout& layout) {
  auto d = make_cgroupfs_driver(layout);
  REQUIRE(d);
  return std::move(*d);
}

}  // namespace

TEST_CASE("relative_cgroup_path refuses escapes and the root") {
  using cgroups_impl::relative_cgroup_path;
  CHECK(relative_cgroup_path("/kubepods/pod1/c1").value() == "kubepods/pod1/c1");
  CHECK(relative_cgroup_path("kubepods//x/").value() == "kubepods/x");
  CHECK(!relative_cgroup_path("/kubepods/../etc"));
  CHECK(!relative_cgroup_path("/"));
  CHECK(!relative_cgroup_path(""));
}

TEST_CASE("shares to weight as runc maps them") {
  using cgroups_impl::shares_to_weight;
  CHECK(shares_to_weight(2) == 1);
  CHECK(shares_to_weight(1024) == 39);
  CHECK(shares_to_weight(262144) == 10000);
  CHECK(shares_to_weight(0) == 0);
}

TEST_CASE("flat keyed parsing skips what is not a number") {
  auto kv = cgroups_impl::parse_flat_keyed("usage_usec 1500\nuser_usec 1000\nbogus\nx y\n\n");
  CHECK(kv.size() == 2);
  CHECK(kv["usage_usec"] == 1500);
  CHECK(cgroups_impl::parse_u64("42\n", "f").value() == 42);
  CHECK(!cgroups_impl::parse_u64("max\n", "f"));
}

TEST_CASE("v1 hierarchies from mountinfo, as on this host") {
  const char* mi =
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
      "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
      "34 31 0:31 / /sys/fs/cgroup/net_cls,net_prio rw,relatime shared:9 - cgroup cgroup rw,net_cls,net_prio\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
      "50 23 0:32 / /elsewhere/mem\\040x rw - cgroup cgroup rw,memory\n"
      "garbage line\n";
  auto m = cgroups_impl::v1_mounts_from_mountinfo(mi, "/sys/fs/cgroup");
  CHECK(m.size() == 5);
  CHECK(m["cpu"] == "/sys/fs/cgroup/cpu");
  CHECK(m["cpuacct"] == "/sys/fs/cgroup/cpuacct");
  CHECK(m["net_prio"] == "/sys/fs/cgroup/net_cls,net_prio");
  CHECK(m["memory"] == "/sys/fs/cgroup/memory");
  CHECK(!m.count("hugetlb"));
  CHECK(cgroups_impl::v1_mounts_from_mountinfo(mi, "/elsewhere")["memory"] == "/elsewhere/mem x");
  CHECK(cgroups_impl::has_v1_controller_mounts(mi));
  auto extra = cgroups_impl::v1_companion_mounts(mi, "/sys/fs/cgroup");
  CHECK(extra.size() == 2);
  CHECK(extra["name=systemd"] == "/sys/fs/cgroup/systemd");
  CHECK(extra["unified"] == "/sys/fs/cgroup/unified");
  CHECK(!cgroups_impl::has_v1_controller_mounts("41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"));
}

TEST_CASE("detect: a plain directory with controller subdirectories is v1") {
  FakeV1 t;
  REQUIRE(fs::make_dirs(t.dir.sub("net_cls,net_prio")));
  REQUIRE(fs::make_dirs(t.dir.sub("unified")));
  auto layout = detect_cgroupfs_layout(t.dir.path());
  REQUIRE(layout);
  CHECK(layout->version == CgroupfsLayout::Version::V1);
  CHECK(layout->v1_hierarchies.count("cpu"));
  CHECK(layout->v1_hierarchies["net_prio"] == layout->v1_hierarchies["net_cls"]);
  CHECK(!layout->v1_hierarchies.count("unified"));
  auto d = make_cgroupfs_driver(t.dir.path());
  REQUIRE(d);
  CHECK((*d)->name() == "cgroupfs-v1");
  CHECK(!(*d)->has_hugetlb());

  test::TempDir empty;
  CHECK(detect_cgroupfs_layout(empty.path()).error().kind == ErrorKind::NotFound);
}

TEST_CASE("v1 fake tree: create writes limits in each hierarchy") {
  FakeV1 t;
  auto d = driver(t.layout);
  ResourceSpec r;
  r.cpu_shares = 256;
  r.cpu_quota = 20000;
  r.cpu_period = 100000;
  r.memory_limit = 128 << 20;
  r.pids_limit = 64;
  r.hugepage_limits = {{"2MB", 2 << 20}};  // no hugetlb here: dropped
  REQUIRE(d->create("/kubepods/pod1", r));
  CHECK(d->exists("/kubepods/pod1"));
  CHECK(read(t.dir.sub("cpu/kubepods/pod1/cpu.shares")) == "256");
  CHECK(read(t.dir.sub("cpu/kubepods/pod1/cpu.cfs_quota_us")) == "20000");
  CHECK(read(t.dir.sub("cpu/kubepods/pod1/cpu.cfs_period_us")) == "100000");
  CHECK(read(t.dir.sub("memory/kubepods/pod1/memory.limit_in_bytes")) == std::to_string(128 << 20));
  CHECK(read(t.dir.sub("pids/kubepods/pod1/pids.max")) == "64");
  CHECK(fs::exists(t.dir.sub("freezer/kubepods/pod1")));
  // cpuset inherited level by level, so processes can join.
  CHECK(read(t.dir.sub("cpuset/kubepods/cpuset.cpus")) == "0-1");
  CHECK(read(t.dir.sub("cpuset/kubepods/pod1/cpuset.mems")) == "0");
  CHECK(!d->has_hugetlb());

  REQUIRE(d->add_process("/kubepods/pod1", 4242));
  CHECK(read(t.dir.sub("memory/kubepods/pod1/cgroup.procs")) == "4242");

  REQUIRE(d->remove("/kubepods/pod1"));
  CHECK(!d->exists("/kubepods/pod1"));
  CHECK(!fs::exists(t.dir.sub("cpu/kubepods/pod1")));
  CHECK(fs::exists(t.dir.sub("cpu/kubepods")));
  CHECK(d->remove("/kubepods/pod1"));  // missing is fine
}

TEST_CASE("v1 fake tree: explicit cpuset and hugetlb when mounted; unified refused") {
  FakeV1 t;
  REQUIRE(fs::make_dirs(t.dir.sub("hugetlb")));
  t.layout.v1_hierarchies["hugetlb"] = t.dir.sub("hugetlb");
  auto d = driver(t.layout);
  CHECK(d->has_hugetlb());
  ResourceSpec r;
  r.cpuset_cpus = "1";
  r.hugepage_limits = {{"2MB", 4 << 20}, {"1GB", 0}};
  REQUIRE(d->create("/c1", r));
  CHECK(read(t.dir.sub("cpuset/c1/cpuset.cpus")) == "1");
  CHECK(read(t.dir.sub("hugetlb/c1/hugetlb.2MB.limit_in_bytes")) == std::to_string(4 << 20));
  CHECK(!fs::exists(t.dir.sub("hugetlb/c1/hugetlb.1GB.limit_in_bytes")));

  ResourceSpec u;
  u.unified = {{"memory.high", "1"}};
  auto st = d->create("/c2", u);
  REQUIRE(!st);
  CHECK(st.error().kind == ErrorKind::InvalidArgument);
  CHECK(!fs::exists(t.dir.sub("cpu/c2")));
}

TEST_CASE("v1 fake tree: a failed create leaves nothing behind") {
  FakeV1 t;
  t.layout.create_files = false;  // cpu.shares cannot be written: the file does not exist
  t.layout.v1_hierarchies.erase("cpuset");
  auto d = driver(t.layout);
  ResourceSpec r;
  r.cpu_shares = 100;
  auto st = d->create("/a/b", r);
  REQUIRE(!st);
  CHECK(st.error().message.find("cpu.shares") != std::string::npos);
  CHECK(st.error().message.find("/a/b") != std::string::npos);
  CHECK(!fs::exists(t.dir.sub("cpu/a")));
  CHECK(!fs::exists(t.dir.sub("memory/a")));
}

TEST_CASE("v1 fake tree: stats read hierarchical counts") {
  FakeV1 t;
  auto d = driver(t.layout);
  REQUIRE(d->create("/p", {}));
  put(t.dir.sub("cpuacct/p/cpuacct.usage"), "123456789\n");
  put(t.dir.sub("memory/p/memory.usage_in_bytes"), "10000\n");
  put(t.dir.sub("memory/p/memory.stat"),
      "cache 1\nrss 2\ninactive_file 3\npgfault 4\n"
      "total_cache 100\ntotal_rss 6000\ntotal_inactive_file 2500\ntotal_pgfault 77\ntotal_pgmajfault 5\n");
  put(t.dir.sub("pids/p/pids.current"), "3\n");
  auto s = d->stats("/p");
  REQUIRE(s);
  CHECK(s->cpu_usage_ns == 123456789);
  CHECK(s->memory_usage_bytes == 10000);
  CHECK(s->memory_working_set_bytes == 7500);
  CHECK(s->memory_rss_bytes == 6000);
  CHECK(s->memory_page_faults == 77);
  CHECK(s->memory_major_page_faults == 5);
  CHECK(s->pids == 3);

  put(t.dir.sub("memory/p/memory.stat"), "total_inactive_file 20000\n");
  CHECK(d->stats("/p")->memory_working_set_bytes == 0);  // floored

  CHECK(d->stats("/nope").error().kind == ErrorKind::NotFound);
}

TEST_CASE("v2 fake tree: controllers enabled down the path, limits written") {
  FakeV2 t;
  auto d = driver(t.layout);
  CHECK(d->name() == "cgroupfs-v2");
  CHECK(d->has_hugetlb());  // listed and cgroup2 is the only hierarchy in this layout
  ResourceSpec r;
  r.cpu_shares = 1024;
  r.cpu_quota = 50000;
  r.cpu_period = 100000;
  r.memory_limit = 1 << 30;
  r.pids_limit = -1;
  r.cpuset_cpus = "0";
  r.hugepage_limits = {{"2MB", 2 << 20}};
  r.unified = {{"memory.high", "500000000"}};
  REQUIRE(d->create("/kubepods/pod2", r));
  CHECK(read(t.dir.sub("cgroup.subtree_control")) == "cpu cpuset hugetlb io memory pids");
  // kubepods has no cgroup.controllers in a fake tree: nothing to hand down there.
  CHECK(read(t.dir.sub("kubepods/pod2/cpu.weight")) == "39");
  CHECK(read(t.dir.sub("kubepods/pod2/cpu.max")) == "50000 100000");
  CHECK(read(t.dir.sub("kubepods/pod2/memory.max")) == std::to_string(1 << 30));
  CHECK(read(t.dir.sub("kubepods/pod2/pids.max")) == "max");
  CHECK(read(t.dir.sub("kubepods/pod2/cpuset.cpus")) == "0");
  CHECK(read(t.dir.sub("kubepods/pod2/hugetlb.2MB.max")) == std::to_string(2 << 20));
  CHECK(read(t.dir.sub("kubepods/pod2/memory.high")) == "500000000");

  ResourceSpec q;
  q.cpu_period = 50000;
  REQUIRE(d->create("/kubepods/pod3", q));
  CHECK(read(t.dir.sub("kubepods/pod3/cpu.max")) == "max 50000");

  REQUIRE(d->add_process("/kubepods/pod2", 77));
  CHECK(read(t.dir.sub("kubepods/pod2/cgroup.procs")) == "77");
  REQUIRE(d->remove("/kubepods"));
  CHECK(!d->exists("/kubepods/pod2"));
  CHECK(!fs::exists(t.dir.sub("kubepods")));
}

TEST_CASE("v2 fake tree: hybrid host has no usable hugetlb; bad unified keys refused") {
  FakeV2 t("hugetlb");
  t.layout.v2_only_hierarchy = false;
  auto d = driver(t.layout);
  CHECK(!d->has_hugetlb());
  ResourceSpec r;
  r.hugepage_limits = {{"2MB", 2 << 20}};
  REQUIRE(d->create("/c", r));
  CHECK(!fs::exists(t.dir.sub("c/hugetlb.2MB.max")));

  ResourceSpec bad;
  bad.unified = {{"../escape", "1"}};
  auto st = d->create("/c2", bad);
  REQUIRE(!st);
  CHECK(st.error().kind == ErrorKind::InvalidArgument);
  CHECK(!fs::exists(t.dir.sub("c2")));
}

TEST_CASE("v2 fake tree: stats") {
  FakeV2 t;
  auto d = driver(t.layout);
  REQUIRE(d->create("/s", {}));
  put(t.dir.sub("s/cpu.stat"), "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n");
  put(t.dir.sub("s/memory.current"), "8192\n");
  put(t.dir.sub("s/memory.stat"), "anon 4096\nfile 4096\ninactive_file 1024\npgfault 9\npgmajfault 1\n");
  put(t.dir.sub("s/pids.current"), "2\n");
  auto s = d->stats("/s");
  REQUIRE(s);
  CHECK(s->cpu_usage_ns == 2500000);
  CHECK(s->memory_usage_bytes == 8192);
  CHECK(s->memory_working_set_bytes == 7168);
  CHECK(s->memory_rss_bytes == 4096);
  CHECK(s->memory_page_faults == 9);
  CHECK(s->memory_major_page_faults == 1);
  CHECK(s->pids == 2);
  CHECK(d->stats("/gone").error().kind == ErrorKind::NotFound);

  put(t.dir.sub("s/pids.current"), "lots\n");
  CHECK(!d->stats("/s"));
}
