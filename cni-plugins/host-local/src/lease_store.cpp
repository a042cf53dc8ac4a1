#include "lease_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deckhand/common/fs.h"

namespace deckhand::cni::host_local {

namespace {

// The reference's separator between container id and ifname.
constexpr std::string_view kLineBreak = "\r\n";
constexpr std::string_view kTempPrefix = ".reserve.";

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A lease file's name is its address as the reference prints it (Go prints
// RFC 5952 text as inet_ntop does); other names are not leases.
std::optional<IpAddress> lease_ip(const std::string& name) {
  auto ip = IpAddress::parse(name);
  if (!ip || ip->str() != name) return std::nullopt;
  return *ip;
}

}  // namespace

std::string LeaseOwner::file_content() const { return std::string(trim(container_id)) + std::string(kLineBreak) + ifname; }

LeaseOwner LeaseOwner::from_file_content(std::string_view content) {
  content = trim(content);
  auto brk = content.find(kLineBreak);
  if (brk == std::string_view::npos) return {std::string(content), ""};
  return {std::string(content.substr(0, brk)), std::string(content.substr(brk + kLineBreak.size()))};
}

LeaseStore::LeaseStore(const std::string& data_dir, const std::string& network) : dir_(fs::join(data_dir, network)) {}

bool LeaseStore::exists() const { return fs::exists(dir_); }

Status LeaseStore::create() const { return with_context(fs::make_dirs(dir_), "create IPAM directory"); }

Result<StoreLock> LeaseStore::lock() const {
  std::string path = fs::join(dir_, "lock");
  DH_TRY(fd, fs::open_fd(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600));
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return sys_fail("lock {}", path);
  return StoreLock(std::move(fd));
}

std::string LeaseStore::lease_path(const IpAddress& ip) const { return fs::join(dir_, ip.str()); }

std::string LeaseStore::last_reserved_path(size_t set_index) const {
  return fs::join(dir_, "last_reserved_ip." + std::to_string(set_index));
}


Result<bool> LeaseStore::reserve(const IpAddress& ip, const LeaseOwner& owner) const {
  std::string path = lease_path(ip);
  // O_EXCL never takes an address someone holds. Written in place, as the
  // reference does, under the store's lock: a crash between create and write
  // leaves a lease with no owner, which GC releases. (A temp file linked into
  // place cost a second file creation, the dearest step of an ADD here.)
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return false;
    return sys_fail("reserve {}", path);
  }
  UniqueFd owned(fd);
  // No fsync (nor in the reference): a power loss takes the pods' network
  // namespaces along, and GC releases what their leases left.
  auto written = fs::write_all(owned.get(), owner.file_content(), path);
  if (!written) {
    ::unlink(path.c_str());
    return tl::unexpected(written.error());
  }
  return true;
}

Status LeaseStore::release(const IpAddress& ip) const {
  std::string path = lease_path(ip);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_fail("release {}", path);
  return {};
}

Result<std::vector<Lease>> LeaseStore::leases() const {
  DH_TRY(names, fs::list_dir(dir_));
  std::vector<Lease> out;
  for (const auto& name : names) {
    auto ip = lease_ip(name);
    std::string path = fs::join(dir_, name);
    if (!ip || !is_regular_file(path)) continue;
    auto content = fs::read_file(path);
    if (!content) {
      if (content.error().kind == ErrorKind::NotFound) continue;  // released meanwhile (reader without the lock)
      return tl::unexpected(content.error());
    }
    out.push_back({*ip, LeaseOwner::from_file_content(*content)});
  }
  return out;
}

std::optional<IpAddress> LeaseStore::last_reserved(size_t set_index) const {
  auto text = fs::read_file(last_reserved_path(set_index));
  if (!text) return std::nullopt;
  auto ip = IpAddress::parse(trim(*text));
  if (!ip) return std::nullopt;
  return *ip;
}

Status LeaseStore::set_last_reserved(size_t set_index, const IpAddress& ip) const {
  // Rewritten in place, as the reference does: the file exists after the
  // first ADD, so this creates nothing; a torn write only loses a hint (the
  // search then starts at the range's beginning). No newline: the reference
  // parses the whole file as an address.
  std::string path = last_reserved_path(set_index);
  DH_TRY(fd, fs::open_fd(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  return fs::write_all(fd.get(), ip.str(), path);
}

Status LeaseStore::remove_stale_temp_files() const {
  DH_TRY(names, fs::list_dir(dir_));
  for (const auto& name : names) {
    bool ours = name.starts_with(kTempPrefix);
    bool atomic_write = name.starts_with("last_reserved_ip.") && name.find(".tmp.") != std::string::npos;
    if (!ours && !atomic_write) continue;
    std::string path = fs::join(dir_, name);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_fail("remove {}", path);
  }
  return {};
}

}  // namespace deckhand::cni::host_local
