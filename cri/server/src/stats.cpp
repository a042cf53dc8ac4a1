// Container and pod stats from cgroups, the writable layer and the pod's
// network namespace. Every answer carries a fresh timestamp: crictl samples
// twice and divides by the time between.
#include <sstream>

#include "cri_runtime.h"
#include "deckhand/common/fs.h"

namespace deckhand::cri {

namespace {

template <typename T>
void set_u64(T* field, uint64_t v) {
  field->set_value(v);
}

void fill_cpu_memory(const runtime::CgroupStats& s, int64_t ts, v1::CpuUsage* cpu, v1::MemoryUsage* mem) {
  cpu->set_timestamp(ts);
  set_u64(cpu->mutable_usage_core_nano_seconds(), s.cpu_usage_ns);
  mem->set_timestamp(ts);
  set_u64(mem->mutable_working_set_bytes(), s.memory_working_set_bytes);
  set_u64(mem->mutable_usage_bytes(), s.memory_usage_bytes);
  set_u64(mem->mutable_rss_bytes(), s.memory_rss_bytes);
  set_u64(mem->mutable_page_faults(), s.memory_page_faults);
  set_u64(mem->mutable_major_page_faults(), s.memory_major_page_faults);
}

// Interface counters as /proc/<pid>/net/dev shows them inside the pod's netns.
void fill_network(pid_t pause_pid, int64_t ts, v1::NetworkUsage* net) {
  net->set_timestamp(ts);
  auto text = fs::read_file("/proc/" + std::to_string(pause_pid) + "/net/dev");
  if (!text) return;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    if (name == "lo") continue;
    std::istringstream fields(line.substr(colon + 1));
    uint64_t v[16] = {};
    for (auto& x : v) fields >> x;
    v1::NetworkInterfaceUsage* u = name == "eth0" ? net->mutable_default_interface() : net->add_interfaces();
    u->set_name(name);
    set_u64(u->mutable_rx_bytes(), v[0]);
    set_u64(u->mutable_rx_errors(), v[2]);
    set_u64(u->mutable_tx_bytes(), v[8]);
    set_u64(u->mutable_tx_errors(), v[10]);
  }
}

}  // namespace

Result<v1::ContainerStats> CriRuntime::container_stats(const std::string& id) {
  DH_TRY(e, containers_.find(id, "container"));
  refresh_container(e);
  auto r = e->snapshot();
  int64_t ts = now_ns();
  v1::ContainerStats s;
  auto* a = s.mutable_attributes();
  a->set_id(r.id);
  *a->mutable_metadata() = r.config.metadata();
  *a->mutable_labels() = r.config.labels();
  *a->mutable_annotations() = r.config.annotations();
  runtime::CgroupStats cg;
  if (r.state == ContainerState::Running) {
    if (auto got = cgroups_->stats(r.cgroup_path)) cg = *got;
  }
  fill_cpu_memory(cg, ts, s.mutable_cpu(), s.mutable_memory());
  auto* w = s.mutable_writable_layer();
  w->set_timestamp(ts);
  w->mutable_fs_id()->set_mountpoint(containers_.dir());
  auto used = fs::disk_usage(r.dir + "/upper").value_or(fs::DiskUsage{});
  set_u64(w->mutable_used_bytes(), used.bytes);
  set_u64(w->mutable_inodes_used(), used.inodes);
  return s;
}

std::vector<v1::ContainerStats> CriRuntime::list_container_stats(const v1::ContainerStatsFilter& f) {
  std::vector<v1::ContainerStats> out;
  v1::ContainerFilter cf;
  cf.set_id(f.id());
  cf.set_pod_sandbox_id(f.pod_sandbox_id());
  *cf.mutable_label_selector() = f.label_selector();
  for (auto& c : list_containers(cf)) {
    if (c.state() != v1::CONTAINER_RUNNING) continue;  // as containerd: stats of running containers
    if (auto s = container_stats(c.id())) out.push_back(std::move(*s));
  }
  return out;
}

Result<v1::PodSandboxStats> CriRuntime::pod_sandbox_stats(const std::string& id) {
  DH_TRY(e, sandboxes_.find(id, "sandbox"));
  auto r = e->snapshot();
  int64_t ts = now_ns();
  v1::PodSandboxStats s;
  auto* a = s.mutable_attributes();
  a->set_id(r.id);
  *a->mutable_metadata() = r.config.metadata();
  *a->mutable_labels() = r.config.labels();
  *a->mutable_annotations() = r.config.annotations();
  auto* linux = s.mutable_linux();
  runtime::CgroupStats cg;
  if (r.state == SandboxState::Ready) {
    if (auto got = cgroups_->stats(r.cgroup_parent)) cg = *got;
    fill_network(r.pause_pid, ts, linux->mutable_network());
  }
  fill_cpu_memory(cg, ts, linux->mutable_cpu(), linux->mutable_memory());
  linux->mutable_process()->set_timestamp(ts);
  set_u64(linux->mutable_process()->mutable_process_count(), cg.pids);
  for (auto& c : containers_of(r.id)) {
    auto cr = c->snapshot();
    if (cr.state != ContainerState::Running) continue;
    if (auto cs = container_stats(cr.id)) *linux->add_containers() = std::move(*cs);
  }
  return s;
}

std::vector<v1::PodSandboxStats> CriRuntime::list_pod_sandbox_stats(const v1::PodSandboxStatsFilter& f) {
  std::vector<v1::PodSandboxStats> out;
  v1::PodSandboxFilter pf;
  pf.set_id(f.id());
  *pf.mutable_label_selector() = f.label_selector();
  for (auto& p : list_pod_sandbox(pf)) {
    if (p.state() != v1::SANDBOX_READY) continue;
    if (auto s = pod_sandbox_stats(p.id())) out.push_back(std::move(*s));
  }
  return out;
}

}  // namespace deckhand::cri
