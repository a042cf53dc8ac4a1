// deckhand-scheduler's command line and config file (/etc/deckhand/scheduler.toml).
#pragma once

#include <chrono>
#include <string>

#include "deckhand/client/leader_election.h"
#include "deckhand/scheduler/scheduler.h"

namespace deckhand::scheduler {

struct SchedulerConfig {
  SchedulerOptions options;
  std::string config_file = "/etc/deckhand/scheduler.toml";
  std::string kubeconfig = "/etc/deckhand/admin.kubeconfig";
  bool leader_elect = true;
  client::LeaderElectionConfig leader_election = {.lease_name = "deckhand-scheduler"};
  std::string log_level = "warn";
  bool show_help = false;
};

// Config file first, then flags over it. Errors name the flag or key.
Result<SchedulerConfig> load_config(int argc, char** argv);
const char* usage();

}  // namespace deckhand::scheduler
