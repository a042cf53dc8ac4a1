// runc accepts what build_oci_config writes: a busybox rootfs in a TempDir,
// run with `runc run --bundle`, limits applied through cgroupfs on this host.
#include <unistd.h>

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"
#include "deckhand/runtime/cgroups.h"
#include "deckhand/runtime/oci_spec.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::runtime;

namespace {

constexpr const char* kBusybox = "/bin/busybox";

bool have_runc_and_busybox() {
  auto r = run_process({.argv = {"runc", "--version"}});
  return r && r->exit_code == 0 && fs::exists(kBusybox);
}

// rootfs/bin/{busybox,sh,id,hostname,cat} and an /etc/passwd with a user.
void make_rootfs(const std::string& rootfs) {
  REQUIRE(fs::make_dirs(rootfs + "/bin"));
  REQUIRE(fs::make_dirs(rootfs + "/etc"));
  auto bin = fs::read_file(kBusybox);
  REQUIRE(bin);
  REQUIRE(fs::write_file_atomic(rootfs + "/bin/busybox", *bin, 0755));
  for (const char* app : {"sh", "id", "hostname", "cat", "echo"})
    REQUIRE(::symlink("busybox", (rootfs + "/bin/" + app).c_str()) == 0);
  REQUIRE(fs::write_file_atomic(rootfs + "/etc/passwd", "root:x:0:0::/:/bin/sh\napp:x:1234:2345::/:/bin/sh\n"));
  REQUIRE(fs::write_file_atomic(rootfs + "/etc/group", "root:x:0:\napp:x:2345:\nextra:x:3456:app\n"));
}

ContainerSpec spec_for(const std::string& id, const std::string& rootfs, const std::string& cgroup) {
  ContainerSpec s;
  s.id = id;
  s.rootfs = rootfs;
  s.env = {"PATH=/bin"};
  s.cgroups_path = cgroup;
  s.namespaces.new_net_ns = s.namespaces.new_ipc_ns = s.namespaces.new_uts_ns = true;
  s.namespaces.new_pid_ns = true;
  s.resources.cpu_shares = 256;
  s.resources.cpu_quota = 50000;
  s.resources.cpu_period = 100000;
  s.resources.memory_limit = 64 << 20;
  s.resources.pids_limit = 64;
  return s;
}

struct RuncRun {
  std::string state_root;
  std::string id;
  ~RuncRun() { (void)run_process({.argv = {"runc", "--root", state_root, "delete", "--force", id}}); }
};

RunOutput run_container(const test::TempDir& tmp, const ContainerSpec& spec) {
  auto cfg = build_oci_config(spec);
  REQUIRE_MESSAGE(cfg, (cfg ? "" : cfg.error().message));
  std::string bundle = tmp.sub("bundle-" + spec.id);
  REQUIRE(fs::make_dirs(bundle));
  REQUIRE(fs::write_file_atomic(bundle + "/config.json", cfg->dump(2)));
  RuncRun guard{tmp.sub("runc-state"), spec.id};
  auto out = run_process({.argv = {"runc", "--root", guard.state_root, "run", "--bundle", bundle, spec.id},
                          .timeout = std::chrono::seconds(30)});
  REQUIRE(out);
  return *out;
}

std::string cgroup_parent() { return "/" + test::unique_name("deckhand-runctest-", 64); }

}  // namespace

TEST_CASE("runc runs a container from our config.json") {
  if (!have_runc_and_busybox()) {
    MESSAGE("SKIP: runc or " << kBusybox << " missing");
    return;
  }
  test::TempDir tmp("deckhand-runc");
  make_rootfs(tmp.sub("rootfs"));
  auto drv = make_cgroupfs_driver();
  REQUIRE(drv);
  std::string parent = cgroup_parent();
  struct Cleanup {
    CgroupDriver& d;
    std::string p;
    ~Cleanup() { (void)d.remove(p); }
  } cleanup{**drv, parent};

  auto spec = spec_for(test::unique_name("dh-echo-", 40), tmp.sub("rootfs"), parent + "/echo");
  spec.args = {"/bin/sh", "-c", "echo ok"};
  spec.resources.hugepage_limits = {{"2MB", 4 << 20}};  // runc fails on these here: must be left out
  spec.hugetlb_available = (*drv)->has_hugetlb();
  auto out = run_container(tmp, spec);
  INFO("stderr: " << out.err);
  CHECK(out.exit_code == 0);
  CHECK(out.out == "ok\n");
  // runc made the path in every hierarchy it uses, the companions included:
  // removing the parent must leave none of it behind.
  REQUIRE((*drv)->remove(parent));
  auto layout = detect_cgroupfs_layout();
  REQUIRE(layout);
  for (const auto& [name, dir] : layout->v1_hierarchies) CHECK_MESSAGE(!fs::exists(dir + parent), name);
}

TEST_CASE("runc: resolved user, own hostname, masked and read-only paths") {
  if (!have_runc_and_busybox()) {
    MESSAGE("SKIP: runc or " << kBusybox << " missing");
    return;
  }
  test::TempDir tmp("deckhand-runc");
  make_rootfs(tmp.sub("rootfs"));
  auto drv = make_cgroupfs_driver();
  REQUIRE(drv);
  std::string parent = cgroup_parent();
  struct Cleanup {
    CgroupDriver& d;
    std::string p;
    ~Cleanup() { (void)d.remove(p); }
  } cleanup{**drv, parent};

  auto user = resolve_user(tmp.sub("rootfs"), "app");
  REQUIRE(user);
  auto spec = spec_for(test::unique_name("dh-user-", 40), tmp.sub("rootfs"), parent + "/user");
  spec.uid = user->uid;
  spec.gid = user->gid;
  spec.additional_gids = user->additional_gids;
  spec.hostname = "pod-host";
  spec.cap_drop = {"ALL"};
  spec.args = {"/bin/sh", "-c",
               "hostname; id -u; id -g; id -G; "
               "stat -c %F /proc/timer_list; "
               "(echo 1 > /proc/sys/kernel/domainname) 2>/dev/null || echo rosys"};
  // Masked files are /dev/null bound over them.
  REQUIRE(::symlink("busybox", tmp.sub("rootfs/bin/stat").c_str()) == 0);
  auto out = run_container(tmp, spec);
  INFO("stderr: " << out.err);
  CHECK(out.exit_code == 0);
  CHECK(out.out == "pod-host\n1234\n2345\n2345 3456\ncharacter special file\nrosys\n");
}
