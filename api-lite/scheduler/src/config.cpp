#include "deckhand/scheduler/config.h"

#include "deckhand/common/daemon_settings.h"

namespace deckhand::scheduler {

const char* usage() {
  return R"(Usage: deckhand-scheduler [flags]

Assigns pending pods (no spec.nodeName, spec.schedulerName equal to its name)
to nodes through pods/binding, after kube-scheduler's filters and scores; a pod
that fits nowhere gets a FailedScheduling event and is retried with back-off,
and sooner when the cluster changes. With leader election, one of several
instances schedules; it exits when it loses the Lease.

Flags (override the config file; defaults in brackets):
  --config FILE                        TOML config file [/etc/deckhand/scheduler.toml]
  --kubeconfig FILE                    [/etc/deckhand/admin.kubeconfig]
  --scheduler-name NAME                [default-scheduler]
  --leader-elect true|false            [true]
  --leader-elect-lease-duration-ms N   [15000]
  --leader-elect-renew-deadline-ms N   [10000]
  --leader-elect-retry-period-ms N     [2000]
  --lease-namespace NS                 [kube-system]
  --lease-name NAME                    [deckhand-scheduler]
  --backoff-initial-ms N               first retry of an unschedulable pod [1000]
  --backoff-max-ms N                   [10000]
  --parallel-binds N                   binding requests in flight [8]
  --log-level LEVEL                    trace|debug|info|warn|error|off [warn]
  -h, --help                           this text

Config file keys: the flag names with '_' for '-' (kubeconfig, scheduler_name,
leader_elect (boolean), leader_elect_lease_duration_ms, ...).
)";
}

Result<SchedulerConfig> load_config(int argc, char** argv) {
  SchedulerConfig c;
  DaemonSettings settings;
  settings.text("kubeconfig", c.kubeconfig)
      .text("scheduler-name", c.options.scheduler_name)
      .milliseconds("backoff-initial-ms", 1, c.options.backoff_initial)
      .milliseconds("backoff-max-ms", 1, c.options.backoff_max)
      .integer("parallel-binds", 1, 256, c.options.bind_threads)
      .text("log-level", c.log_level);
  client::add_leader_election_settings(settings, c.leader_elect, c.leader_election);
  DH_CHECK(settings.load({argv + 1, argv + argc}, c.config_file, c.show_help));
  if (c.options.scheduler_name.empty()) return fail(ErrorKind::InvalidArgument, "--scheduler-name must not be empty");
  if (c.options.backoff_max < c.options.backoff_initial)
    return fail(ErrorKind::InvalidArgument, "--backoff-max-ms must be at least --backoff-initial-ms");
  if (c.leader_elect) DH_CHECK(client::check_leader_election_timing(c.leader_election));
  return c;
}

}  // namespace deckhand::scheduler
