#include "deckhand/apiserver/config.h"

#include "deckhand/common/daemon_settings.h"

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

Config file keys: the flag names with '_' for '-' (data_dir, pki_dir,
admin_kubeconfig, bind_address, port, cert_host (an array), token_file,
service_cidr, max_body_bytes, bookmark_interval_s, log_level).
)";
}

Result<ApiServerConfig> load_config(int argc, char** argv) {
  ApiServerConfig c;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "issue-cert") {
    c.issue_cert = true;
    args.erase(args.begin());
  }
  auto& o = c.options;
  DaemonSettings settings;
  settings.text("data-dir", o.data_dir)
      .text("pki-dir", o.pki_dir)
      .text("admin-kubeconfig", o.admin_kubeconfig)
      .text("bind-address", o.bind_address)
      .integer("port", 0, 65535, o.port)
      .texts("cert-host", o.cert_hosts)
      .text("token-file", o.token_file)
      .text("service-cidr", o.service_cidr)
      .integer("max-body-bytes", 1024, int64_t{1} << 30, o.max_body_bytes)
      .integer("bookmark-interval-s", 1, 3600, [&o](int64_t v) { o.bookmark_interval = std::chrono::seconds(v); })
      .boolean("insecure-http", o.insecure_http)
      .text("log-level", c.log_level);
  if (c.issue_cert)
    settings.text("user", c.cert_user).texts("group", c.cert_groups).text("out", c.cert_out_dir).text("server", c.cert_server_url);
  DH_CHECK(settings.load(args, c.config_file, c.show_help));
  if (c.issue_cert && !c.show_help && (c.cert_user.empty() || c.cert_out_dir.empty()))
    return fail(ErrorKind::InvalidArgument, "issue-cert needs --user NAME and --out DIR");
  return c;
}

}  // namespace deckhand::apiserver
