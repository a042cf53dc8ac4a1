// deckhand-scheduler: parse flags; with leader election, wait to lead, then
// schedule until SIGTERM/SIGINT; exit at once when leadership is lost.
#include <pthread.h>
#include <signal.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "deckhand/client/kubeconfig.h"
#include "deckhand/client/leader_election.h"
#include "deckhand/common/log.h"
#include "deckhand/common/process.h"
#include "deckhand/scheduler/config.h"

namespace {

using namespace deckhand;

int cannot_start(const std::string& why) {
  std::fprintf(stderr, "deckhand-scheduler: %s\n", why.c_str());
  return 1;
}

// What the main thread waits for: leadership (or no election) and a signal.
struct Events {
  std::mutex mu;
  std::condition_variable cv;
  bool leading = false;
  bool terminate = false;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace deckhand::scheduler;
  auto config = load_config(argc, argv);
  if (!config) return cannot_start(config.error().message);
  if (config->show_help) {
    std::fputs(usage(), stdout);
    return 0;
  }
  if (!log::init(config->log_level)) return cannot_start("unknown log level " + config->log_level);
  auto client_config = client::load_kubeconfig(config->kubeconfig);
  if (!client_config) return cannot_start(client_config.error().message);
  auto api = client::ApiClient::create(*client_config);
  if (!api) return cannot_start(api.error().message);

  sigset_t sigs = block_termination_signals();
  Events events;
  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    std::lock_guard lock(events.mu);
    events.terminate = true;
    events.cv.notify_all();
  });
  signal_waiter.detach();  // lives until the process ends

  std::string identity = client::default_leader_identity();
  std::unique_ptr<client::LeaderElector> elector;
  if (config->leader_elect) {
    client::LeaderElectionConfig le = config->leader_election;
    le.identity = identity;
    le.on_started_leading = [&events] {
      std::lock_guard lock(events.mu);
      events.leading = true;
      events.cv.notify_all();
    };
    le.on_stopped_leading = [] {
      std::fprintf(stderr, "deckhand-scheduler: leaderelection lost\n");
      std::fflush(stdout);
      std::_Exit(1);  // as kube-scheduler: stop scheduling at once, the supervisor restarts us
    };
    auto started = client::start_leader_elector(*client_config, std::move(le));
    if (!started) return cannot_start(started.error().message);
    elector = std::move(*started);
  } else {
    events.leading = true;
  }

  {
    std::unique_lock lock(events.mu);
    events.cv.wait(lock, [&] { return events.leading || events.terminate; });
    if (events.terminate) return 0;  // the elector releases nothing it does not hold
  }
  config->options.identity = identity;
  auto scheduler = Scheduler::start(*api, config->options);
  if (!scheduler) return cannot_start(scheduler.error().message);
  std::printf("deckhand-scheduler: leading as %s\n", identity.c_str());
  std::fflush(stdout);
  {
    std::unique_lock lock(events.mu);
    events.cv.wait(lock, [&] { return events.terminate; });
  }
  scheduler->reset();
  elector.reset();  // hands the Lease over to a standby at once
  return 0;
}
