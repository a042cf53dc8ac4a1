#include "deckhand/apiserver/config.h"


#include "deckhand/common/toml_config.h"

namespace deckhand::apiserver {

const char* usage() {
  return R"(Usage: deckhand-apiserver [flags]
       deckhand-apiserver issue-cert --user NAME [--group G]... --out DIR [--server URL] [--pki-dir DIR]

Serves the Kubernetes API (core/v1, apps/v1, coordination.k8s.io/v1) over
HTTPS for kubectl and the other deckhand components, on an embedded SQLite
store. On first start it makes a CA and certificates under the PKI dir and an
admin kubeconfig. issue-cert makes a client certificate and kubeconfig from
that CA (a node agent's is --user system:node:NAME --group system:nodes).

Flags (override the config file; defaults in brackets):
  --config FILE            TOML config file [/etc/deckhand/apiserver.toml]
  --data-dir DIR           store and state [/var/lib/deckhand/apiserver]
  --pki-dir DIR            CA and certificates [<data-dir>/pki]
  --admin-kubeconfig FILE  written on first start [/etc/deckhand/admin.kubeconfig]
  --bind-address ADDR      [0.0.0.0]
  --port N                 [6443]
  --cert-host NAME|IP      extra name in the serving certificate (repeatable)
  --token-file FILE        static bearer tokens: token,user,uid,"group1,group2"
  --service-cidr CIDR      service cluster IPs [10.96.0.0/16]
  --max-body-bytes N       larger request bodies are refused [3145728]
  --bookmark-interval-s N  watch bookmarks every N seconds [60]
  --insecure-http          plain HTTP on a loopback address, no authentication
                           (every request acts as admin): tests only
  --log-level LEVEL        trace|debug|info|warn|error|off [warn]
  -h, --help               this text

Config file keys: data_dir, pki_dir, admin_kubeconfig, bind_address, port,
cert_hosts (array), token_file, service_cidr, max_body_bytes,
bookmark_interval_s, log_level.
)";
}

namespace {

Result<int64_t> parse_number(const std::string& flag, const std::string& v, int64_t min, int64_t max) {
  char* end = nullptr;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || !end || *end || n < min || n > max)
    return fail(ErrorKind::InvalidArgument, "{}: want a number from {} to {}, got '{}'", flag, min, max, v);
  return n;
}

}  // namespace

Status apply_toml(const std::string& text, const std::string& origin, ApiServerOptions& o, std::string& log_level) {
  DH_TRY(t, parse_toml(text, origin));
  DH_CHECK(read_toml_string(t, "data_dir", o.data_dir, origin));
  DH_CHECK(read_toml_string(t, "pki_dir", o.pki_dir, origin));
  DH_CHECK(read_toml_string(t, "admin_kubeconfig", o.admin_kubeconfig, origin));
  DH_CHECK(read_toml_string(t, "bind_address", o.bind_address, origin));
  DH_CHECK(read_toml_string(t, "token_file", o.token_file, origin));
  DH_CHECK(read_toml_string(t, "service_cidr", o.service_cidr, origin));
  DH_CHECK(read_toml_string(t, "log_level", log_level, origin));
  struct IntKey {
    const char* key;
    int64_t min, max;
    std::function<void(int64_t)> set;
  };
  for (const IntKey& k : {IntKey{"port", 0, 65535, [&](int64_t v) { o.port = static_cast<uint16_t>(v); }},
                          IntKey{"max_body_bytes", 1024, int64_t{1} << 30, [&](int64_t v) { o.max_body_bytes = v; }},
                          IntKey{"bookmark_interval_s", 1, 3600,
                                 [&](int64_t v) { o.bookmark_interval = std::chrono::seconds(v); }}}) {
    auto node = t[k.key];
    if (!node) continue;
    auto v = node.value<int64_t>();
    if (!v || *v < k.min || *v > k.max)
      return fail(ErrorKind::InvalidArgument, "{}: {} must be an integer from {} to {}", origin, k.key, k.min, k.max);
    k.set(*v);
  }
  if (auto hosts = t["cert_hosts"].as_array()) {
    for (auto& h : *hosts) {
      auto v = h.value<std::string>();
      if (!v) return fail(ErrorKind::InvalidArgument, "{}: cert_hosts must hold strings", origin);
      o.cert_hosts.push_back(*v);
    }
  }
  return {};
}

Result<ApiServerConfig> load_config(int argc, char** argv) {
  ApiServerConfig c;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "issue-cert") {
    c.issue_cert = true;
    args.erase(args.begin());
  }
  DH_TRY(text, read_config_file(args, c.config_file));
  if (text) DH_CHECK(apply_toml(*text, c.config_file, c.options, c.log_level));
  auto& o = c.options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      c.show_help = true;
      continue;
    }
    if (a == "--insecure-http") {
      o.insecure_http = true;
      continue;
    }
    if (i + 1 >= args.size()) return fail(ErrorKind::InvalidArgument, "unknown flag or missing value: {}", a);
    const std::string& v = args[++i];
    if (a == "--config") continue;
    else if (a == "--data-dir") o.data_dir = v;
    else if (a == "--pki-dir") o.pki_dir = v;
    else if (a == "--admin-kubeconfig") o.admin_kubeconfig = v;
    else if (a == "--bind-address") o.bind_address = v;
    else if (a == "--cert-host") o.cert_hosts.push_back(v);
    else if (a == "--token-file") o.token_file = v;
    else if (a == "--service-cidr") o.service_cidr = v;
    else if (a == "--log-level") c.log_level = v;
    else if (a == "--port") {
      DH_TRY(n, parse_number(a, v, 0, 65535));
      o.port = static_cast<uint16_t>(n);
    } else if (a == "--max-body-bytes") {
      DH_TRY(n, parse_number(a, v, 1024, int64_t{1} << 30));
      o.max_body_bytes = n;
    } else if (a == "--bookmark-interval-s") {
      DH_TRY(n, parse_number(a, v, 1, 3600));
      o.bookmark_interval = std::chrono::seconds(n);
    } else if (c.issue_cert && a == "--user") c.cert_user = v;
    else if (c.issue_cert && a == "--group") c.cert_groups.push_back(v);
    else if (c.issue_cert && a == "--out") c.cert_out_dir = v;
    else if (c.issue_cert && a == "--server") c.cert_server_url = v;
    else return fail(ErrorKind::InvalidArgument, "unknown flag: {}", a);
  }
  if (c.issue_cert && !c.show_help && (c.cert_user.empty() || c.cert_out_dir.empty()))
    return fail(ErrorKind::InvalidArgument, "issue-cert needs --user NAME and --out DIR");
  return c;
}

}  // namespace deckhand::apiserver
