#include "records.h"

#include <time.h>

#include <google/protobuf/util/json_util.h>

#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"

namespace deckhand::cri {

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

PhaseClock::PhaseClock(const char* kind, std::string id) : kind_(kind), id_(std::move(id)), last_(now_ns()) {}

void PhaseClock::mark(const char* phase) {
  int64_t now = now_ns();
  log::get("cri")->debug("{}={} phase={} ms={:.1f}", kind_, id_, phase, double(now - last_) / 1e6);
  last_ = now;
}

namespace {

std::string proto_json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

Status proto_from(const Json& j, const char* key, google::protobuf::Message& m) {
  if (!j.contains(key) || !j[key].is_string()) return fail(ErrorKind::Internal, "record lacks {}", key);
  auto st = google::protobuf::util::JsonStringToMessage(j[key].get<std::string>(), &m);
  if (!st.ok()) return fail(ErrorKind::Internal, "record field {}: {}", key, st.ToString());
  return {};
}

const char* sandbox_state_name(SandboxState s) {
  switch (s) {
    case SandboxState::Creating: return "creating";
    case SandboxState::Ready: return "ready";
    case SandboxState::NotReady: return "notready";
  }
  return "notready";
}

const char* container_state_name(ContainerState s) {
  switch (s) {
    case ContainerState::Creating: return "creating";
    case ContainerState::Created: return "created";
    case ContainerState::Running: return "running";
    case ContainerState::Exited: return "exited";
  }
  return "exited";
}

template <typename T>
void get_to(const Json& j, const char* key, T& dst) {
  auto it = j.find(key);
  if (it == j.end()) return;
  try {
    it->get_to(dst);
  } catch (const Json::exception&) {
    // A field of the wrong type keeps its default; the record stays loadable.
  }
}

}  // namespace

Json to_json(const SandboxRecord& r) {
  return Json{{"id", r.id},
              {"config", proto_json(r.config)},
              {"config_digest", r.config_digest},
              {"runtime_handler", r.runtime_handler},
              {"state", sandbox_state_name(r.state)},
              {"created_at", r.created_at},
              {"pause_pid", r.pause_pid},
              {"pause_start", r.pause_start},
              {"netns_path", r.netns_path},
              {"network_attached", r.network_attached},
              {"ips", r.ips},
              {"cgroup_parent", r.cgroup_parent},
              {"owns_cgroup_parent", r.owns_cgroup_parent},
              {"pause_cgroup", r.pause_cgroup},
              {"dir", r.dir},
              {"shm_path", r.shm_path}};
}

Result<SandboxRecord> sandbox_from_json(const Json& j) {
  SandboxRecord r;
  get_to(j, "id", r.id);
  if (r.id.empty()) return fail(ErrorKind::Internal, "sandbox record without id");
  DH_CHECK(proto_from(j, "config", r.config));
  get_to(j, "config_digest", r.config_digest);
  get_to(j, "runtime_handler", r.runtime_handler);
  std::string state;
  get_to(j, "state", state);
  r.state = state == "ready" ? SandboxState::Ready : state == "creating" ? SandboxState::Creating : SandboxState::NotReady;
  get_to(j, "created_at", r.created_at);
  get_to(j, "pause_pid", r.pause_pid);
  get_to(j, "pause_start", r.pause_start);
  get_to(j, "netns_path", r.netns_path);
  get_to(j, "network_attached", r.network_attached);
  get_to(j, "ips", r.ips);
  get_to(j, "cgroup_parent", r.cgroup_parent);
  get_to(j, "owns_cgroup_parent", r.owns_cgroup_parent);
  get_to(j, "pause_cgroup", r.pause_cgroup);
  get_to(j, "dir", r.dir);
  get_to(j, "shm_path", r.shm_path);
  return r;
}

Json to_json(const ContainerRecord& r) {
  return Json{{"id", r.id},
              {"sandbox_id", r.sandbox_id},
              {"config", proto_json(r.config)},
              {"image_id", r.image_id},
              {"image_ref", r.image_ref},
              {"image_name", r.image_name},
              {"state", container_state_name(r.state)},
              {"created_at", r.created_at},
              {"started_at", r.started_at},
              {"finished_at", r.finished_at},
              {"exit_code", r.exit_code},
              {"reason", r.reason},
              {"message", r.message},
              {"dir", r.dir},
              {"rootfs", r.rootfs},
              {"log_path", r.log_path},
              {"cgroup_path", r.cgroup_path},
              {"stop_signal", r.stop_signal},
              {"monitor_pid", r.monitor_pid},
              {"monitor_start", r.monitor_start},
              {"pid", r.pid},
              {"pid_start", r.pid_start}};
}

Result<ContainerRecord> container_from_json(const Json& j) {
  ContainerRecord r;
  get_to(j, "id", r.id);
  if (r.id.empty()) return fail(ErrorKind::Internal, "container record without id");
  DH_CHECK(proto_from(j, "config", r.config));
  get_to(j, "sandbox_id", r.sandbox_id);
  get_to(j, "image_id", r.image_id);
  get_to(j, "image_ref", r.image_ref);
  get_to(j, "image_name", r.image_name);
  std::string state;
  get_to(j, "state", state);
  r.state = state == "created"    ? ContainerState::Created
            : state == "running"  ? ContainerState::Running
            : state == "creating" ? ContainerState::Creating
                                  : ContainerState::Exited;
  get_to(j, "created_at", r.created_at);
  get_to(j, "started_at", r.started_at);
  get_to(j, "finished_at", r.finished_at);
  get_to(j, "exit_code", r.exit_code);
  get_to(j, "reason", r.reason);
  get_to(j, "message", r.message);
  get_to(j, "dir", r.dir);
  get_to(j, "rootfs", r.rootfs);
  get_to(j, "log_path", r.log_path);
  get_to(j, "cgroup_path", r.cgroup_path);
  get_to(j, "stop_signal", r.stop_signal);
  get_to(j, "monitor_pid", r.monitor_pid);
  get_to(j, "monitor_start", r.monitor_start);
  get_to(j, "pid", r.pid);
  get_to(j, "pid_start", r.pid_start);
  return r;
}

template <typename Record>
Result<typename RecordStore<Record>::EntryPtr> RecordStore<Record>::add(const Record& r) {
  auto e = std::make_shared<Entry>();
  e->record = r;
  DH_CHECK(fs::write_file_atomic(path(r.id), to_json(r).dump(), 0600));
  std::lock_guard l(mu_);
  entries_[r.id] = e;
  return e;
}

template <typename Record>
Status RecordStore<Record>::persist(const EntryPtr& e) {
  std::string text, id;
  {
    std::lock_guard l(e->data);
    text = to_json(e->record).dump();
    id = e->record.id;
  }
  // A record reaches the disk when it is added (add() syncs it); its later
  // states need to survive only a crash of ours: a power loss ends every pod
  // and container anyway, and start-up then cleans up from what was added.
  return fs::write_file_atomic(path(id), text, 0600, fs::Durability::ProcessCrash);
}

template <typename Record>
Status RecordStore<Record>::erase(const std::string& id) {
  {
    std::lock_guard l(mu_);
    entries_.erase(id);
  }
  if (::unlink(path(id).c_str()) != 0 && errno != ENOENT) return sys_fail("remove record {}", path(id));
  return {};
}

template <typename Record>
Result<typename RecordStore<Record>::EntryPtr> RecordStore<Record>::find(const std::string& id,
                                                                          const char* kind) const {
  if (id.empty()) return fail(ErrorKind::InvalidArgument, "{} id is empty", kind);
  std::lock_guard l(mu_);
  if (auto it = entries_.find(id); it != entries_.end()) return it->second;
  std::vector<std::string> matches;
  for (auto it = entries_.lower_bound(id); it != entries_.end() && it->first.compare(0, id.size(), id) == 0; ++it)
    matches.push_back(it->first);
  if (matches.empty()) return fail(ErrorKind::NotFound, "{} \"{}\" not found", kind, id);
  if (matches.size() > 1) {
    std::string list;
    for (auto& m : matches) list += (list.empty() ? "" : ", ") + m;
    return fail(ErrorKind::InvalidArgument, "{} id prefix \"{}\" is ambiguous: {}", kind, id, list);
  }
  return entries_.at(matches.front());
}

template <typename Record>
std::vector<typename RecordStore<Record>::EntryPtr> RecordStore<Record>::all() const {
  std::lock_guard l(mu_);
  std::vector<EntryPtr> out;
  out.reserve(entries_.size());
  for (auto& [id, e] : entries_) out.push_back(e);
  return out;
}

template <typename Record>
Status RecordStore<Record>::load() {
  DH_CHECK(fs::make_dirs(dir_, 0700));
  DH_TRY(names, fs::list_dir(dir_));
  for (auto& name : names) {
    std::string p = dir_ + "/" + name;
    if (name.size() < 6 || name.compare(name.size() - 5, 5, ".json") != 0) {
      // Temp files of a write that a crash interrupted.
      if (name.find(".tmp.") != std::string::npos) ::unlink(p.c_str());
      continue;
    }
    auto j = read_json_file(p);
    Result<Record> r = j ? [&]() -> Result<Record> {
      if constexpr (std::is_same_v<Record, SandboxRecord>) return sandbox_from_json(*j);
      else return container_from_json(*j);
    }() : Result<Record>(tl::unexpected(j.error()));
    if (!r) {
      log::get("cri")->error("skipping unreadable record {}: {}", p, r.error().message);
      continue;
    }
    auto e = std::make_shared<Entry>();
    e->record = std::move(*r);
    std::lock_guard l(mu_);
    entries_[e->record.id] = e;
  }
  return {};
}

template class RecordStore<SandboxRecord>;
template class RecordStore<ContainerRecord>;

}  // namespace deckhand::cri
