// What deckhand-cri remembers about each sandbox and container, kept as one
// JSON file per object (written atomically) so that a restart, even after
// kill -9, finds every object in the state it was last known to be in.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "deckhand/common/json.h"
#include "deckhand/common/result.h"
#include "runtime.pb.h"

namespace deckhand::cri {

// CRI's generated types (namespace runtime::v1; inside deckhand, "runtime" is ours).
namespace v1 = ::runtime::v1;

enum class SandboxState { Creating, Ready, NotReady };
enum class ContainerState { Creating, Created, Running, Exited };

struct SandboxRecord {
  std::string id;
  v1::PodSandboxConfig config;
  std::string config_digest;  // of the deterministic serialisation: tells retries from conflicts
  std::string runtime_handler;
  SandboxState state = SandboxState::Creating;
  int64_t created_at = 0;       // ns since the epoch
  pid_t pause_pid = 0;
  uint64_t pause_start = 0;     // with pause_pid, names the process across pid reuse
  std::string netns_path;       // pinned netns; empty for host-network pods
  bool network_attached = false;  // CNI ADD done and DEL not yet
  std::vector<std::string> ips;
  std::string cgroup_parent;    // the pod's cgroup
  bool owns_cgroup_parent = false;
  std::string pause_cgroup;     // cgroup_parent/<id>
  std::string dir;              // run_dir/sandboxes/<id>: hostname, hosts, resolv.conf, shm
  std::string shm_path;         // tmpfs mounted for the pod's /dev/shm; empty with host IPC
};

struct ContainerRecord {
  std::string id;
  std::string sandbox_id;
  v1::ContainerConfig config;
  std::string image_id;      // config digest
  std::string image_ref;     // repo digest where known, else the id
  std::string image_name;    // the image as the request named it
  ContainerState state = ContainerState::Creating;
  int64_t created_at = 0, started_at = 0, finished_at = 0;
  int exit_code = 0;
  std::string reason, message;
  std::string dir;           // state_dir/containers/<id>: bundle, upper, work, monitor files
  std::string rootfs;        // overlay mount point
  std::string log_path;
  std::string cgroup_path;
  int stop_signal = 15;
  pid_t monitor_pid = 0;
  uint64_t monitor_start = 0;
  pid_t pid = 0;
  uint64_t pid_start = 0;
};

Json to_json(const SandboxRecord& r);
Json to_json(const ContainerRecord& r);
Result<SandboxRecord> sandbox_from_json(const Json& j);
Result<ContainerRecord> container_from_json(const Json& j);

// Objects of one kind, by id, in memory and on disk (<dir>/<id>.json).
// Each entry has a lifecycle lock (held through a whole RPC that changes the
// object) and a short data lock (for reading and updating the record).
template <typename Record>
class RecordStore {
 public:
  struct Entry {
    std::mutex lifecycle;
    mutable std::mutex data;
    Record record;
    Record snapshot() const {
      std::lock_guard l(data);
      return record;
    }
  };
  using EntryPtr = std::shared_ptr<Entry>;

  explicit RecordStore(std::string dir) : dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }

  // Adds a new record and writes it to disk.
  Result<EntryPtr> add(const Record& r);
  // Writes the entry's current record (call with its data lock not held);
  // unlike add(), without fsync: it survives our crash, not a power loss.
  Status persist(const EntryPtr& e);
  Status erase(const std::string& id);

  // By full id or unique prefix: NotFound, or InvalidArgument naming the candidates.
  Result<EntryPtr> find(const std::string& id_or_prefix, const char* kind) const;
  std::vector<EntryPtr> all() const;

  // Reads every record file in dir (used once, at start).
  Status load();

 private:
  std::string path(const std::string& id) const { return dir_ + "/" + id + ".json"; }
  std::string dir_;
  mutable std::mutex mu_;
  std::map<std::string, EntryPtr> entries_;
};

using SandboxStore = RecordStore<SandboxRecord>;
using ContainerStore = RecordStore<ContainerRecord>;

int64_t now_ns();

// Logs how long each phase of one operation took, at debug level, as
// "sandbox=<id> phase=<name> ms=<n>": where pod start time goes, for operators
// and benchmarks (deckhand-cri --log-level debug).
class PhaseClock {
 public:
  PhaseClock(const char* kind, std::string id);
  void mark(const char* phase);

 private:
  const char* kind_;
  std::string id_;
  int64_t last_;
};

}  // namespace deckhand::cri
