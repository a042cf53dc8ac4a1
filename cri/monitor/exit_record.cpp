#include "exit_record.h"

#include <sys/wait.h>

#include <cstdlib>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "deckhand/common/fs.h"

namespace deckhand::monitor {

namespace {

// Mount point of the cgroup hierarchy with the memory controller: v1
// "cgroup" with option memory, else the cgroup2 mount.
struct MemoryHierarchy {
  std::string mount_point;
  bool v2 = false;
};

std::vector<std::string> split_ws(const std::string& line) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = line.find_first_not_of(' ', pos)) != std::string::npos) {
    size_t end = line.find(' ', pos);
    out.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

bool has_option(const std::string& options, std::string_view want) {
  size_t pos = 0;
  while (pos <= options.size()) {
    size_t end = options.find(',', pos);
    if (end == std::string::npos) end = options.size();
    if (std::string_view(options).substr(pos, end - pos) == want) return true;
    pos = end + 1;
  }
  return false;
}

// mountinfo: id parent dev root mountpoint opts [optional...] - fstype source superopts
std::optional<MemoryHierarchy> find_memory_hierarchy() {
  auto text = fs::read_file("/proc/self/mountinfo");
  if (!text) return std::nullopt;
  std::optional<MemoryHierarchy> v2;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    auto f = split_ws(text->substr(pos, end - pos));
    pos = end + 1;
    size_t dash = 6;
    while (dash < f.size() && f[dash] != "-") ++dash;
    if (dash + 3 >= f.size() || f[3] != "/") continue;
    if (f[dash + 1] == "cgroup" && has_option(f[dash + 3], "memory")) return MemoryHierarchy{f[4], false};
    if (f[dash + 1] == "cgroup2" && !v2) v2 = MemoryHierarchy{f[4], true};
  }
  return v2;
}

// The cgroup path of pid in the hierarchy: v1 "N:...memory...:/path", v2 "0::/path".
std::optional<std::string> cgroup_of(pid_t pid, bool v2) {
  auto text = fs::read_file(fmt::format("/proc/{}/cgroup", pid));
  if (!text) return std::nullopt;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(pos, end - pos);
    pos = end + 1;
    size_t c1 = line.find(':'), c2 = line.find(':', c1 + 1);
    if (c1 == std::string::npos || c2 == std::string::npos) continue;
    std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
    if (v2 ? controllers.empty() : has_option(controllers, "memory")) return line.substr(c2 + 1);
  }
  return std::nullopt;
}

long read_counter(const std::string& file) {
  auto text = fs::read_file(file);
  return text ? parse_oom_kill(*text) : -1;
}

}  // namespace

std::string format_exit_record(const runtime::ExitRecord& r) {
  return fmt::format("{{\"exit_code\":{},\"finished_at\":{},\"oom_killed\":{}}}\n", r.exit_code, r.finished_at,
                     r.oom_killed ? "true" : "false");
}

int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

long parse_oom_kill(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line = std::string_view(text).substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with("oom_kill ")) return std::strtol(std::string(line.substr(9)).c_str(), nullptr, 10);
  }
  return -1;
}

void OomWatch::watch(pid_t pid) {
  auto hierarchy = find_memory_hierarchy();
  if (!hierarchy) return;
  auto cgroup = cgroup_of(pid, hierarchy->v2);
  if (!cgroup) return;
  std::string file = hierarchy->mount_point + *cgroup + (hierarchy->v2 ? "/memory.events" : "/memory.oom_control");
  long now = read_counter(file);
  if (now < 0) return;
  counter_file_ = file;
  baseline_ = now;
}

bool OomWatch::oom_killed() const {
  if (counter_file_.empty()) return false;
  return read_counter(counter_file_) > baseline_;
}

}  // namespace deckhand::monitor
