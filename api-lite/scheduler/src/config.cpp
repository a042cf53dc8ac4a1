#include "deckhand/scheduler/config.h"

#include <cstdlib>
#include <functional>
#include <vector>

#include "deckhand/common/toml_config.h"

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

namespace {

Result<int64_t> parse_number(const std::string& what, const std::string& v, int64_t min, int64_t max) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || !end || *end || n < min || n > max)
    return fail(ErrorKind::InvalidArgument, "{}: want a number from {} to {}, got '{}'", what, min, max, v);
  return n;
}

Result<bool> parse_bool(const std::string& what, const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  return fail(ErrorKind::InvalidArgument, "{}: want true or false, got '{}'", what, v);
}

struct IntSetting {
  const char* name;  // flag name without "--"; the TOML key has '_' for '-'
  int64_t min, max;
  std::function<void(SchedulerConfig&, int64_t)> set;
};

const std::vector<IntSetting>& int_settings() {
  using ms = std::chrono::milliseconds;
  static const std::vector<IntSetting> settings = {
      {"leader-elect-lease-duration-ms", 100, 3600000, [](SchedulerConfig& c, int64_t v) { c.lease_duration = ms(v); }},
      {"leader-elect-renew-deadline-ms", 50, 3600000, [](SchedulerConfig& c, int64_t v) { c.renew_deadline = ms(v); }},
      {"leader-elect-retry-period-ms", 10, 3600000, [](SchedulerConfig& c, int64_t v) { c.retry_period = ms(v); }},
      {"backoff-initial-ms", 1, 3600000, [](SchedulerConfig& c, int64_t v) { c.options.backoff_initial = ms(v); }},
      {"backoff-max-ms", 1, 3600000, [](SchedulerConfig& c, int64_t v) { c.options.backoff_max = ms(v); }},
      {"parallel-binds", 1, 256, [](SchedulerConfig& c, int64_t v) { c.options.bind_threads = static_cast<int>(v); }},
  };
  return settings;
}

std::string toml_key(const char* flag) {
  std::string key = flag;
  for (char& ch : key)
    if (ch == '-') ch = '_';
  return key;
}

}  // namespace

Status apply_toml(const std::string& text, const std::string& origin, SchedulerConfig& c) {
  DH_TRY(t, parse_toml(text, origin));
  DH_CHECK(read_toml_string(t, "kubeconfig", c.kubeconfig, origin));
  DH_CHECK(read_toml_string(t, "scheduler_name", c.options.scheduler_name, origin));
  DH_CHECK(read_toml_string(t, "lease_namespace", c.lease_namespace, origin));
  DH_CHECK(read_toml_string(t, "lease_name", c.lease_name, origin));
  DH_CHECK(read_toml_string(t, "log_level", c.log_level, origin));
  if (auto node = t["leader_elect"]) {
    auto v = node.value<bool>();
    if (!v) return fail(ErrorKind::InvalidArgument, "{}: leader_elect must be a boolean", origin);
    c.leader_elect = *v;
  }
  for (const IntSetting& s : int_settings()) {
    std::string key = toml_key(s.name);
    auto node = t[key];
    if (!node) continue;
    auto v = node.value<int64_t>();
    if (!v || *v < s.min || *v > s.max)
      return fail(ErrorKind::InvalidArgument, "{}: {} must be an integer from {} to {}", origin, key, s.min, s.max);
    s.set(c, *v);
  }
  return {};
}

Result<SchedulerConfig> load_config(int argc, char** argv) {
  SchedulerConfig c;
  std::vector<std::string> args(argv + 1, argv + argc);
  DH_TRY(text, read_config_file(args, c.config_file));
  if (text) DH_CHECK(apply_toml(*text, c.config_file, c));
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      c.show_help = true;
      continue;
    }
    std::string v;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      v = a.substr(eq + 1);  // --flag=value, as kube-scheduler's flags are often written
      a = a.substr(0, eq);
    } else if (a == "--leader-elect") {
      v = "true";  // a bare boolean flag
      if (i + 1 < args.size() && (args[i + 1] == "true" || args[i + 1] == "false")) v = args[++i];
    } else {
      if (i + 1 >= args.size()) return fail(ErrorKind::InvalidArgument, "unknown flag or missing value: {}", a);
      v = args[++i];
    }
    if (a == "--config") continue;
    if (a == "--kubeconfig") c.kubeconfig = v;
    else if (a == "--scheduler-name") c.options.scheduler_name = v;
    else if (a == "--lease-namespace") c.lease_namespace = v;
    else if (a == "--lease-name") c.lease_name = v;
    else if (a == "--log-level") c.log_level = v;
    else if (a == "--leader-elect") {
      DH_TRY(b, parse_bool(a, v));
      c.leader_elect = b;
    } else {
      const IntSetting* setting = nullptr;
      for (const IntSetting& s : int_settings())
        if (a == std::string("--") + s.name) setting = &s;
      if (setting == nullptr) return fail(ErrorKind::InvalidArgument, "unknown flag: {}", a);
      DH_TRY(n, parse_number(a, v, setting->min, setting->max));
      setting->set(c, n);
    }
  }
  if (c.options.scheduler_name.empty()) return fail(ErrorKind::InvalidArgument, "--scheduler-name must not be empty");
  if (c.options.backoff_max < c.options.backoff_initial)
    return fail(ErrorKind::InvalidArgument, "--backoff-max-ms must be at least --backoff-initial-ms");
  if (c.leader_elect && (c.renew_deadline >= c.lease_duration || c.retry_period >= c.renew_deadline))
    return fail(ErrorKind::InvalidArgument,
                "leader election wants retry period < renew deadline < lease duration");
  return c;
}

}  // namespace deckhand::scheduler
