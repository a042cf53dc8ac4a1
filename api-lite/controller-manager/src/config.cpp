#include <algorithm>

#include "deckhand/common/daemon_settings.h"
#include "deckhand/common/text.h"
#include "deckhand/controllers/controller_manager.h"

namespace deckhand::controllers {

const std::vector<std::string>& known_controllers() {
  static const std::vector<std::string> names = {"replicaset", "deployment", "garbagecollector", "namespace", "endpoint",
                                                     "nodelifecycle", "daemonset", "job"};
  return names;
}

const char* usage() {
  return R"(Usage: deckhand-controller-manager [flags]

Runs the controllers that keep the cluster's desired state: ReplicaSets,
Deployments, the garbage collector, namespace deletion, Endpoints, node
lifecycle (taints and evictions of nodes that stop renewing their Lease),
DaemonSets, Jobs. One process, one shared informer per resource, a work queue
per controller;
with leader election, only the holder of the Lease works (it prints
"deckhand-controller-manager: leading") and it exits when it loses the Lease.

Flags (override the config file; defaults in brackets; --flag=value works too):
  --config FILE                     TOML config file [/etc/deckhand/controller-manager.toml]
  --kubeconfig FILE                 [/etc/deckhand/controller-manager.kubeconfig]
  --leader-elect BOOL               [true]
  --leader-elect-lease-duration-ms N   [15000]
  --leader-elect-renew-deadline-ms N   [10000]
  --leader-elect-retry-period-ms N     [2000]
  --lease-namespace NS              [kube-system]
  --lease-name NAME                 [deckhand-controller-manager]
  --controllers LIST                "*", names, "-name" to leave one out
                                    (replicaset, deployment, garbagecollector,
                                    namespace, endpoint, nodelifecycle,
                                    daemonset, job) [*]
  --concurrent-syncs N|NAME=N,...   workers per controller [replicaset=5,
                                    deployment=5,garbagecollector=5,namespace=2,endpoint=5,
                                    nodelifecycle=2,daemonset=2,job=5]
  --node-monitor-grace-period-ms N  a node's Lease unchanged this long makes
                                    it Ready=Unknown and unreachable [40000]
  --node-monitor-period-ms N        how often nodes are checked [5000]
  --job-backoff-ms N                a Job's failed pod is replaced after this,
                                    doubling per failure up to 6 min [10000]
  --log-level LEVEL                 trace|debug|info|warn|error|off [warn]
  -h, --help                        this text

Config file keys: the flag names with '_' for '-' (kubeconfig, leader_elect,
lease_namespace, ...); controllers is an array of strings; concurrent_syncs
an integer or a table of controller = integer.
)";
}

namespace {

// Workers per controller.
Result<int64_t> parse_workers(std::string_view v) { return parse_integer(v, 1, 1000); }

bool known(const std::string& name) {
  const auto& all = known_controllers();
  return std::find(all.begin(), all.end(), name) != all.end();
}

// --concurrent-syncs: N for every controller, or NAME=N,...
Status apply_concurrency(ControllerManagerConfig& c, const std::string& v) {
  if (v.find('=') == std::string::npos) {
    DH_TRY(n, parse_workers(v));
    for (auto& [name, workers] : c.concurrent_syncs) workers = static_cast<int>(n);
    return {};
  }
  for (const auto& part : split_nonempty(v, ',')) {
    auto eq = part.find('=');
    std::string name = part.substr(0, eq);
    if (eq == std::string::npos || !known(name))
      return fail(ErrorKind::InvalidArgument, "want N or CONTROLLER=N,..., got '{}'", part);
    DH_TRY(n, with_context(parse_workers(part.substr(eq + 1)), "{}", name));
    c.concurrent_syncs[name] = static_cast<int>(n);
  }
  return {};
}

// [concurrent_syncs] in the file: controller = N.
Status read_concurrency_table(ControllerManagerConfig& c, const toml::table& t, const std::string& origin) {
  for (auto&& [name, n] : t) {
    auto v = n.value_exact<int64_t>();
    if (!v) return fail(ErrorKind::InvalidArgument, "{}: concurrent_syncs values must be integers", origin);
    DH_CHECK(with_context(apply_concurrency(c, std::string(name.str()) + "=" + std::to_string(*v)),
                          "{}: concurrent_syncs", origin));
  }
  return {};
}

}  // namespace

Result<ControllerManagerConfig> load_config(int argc, char** argv) {
  ControllerManagerConfig c;
  DaemonSettings settings;
  settings.text("kubeconfig", c.kubeconfig)
      .texts("controllers", c.controllers)
      .parsed("concurrent-syncs", [&c](const std::string& v) { return apply_concurrency(c, v); })
      .table("concurrent-syncs",
             [&c](const toml::table& t, const std::string& origin) { return read_concurrency_table(c, t, origin); })
      .milliseconds("node-monitor-grace-period-ms", 1, c.node_monitor_grace_period)
      .milliseconds("node-monitor-period-ms", 1, c.node_monitor_period)
      .milliseconds("job-backoff-ms", 1, c.job_backoff_base)
      .text("log-level", c.log_level);
  client::add_leader_election_settings(settings, c.leader_elect, c.leader_election);
  DH_CHECK(settings.load({argv + 1, argv + argc}, c.config_file, c.show_help));
  // "a,b" in one flag or entry is two names, as kube-controller-manager reads them.
  std::vector<std::string> names;
  for (const auto& entry : c.controllers)
    for (auto& name : split_nonempty(entry, ',')) names.push_back(std::move(name));
  c.controllers = std::move(names);
  DH_CHECK(enabled_controllers(c.controllers));
  if (c.leader_elect) DH_CHECK(client::check_leader_election_timing(c.leader_election));
  return c;
}

Result<std::vector<std::string>> enabled_controllers(const std::vector<std::string>& spec) {
  bool all = false;
  std::vector<std::string> named, removed;
  for (const auto& s : spec) {
    if (s == "*") all = true;
    else if (!s.empty() && s[0] == '-' && known(s.substr(1))) removed.push_back(s.substr(1));
    else if (known(s)) named.push_back(s);
    else return fail(ErrorKind::InvalidArgument, "--controllers: unknown controller '{}'", s);
  }
  std::vector<std::string> out;
  for (const auto& name : known_controllers()) {
    bool on = (all || std::count(named.begin(), named.end(), name)) && !std::count(removed.begin(), removed.end(), name);
    if (on) out.push_back(name);
  }
  return out;
}

}  // namespace deckhand::controllers
