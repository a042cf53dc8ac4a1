// The cgroupfs v2 driver on a cgroup2 tree this test mounts itself. On a
// hybrid host the v1 hierarchies hold the controllers, so the tree has few or
// none: we test what it allows (create, processes, cpu.stat, remove) and that
// limits needing an absent controller fail cleanly. Limit writing with every
// controller present is covered on fake trees by the unit tests.
#include <sys/mount.h>
#include <sys/stat.h>

#include <doctest/doctest.h>

#include "child.h"
#include "deckhand/common/fs.h"
#include "deckhand/runtime/cgroups.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::runtime;

namespace {

// A cgroup2 mount at dir, detached however the test ends. It is the host's one
// cgroup2 hierarchy seen a second time: what we make in it must be removed.
class Cgroup2Mount {
 public:
  explicit Cgroup2Mount(const std::string& dir) : dir_(dir) {
    mounted_ = ::mount("none", dir.c_str(), "cgroup2", 0, nullptr) == 0;
    if (!mounted_) MESSAGE("mount cgroup2 at " << dir << ": " << errno_text(errno));
  }
  ~Cgroup2Mount() {
    if (mounted_ && ::umount2(dir_.c_str(), MNT_DETACH) != 0) MESSAGE("umount " << dir_ << ": " << errno_text(errno));
  }
  bool ok() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

struct CgroupGuard {
  CgroupDriver& driver;
  std::string path;
  ~CgroupGuard() {
    auto st = driver.remove(path);
    if (!st) MESSAGE("cleanup: " << st.error().message);
  }
};

std::string words_of(const std::string& path) {
  auto r = fs::read_file(path);
  return r ? *r : "";
}

}  // namespace

TEST_CASE("cgroupfs v2 on a cgroup2 mount of our own") {
  test::TempDir tmp("deckhand-cg2");
  Cgroup2Mount mnt(tmp.path());
  REQUIRE(mnt.ok());

  auto layout = detect_cgroupfs_layout(tmp.path());
  REQUIRE(layout);
  CHECK(layout->version == CgroupfsLayout::Version::V2);
  auto root_ctrls = words_of(tmp.sub("cgroup.controllers"));
  auto d = make_cgroupfs_driver(tmp.path());
  REQUIRE(d);
  CgroupDriver& drv = **d;
  CHECK(drv.name() == "cgroupfs-v2");
  // hugetlb counts only when cgroup2 is the only hierarchy; on a hybrid host it is not.
  if (!layout->v2_only_hierarchy) CHECK(!drv.has_hugetlb());
  if (layout->v2_only_hierarchy) CHECK(drv.has_hugetlb() == (root_ctrls.find("hugetlb") != std::string::npos));

  // Enabling controllers happens at each ancestor: run the driver on a parent
  // of our own as its root, so the host's root cgroup.subtree_control stays as it was.
  std::string parent_name = test::unique_name("deckhand-cgtest-", 64);
  std::string parent_dir = tmp.sub(parent_name);
  REQUIRE(::mkdir(parent_dir.c_str(), 0755) == 0);
  auto root_driver = std::move(*d);
  CgroupGuard parent_guard{*root_driver, "/" + parent_name};

  CgroupfsLayout sub = *layout;
  sub.v2_root = parent_dir;
  auto sd = make_cgroupfs_driver(sub);
  REQUIRE(sd);
  CgroupDriver& sdrv = **sd;
  std::string path = "/pod/c1";
  REQUIRE(sdrv.create(path, {}));
  CHECK(sdrv.exists(path));
  CHECK(fs::exists(parent_dir + "/pod/c1/cgroup.procs"));
  // What the parent could hand down, it handed down.
  CHECK(words_of(parent_dir + "/cgroup.subtree_control") == words_of(parent_dir + "/cgroup.controllers"));

  test::CgroupTestChild child;
  REQUIRE(sdrv.add_process(path, child.pid()));
  child.start();
  CHECK(words_of(parent_dir + "/pod/c1/cgroup.procs") == std::to_string(child.pid()) + "\n");
  auto s = sdrv.stats(path);
  REQUIRE(s);
  CHECK(s->cpu_usage_ns > 0);  // cpu.stat is there without the cpu controller
  bool has_memory = fs::exists(parent_dir + "/pod/c1/memory.current");
  if (has_memory) CHECK(s->memory_usage_bytes > 0);
  if (!has_memory) CHECK(s->memory_usage_bytes == 0);

  auto busy = sdrv.remove(path);
  REQUIRE(!busy);
  CHECK(busy.error().message.find("pod/c1") != std::string::npos);
  child.kill();
  REQUIRE(sdrv.remove("/pod"));
  CHECK(!sdrv.exists(path));
  CHECK(!fs::exists(parent_dir + "/pod"));

  if (!has_memory) {
    ResourceSpec r;
    r.memory_limit = 64 << 20;
    auto st = sdrv.create("/limited", r);
    REQUIRE(!st);
    CHECK(st.error().message.find("memory.max") != std::string::npos);
    CHECK(!fs::exists(parent_dir + "/limited"));
  }
}
