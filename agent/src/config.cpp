#include "deckhand/agent/config.h"

#include <unistd.h>

#include <cctype>

#include "deckhand/common/toml_config.h"

namespace deckhand::agent {

const char* usage() {
  return R"(Usage: deckhand-agent [flags]

The node agent: registers this node with deckhand-apiserver, keeps its status
and Lease fresh, and runs the pods bound to it through a CRI runtime
(deckhand-cri, or containerd by its endpoint).

Flags (override the config file; defaults in brackets):
  --config FILE              TOML config file [/etc/deckhand/agent.toml]
  --node-name NAME           [the host name]
  --kubeconfig FILE          credentials of system:node:<name> [/etc/deckhand/agent.kubeconfig];
                             "" runs without an apiserver (static pods only)
  --cri-endpoint URL         [unix:///run/deckhand/cri.sock]
  --root-dir DIR             agent state [/var/lib/deckhand/agent]
  --pod-log-dir DIR          [/var/log/pods]
  --cgroup-root PATH         pod cgroups, by QoS class, under it [/deckhand-pods]
  --resolv-conf FILE         resolv.conf for dnsPolicy Default [/etc/resolv.conf]
  --cluster-dns IP           nameserver for ClusterFirst pods (repeatable)
  --cluster-domain DOMAIN    [cluster.local]
  --node-label KEY=VALUE     (repeatable)
  --register-with-taint KEY=VALUE:EFFECT  (repeatable)
  --max-pods N               [110]
  --pod-workers N            pods synced at the same time [16]
  --pod-manifest-path DIR    static pods: one manifest (YAML or JSON) per file [none]
  --file-check-frequency-ms N  how often that directory is read again [20000]
  --lease-interval-ms N      [10000]
  --status-interval-ms N     [10000]
  --relist-interval-ms N     [1000]
  --backoff-base-ms N        CrashLoopBackOff first delay [10000]
  --backoff-max-ms N         [300000]
  --backoff-reset-ms N       clean running that resets the back-off [600000]
  --gc-interval-ms N         garbage collection of containers and images [60000]
  --maximum-dead-containers-per-container N  exited instances kept per container [1]
  --image-gc-high-threshold PERCENT  image filesystem use that starts image GC; 100: never [85]
  --image-gc-low-threshold PERCENT   image GC frees down to this [80]
  --minimum-image-ttl-ms N   an unused image is kept at least this long [120000]
  --address IP               the node server's address [0.0.0.0]
  --port N                   the node server's HTTPS port; 0 picks one, -1 runs none [10250]
  --tls-cert-file FILE       its serving certificate [self-signed, under <root-dir>/pki]
  --tls-private-key-file FILE
  --client-ca-file FILE      CA of the clients allowed in (the apiserver) [the kubeconfig's cluster CA]
  --log-level LEVEL          trace|debug|info|warn|error|off [warn]
  -h, --help                 this text

Config file keys: the flag names with '_' for '-' (node_name, kubeconfig,
cri_endpoint, ...); cluster_dns and register_with_taint are arrays;
[node_labels] is a table.
)";
}

namespace {

Result<int64_t> parse_number(const std::string& what, const std::string& v, int64_t min) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || !end || *end || n < min)
    return fail(ErrorKind::InvalidArgument, "{}: want a number >= {}, got '{}'", what, min, v);
  return n;
}

// Applies one setting, named as the flag without "--"; both the flags and
// the config file go through here.
Status apply(AgentConfig& c, const std::string& key, const std::string& v) {
  auto ms = [&](std::chrono::milliseconds& dst) -> Status {
    DH_TRY(n, parse_number(key, v, 1));
    dst = std::chrono::milliseconds(n);
    return {};
  };
  if (key == "node-name") c.node_name = v;
  else if (key == "kubeconfig") c.kubeconfig = v;
  else if (key == "cri-endpoint") c.cri_endpoint = v;
  else if (key == "root-dir") c.root_dir = v;
  else if (key == "pod-log-dir") c.pod_log_dir = v;
  else if (key == "cgroup-root") c.cgroup_root = v;
  else if (key == "resolv-conf") c.resolv_conf = v;
  else if (key == "cluster-dns") c.cluster_dns.push_back(v);
  else if (key == "cluster-domain") c.cluster_domain = v;
  else if (key == "register-with-taint") c.node_taints.push_back(v);
  else if (key == "log-level") c.log_level = v;
  else if (key == "address") c.server_address = v;
  else if (key == "tls-cert-file") c.tls_cert_file = v;
  else if (key == "tls-private-key-file") c.tls_key_file = v;
  else if (key == "client-ca-file") c.client_ca_file = v;
  else if (key == "pod-manifest-path") c.pod_manifest_path = v;
  else if (key == "node-label") {
    auto eq = v.find('=');
    if (eq == std::string::npos || eq == 0) return fail(ErrorKind::InvalidArgument, "node-label: want KEY=VALUE, got '{}'", v);
    c.node_labels[v.substr(0, eq)] = v.substr(eq + 1);
  } else if (key == "max-pods") {
    DH_TRY(n, parse_number(key, v, 1));
    c.max_pods = n;
  } else if (key == "pod-workers") {
    DH_TRY(n, parse_number(key, v, 1));
    c.pod_workers = n;
  } else if (key == "maximum-dead-containers-per-container") {
    DH_TRY(n, parse_number(key, v, 0));
    c.max_dead_per_container = n;
  } else if (key == "image-gc-high-threshold" || key == "image-gc-low-threshold") {
    DH_TRY(n, parse_number(key, v, 0));
    if (n > 100) return fail(ErrorKind::InvalidArgument, "{}: {} is not a percentage", key, n);
    (key == "image-gc-high-threshold" ? c.image_gc_high_percent : c.image_gc_low_percent) = n;
  } else if (key == "port") {
    DH_TRY(n, parse_number(key, v, -1));
    if (n > 65535) return fail(ErrorKind::InvalidArgument, "port: {} is not a port", n);
    c.server_port = n;
  } else if (key == "lease-interval-ms") return ms(c.lease_interval);
  else if (key == "status-interval-ms") return ms(c.status_interval);
  else if (key == "relist-interval-ms") return ms(c.relist_interval);
  else if (key == "file-check-frequency-ms") return ms(c.file_check_interval);
  else if (key == "gc-interval-ms") return ms(c.gc_interval);
  else if (key == "minimum-image-ttl-ms") {
    DH_TRY(n, parse_number(key, v, 0));
    c.minimum_image_ttl = std::chrono::milliseconds(n);
  }
  else if (key == "backoff-base-ms") return ms(c.backoff_base);
  else if (key == "backoff-max-ms") return ms(c.backoff_max);
  else if (key == "backoff-reset-ms") return ms(c.backoff_reset);
  else return fail(ErrorKind::InvalidArgument, "unknown setting: {}", key);
  return {};
}

Status apply_toml(const std::string& text, const std::string& origin, AgentConfig& c) {
  DH_TRY(t, parse_toml(text, origin));
  for (auto&& [k, node] : t) {
    std::string key(k.str());
    for (char& ch : key)
      if (ch == '_') ch = '-';
    if (key == "node-labels") {
      auto table = node.as_table();
      if (!table) return fail(ErrorKind::InvalidArgument, "{}: node_labels must be a table", origin);
      for (auto&& [lk, lv] : *table) {
        auto s = lv.value<std::string>();
        if (!s) return fail(ErrorKind::InvalidArgument, "{}: node_labels values must be strings", origin);
        c.node_labels[std::string(lk.str())] = *s;
      }
    } else if (auto arr = node.as_array()) {
      for (auto& item : *arr) {
        auto s = item.value<std::string>();
        if (!s) return fail(ErrorKind::InvalidArgument, "{}: {} must hold strings", origin, k.str());
        DH_CHECK(with_context(apply(c, key, *s), "{}", origin));
      }
    } else if (auto s = node.value<std::string>()) {
      DH_CHECK(with_context(apply(c, key, *s), "{}", origin));
    } else if (auto n = node.value<int64_t>()) {
      DH_CHECK(with_context(apply(c, key, std::to_string(*n)), "{}", origin));
    } else {
      return fail(ErrorKind::InvalidArgument, "{}: key '{}' has an unsupported type", origin, k.str());
    }
  }
  return {};
}

}  // namespace

Result<AgentConfig> load_config(int argc, char** argv) {
  AgentConfig c;
  std::vector<std::string> args(argv + 1, argv + argc);
  DH_TRY(text, read_config_file(args, c.config_file));
  if (text) DH_CHECK(apply_toml(*text, c.config_file, c));
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      c.show_help = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || i + 1 >= args.size())
      return fail(ErrorKind::InvalidArgument, "unknown flag or missing value: {}", a);
    const std::string& v = args[++i];
    if (a == "--config") continue;
    DH_CHECK(apply(c, a.substr(2), v));
  }
  if (c.image_gc_low_percent >= c.image_gc_high_percent && c.image_gc_high_percent < 100)
    return fail(ErrorKind::InvalidArgument, "image-gc-low-threshold ({}) must be below image-gc-high-threshold ({})",
                c.image_gc_low_percent, c.image_gc_high_percent);
  if (c.node_name.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return sys_fail("gethostname");
    c.node_name = host;
    // Node names are DNS subdomains: lower case, as kubelet lowers host names.
    for (char& ch : c.node_name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return c;
}

}  // namespace deckhand::agent
