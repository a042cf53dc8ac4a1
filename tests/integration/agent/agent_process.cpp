#include "agent_process.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "deckhand/common/fs.h"

namespace deckhand::test {

using namespace std::chrono_literals;

AgentProcess::AgentProcess(ApiWorld& api, AgentProcessOptions options) : api_(api), options_(std::move(options)) {
  kubeconfig_ = api_.issue_kubeconfig("system:node:" + options_.node, {"system:nodes"});
  REQUIRE(fs::write_file_atomic(dir_.sub("resolv.conf"), "search agent.test\n"));
  REQUIRE(fs::write_file_atomic(dir_.sub("empty.toml"), ""));
}

AgentProcess::~AgentProcess() {
  stop(SIGTERM);
  auto mountinfo = fs::read_file("/proc/self/mountinfo");
  if (!mountinfo) return;
  std::vector<std::string> under;
  std::istringstream lines(*mountinfo);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (point.rfind(dir_.path() + "/", 0) == 0) under.push_back(point);
  }
  std::sort(under.rbegin(), under.rend());  // deepest first
  for (auto& m : under) ::umount2(m.c_str(), MNT_DETACH);
}

void AgentProcess::start() {
  std::vector<std::string> args = {build_path("agent/deckhand-agent"),
                                   "--config", dir_.sub("empty.toml"),
                                   "--node-name", options_.node,
                                   "--kubeconfig", kubeconfig_,
                                   "--cri-endpoint", options_.cri_endpoint,
                                   "--root-dir", dir_.sub("state"),
                                   "--pod-log-dir", dir_.sub("pods"),
                                   "--cgroup-root", options_.cgroup_root,
                                   "--resolv-conf", dir_.sub("resolv.conf"),
                                   "--port", "0",
                                   "--lease-interval-ms", "300",
                                   "--status-interval-ms", "300",
                                   "--relist-interval-ms", "200",
                                   "--log-level", "info"};
  args.insert(args.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  ::unlink(dir_.sub("stdout").c_str());
  pid_ = start_daemon(args, dir_.sub("stdout"), dir_.sub("agent.log"));
  REQUIRE(pid_ > 0);
  bool exited = false;
  bool up = eventually(
      [&] {
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) exited = true;
        auto out = fs::read_file(dir_.sub("stdout"));
        return exited || (out && out->find("ready") != std::string::npos);
      },
      20s);
  if (exited) pid_ = -1;
  bool started = up && !exited;
  REQUIRE_MESSAGE(started, "deckhand-agent did not come up:\n" << log());
}

void AgentProcess::stop(int sig) { stop_daemon(pid_, sig); }

std::string AgentProcess::log() const {
  auto s = fs::read_file(dir_.sub("agent.log"));
  return s ? *s : "";
}

}  // namespace deckhand::test
