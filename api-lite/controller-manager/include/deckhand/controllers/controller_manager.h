// deckhand-controller-manager: its configuration (flags over the TOML file
// /etc/deckhand/controller-manager.toml) and the set of controllers it runs
// in one process, on shared informers, each with its own work queue.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "deckhand/client/api_client.h"
#include "deckhand/client/leader_election.h"
#include "deckhand/common/result.h"

namespace deckhand::controllers {

// The controllers by name, in start order.
const std::vector<std::string>& known_controllers();

struct ControllerManagerConfig {
  std::string config_file = "/etc/deckhand/controller-manager.toml";
  std::string kubeconfig = "/etc/deckhand/controller-manager.kubeconfig";
  bool leader_elect = true;
  client::LeaderElectionConfig leader_election = {.lease_name = "deckhand-controller-manager"};
  // As kube-controller-manager's --controllers: "*" is every controller,
  // "name" adds one, "-name" removes one.
  std::vector<std::string> controllers = {"*"};
  // Workers per controller.
  std::map<std::string, int> concurrent_syncs = {
      {"replicaset", 5}, {"deployment", 5}, {"garbagecollector", 5}, {"namespace", 2}, {"endpoint", 5},
      {"nodelifecycle", 2}, {"daemonset", 2}, {"job", 5}};
  // Job: the first delay before a failed pod is replaced, doubling (kube's 10 s).
  std::chrono::milliseconds job_backoff_base{10000};
  // Node lifecycle: how long a node's Lease may stay unchanged, and how often nodes are looked at.
  std::chrono::milliseconds node_monitor_grace_period{40000};
  std::chrono::milliseconds node_monitor_period{5000};
  std::string log_level = "warn";
  bool show_help = false;
};

// The config file (--config, else the default if present), then flags over it.
Result<ControllerManagerConfig> load_config(int argc, char** argv);
const char* usage();
// The controllers --controllers selects, in start order; unknown names fail.
Result<std::vector<std::string>> enabled_controllers(const std::vector<std::string>& spec);

class ControllerManager {
 public:
  // Starts the selected controllers and their informers, waits (up to
  // sync_timeout) until the informers have listed, then starts the workers.
  static Result<std::unique_ptr<ControllerManager>> start(std::shared_ptr<client::ApiClient> api,
                                                          const ControllerManagerConfig& config,
                                                          std::chrono::milliseconds sync_timeout = std::chrono::seconds(60));
  // Stops the workers, then the informers.
  virtual ~ControllerManager() = default;
};

}  // namespace deckhand::controllers
