// deckhand-controller-manager: parse flags, campaign for the Lease (unless
// --leader-elect=false), run the controllers while leading; exit on
// SIGTERM/SIGINT, and with status 1 on losing the Lease.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "deckhand/client/kubeconfig.h"
#include "deckhand/client/leader_election.h"
#include "deckhand/common/log.h"
#include "deckhand/common/process.h"
#include "deckhand/controllers/controller_manager.h"

namespace {

std::atomic<bool> lost_lease{false};

int fail_with(const char* what, const std::string& message) {
  std::fprintf(stderr, "deckhand-controller-manager: %s%s\n", what, message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace deckhand;
  using namespace deckhand::controllers;
  auto config = load_config(argc, argv);
  if (!config) return fail_with("", config.error().message);
  if (config->show_help) {
    std::fputs(usage(), stdout);
    return 0;
  }
  if (!log::init(config->log_level)) return fail_with("unknown log level ", config->log_level);
  auto client_config = client::load_kubeconfig(config->kubeconfig);
  if (!client_config) return fail_with("", client_config.error().message);

  // Every thread started from here on blocks these; main waits for them.
  // SIGUSR1 is "this process now leads".
  sigset_t sigs = block_termination_signals();
  sigaddset(&sigs, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  auto api = client::ApiClient::create(*client_config);
  if (!api) return fail_with("", api.error().message);
  std::unique_ptr<client::LeaderElector> elector;
  if (config->leader_elect) {
    client::LeaderElectionConfig le = config->leader_election;
    le.identity = client::default_leader_identity();
    le.on_started_leading = [] { ::kill(::getpid(), SIGUSR1); };
    le.on_stopped_leading = [] {
      lost_lease = true;
      ::kill(::getpid(), SIGTERM);
    };
    auto started = client::start_leader_elector(*client_config, std::move(le));
    if (!started) return fail_with("leader election: ", started.error().message);
    elector = std::move(*started);
  } else {
    ::kill(::getpid(), SIGUSR1);
  }

  std::unique_ptr<ControllerManager> manager;
  int sig = 0;
  while (sigwait(&sigs, &sig) == 0 && sig == SIGUSR1) {
    if (manager) continue;
    std::printf("deckhand-controller-manager: leading\n");
    std::fflush(stdout);
    auto started = ControllerManager::start(*api, *config);
    if (!started) return fail_with("", started.error().message);
    manager = std::move(*started);
  }
  if (lost_lease) std::fprintf(stderr, "deckhand-controller-manager: lost the lease, stopping\n");
  manager.reset();
  elector.reset();
  return lost_lease ? 1 : 0;
}
