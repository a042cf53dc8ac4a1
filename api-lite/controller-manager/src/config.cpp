#include <cstdlib>

#include "deckhand/common/text.h"
#include "deckhand/common/toml_config.h"
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

Result<int64_t> parse_number(const std::string& what, const std::string& v, int64_t min) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || end == nullptr || *end != '\0' || n < min)
    return fail(ErrorKind::InvalidArgument, "{}: want a number >= {}, got '{}'", what, min, v);
  return n;
}

Result<bool> parse_bool(const std::string& what, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return fail(ErrorKind::InvalidArgument, "{}: want true or false, got '{}'", what, v);
}

bool known(const std::string& name) {
  const auto& all = known_controllers();
  return std::find(all.begin(), all.end(), name) != all.end();
}

Status apply_concurrency(ControllerManagerConfig& c, const std::string& v) {
  if (v.find('=') == std::string::npos) {
    DH_TRY(n, parse_number("concurrent-syncs", v, 1));
    for (auto& [name, workers] : c.concurrent_syncs) workers = static_cast<int>(n);
    return {};
  }
  for (const auto& part : split_nonempty(v, ',')) {
    auto eq = part.find('=');
    std::string name = part.substr(0, eq);
    if (eq == std::string::npos || !known(name))
      return fail(ErrorKind::InvalidArgument, "concurrent-syncs: want N or CONTROLLER=N,..., got '{}'", part);
    DH_TRY(n, parse_number("concurrent-syncs " + name, part.substr(eq + 1), 1));
    c.concurrent_syncs[name] = static_cast<int>(n);
  }
  return {};
}

// One setting, named as its flag without "--"; flags and the file both come here.
Status apply(ControllerManagerConfig& c, const std::string& key, const std::string& v) {
  auto ms = [&](std::chrono::milliseconds& dst) -> Status {
    DH_TRY(n, parse_number(key, v, 1));
    dst = std::chrono::milliseconds(n);
    return {};
  };
  if (key == "kubeconfig") c.kubeconfig = v;
  else if (key == "lease-namespace") c.lease_namespace = v;
  else if (key == "lease-name") c.lease_name = v;
  else if (key == "log-level") c.log_level = v;
  else if (key == "controllers") c.controllers = split_nonempty(v, ',');
  else if (key == "concurrent-syncs") return apply_concurrency(c, v);
  else if (key == "leader-elect") {
    DH_TRY(b, parse_bool(key, v));
    c.leader_elect = b;
  } else if (key == "leader-elect-lease-duration-ms") return ms(c.lease_duration);
  else if (key == "leader-elect-renew-deadline-ms") return ms(c.renew_deadline);
  else if (key == "leader-elect-retry-period-ms") return ms(c.retry_period);
  else if (key == "node-monitor-grace-period-ms") return ms(c.node_monitor_grace_period);
  else if (key == "node-monitor-period-ms") return ms(c.node_monitor_period);
  else if (key == "job-backoff-ms") return ms(c.job_backoff_base);
  else return fail(ErrorKind::InvalidArgument, "unknown setting: {}", key);
  return {};
}

}  // namespace

Status apply_toml(const std::string& text, const std::string& origin, ControllerManagerConfig& c) {
  DH_TRY(t, parse_toml(text, origin));
  for (auto&& [k, node] : t) {
    std::string key(k.str());
    for (char& ch : key)
      if (ch == '_') ch = '-';
    if (auto table = node.as_table(); table && key == "concurrent-syncs") {
      for (auto&& [name, n] : *table) {
        auto v = n.value<int64_t>();
        if (!v) return fail(ErrorKind::InvalidArgument, "{}: concurrent_syncs values must be integers", origin);
        DH_CHECK(with_context(apply_concurrency(c, std::string(name.str()) + "=" + std::to_string(*v)), "{}", origin));
      }
    } else if (auto arr = node.as_array(); arr && key == "controllers") {
      c.controllers.clear();
      for (auto& item : *arr) {
        auto s = item.value<std::string>();
        if (!s) return fail(ErrorKind::InvalidArgument, "{}: controllers must hold strings", origin);
        c.controllers.push_back(*s);
      }
    } else if (node.is_boolean()) {
      DH_CHECK(with_context(apply(c, key, *node.value<bool>() ? "true" : "false"), "{}", origin));
    } else if (auto s = node.value_exact<std::string>()) {
      DH_CHECK(with_context(apply(c, key, *s), "{}", origin));
    } else if (auto n = node.value_exact<int64_t>(); n && (key.ends_with("-ms") || key == "concurrent-syncs")) {
      DH_CHECK(with_context(apply(c, key, std::to_string(*n)), "{}", origin));
    } else {
      return fail(ErrorKind::InvalidArgument, "{}: key '{}' has an unsupported type", origin, k.str());
    }
  }
  return {};
}

Result<ControllerManagerConfig> load_config(int argc, char** argv) {
  ControllerManagerConfig c;
  std::vector<std::string> args(argv + 1, argv + argc);
  DH_TRY(text, read_config_file(args, c.config_file));
  if (text) DH_CHECK(apply_toml(*text, c.config_file, c));
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      c.show_help = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) return fail(ErrorKind::InvalidArgument, "unexpected argument: {}", a);
    std::string key = a.substr(2), value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key.resize(eq);
    } else if (key == "leader-elect") {
      // A bare boolean flag, or one followed by its value.
      bool next_is_value = i + 1 < args.size() && (args[i + 1] == "true" || args[i + 1] == "false");
      value = next_is_value ? args[++i] : "true";
    } else {
      if (i + 1 >= args.size()) return fail(ErrorKind::InvalidArgument, "flag --{} needs a value", key);
      value = args[++i];
    }
    if (key == "config") continue;
    DH_CHECK(with_context(apply(c, key, value), "--{}", key));
  }
  DH_CHECK(enabled_controllers(c.controllers));
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
