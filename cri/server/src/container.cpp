// Containers: an overlay rootfs over the image's snapshots, an OCI bundle,
// and a deckhand-monitor that runs the OCI runtime and outlives us.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "container_spec.h"
#include "cri_runtime.h"
#include "deckhand/common/digest.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"
#include "deckhand/runtime/monitor.h"
#include "deckhand/runtime/pause.h"

namespace deckhand::cri {

namespace {

auto logger() { return log::get("cri"); }

using Clock = std::chrono::steady_clock;

Status mount_overlay(const std::vector<std::string>& layers, const std::string& dir, const std::string& rootfs) {
  if (layers.empty()) return fail(ErrorKind::InvalidArgument, "image has no layers");
  std::string lower;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) lower += (lower.empty() ? "" : ":") + *it;
  std::string upper = dir + "/upper", work = dir + "/work";
  DH_CHECK(fs::make_dirs(upper, 0755));
  DH_CHECK(fs::make_dirs(work, 0700));
  DH_CHECK(fs::make_dirs(rootfs, 0755));
  std::string opts = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work;
  if (::mount("overlay", rootfs.c_str(), "overlay", 0, opts.c_str()) != 0)
    return sys_fail("mount overlay rootfs at {}", rootfs);
  return {};
}

// Our own oom_score_adj, and whether we may go below it (CAP_SYS_RESOURCE).
std::pair<int, bool> oom_floor() {
  int own = 0;
  if (auto s = fs::read_file("/proc/self/oom_score_adj")) own = std::atoi(s->c_str());
  bool cap = false;
  if (auto st = fs::read_file("/proc/self/status")) {
    auto pos = st->find("CapEff:");
    if (pos != std::string::npos) {
      unsigned long long eff = std::strtoull(st->c_str() + pos + 7, nullptr, 16);
      cap = eff & (1ULL << 24);  // CAP_SYS_RESOURCE
    }
  }
  return {own, cap};
}

v1::ContainerState to_cri(ContainerState s) {
  switch (s) {
    case ContainerState::Created: return v1::CONTAINER_CREATED;
    case ContainerState::Running: return v1::CONTAINER_RUNNING;
    case ContainerState::Exited: return v1::CONTAINER_EXITED;
    default: return v1::CONTAINER_UNKNOWN;
  }
}

}  // namespace

std::string container_name_key(const std::string& sandbox_id, const v1::ContainerMetadata& m) {
  return fmt::format("{}_{}_{}", sandbox_id, m.name(), m.attempt());
}

Result<std::string> CriRuntime::create_container(const std::string& pod_id, const v1::ContainerConfig& config) {
  DH_CHECK(validate_container_config(config));
  DH_TRY(sb_entry, sandboxes_.find(pod_id, "sandbox"));
  auto sandbox = sb_entry->snapshot();
  if (sandbox.state != SandboxState::Ready)
    return fail(ErrorKind::FailedPrecondition, "sandbox {} is not ready", sandbox.id);
  auto image = images_->get(config.image().image());
  if (!image) return fail(image.error().kind, "image \"{}\": {}", config.image().image(), image.error().message);

  ContainerRecord r;
  r.id = random_id();
  r.sandbox_id = sandbox.id;
  r.config = config;
  r.image_id = image->id;
  r.image_ref = image->repo_digests.empty() ? image->id : image->repo_digests.front();
  r.image_name = config.image().image();
  r.created_at = now_ns();
  r.dir = fs::join(containers_.dir(), r.id);
  r.rootfs = r.dir + "/rootfs";
  r.cgroup_path = fs::join(sandbox.cgroup_parent, r.id);
  r.stop_signal = stop_signal_for(config, image->config);
  if (!sandbox.config.log_directory().empty() && !config.log_path().empty())
    r.log_path = fs::join(sandbox.config.log_directory(), config.log_path());

  std::string key = container_name_key(sandbox.id, config.metadata());
  {
    std::lock_guard l(names_mu_);
    auto [it, inserted] = container_names_.emplace(key, r.id);
    if (!inserted)
      return fail(ErrorKind::AlreadyExists, "container name {} is in use by container {}", key, it->second);
  }
  Rollback undo;
  undo.add([&] {
    std::lock_guard l(names_mu_);
    container_names_.erase(key);
  });
  DH_TRY(e, containers_.add(r));
  std::lock_guard op(e->lifecycle);
  undo.add([&] {
    (void)destroy_container(e->snapshot());
    (void)containers_.erase(r.id);
  });
  auto st = setup_container(e, sandbox, *image);
  if (!st) {
    logger()->warn("container={} sandbox={} create failed, rolling back: {}", r.id, sandbox.id, st.error().message);
    return tl::unexpected(st.error());
  }
  undo.dismiss();
  logger()->info("container={} sandbox={} created", r.id, sandbox.id);
  return r.id;
}

Status CriRuntime::setup_container(const ContainerEntry& e, const SandboxRecord& sandbox, const images::Image& image) {
  auto r = e->snapshot();
  PhaseClock clock("container", r.id);
  DH_CHECK(fs::make_dirs(r.dir, 0700));
  DH_CHECK(mount_overlay(image.layer_dirs, r.dir, r.rootfs));
  clock.mark("rootfs");
  auto [own_oom, can_lower] = oom_floor();
  ContainerSpecInput in{r, sandbox, image, cgroups_->has_hugetlb(), own_oom, can_lower};
  DH_TRY(spec, make_container_spec(in));
  DH_TRY(doc, runtime::build_oci_config(spec));
  // The bundle serves the runtime's create; a power loss ends the container anyway.
  DH_CHECK(fs::write_file_atomic(r.dir + "/config.json", doc.dump(), 0600, fs::Durability::ProcessCrash));
  if (!r.log_path.empty()) {
    auto slash = r.log_path.rfind('/');
    if (slash != std::string::npos && slash > 0) DH_CHECK(fs::make_dirs(r.log_path.substr(0, slash), 0755));
  }
  runtime::MonitorSpec ms{config_.monitor_binary, oci_->binary(), oci_->state_root(), r.id, r.dir, r.log_path, r.dir};
  clock.mark("spec");
  DH_TRY(started, runtime::start_monitor(ms));
  clock.mark("runtime-create");
  {
    std::lock_guard l(e->data);
    e->record.monitor_pid = started.monitor_pid;
    e->record.monitor_start = started.monitor_start_time;
    e->record.pid = started.container_pid;
    e->record.pid_start = started.container_start_time;
    e->record.state = ContainerState::Created;
  }
  return containers_.persist(e);
}

Status CriRuntime::destroy_container(const ContainerRecord& r) {
  DH_CHECK(with_context(oci_->remove(r.id, /*force=*/true), "remove container {} from the runtime", r.id));
  // The monitor records the exit and leaves on its own; wait, so that nothing
  // of the container outlives RemoveContainer (and it does not write into a
  // directory being removed).
  if (r.monitor_pid > 0) {
    auto gone = runtime::wait_process_exit(r.monitor_pid, r.monitor_start, config_.kill_grace);
    if (gone && !*gone) (void)runtime::stop_process(r.monitor_pid, r.monitor_start, std::chrono::milliseconds(0));
  }
  if (!r.rootfs.empty() && ::umount2(r.rootfs.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return sys_fail("unmount rootfs {}", r.rootfs);
  if (!r.dir.empty()) DH_CHECK(fs::remove_all(r.dir));
  return {};
}

void CriRuntime::refresh_container(const ContainerEntry& e) {
  auto r = e->snapshot();
  if (r.state != ContainerState::Created && r.state != ContainerState::Running) return;
  auto exit = runtime::read_exit_record(r.dir);
  if (exit && !*exit && !process_matches(r.monitor_pid, r.monitor_start)) {
    // The monitor is gone: it either wrote the record just now, or died (reboot).
    exit = runtime::read_exit_record(r.dir);
    if (exit && !*exit) {
      std::lock_guard l(e->data);
      e->record.state = ContainerState::Exited;
      e->record.exit_code = 255;
      e->record.finished_at = now_ns();
      e->record.reason = "Unknown";
      e->record.message = "the container's monitor is gone without recording an exit";
    }
  }
  if (exit && *exit) {
    const auto& x = **exit;
    std::lock_guard l(e->data);
    e->record.state = ContainerState::Exited;
    e->record.exit_code = x.exit_code;
    e->record.finished_at = x.finished_at;
    e->record.reason = x.oom_killed ? "OOMKilled" : x.exit_code == 0 ? "Completed" : "Error";
  }
  if (e->snapshot().state == ContainerState::Exited) (void)containers_.persist(e);
}

ContainerState CriRuntime::container_state(const ContainerEntry& e) {
  refresh_container(e);
  return e->snapshot().state;
}

Status CriRuntime::start_container(const std::string& id) {
  DH_TRY(e, containers_.find(id, "container"));
  std::lock_guard op(e->lifecycle);
  auto state = container_state(e);
  if (state != ContainerState::Created)
    return fail(ErrorKind::FailedPrecondition, "container {} is {}, not created", e->snapshot().id,
                state == ContainerState::Running ? "running" : "exited");
  auto r = e->snapshot();
  auto st = oci_->start(r.id);
  if (!st) {
    refresh_container(e);
    return tl::unexpected(st.error().context("start container {}", r.id));
  }
  {
    std::lock_guard l(e->data);
    e->record.state = ContainerState::Running;
    e->record.started_at = now_ns();
  }
  DH_CHECK(containers_.persist(e));
  logger()->info("container={} started", r.id);
  return {};
}

// Waits until the monitor recorded the container's exit or the deadline passes.
static bool wait_exit(const std::string& dir, Clock::time_point deadline) {
  auto delay = std::chrono::milliseconds(2);
  for (;;) {
    auto x = runtime::read_exit_record(dir);
    if (x && *x) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(50));
  }
}

Status CriRuntime::stop_container_locked(const ContainerEntry& e, int64_t timeout_seconds) {
  auto state = container_state(e);
  if (state != ContainerState::Created && state != ContainerState::Running) return {};
  auto r = e->snapshot();
  if (timeout_seconds > 0 && state == ContainerState::Running) {
    (void)oci_->kill(r.id, r.stop_signal);
    if (wait_exit(r.dir, Clock::now() + std::chrono::seconds(timeout_seconds))) {
      refresh_container(e);
      return {};
    }
  }
  auto killed = oci_->kill(r.id, SIGKILL, /*all=*/true);
  if (!killed) logger()->debug("container={} kill: {}", r.id, killed.error().message);
  if (!wait_exit(r.dir, Clock::now() + config_.kill_grace)) {
    refresh_container(e);
    if (e->snapshot().state == ContainerState::Exited) return {};
    return fail(ErrorKind::DeadlineExceeded, "container {} did not exit within {} ms of SIGKILL", r.id,
                config_.kill_grace.count());
  }
  refresh_container(e);
  logger()->info("container={} stopped", r.id);
  return {};
}

Status CriRuntime::stop_container(const std::string& id, int64_t timeout_seconds) {
  DH_TRY(e, containers_.find(id, "container"));
  std::lock_guard op(e->lifecycle);
  return stop_container_locked(e, timeout_seconds);
}

Status CriRuntime::remove_container(const std::string& id) {
  auto found = containers_.find(id, "container");
  if (!found && found.error().kind == ErrorKind::NotFound) return {};  // removed already: idempotent
  DH_TRY(e, std::move(found));
  std::lock_guard op(e->lifecycle);
  return remove_container_locked(e);
}

Status CriRuntime::remove_container_locked(const ContainerEntry& e) {
  DH_CHECK(stop_container_locked(e, 0));
  auto r = e->snapshot();
  DH_CHECK(destroy_container(r));
  DH_CHECK(containers_.erase(r.id));
  {
    std::lock_guard l(names_mu_);
    container_names_.erase(container_name_key(r.sandbox_id, r.config.metadata()));
  }
  logger()->info("container={} removed", r.id);
  return {};
}

Result<v1::ContainerStatusResponse> CriRuntime::container_status(const std::string& id, bool verbose) {
  DH_TRY(e, containers_.find(id, "container"));
  refresh_container(e);
  auto r = e->snapshot();
  v1::ContainerStatusResponse resp;
  auto* s = resp.mutable_status();
  s->set_id(r.id);
  *s->mutable_metadata() = r.config.metadata();
  s->set_state(to_cri(r.state));
  s->set_created_at(r.created_at);
  s->set_started_at(r.started_at);
  s->set_finished_at(r.finished_at);
  s->set_exit_code(r.exit_code);
  *s->mutable_image() = r.config.image();
  s->set_image_ref(r.image_ref);
  s->set_image_id(r.image_id);
  s->set_reason(r.reason);
  s->set_message(r.message);
  *s->mutable_labels() = r.config.labels();
  *s->mutable_annotations() = r.config.annotations();
  *s->mutable_mounts() = r.config.mounts();
  s->set_log_path(r.log_path);
  *s->mutable_resources()->mutable_linux() = r.config.linux().resources();
  if (verbose) {
    Json info{{"sandboxID", r.sandbox_id}, {"pid", r.pid}, {"bundle", r.dir}, {"rootfs", r.rootfs},
              {"runtimeType", oci_->binary()}, {"monitorPid", r.monitor_pid}, {"cgroupPath", r.cgroup_path}};
    if (auto spec = read_json_file(r.dir + "/config.json")) info["runtimeSpec"] = *spec;
    (*resp.mutable_info())["info"] = info.dump();
  }
  return resp;
}

std::vector<v1::Container> CriRuntime::list_containers(const v1::ContainerFilter& f) {
  std::vector<v1::Container> out;
  for (auto& e : containers_.all()) {
    refresh_container(e);
    auto r = e->snapshot();
    if (r.state == ContainerState::Creating) continue;
    if (!f.id().empty() && r.id.rfind(f.id(), 0) != 0) continue;
    if (!f.pod_sandbox_id().empty() && r.sandbox_id.rfind(f.pod_sandbox_id(), 0) != 0) continue;
    if (f.has_state() && f.state().state() != to_cri(r.state)) continue;
    if (!labels_match(f.label_selector(), r.config.labels())) continue;
    v1::Container c;
    c.set_id(r.id);
    c.set_pod_sandbox_id(r.sandbox_id);
    *c.mutable_metadata() = r.config.metadata();
    *c.mutable_image() = r.config.image();
    c.set_image_ref(r.image_ref);
    c.set_image_id(r.image_id);
    c.set_state(to_cri(r.state));
    c.set_created_at(r.created_at);
    *c.mutable_labels() = r.config.labels();
    *c.mutable_annotations() = r.config.annotations();
    out.push_back(std::move(c));
  }
  return out;
}

Result<v1::ExecSyncResponse> CriRuntime::exec_sync(const v1::ExecSyncRequest& req) {
  if (req.cmd_size() == 0) return fail(ErrorKind::InvalidArgument, "cmd is empty");
  DH_TRY(e, containers_.find(req.container_id(), "container"));
  if (container_state(e) != ContainerState::Running)
    return fail(ErrorKind::FailedPrecondition, "container {} is not running", e->snapshot().id);
  std::vector<std::string> cmd(req.cmd().begin(), req.cmd().end());
  auto timeout = std::chrono::milliseconds(req.timeout() > 0 ? req.timeout() * 1000 : 0);
  DH_TRY(out, oci_->exec(e->snapshot().id, cmd, timeout));
  if (out.timed_out)
    return fail(ErrorKind::DeadlineExceeded, "command \"{}\" timed out after {}s", cmd.front(), req.timeout());
  v1::ExecSyncResponse resp;
  resp.set_stdout(out.out);
  resp.set_stderr(out.err);
  resp.set_exit_code(out.exit_code);
  return resp;
}

Status CriRuntime::reopen_container_log(const std::string& id) {
  DH_TRY(e, containers_.find(id, "container"));
  if (container_state(e) != ContainerState::Running)
    return fail(ErrorKind::FailedPrecondition, "container {} is not running", e->snapshot().id);
  return runtime::reopen_log(e->snapshot().monitor_pid);
}

Status CriRuntime::update_container_resources(const std::string& id, const v1::LinuxContainerResources& res) {
  DH_TRY(e, containers_.find(id, "container"));
  std::lock_guard op(e->lifecycle);
  auto state = container_state(e);
  if (state != ContainerState::Created && state != ContainerState::Running)
    return fail(ErrorKind::FailedPrecondition, "container {} is not running", e->snapshot().id);
  DH_CHECK(oci_->update(e->snapshot().id, to_resource_spec(res)));
  {
    std::lock_guard l(e->data);
    *e->record.config.mutable_linux()->mutable_resources() = res;
  }
  return containers_.persist(e);
}

}  // namespace deckhand::cri
