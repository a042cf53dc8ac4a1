// The on-disk state of one network, shared with the reference host-local
// plugin (so either may run on the same dataDir):
//   <dataDir>/<network>/<ip>                  a lease: "<containerID>\r\n<ifname>"
//   <dataDir>/<network>/last_reserved_ip.<n>  the address last handed out from range set n
//   <dataDir>/<network>/lock                  flock(LOCK_EX)ed around every read-modify-write
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deckhand/cni/ip_address.h"
#include "deckhand/common/fd.h"
#include "deckhand/common/result.h"

namespace deckhand::cni::host_local {

struct LeaseOwner {
  std::string container_id;
  std::string ifname;  // empty in leases written by old versions (only the id in the file)

  bool operator==(const LeaseOwner&) const = default;
  std::string file_content() const;
  static LeaseOwner from_file_content(std::string_view content);
};

struct Lease {
  IpAddress ip;
  LeaseOwner owner;
};

// The store's lock, held until this is destroyed (closing the fd drops the flock).
class StoreLock {
 public:
  explicit StoreLock(UniqueFd fd) : fd_(std::move(fd)) {}

 private:
  UniqueFd fd_;
};

// The methods that change or read several files expect the caller to hold lock().
class LeaseStore {
 public:
  LeaseStore(const std::string& data_dir, const std::string& network);

  const std::string& dir() const { return dir_; }
  bool exists() const;
  Status create() const;
  // Waits for the lock; the directory must exist.
  Result<StoreLock> lock() const;

  // Takes ip for owner: false when someone holds it already. The file appears
  // whole (written beside it, then hard-linked into place, which fails rather
  // than replace a lease taken meanwhile).
  Result<bool> reserve(const IpAddress& ip, const LeaseOwner& owner) const;
  // A missing lease is fine.
  Status release(const IpAddress& ip) const;
  // Every lease file in the directory.
  Result<std::vector<Lease>> leases() const;

  // The address last reserved from range set `set_index`; nullopt when none
  // is recorded or the record is unreadable (round-robin restarts then).
  std::optional<IpAddress> last_reserved(size_t set_index) const;
  Status set_last_reserved(size_t set_index, const IpAddress& ip) const;

  // Removes the temp files that earlier versions of reserve() and
  // set_last_reserved() left when killed half-way.
  Status remove_stale_temp_files() const;

 private:
  std::string lease_path(const IpAddress& ip) const;
  std::string last_reserved_path(size_t set_index) const;

  std::string dir_;
};

}  // namespace deckhand::cni::host_local
