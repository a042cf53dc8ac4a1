#include "deckhand/apiserver/api_server.h"

#include <unistd.h>

#include "api_handler.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"
#include "deckhand/http/pki.h"
#include "deckhand/store/sqlite_store.h"

namespace deckhand::apiserver {

namespace {

std::string pki_dir_of(const ApiServerOptions& o) { return o.pki_dir.empty() ? o.data_dir + "/pki" : o.pki_dir; }

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::string server_url(const ApiServerOptions& o, uint16_t port) {
  std::string host = o.bind_address == "0.0.0.0" || o.bind_address == "::" ? "127.0.0.1" : o.bind_address;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return fmt::format("https://{}:{}", host, port);
}

Result<http::IssuedCert> load_cert(const std::string& dir, const std::string& name) {
  DH_TRY(cert, fs::read_file(dir + "/" + name + ".crt"));
  DH_TRY(key, fs::read_file(dir + "/" + name + ".key"));
  return http::IssuedCert{cert, key};
}

const std::vector<std::string> kNamespaces{"default", "kube-system", "kube-public", "kube-node-lease"};

class RunningApiServer : public ApiServer {
 public:
  ~RunningApiServer() override { stop(); }
  uint16_t port() const override { return http_->port(); }
  void stop() override {
    // Watches first, so that what was written before the stop reaches them.
    if (cache && !cache->close_watches(std::chrono::seconds(2)))
      log::get("apiserver")->warn("watches did not end within 2 s of the stop; closing their connections");
    if (http_) http_->stop();
  }

  std::unique_ptr<store::Store> store;
  std::unique_ptr<WatchCache> cache;
  std::unique_ptr<ClusterIpAllocator> ips;
  std::unique_ptr<ApiHandler> handler;
  std::unique_ptr<http::HttpServer> http_;
};

Status create_namespaces(ApiHandler& handler) {
  const ResourceInfo* ns = find_resource("", "v1", "namespaces");
  for (const auto& name : kNamespaces) {
    auto r = handler.create_internal(*ns, "", Json{{"metadata", {{"name", name}}}});
    if (!r && r.error().code != 409)
      return fail(ErrorKind::Internal, "create namespace {}: {}", name, r.error().status.value("message", ""));
  }
  return {};
}

}  // namespace

Status bootstrap_pki(const ApiServerOptions& o) {
  const std::string dir = pki_dir_of(o);
  DH_CHECK(fs::make_dirs(dir, 0700));
  http::CertificateAuthority ca;
  if (fs::exists(dir + "/ca.crt")) {
    DH_TRY(loaded, http::load_ca(dir + "/ca.crt", dir + "/ca.key"));
    ca = loaded;
  } else {
    DH_TRY(made, http::make_ca());
    ca = made;
    DH_CHECK(http::write_cert_files(dir, "ca", http::IssuedCert{ca.cert_pem, ca.key_pem}));
  }
  if (!fs::exists(dir + "/apiserver.crt")) {
    std::vector<std::string> dns{"localhost", host_name(), "kubernetes", "kubernetes.default",
                                 "kubernetes.default.svc"};
    std::vector<std::string> ips{"127.0.0.1", "::1"};
    for (const auto& h : o.cert_hosts) (h.find_first_not_of("0123456789.:abcdefABCDEF") == std::string::npos ? ips : dns).push_back(h);
    if (o.bind_address != "0.0.0.0" && o.bind_address != "::") ips.push_back(o.bind_address);
    DH_TRY(serving, http::issue_server_cert(ca, "deckhand-apiserver", dns, ips));
    DH_CHECK(http::write_cert_files(dir, "apiserver", serving));
  }
  if (!fs::exists(dir + "/admin.crt")) {
    DH_TRY(admin, http::issue_client_cert(ca, "deckhand-admin", {"system:masters"}));
    DH_CHECK(http::write_cert_files(dir, "admin", admin));
  }
  if (!fs::exists(dir + "/apiserver-agent-client.crt")) {
    DH_TRY(client, http::issue_client_cert(ca, "deckhand-apiserver", {"system:masters"}));
    DH_CHECK(http::write_cert_files(dir, "apiserver-agent-client", client));
  }
  return {};
}

Status write_admin_kubeconfig(const ApiServerOptions& o, uint16_t port) {
  if (o.admin_kubeconfig.empty() || fs::exists(o.admin_kubeconfig)) return {};
  const std::string dir = pki_dir_of(o);
  DH_TRY(ca, load_cert(dir, "ca"));
  DH_TRY(admin, load_cert(dir, "admin"));
  auto slash = o.admin_kubeconfig.rfind('/');
  if (slash != std::string::npos && slash > 0) DH_CHECK(fs::make_dirs(o.admin_kubeconfig.substr(0, slash), 0755));
  return fs::write_file_atomic(o.admin_kubeconfig,
                               http::make_kubeconfig(server_url(o, port), ca.cert_pem, "deckhand-admin", admin), 0600);
}

Status issue_user_credentials(const ApiServerOptions& o, const std::string& user, const std::vector<std::string>& groups,
                              const std::string& out_dir, const std::string& url) {
  const std::string dir = pki_dir_of(o);
  DH_TRY(ca, http::load_ca(dir + "/ca.crt", dir + "/ca.key"));
  DH_TRY(cert, http::issue_client_cert(ca, user, groups));
  std::string file_name = user;
  for (char& c : file_name)
    if (c == ':' || c == '/') c = '-';
  DH_CHECK(http::write_cert_files(out_dir, file_name, cert));
  return fs::write_file_atomic(out_dir + "/" + file_name + ".kubeconfig",
                               http::make_kubeconfig(url.empty() ? server_url(o, o.port) : url, ca.cert_pem, user, cert),
                               0600);
}

Result<std::unique_ptr<ApiServer>> ApiServer::start(ApiServerOptions o) {
  auto server = std::make_unique<RunningApiServer>();
  DH_CHECK(with_context(fs::make_dirs(o.data_dir, 0700), "data dir"));
  DH_TRY(store, store::open_sqlite_store({o.data_dir + "/store.db"}));
  server->store = std::move(store);
  DH_TRY(cache, WatchCache::start(*server->store, o.watch_window));
  server->cache = std::move(cache);
  DH_TRY(ips, ClusterIpAllocator::from_cidr(o.service_cidr));
  server->ips = std::move(ips);
  for (const auto& item : server->cache->list(find_resource("", "v1", "services")->key_prefix()).items)
    if (item.object->contains("spec")) server->ips->mark_used((*item.object)["spec"].value("clusterIP", ""));
  HandlerConfig config;
  config.bookmark_interval = o.bookmark_interval;
  if (!o.token_file.empty()) {
    DH_TRY(tokens, TokenFile::load(o.token_file));
    config.tokens = std::move(tokens);
  }
  http::ServerOptions http_options;
  http_options.address = o.bind_address;
  http_options.port = o.port;
  http_options.max_body_bytes = o.max_body_bytes;
  if (o.insecure_http) {
    config.insecure_user = UserInfo{"deckhand-admin", {"system:masters"}};
  } else {
    DH_CHECK(bootstrap_pki(o));
    const std::string dir = pki_dir_of(o);
    http_options.tls = http::TlsOptions{dir + "/apiserver.crt", dir + "/apiserver.key", dir + "/ca.crt"};
    config.node_proxy.client_cert_file = dir + "/apiserver-agent-client.crt";
    config.node_proxy.client_key_file = dir + "/apiserver-agent-client.key";
  }
  server->handler = std::make_unique<ApiHandler>(*server->store, *server->cache, *server->ips, std::move(config));
  DH_CHECK(create_namespaces(*server->handler));
  ApiHandler* handler = server->handler.get();
  DH_TRY(http, http::HttpServer::start(http_options, [handler](const http::Request& req, http::Responder& out) {
           handler->handle(req, out);
         }));
  server->http_ = std::move(http);
  if (!o.insecure_http) DH_CHECK(with_context(write_admin_kubeconfig(o, server->port()), "admin kubeconfig"));
  log::get("apiserver")->info("serving on {}:{}", o.bind_address, server->port());
  return std::unique_ptr<ApiServer>(std::move(server));
}

}  // namespace deckhand::apiserver
