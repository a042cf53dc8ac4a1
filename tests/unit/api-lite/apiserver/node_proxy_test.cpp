// pods/log through the node agent: the URL built from the Pod and its Node,
// and the node's answer streamed back (live), turned into Status errors, or
// given up on when the client goes away.
#include "node_proxy.h"

#include <curl/curl.h>
#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "deckhand/apiserver/api_server.h"
#include "deckhand/common/fs.h"
#include "deckhand/http/pki.h"

using namespace deckhand;
using namespace deckhand::apiserver;

namespace {

http::Request request_with(std::vector<std::pair<std::string, std::string>> query) {
  http::Request r;
  r.method = "GET";
  r.query = std::move(query);
  return r;
}

Json pod(std::vector<std::string> containers, const std::string& node_name = "node-a") {
  Json list = Json::array();
  for (const auto& c : containers) list.push_back({{"name", c}, {"image", "busybox"}});
  Json p{{"metadata", {{"name", "web"}, {"namespace", "shop"}}}, {"spec", {{"containers", list}}}};
  if (!node_name.empty()) p["spec"]["nodeName"] = node_name;
  return p;
}

Json node(Json addresses, std::optional<int> port = std::nullopt) {
  Json n{{"metadata", {{"name", "node-a"}}}, {"status", {{"addresses", addresses}}}};
  if (port) n["status"]["daemonEndpoints"] = {{"kubeletEndpoint", {{"Port", *port}}}};
  return n;
}

std::string message_of(const ApiError& e) { return e.status.value("message", ""); }

// A Responder that keeps what the proxy sent, for a test thread to look at.
class RecordingResponder : public http::Responder, public http::ResponseStream {
 public:
  void send(http::Response response) override {
    std::lock_guard lock(mu_);
    status_ = response.status;
    body_ = response.body;
    done_ = true;
    cv_.notify_all();
  }
  http::ResponseStream& stream(int status, std::vector<std::pair<std::string, std::string>>) override {
    std::lock_guard lock(mu_);
    status_ = status;
    streaming_ = true;
    return *this;
  }
  bool write(std::string_view chunk) override {
    std::lock_guard lock(mu_);
    body_.append(chunk);
    ++writes_;
    cv_.notify_all();
    return !gone_;
  }
  bool client_gone() override {
    std::lock_guard lock(mu_);
    return gone_;
  }

  void go_away() {
    std::lock_guard lock(mu_);
    gone_ = true;
  }
  // Waits (with a deadline) until the body is `want`.
  bool wait_for_body(const std::string& want) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return body_ == want; });
  }
  int status() {
    std::lock_guard lock(mu_);
    return status_;
  }
  std::string body() {
    std::lock_guard lock(mu_);
    return body_;
  }
  bool streaming() {
    std::lock_guard lock(mu_);
    return streaming_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int status_ = 0;
  std::string body_;
  int writes_ = 0;
  bool streaming_ = false;
  bool done_ = false;
  bool gone_ = false;
};

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/deckhand-node-proxy-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { (void)fs::remove_all(path); }
};

// A stand-in node agent: HTTPS with client certificates from the test CA.
struct FakeNode {
  TempDir dir;
  NodeProxyConfig proxy;
  std::mutex mu;
  std::string last_user;
  std::string last_target;
  std::atomic<bool> release_second_line{false};
  std::atomic<bool> handler_saw_client_gone{false};
  std::unique_ptr<http::HttpServer> server;

  // client_ca_file: whose client certificates to accept; empty: the fake's own CA's.
  explicit FakeNode(const std::string& client_ca_file = "") {
    auto ca = http::make_ca("test-ca");
    REQUIRE(ca);
    REQUIRE(http::write_cert_files(dir.path, "ca", http::IssuedCert{ca->cert_pem, ca->key_pem}));
    auto serving = http::issue_server_cert(*ca, "node-a", {"localhost"}, {"127.0.0.1"});
    REQUIRE(serving);
    REQUIRE(http::write_cert_files(dir.path, "node", *serving));
    auto client = http::issue_client_cert(*ca, "deckhand-apiserver", {"system:masters"});
    REQUIRE(client);
    REQUIRE(http::write_cert_files(dir.path, "apiserver-agent-client", *client));
    proxy.client_cert_file = dir.path + "/apiserver-agent-client.crt";
    proxy.client_key_file = dir.path + "/apiserver-agent-client.key";

    http::ServerOptions o;
    o.address = "127.0.0.1";
    o.port = 0;
    o.tls = http::TlsOptions{dir.path + "/node.crt", dir.path + "/node.key",
                             client_ca_file.empty() ? dir.path + "/ca.crt" : client_ca_file};
    auto started = http::HttpServer::start(
        o, [this](const http::Request& req, http::Responder& out) { handle(req, out); });
    REQUIRE(started);
    server = std::move(*started);
  }

  void handle(const http::Request& req, http::Responder& out) {
    {
      std::lock_guard lock(mu);
      last_user = req.peer.user;
      last_target = req.target;
    }
    if (!req.peer.has_client_cert) return out.send({401, {{"Content-Type", "text/plain"}}, "Unauthorized\n"});
    if (req.path == "/containerLogs/shop/web/app") {
      auto& s = out.stream(200, {{"Content-Type", "text/plain"}});
      s.write("first\n");
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (!release_second_line && std::chrono::steady_clock::now() < deadline) {
        if (s.client_gone()) {
          handler_saw_client_gone = true;
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      s.write("second\n");
      return;
    }
    if (req.path == "/containerLogs/shop/web/empty") {
      out.stream(200, {{"Content-Type", "text/plain"}});
      return;
    }
    out.send({400,
              {{"Content-Type", "text/plain"}},
              "previous terminated container \"app\" in pod \"web\" not found\n"});
  }

  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(server->port()) + path;
  }
};

size_t collect(char* data, size_t size, size_t n, void* user) {
  (*static_cast<std::function<void(std::string_view)>*>(user))(std::string_view(data, size * n));
  return size * n;
}

// A request to the apiserver as its admin, with curl (kubectl's part).
struct AdminClient {
  std::string pki_dir;
  uint16_t port = 0;

  std::pair<long, std::string> call(const std::string& method, const std::string& path,
                                    const std::string& body = "",
                                    std::function<void(std::string_view)> on_data = {}) const {
    std::string received;
    std::function<void(std::string_view)> sink = [&](std::string_view d) {
      received.append(d);
      if (on_data) on_data(d);
    };
    CURL* curl = curl_easy_init();
    REQUIRE(curl);
    std::string url = "https://127.0.0.1:" + std::to_string(port) + path;
    std::string cert = pki_dir + "/admin.crt", key = pki_dir + "/admin.key", ca = pki_dir + "/ca.crt";
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty()) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLCERT, cert.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, key.c_str());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    CURLcode rc = curl_easy_perform(curl);
    CHECK_MESSAGE(rc == CURLE_OK, curl_easy_strerror(rc));
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return {code, received};
  }
};

}  // namespace

TEST_CASE("pod_log_url: the node's address and port, the container, the options") {
  auto req = request_with({});
  auto n =
      node({{{"type", "Hostname"}, {"address", "node-a"}}, {{"type", "InternalIP"}, {"address", "10.1.2.3"}}},
           10555);
  CHECK(pod_log_url(pod({"app"}), n, req).value() == "https://10.1.2.3:10555/containerLogs/shop/web/app");

  auto hostname_only = node({{{"type", "Hostname"}, {"address", "node-a.example"}}});
  CHECK(pod_log_url(pod({"app"}), hostname_only, req).value() ==
        "https://node-a.example:10250/containerLogs/shop/web/app");
  auto ipv6 = node({{{"type", "InternalIP"}, {"address", "fd00::5"}}});
  CHECK(pod_log_url(pod({"app"}), ipv6, req).value() == "https://[fd00::5]:10250/containerLogs/shop/web/app");

  auto with_options = request_with({{"container", "side"},
                                    {"follow", "true"},
                                    {"tailLines", "10"},
                                    {"sinceTime", "2026-01-02T03:04:05+01:00"},
                                    {"pretty", "true"}});
  CHECK(pod_log_url(pod({"app", "side"}), n, with_options).value() ==
        "https://10.1.2.3:10555/containerLogs/shop/web/side?follow=true&tailLines=10"
        "&sinceTime=2026-01-02T03%3A04%3A05%2B01%3A00");
}

TEST_CASE("pod_log_url: errors as kube-apiserver words them") {
  auto req = request_with({});
  auto n = node({{{"type", "InternalIP"}, {"address", "10.1.2.3"}}});
  auto ambiguous = pod_log_url(pod({"a", "b"}), n, req);
  REQUIRE(!ambiguous);
  CHECK(ambiguous.error().code == 400);
  CHECK(message_of(ambiguous.error()) ==
        "a container name must be specified for pod web, choose one of: [a b]");

  auto unknown = pod_log_url(pod({"a"}), n, request_with({{"container", "zzz"}}));
  REQUIRE(!unknown);
  CHECK(unknown.error().code == 400);
  CHECK(message_of(unknown.error()) == "container zzz is not valid for pod web");

  auto unbound = pod_log_url(pod({"a"}, ""), std::nullopt, req);
  REQUIRE(!unbound);
  CHECK(unbound.error().code == 400);
  CHECK(message_of(unbound.error()) == "pod web does not have a host assigned");

  auto no_node = pod_log_url(pod({"a"}), std::nullopt, req);
  REQUIRE(!no_node);
  CHECK(no_node.error().code == 404);

  auto no_address = pod_log_url(pod({"a"}), node(Json::array()), req);
  REQUIRE(!no_address);
  CHECK(no_address.error().code == 503);
}

TEST_CASE("proxy_node_stream: lines arrive as the node sends them, with the apiserver's identity") {
  FakeNode fake;
  RecordingResponder out;
  std::thread proxy(
      [&] { proxy_node_stream(fake.proxy, fake.url("/containerLogs/shop/web/app?follow=true"), out); });
  // The first line is through before the node sends the second.
  CHECK(out.wait_for_body("first\n"));
  CHECK(out.status() == 200);
  fake.release_second_line = true;
  proxy.join();
  CHECK(out.body() == "first\nsecond\n");
  std::lock_guard lock(fake.mu);
  CHECK(fake.last_user == "deckhand-apiserver");
  CHECK(fake.last_target == "/containerLogs/shop/web/app?follow=true");
}

TEST_CASE("proxy_node_stream: an empty log is an empty 200") {
  FakeNode fake;
  RecordingResponder out;
  proxy_node_stream(fake.proxy, fake.url("/containerLogs/shop/web/empty"), out);
  CHECK(out.streaming());
  CHECK(out.status() == 200);
  CHECK(out.body().empty());
}

TEST_CASE("proxy_node_stream: the node's errors become Status objects") {
  FakeNode fake;
  RecordingResponder out;
  proxy_node_stream(fake.proxy, fake.url("/containerLogs/shop/web/gone?previous=true"), out);
  CHECK(out.status() == 400);
  auto status = parse_json(out.body(), "status");
  REQUIRE(status);
  CHECK((*status)["kind"] == "Status");
  CHECK((*status)["reason"] == "BadRequest");
  CHECK((*status)["message"] == "previous terminated container \"app\" in pod \"web\" not found");

  RecordingResponder refused;
  proxy_node_stream(NodeProxyConfig{}, fake.url("/containerLogs/shop/web/app"), refused);
  CHECK(refused.status() == 403);
  CHECK(refused.body().find("refused the apiserver") != std::string::npos);
}

TEST_CASE("proxy_node_stream: an unreachable node is 503") {
  uint16_t closed_port;
  {
    FakeNode gone;
    closed_port = gone.server->port();
  }
  RecordingResponder out;
  NodeProxyConfig config;
  config.connect_timeout = std::chrono::milliseconds(2000);
  proxy_node_stream(config, "https://127.0.0.1:" + std::to_string(closed_port) + "/containerLogs/a/b/c", out);
  CHECK(out.status() == 503);
  CHECK(out.body().find("cannot reach the node agent") != std::string::npos);
}

TEST_CASE("proxy_node_stream: a client that goes away ends a quiet stream") {
  FakeNode fake;
  RecordingResponder out;
  std::atomic<bool> returned{false};
  std::thread proxy([&] {
    proxy_node_stream(fake.proxy, fake.url("/containerLogs/shop/web/app?follow=true"), out);
    returned = true;
  });
  REQUIRE(out.wait_for_body("first\n"));
  out.go_away();
  // The node sends nothing more; the proxy notices the client on its own.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!returned && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(returned);
  proxy.join();
  // And the node's handler sees its client (the proxy) gone too.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!fake.handler_saw_client_gone && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(fake.handler_saw_client_gone);
}

TEST_CASE("GET pods/<name>/log on a running apiserver streams from the pod's node") {
  TempDir dir;
  apiserver::ApiServerOptions o;
  o.data_dir = dir.path + "/data";
  o.admin_kubeconfig = dir.path + "/admin.kubeconfig";
  o.bind_address = "127.0.0.1";
  o.port = 0;
  auto api = apiserver::ApiServer::start(o);
  REQUIRE_MESSAGE(api, (api ? "" : api.error().message));
  AdminClient admin{o.data_dir + "/pki", (*api)->port()};
  // The node agent trusts the cluster CA, as a real agent does.
  FakeNode agent(o.data_dir + "/pki/ca.crt");

  CHECK(admin.call("POST", "/api/v1/namespaces", R"({"metadata":{"name":"shop"}})").first == 201);
  Json node_object{{"metadata", {{"name", "node-a"}}},
                   {"status",
                    {{"addresses", {{{"type", "InternalIP"}, {"address", "127.0.0.1"}}}},
                     {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", agent.server->port()}}}}}}}};
  CHECK(admin.call("POST", "/api/v1/nodes", node_object.dump()).first == 201);
  Json pod_object{
      {"metadata", {{"name", "web"}, {"namespace", "shop"}}},
      {"spec", {{"nodeName", "node-a"}, {"containers", {{{"name", "app"}, {"image", "busybox"}}}}}}};
  CHECK(admin.call("POST", "/api/v1/namespaces/shop/pods", pod_object.dump()).first == 201);

  std::mutex mu;
  std::string streamed;
  std::condition_variable cv;
  std::pair<long, std::string> reply;
  std::thread kubectl([&] {
    reply =
        admin.call("GET", "/api/v1/namespaces/shop/pods/web/log?follow=true", "", [&](std::string_view d) {
          std::lock_guard lock(mu);
          streamed.append(d);
          cv.notify_all();
        });
  });
  {
    std::unique_lock lock(mu);
    CHECK(cv.wait_for(lock, std::chrono::seconds(5), [&] { return streamed == "first\n"; }));
  }
  agent.release_second_line = true;
  kubectl.join();
  CHECK(reply.first == 200);
  CHECK(reply.second == "first\nsecond\n");
  {
    std::lock_guard lock(agent.mu);
    CHECK(agent.last_user == "deckhand-apiserver");
    CHECK(agent.last_target == "/containerLogs/shop/web/app?follow=true");
  }

  auto missing = admin.call("GET", "/api/v1/namespaces/shop/pods/nope/log");
  CHECK(missing.first == 404);
  auto exec = admin.call("GET", "/api/v1/namespaces/shop/pods/web/exec?command=ls");
  CHECK(exec.first == 503);
  CHECK(exec.second.find("not supported") != std::string::npos);
}
