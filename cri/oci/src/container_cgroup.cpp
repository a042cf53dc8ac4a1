#include "deckhand/oci/container_cgroup.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <set>
#include <thread>

#include "deckhand/common/fs.h"
#include "deckhand/common/text.h"

namespace deckhand::oci {
namespace {

using Clock = std::chrono::steady_clock;

// Control files take one value per write(2).
Status write_control(const std::string& file, const std::string& value) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return sys_fail("open {}", file);
  UniqueFd f(fd);
  if (::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    return sys_fail("write \"{}\" to {}", value, file);
  return {};
}

// null, zero, full, random, urandom, tty, ptmx, and the pseudo-terminals.
constexpr std::pair<int64_t, int64_t> kDefaultDevices[] = {{1, 3}, {1, 5}, {1, 7}, {1, 8},  {1, 9},
                                                          {5, 0}, {5, 2}, {136, -1}};

std::string device_number(int64_t n) { return n < 0 ? "*" : std::to_string(n); }

std::string device_rule_text(const DeviceRule& r) {
  if (r.type == 'a') return "a";
  return fmt::format("{} {}:{} {}", r.type, device_number(r.major), device_number(r.minor), r.access);
}

std::string base_name(const std::string& dir) {
  auto slash = dir.rfind('/');
  return slash == std::string::npos ? dir : dir.substr(slash + 1);
}

}  // namespace

ContainerCgroup::ContainerCgroup(std::string path, runtime::CgroupfsLayout layout,
                                 std::unique_ptr<runtime::CgroupDriver> driver)
    : path_(std::move(path)), layout_(std::move(layout)), driver_(std::move(driver)) {}

Result<ContainerCgroup> ContainerCgroup::open(std::string path) {
  const char* root = std::getenv("DECKHAND_OCI_CGROUP_ROOT");
  DH_TRY(layout, runtime::detect_cgroupfs_layout(root && *root ? root : "/sys/fs/cgroup"));
  DH_TRY(driver, runtime::make_cgroupfs_driver(layout));
  return ContainerCgroup(std::move(path), std::move(layout), std::move(driver));
}

Status ContainerCgroup::create(const runtime::ResourceSpec& resources, const std::vector<DeviceRule>& devices) {
  DH_CHECK(driver_->create(path_, resources));
  if (auto st = apply_devices(devices); !st) {
    (void)driver_->remove(path_);
    return st;
  }
  return {};
}

Status ContainerCgroup::update(const runtime::ResourceSpec& resources) {
  if (!driver_->exists(path_)) return fail(ErrorKind::NotFound, "cgroup {} does not exist", path_);
  // create() makes what is missing (nothing) and applies the resources.
  return driver_->create(path_, resources);
}

// v1 only: the devices controller takes allow/deny lines. On cgroup v2 device
// access is an eBPF program, which deckhand-oci does not load.
Status ContainerCgroup::apply_devices(const std::vector<DeviceRule>& devices) const {
  if (layout_.version != runtime::CgroupfsLayout::Version::V1) return {};
  auto it = layout_.v1_hierarchies.find("devices");
  if (it == layout_.v1_hierarchies.end()) return {};
  std::string dir = it->second + path_;
  // What every container's /dev holds is allowed after the config's rules, as runc does.
  std::vector<DeviceRule> rules = devices;
  for (auto [major, minor] : kDefaultDevices) rules.push_back({true, 'c', major, minor, "rwm"});
  for (const auto& rule : rules)
    DH_CHECK(with_context(write_control(dir + (rule.allow ? "/devices.allow" : "/devices.deny"), device_rule_text(rule)),
                          "apply device rules to cgroup {}", path_));
  return {};
}

Status ContainerCgroup::join() const {
  DH_TRY(files, driver_->procs_files(path_));
  for (const auto& f : files) DH_CHECK(with_context(write_control(f, "0"), "join cgroup {}", path_));
  return {};
}

Result<std::vector<pid_t>> ContainerCgroup::pids() const {
  DH_TRY(files, driver_->procs_files(path_));
  std::vector<pid_t> out;
  if (files.empty()) return out;
  auto text = fs::read_file(files.front());
  if (!text && text.error().kind == ErrorKind::NotFound) return out;
  if (!text) return tl::unexpected(text.error());
  for (auto line : split(*text, '\n')) {
    pid_t pid = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
    if (ec == std::errc() && pid > 0) out.push_back(pid);
  }
  return out;
}

Status ContainerCgroup::remove(std::chrono::milliseconds wait_for_empty) {
  auto deadline = Clock::now() + wait_for_empty;
  for (;;) {
    DH_TRY(left, pids());
    if (left.empty()) break;
    if (Clock::now() >= deadline)
      return fail(ErrorKind::FailedPrecondition, "cgroup {} still holds {} processes", path_, left.size());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return driver_->remove(path_);
}

std::vector<std::pair<std::string, std::string>> ContainerCgroup::host_dirs() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (layout_.version == runtime::CgroupfsLayout::Version::V2) {
    out.emplace_back("", layout_.v2_root + path_);
    return out;
  }
  std::set<std::string> seen;
  for (const auto& [controller, dir] : layout_.v1_hierarchies)
    if (seen.insert(dir).second) out.emplace_back(base_name(dir), dir + path_);
  return out;
}

}  // namespace deckhand::oci
