#include "deckhand/oci/container_state.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"
#include "deckhand/common/process.h"
#include "deckhand/oci/bundle_config.h"

namespace deckhand::oci {
const char* status_name(ContainerStatus s) {
  switch (s) {
    case ContainerStatus::Created: return "created";
    case ContainerStatus::Running: return "running";
    case ContainerStatus::Stopped: return "stopped";
  }
  return "unknown";
}

StateDir::StateDir(std::string root, std::string id) : id_(std::move(id)), path_(fs::join(root, id_)) {}

Status StateDir::make() const {
  // 0711: the init opens the exec FIFO in here after it dropped to the container's user.
  if (::mkdir(path_.c_str(), 0711) == 0) return {};
  if (errno == EEXIST) return fail(ErrorKind::AlreadyExists, "container with id exists: {}", id_);
  return sys_fail("create state directory {}", path_);
}

Result<ContainerState> StateDir::load() const {
  if (!exists()) return fail(ErrorKind::NotFound, "container does not exist: {}", id_);
  auto j = read_json_file(state_file());
  // A directory without state.json: a create that was cut short.
  if (!j && j.error().kind == ErrorKind::NotFound) return ContainerState{.id = id_};
  if (!j) return tl::unexpected(j.error());
  ContainerState s;
  s.id = id_;
  s.pid = j->value("pid", 0);
  s.pid_start_time = j->value("pidStartTime", uint64_t{0});
  s.bundle = j->value("bundle", "");
  s.rootfs = j->value("rootfs", "");
  s.cgroups_path = j->value("cgroupsPath", "");
  s.created = j->value("created", "");
  return s;
}

Status StateDir::save(const ContainerState& s) const {
  Json j = {{"ociVersion", kOciVersion}, {"id", s.id},       {"pid", s.pid},
            {"pidStartTime", s.pid_start_time}, {"bundle", s.bundle}, {"rootfs", s.rootfs},
            {"cgroupsPath", s.cgroups_path},    {"created", s.created}};
  // /run is tmpfs: a power loss takes the containers with it.
  return fs::write_file_atomic(state_file(), j.dump(), 0600, fs::Durability::ProcessCrash);
}

Status StateDir::remove() const { return fs::remove_all(path_); }

bool StateDir::exists() const {
  struct stat st {};
  return ::lstat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// process_matches counts a zombie as gone.
ContainerStatus status_of(const StateDir& dir, const ContainerState& state) {
  if (state.pid <= 0 || !process_matches(state.pid, state.pid_start_time))
    return ContainerStatus::Stopped;
  return fs::exists(dir.exec_fifo()) ? ContainerStatus::Created : ContainerStatus::Running;
}

std::string state_json(const ContainerState& s, ContainerStatus status) {
  Json j = {{"ociVersion", kOciVersion},
            {"id", s.id},
            {"pid", status == ContainerStatus::Stopped ? 0 : s.pid},
            {"status", status_name(status)},
            {"bundle", s.bundle},
            {"rootfs", s.rootfs},
            {"created", s.created},
            {"owner", ""}};
  return j.dump(2);
}

std::string rfc3339_now() {
  timespec ts {};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  tm utc {};
  ::gmtime_r(&ts.tv_sec, &utc);
  char buf[32];
  ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:09}Z", buf, ts.tv_nsec);
}

}  // namespace deckhand::oci
