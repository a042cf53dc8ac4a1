#include "proc_memory.h"

#include <signal.h>

#include <charconv>
#include <cstdlib>
#include <sstream>

#include "deckhand/common/fs.h"

namespace deckhand::bench {

namespace {

bool parse_pid(const std::string& name, pid_t& pid) {
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
  return ec == std::errc() && end == name.data() + name.size();
}

// "12:memory:/a/b" -> "/a/b"; cgroup2's line is "0::/a/b".
std::vector<std::string> cgroup_paths(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto second = line.find(':', line.find(':') + 1);
    if (second != std::string::npos) out.push_back(line.substr(second + 1));
  }
  return out;
}

bool read_proc(pid_t pid, ProcInfo& p) {
  std::string dir = "/proc/" + std::to_string(pid);
  auto cmd = fs::read_file(dir + "/cmdline");
  auto cg = fs::read_file(dir + "/cgroup");
  if (!cmd || !cg || cmd->empty()) return false;  // gone, or a kernel thread
  p.pid = pid;
  std::string argv0 = cmd->substr(0, cmd->find('\0'));
  p.program = argv0.substr(argv0.rfind('/') + 1);
  p.cmdline = *cmd;
  for (auto& c : p.cmdline)
    if (c == '\0') c = ' ';
  p.cgroups = cgroup_paths(*cg);
  return true;
}

// "Pss:     1234 kB" -> 1234
uint64_t field_kib(const std::string& text, const std::string& key) {
  auto at = text.find("\n" + key + ":");
  if (at == std::string::npos) return 0;
  return std::strtoull(text.c_str() + at + key.size() + 2, nullptr, 10);
}

}  // namespace

std::vector<ProcInfo> list_processes() {
  std::vector<ProcInfo> out;
  for (auto& name : fs::list_dir("/proc").value_or(std::vector<std::string>{})) {
    pid_t pid;
    ProcInfo p;
    if (parse_pid(name, pid) && read_proc(pid, p)) out.push_back(std::move(p));
  }
  return out;
}

bool in_cgroup_tree(const ProcInfo& p, const std::string& tree) {
  for (auto& c : p.cgroups)
    if (c == tree || c.rfind(tree + "/", 0) == 0) return true;
  return false;
}

Result<MemoryUse> memory_of(const std::vector<pid_t>& pids) {
  MemoryUse m;
  for (pid_t pid : pids) {
    std::string path = "/proc/" + std::to_string(pid) + "/smaps_rollup";
    auto text = fs::read_file(path);
    if (!text) return tl::unexpected(text.error().context("read memory of pid {}", pid));
    // The first line is the address range header; keys follow on their own lines.
    m.pss_kib += field_kib(*text, "Pss");
    m.rss_kib += field_kib(*text, "Rss");
    ++m.processes;
  }
  return m;
}

void kill_pids(const std::vector<pid_t>& pids) {
  for (pid_t p : pids) ::kill(p, SIGKILL);
}

}  // namespace deckhand::bench
