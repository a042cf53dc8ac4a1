// Pod sandboxes: deckhand-pause in the pod's namespaces, a pinned network
// namespace wired by CNI, a pod cgroup, and the pod's hostname, hosts,
// resolv.conf and /dev/shm.
#include <sys/mount.h>
#include <unistd.h>

#include "cri_runtime.h"
#include "deckhand/common/digest.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"
#include "deckhand/runtime/pause.h"

namespace deckhand::cri {

namespace {

auto logger() { return log::get("cri"); }

std::string config_digest(const v1::PodSandboxConfig& c) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    c.SerializeToCodedStream(&coded);
  }
  return sha256_digest(bytes);
}

bool host_network(const v1::PodSandboxConfig& c) {
  return c.linux().security_context().namespace_options().network() == v1::NODE;
}
bool host_ipc(const v1::PodSandboxConfig& c) {
  return c.linux().security_context().namespace_options().ipc() == v1::NODE;
}

Status validate(const v1::PodSandboxConfig& c) {
  if (!c.has_metadata()) return fail(ErrorKind::InvalidArgument, "config.metadata is missing");
  const auto& m = c.metadata();
  if (m.name().empty()) return fail(ErrorKind::InvalidArgument, "config.metadata.name is empty");
  if (m.namespace_().empty()) return fail(ErrorKind::InvalidArgument, "config.metadata.namespace is empty");
  if (m.uid().empty()) return fail(ErrorKind::InvalidArgument, "config.metadata.uid is empty");
  for (auto& [key, value] : c.linux().sysctls()) {
    if (key.empty() || key.find("..") != std::string::npos || key.find('/') != std::string::npos)
      return fail(ErrorKind::InvalidArgument, "config.linux.sysctls: invalid name \"{}\"", key);
    // Namespaced sysctls of a namespace the pod shares with the host would change the host.
    if (host_network(c) && key.rfind("net.", 0) == 0)
      return fail(ErrorKind::InvalidArgument, "config.linux.sysctls: {} not allowed with host network", key);
    bool ipc_key = key.rfind("kernel.shm", 0) == 0 || key.rfind("kernel.msg", 0) == 0 ||
                   key == "kernel.sem" || key.rfind("fs.mqueue.", 0) == 0;
    if (host_ipc(c) && ipc_key)
      return fail(ErrorKind::InvalidArgument, "config.linux.sysctls: {} not allowed with host IPC", key);
  }
  return {};
}

std::string resolv_conf(const v1::PodSandboxConfig& c) {
  if (!c.has_dns_config()) {
    auto host = fs::read_file("/etc/resolv.conf");
    return host ? *host : "";
  }
  std::string out;
  for (auto& s : c.dns_config().servers()) out += "nameserver " + s + "\n";
  if (c.dns_config().searches_size()) {
    out += "search";
    for (auto& s : c.dns_config().searches()) out += " " + s;
    out += "\n";
  }
  if (c.dns_config().options_size()) {
    out += "options";
    for (auto& s : c.dns_config().options()) out += " " + s;
    out += "\n";
  }
  return out;
}

std::string pod_hostname(const v1::PodSandboxConfig& c) {
  std::string h = c.hostname().empty() ? c.metadata().name() : c.hostname();
  return h.substr(0, 63);
}

}  // namespace

std::string sandbox_name_key(const v1::PodSandboxMetadata& m) {
  return fmt::format("{}_{}_{}_{}", m.namespace_(), m.name(), m.uid(), m.attempt());
}

Result<std::string> CriRuntime::run_pod_sandbox(const v1::PodSandboxConfig& config, const std::string& handler) {
  DH_CHECK(validate(config));
  if (!handler.empty() && handler != "runc" && handler != "default")
    return fail(ErrorKind::InvalidArgument, "runtime handler \"{}\" is not configured", handler);
  std::string key = sandbox_name_key(config.metadata());
  std::string digest = config_digest(config);
  {
    std::unique_lock l(names_mu_);
    auto it = sandbox_names_.find(key);
    if (it != sandbox_names_.end()) {
      if (it->second.digest != digest)
        return fail(ErrorKind::AlreadyExists,
                    "sandbox name {} is in use by sandbox {} with a different config", key, it->second.id);
      // A retry of a call still running, or of one that finished: same answer.
      names_cv_.wait(l, [&] {
        auto cur = sandbox_names_.find(key);
        return cur == sandbox_names_.end() || cur->second.done;
      });
      auto cur = sandbox_names_.find(key);
      if (cur != sandbox_names_.end() && cur->second.digest == digest) return cur->second.id;
      // The first call failed and released the name: try ourselves.
    }
    sandbox_names_[key] = Reservation{"", digest};
  }
  auto id = create_sandbox(config, handler, digest);
  {
    std::lock_guard l(names_mu_);
    if (id) {
      auto& r = sandbox_names_[key];
      r.id = *id;
      r.done = true;
    } else {
      sandbox_names_.erase(key);
    }
  }
  names_cv_.notify_all();
  return id;
}

Result<std::string> CriRuntime::create_sandbox(const v1::PodSandboxConfig& config, const std::string& handler,
                                               const std::string& digest) {
  SandboxRecord r;
  r.id = random_id();
  r.config = config;
  r.config_digest = digest;
  r.runtime_handler = handler;
  r.created_at = now_ns();
  r.dir = fs::join(config_.run_dir, "sandboxes/" + r.id);
  if (config.linux().cgroup_parent().empty()) {
    r.cgroup_parent = fs::join(config_.default_cgroup_parent, "pod-" + r.id.substr(0, 12));
  } else {
    r.cgroup_parent = config.linux().cgroup_parent();
  }
  r.pause_cgroup = fs::join(r.cgroup_parent, r.id);
  DH_TRY(entry, sandboxes_.add(r));
  std::lock_guard op(entry->lifecycle);
  auto st = setup_sandbox(entry);
  if (!st) {
    logger()->warn("sandbox={} setup failed, rolling back: {}", r.id, st.error().message);
    if (auto undone = destroy_sandbox(entry); !undone)
      logger()->error("sandbox={} rollback: {}", r.id, undone.error().message);
    return tl::unexpected(st.error());
  }
  logger()->info("sandbox={} pod={}/{} ready", r.id, config.metadata().namespace_(), config.metadata().name());
  return r.id;
}

// Each step updates and persists the record before the next, so that what a
// crash leaves half-made is known to recovery and to the rollback.
Status CriRuntime::setup_sandbox(const SandboxEntry& e) {
  auto r = e->snapshot();
  const auto& c = r.config;
  bool hostnet = host_network(c);
  PhaseClock clock("sandbox", r.id);
  DH_CHECK(fs::make_dirs(r.dir, 0711));

  bool parent_existed = cgroups_->exists(r.cgroup_parent);
  DH_CHECK(with_context(cgroups_->create(r.cgroup_parent, {}), "create pod cgroup {}", r.cgroup_parent));
  {
    std::lock_guard l(e->data);
    e->record.owns_cgroup_parent = !parent_existed;
  }
  DH_CHECK(with_context(cgroups_->create(r.pause_cgroup, {}), "create sandbox cgroup {}", r.pause_cgroup));

  runtime::PauseSpec ps;
  ps.pause_binary = config_.pause_binary;
  ps.new_net = !hostnet;
  ps.new_uts = !hostnet;
  ps.new_ipc = !host_ipc(c);
  ps.new_pid = c.linux().security_context().namespace_options().pid() == v1::POD;
  if (!hostnet) ps.hostname = pod_hostname(c);
  DH_TRY(procs, cgroups_->procs_files(r.pause_cgroup));
  ps.join_after_ready = std::move(procs);
  for (auto& [k, v] : c.linux().sysctls()) ps.sysctls[k] = v;
  clock.mark("cgroups");
  DH_TRY(pause, runtime::start_pause(ps));
  clock.mark("pause");
  {
    std::lock_guard l(e->data);
    e->record.pause_pid = pause.pid;
    e->record.pause_start = pause.start_time;
  }
  DH_CHECK(sandboxes_.persist(e));

  if (!host_ipc(c)) {
    std::string shm = r.dir + "/shm";
    DH_CHECK(fs::make_dirs(shm, 0755));
    if (::mount("shm", shm.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") != 0)
      return sys_fail("mount tmpfs for /dev/shm at {}", shm);
    std::lock_guard l(e->data);
    e->record.shm_path = shm;
  }

  if (!hostnet) {
    std::string pin = fs::join(config_.run_dir, "netns/" + r.id);
    {
      std::lock_guard l(e->data);
      e->record.netns_path = pin;
    }
    DH_CHECK(runtime::pin_netns(pause.pid, pin));
    {
      std::lock_guard l(e->data);
      e->record.network_attached = true;  // set before ADD: a crash during ADD still gets its DEL
    }
    DH_CHECK(sandboxes_.persist(e));
    cni::Attachment a = attachment_of(e->snapshot());
    clock.mark("netns");
    DH_TRY(added, cni_->add(a));
    clock.mark("cni");
    std::lock_guard l(e->data);
    e->record.ips = added.ips;
  }
  DH_CHECK(write_sandbox_files(e->snapshot()));
  {
    std::lock_guard l(e->data);
    e->record.state = SandboxState::Ready;
  }
  DH_CHECK(sandboxes_.persist(e));
  clock.mark("files");
  return {};
}

Status CriRuntime::write_sandbox_files(const SandboxRecord& r) {
  std::string hostname = host_network(r.config) ? "" : pod_hostname(r.config);
  if (hostname.empty()) {
    char buf[256] = {};
    ::gethostname(buf, sizeof buf - 1);
    hostname = buf;
  }
  std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  if (!r.ips.empty()) hosts += r.ips.front() + "\t" + hostname + "\n";
  // Volatile files of a running pod (the run dir is a tmpfs in production): a
  // reboot ends the pod, so surviving a crash of ours is enough.
  constexpr auto kVolatile = fs::Durability::ProcessCrash;
  DH_CHECK(fs::write_file_atomic(r.dir + "/hostname", hostname + "\n", 0644, kVolatile));
  DH_CHECK(fs::write_file_atomic(r.dir + "/hosts", hosts, 0644, kVolatile));
  return fs::write_file_atomic(r.dir + "/resolv.conf", resolv_conf(r.config), 0644, kVolatile);
}

cni::Attachment CriRuntime::attachment_of(const SandboxRecord& r) {
  const auto& m = r.config.metadata();
  return cni::Attachment{r.id, r.netns_path, "eth0", m.name(), m.namespace_(), m.uid()};
}

Status CriRuntime::teardown_sandbox(const SandboxEntry& e) {
  auto r = e->snapshot();
  if (r.network_attached) {
    DH_CHECK(with_context(cni_->del(attachment_of(r)), "tear down network of sandbox {}", r.id));
    {
      std::lock_guard l(e->data);
      e->record.network_attached = false;
    }
    DH_CHECK(sandboxes_.persist(e));
  }
  if (!r.netns_path.empty()) DH_CHECK(runtime::unpin_netns(r.netns_path));
  if (r.pause_pid > 0 && process_matches(r.pause_pid, r.pause_start))
    DH_CHECK(runtime::stop_pause(r.pause_pid, r.pause_start));
  if (!r.shm_path.empty() && ::umount2(r.shm_path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return sys_fail("unmount {}", r.shm_path);
  {
    std::lock_guard l(e->data);
    if (e->record.state != SandboxState::Creating) e->record.state = SandboxState::NotReady;
  }
  return sandboxes_.persist(e);
}

Status CriRuntime::destroy_sandbox(const SandboxEntry& e) {
  DH_CHECK(teardown_sandbox(e));
  auto r = e->snapshot();
  DH_CHECK(cgroups_->remove(r.pause_cgroup));
  if (r.owns_cgroup_parent) DH_CHECK(cgroups_->remove(r.cgroup_parent));
  DH_CHECK(fs::remove_all(r.dir));
  return sandboxes_.erase(r.id);
}

std::vector<CriRuntime::ContainerEntry> CriRuntime::containers_of(const std::string& sandbox_id) const {
  std::vector<ContainerEntry> out;
  for (auto& c : containers_.all())
    if (c->snapshot().sandbox_id == sandbox_id) out.push_back(c);
  return out;
}

Status CriRuntime::stop_pod_sandbox(const std::string& id) {
  DH_TRY(e, sandboxes_.find(id, "sandbox"));
  std::lock_guard op(e->lifecycle);
  for (auto& c : containers_of(e->snapshot().id)) {
    std::lock_guard cop(c->lifecycle);
    DH_CHECK(stop_container_locked(c, 0));
  }
  return teardown_sandbox(e);
}

Status CriRuntime::remove_pod_sandbox(const std::string& id) {
  auto found = sandboxes_.find(id, "sandbox");
  if (!found && found.error().kind == ErrorKind::NotFound) return {};  // removed already: idempotent
  DH_TRY(e, std::move(found));
  std::lock_guard op(e->lifecycle);
  auto r = e->snapshot();
  for (auto& c : containers_of(r.id)) {
    std::lock_guard cop(c->lifecycle);
    DH_CHECK(remove_container_locked(c));
  }
  DH_CHECK(destroy_sandbox(e));
  {
    std::lock_guard l(names_mu_);
    auto key = sandbox_name_key(r.config.metadata());
    auto it = sandbox_names_.find(key);
    if (it != sandbox_names_.end() && it->second.id == r.id) sandbox_names_.erase(it);
  }
  logger()->info("sandbox={} removed", r.id);
  return {};
}

namespace {

v1::PodSandboxState to_cri(SandboxState s) {
  return s == SandboxState::Ready ? v1::SANDBOX_READY : v1::SANDBOX_NOTREADY;
}

}  // namespace

bool labels_match(const google::protobuf::Map<std::string, std::string>& selector,
                  const google::protobuf::Map<std::string, std::string>& labels) {
  for (auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

Result<v1::PodSandboxStatusResponse> CriRuntime::pod_sandbox_status(const std::string& id, bool verbose) {
  DH_TRY(e, sandboxes_.find(id, "sandbox"));
  auto r = e->snapshot();
  v1::PodSandboxStatusResponse resp;
  auto* s = resp.mutable_status();
  s->set_id(r.id);
  *s->mutable_metadata() = r.config.metadata();
  s->set_state(to_cri(r.state));
  s->set_created_at(r.created_at);
  if (!r.ips.empty()) {
    s->mutable_network()->set_ip(r.ips.front());
    for (size_t i = 1; i < r.ips.size(); ++i) s->mutable_network()->add_additional_ips()->set_ip(r.ips[i]);
  }
  *s->mutable_linux()->mutable_namespaces()->mutable_options() =
      r.config.linux().security_context().namespace_options();
  *s->mutable_labels() = r.config.labels();
  *s->mutable_annotations() = r.config.annotations();
  s->set_runtime_handler(r.runtime_handler);
  resp.set_timestamp(now_ns());
  if (verbose) {
    Json info = to_json(r);
    info["pid"] = r.pause_pid;
    info["runtimeHandler"] = r.runtime_handler;
    (*resp.mutable_info())["info"] = info.dump();
  }
  return resp;
}

std::vector<v1::PodSandbox> CriRuntime::list_pod_sandbox(const v1::PodSandboxFilter& f) {
  std::vector<v1::PodSandbox> out;
  for (auto& e : sandboxes_.all()) {
    auto r = e->snapshot();
    if (r.state == SandboxState::Creating) continue;
    if (!f.id().empty() && r.id.rfind(f.id(), 0) != 0) continue;
    if (f.has_state() && f.state().state() != to_cri(r.state)) continue;
    if (!labels_match(f.label_selector(), r.config.labels())) continue;
    v1::PodSandbox p;
    p.set_id(r.id);
    *p.mutable_metadata() = r.config.metadata();
    p.set_state(to_cri(r.state));
    p.set_created_at(r.created_at);
    *p.mutable_labels() = r.config.labels();
    *p.mutable_annotations() = r.config.annotations();
    p.set_runtime_handler(r.runtime_handler);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace deckhand::cri
