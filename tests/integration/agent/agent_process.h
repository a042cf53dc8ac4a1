// The deckhand-agent program run as a child for a test, as an operator runs
// it: a node certificate from `deckhand-apiserver issue-cert`, a CRI runtime
// by endpoint, its own state and log dirs, a resolv.conf with no nameserver
// (pods must not send DNS queries off the machine) and test-short intervals.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "api_world.h"
#include "test_env.h"

namespace deckhand::test {

struct AgentProcessOptions {
  std::string node;
  std::string cri_endpoint;  // unix://...
  std::string cgroup_root;
  std::vector<std::string> extra_flags;
};

class AgentProcess {
 public:
  AgentProcess(ApiWorld& api, AgentProcessOptions options);
  // Stops it; volumes a crashed agent left mounted are unmounted, so that its directory goes.
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  // Starts it and waits for "ready" on its stdout (REQUIREs it).
  void start();
  // Sends sig and waits for the exit (SIGKILL after 10 s).
  void stop(int sig);
  std::string log() const;
  std::string state_dir() const { return dir_.sub("state"); }

 private:
  ApiWorld& api_;
  AgentProcessOptions options_;
  TempDir dir_{"deckhand-agent"};
  std::string kubeconfig_;
  pid_t pid_ = -1;
};

}  // namespace deckhand::test
