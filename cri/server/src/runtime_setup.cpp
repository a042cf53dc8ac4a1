// Building the runtime from its config, Status/Version answers, and recovery
// of the state a previous run (or a crash, or a reboot) left.
#include <unistd.h>

#include "cri_runtime.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"
#include "deckhand/runtime/monitor.h"

namespace deckhand::cri {

namespace {

auto logger() { return log::get("cri"); }

constexpr const char* kVersion = "0.1.0";

// A helper program: the configured path, else beside this program (installed
// layout), else in its build-tree directory.
Result<std::string> find_program(const std::string& configured, const std::string& name, const char* flag) {
  if (!configured.empty()) {
    if (::access(configured.c_str(), X_OK) != 0) return sys_fail("{} {}", flag, configured);
    return configured;
  }
  char self[4096] = {};
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : "";
  dir = dir.substr(0, dir.rfind('/'));
  std::string sub = name.substr(std::string("deckhand-").size());
  for (const std::string& cand : {dir + "/" + name, dir + "/../" + sub + "/" + name})
    if (::access(cand.c_str(), X_OK) == 0) return cand;
  return fail(ErrorKind::NotFound, "{} not found beside {}; give {}", name, dir, flag);
}

}  // namespace

CriRuntime::CriRuntime(const CriConfig& config)
    : config_(config),
      sandboxes_(fs::join(config.state_dir, "sandboxes")),
      containers_(fs::join(config.state_dir, "containers")) {}

Result<std::unique_ptr<CriRuntime>> CriRuntime::create(const CriConfig& config) {
  std::unique_ptr<CriRuntime> rt(new CriRuntime(config));
  auto& c = rt->config_;
  DH_TRY(pause, find_program(c.pause_binary, "deckhand-pause", "--pause-binary"));
  DH_TRY(monitor, find_program(c.monitor_binary, "deckhand-monitor", "--monitor-binary"));
  c.pause_binary = pause;
  c.monitor_binary = monitor;
  DH_CHECK(fs::make_dirs(c.state_dir, 0711));
  DH_CHECK(fs::make_dirs(c.run_dir, 0711));
  DH_TRY(store, images::ImageStore::open(fs::join(c.state_dir, "images")));
  rt->images_ = std::move(store);
  rt->puller_ = images::ImagePuller::create(*rt->images_, c.registry);
  DH_TRY(cg, runtime::make_cgroupfs_driver(c.cgroup_root));
  logger()->debug("cgroup driver {} at {}", cg->name(), c.cgroup_root);
  rt->cgroups_ = std::move(cg);
  // Our own OCI runtime where it is installed beside us (a few ms per
  // container instead of runc's tens), else runc or crun from PATH.
  std::string binary = c.runtime_binary;
  if (binary.empty()) {
    auto ours = find_program("", "deckhand-oci", "--runtime");
    binary = ours ? *ours : runtime::OciRuntime::default_binary();
  }
  rt->oci_ = std::make_unique<runtime::OciRuntime>(binary, fs::join(c.run_dir, "runtime"));
  rt->cni_ = std::make_unique<cni::CniInvoker>(c.cni);
  DH_CHECK(rt->recover());
  return rt;
}

Status CriRuntime::recover() {
  DH_CHECK(sandboxes_.load());
  DH_CHECK(containers_.load());
  // Each container's directory (its overlay's upper and work dirs) and each
  // sandbox's in a block group of its own: see fs::spread_subdirectories.
  DH_CHECK(fs::spread_subdirectories(containers_.dir()));
  DH_CHECK(fs::spread_subdirectories(sandboxes_.dir()));
  for (auto& e : containers_.all()) {
    auto r = e->snapshot();
    if (r.state == ContainerState::Creating) {
      // CreateContainer did not finish before a crash: undo what it made.
      logger()->warn("container={} was half-created; removing it", r.id);
      (void)destroy_container(r);
      (void)containers_.erase(r.id);
      continue;
    }
    refresh_container(e);
    container_names_[container_name_key(r.sandbox_id, r.config.metadata())] = r.id;
  }
  for (auto& e : sandboxes_.all()) {
    auto r = e->snapshot();
    if (r.state == SandboxState::Creating) {
      logger()->warn("sandbox={} was half-created; cleaning it up", r.id);
      if (auto st = destroy_sandbox(e); !st) logger()->error("sandbox={} cleanup: {}", r.id, st.error().message);
      continue;
    }
    if (r.state == SandboxState::Ready && !process_matches(r.pause_pid, r.pause_start)) {
      logger()->warn("sandbox={} lost its pause process; marking it not ready", r.id);
      std::lock_guard l(e->data);
      e->record.state = SandboxState::NotReady;
    }
    (void)sandboxes_.persist(e);
    Reservation res{r.id, r.config_digest, true};
    sandbox_names_[sandbox_name_key(r.config.metadata())] = res;
  }
  collect_network_garbage();
  logger()->info("recovered {} sandboxes, {} containers", sandboxes_.all().size(), containers_.all().size());
  return {};
}

void CriRuntime::collect_network_garbage() {
  if (!cni_->ready()) return;  // no network config yet: nothing can have been attached through it
  std::vector<cni::Attachment> valid;
  for (auto& e : sandboxes_.all()) {
    auto r = e->snapshot();
    if (r.network_attached) valid.push_back(attachment_of(r));
  }
  if (auto st = cni_->gc(valid); !st) logger()->warn("CNI garbage collection: {}", st.error().message);
}

v1::StatusResponse CriRuntime::status(bool verbose) {
  v1::StatusResponse resp;
  auto* rc = resp.mutable_status()->add_conditions();
  rc->set_type("RuntimeReady");
  rc->set_status(true);
  auto* nc = resp.mutable_status()->add_conditions();
  nc->set_type("NetworkReady");
  // STATUS to the plugins for 1.1.0 conflists (they say whether they can take
  // pods, e.g. their IPAM store is writable); only the config and binaries before.
  auto ready = cni_->status();
  nc->set_status(bool(ready));
  if (!ready) {
    nc->set_reason("NetworkPluginNotReady");
    nc->set_message(ready.error().message);
  }
  auto* h = resp.add_runtime_handlers();
  h->set_name("runc");
  if (verbose) {
    Json info{{"stateDir", config_.state_dir},
              {"runDir", config_.run_dir},
              {"runtime", oci_->binary()},
              {"cgroupDriver", cgroups_->name()},
              {"cniConfDir", config_.cni.conf_dir},
              {"cniBinDirs", config_.cni.bin_dirs},
              {"network", cni_->network_name()}};
    (*resp.mutable_info())["config"] = info.dump();
  }
  return resp;
}

v1::VersionResponse CriRuntime::version() {
  v1::VersionResponse v;
  v.set_version("0.1.0");
  v.set_runtime_name("deckhand-cri");
  v.set_runtime_version(kVersion);
  v.set_runtime_api_version("v1");
  return v;
}

v1::RuntimeConfigResponse CriRuntime::runtime_config() {
  v1::RuntimeConfigResponse r;
  r.mutable_linux()->set_cgroup_driver(v1::CGROUPFS);
  return r;
}

}  // namespace deckhand::cri
