// A whole single-node cluster for an end-to-end test, every part a real
// process: deckhand-apiserver (ApiWorld), two deckhand-schedulers and one
// deckhand-controller-manager with test-short leader election, deckhand-cri
// (CriWorld) with the busybox fixture imported, and a deckhand-agent for
// the node. On destruction the pods are deleted through the API first, so
// that the agent stops them; the worlds remove the rest.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "agent_process.h"
#include "api_world.h"
#include "cri_world.h"
#include "deckhand/client/api_client.h"
#include "deckhand/common/json.h"

namespace deckhand::test {

// A control-plane program (scheduler, controller-manager) as a child
// process; its stdout and log are files in the API world's directory.
class ControlPlaneProcess {
 public:
  // program: the build path; name: a unique label for its files.
  ControlPlaneProcess(ApiWorld& api, const std::string& program, const std::string& name,
                      const std::vector<std::string>& extra_flags);
  ~ControlPlaneProcess();
  ControlPlaneProcess(const ControlPlaneProcess&) = delete;
  ControlPlaneProcess& operator=(const ControlPlaneProcess&) = delete;

  // Whether its stdout says it holds the Lease ("<program>: leading").
  bool leading() const;
  // Sends sig and reaps it (SIGKILL after 10 s).
  void stop(int sig);
  bool running() const { return pid_ > 0; }
  const std::string& name() const { return name_; }
  // Its stdout and log, for failure messages.
  std::string output() const;

 private:
  std::string program_name_, name_, stdout_path_, log_path_;
  pid_t pid_ = -1;
};

class ClusterWorld {
 public:
  ClusterWorld();
  ~ClusterWorld();
  ClusterWorld(const ClusterWorld&) = delete;
  ClusterWorld& operator=(const ClusterWorld&) = delete;

  ApiWorld& api() { return *api_; }
  const std::string& node() const { return node_; }
  const std::string& subnet_prefix() const { return cri_->subnet_prefix(); }
  std::vector<std::unique_ptr<ControlPlaneProcess>>& schedulers() { return schedulers_; }
  // An API client with the admin kubeconfig, for watches.
  client::ApiClient& client() { return *client_; }

  // kubectl that must succeed (REQUIREd, with its output as the message).
  RunOutput kubectl_ok(const std::vector<std::string>& args, const std::string& stdin_data = "");
  // `kubectl get <what> -o json`: the object or list; an empty object when kubectl fails.
  Json get_json(const std::vector<std::string>& what);
  // Pods matching a label selector in a namespace (items of the list).
  std::vector<Json> pods(const std::string& selector, const std::string& ns = "default");
  // Events about an object (any namespace-local kind) by name.
  std::vector<Json> events_for(const std::string& name, const std::string& ns = "default");

  // The tails of every process's log, for failure messages.
  std::string logs() const;

 private:
  void wait_node_ready();

  std::unique_ptr<CriWorld> cri_;
  std::unique_ptr<ApiWorld> api_;
  std::shared_ptr<client::ApiClient> client_;
  std::string node_;
  std::unique_ptr<AgentProcess> agent_;
  std::vector<std::unique_ptr<ControlPlaneProcess>> schedulers_;
  std::unique_ptr<ControlPlaneProcess> controller_manager_;
};

// Pod helpers on `kubectl get -o json` objects.
std::string pod_phase(const Json& pod);
bool pod_ready(const Json& pod);           // the Ready condition is True
bool pod_terminating(const Json& pod);     // has a deletionTimestamp
std::string pod_name(const Json& pod);
std::string pod_condition_message(const Json& pod, const std::string& type);

}  // namespace deckhand::test
