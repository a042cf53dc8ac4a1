#include "deckhand/agent/config.h"

#include <unistd.h>

#include <cctype>

#include "deckhand/common/daemon_settings.h"
#include "deckhand/common/text.h"

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

Status add_node_label(AgentConfig& c, const std::string& v) {
  auto eq = v.find('=');
  if (eq == std::string::npos || eq == 0) return fail(ErrorKind::InvalidArgument, "want KEY=VALUE, got '{}'", v);
  c.node_labels[v.substr(0, eq)] = v.substr(eq + 1);
  return {};
}

// [node_labels] in the file: key = "value".
Status read_node_labels(AgentConfig& c, const toml::table& t, const std::string& origin) {
  for (auto&& [key, value] : t) {
    auto v = value.value_exact<std::string>();
    if (!v) return fail(ErrorKind::InvalidArgument, "{}: node_labels values must be strings", origin);
    c.node_labels[std::string(key.str())] = *v;
  }
  return {};
}

}  // namespace

Result<AgentConfig> load_config(int argc, char** argv) {
  AgentConfig c;
  DaemonSettings settings;
  settings.text("node-name", c.node_name)
      .text("kubeconfig", c.kubeconfig)
      .text("cri-endpoint", c.cri_endpoint)
      .text("root-dir", c.root_dir)
      .text("pod-log-dir", c.pod_log_dir)
      .text("cgroup-root", c.cgroup_root)
      .text("resolv-conf", c.resolv_conf)
      .texts("cluster-dns", c.cluster_dns)
      .text("cluster-domain", c.cluster_domain)
      .parsed("node-label", [&c](const std::string& v) { return add_node_label(c, v); })
      .table("node-labels", [&c](const toml::table& t, const std::string& origin) { return read_node_labels(c, t, origin); })
      .texts("register-with-taint", c.node_taints)
      .integer("max-pods", 1, 100000, c.max_pods)
      .integer("pod-workers", 1, 1024, c.pod_workers)
      .text("pod-manifest-path", c.pod_manifest_path)
      .milliseconds("file-check-frequency-ms", 1, c.file_check_interval)
      .milliseconds("lease-interval-ms", 1, c.lease_interval)
      .milliseconds("status-interval-ms", 1, c.status_interval)
      .milliseconds("relist-interval-ms", 1, c.relist_interval)
      .milliseconds("backoff-base-ms", 1, c.backoff_base)
      .milliseconds("backoff-max-ms", 1, c.backoff_max)
      .milliseconds("backoff-reset-ms", 1, c.backoff_reset)
      .milliseconds("gc-interval-ms", 1, c.gc_interval)
      .integer("maximum-dead-containers-per-container", 0, 1000, c.max_dead_per_container)
      .integer("image-gc-high-threshold", 0, 100, c.image_gc_high_percent)
      .integer("image-gc-low-threshold", 0, 100, c.image_gc_low_percent)
      .milliseconds("minimum-image-ttl-ms", 0, c.minimum_image_ttl)
      .text("address", c.server_address)
      .integer("port", -1, 65535, c.server_port)
      .text("tls-cert-file", c.tls_cert_file)
      .text("tls-private-key-file", c.tls_key_file)
      .text("client-ca-file", c.client_ca_file)
      .text("log-level", c.log_level);
  DH_CHECK(settings.load({argv + 1, argv + argc}, c.config_file, c.show_help));
  if (c.image_gc_low_percent >= c.image_gc_high_percent && c.image_gc_high_percent < 100)
    return fail(ErrorKind::InvalidArgument, "image-gc-low-threshold ({}) must be below image-gc-high-threshold ({})",
                c.image_gc_low_percent, c.image_gc_high_percent);
  if (c.node_name.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return sys_fail("gethostname");
    c.node_name = host;
    // Node names are DNS subdomains: lower case, as kubelet lowers host names.
    c.node_name = ascii_lower(c.node_name);
  }
  return c;
}

}  // namespace deckhand::agent
