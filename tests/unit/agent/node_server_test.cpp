// The node server on a free port with certificates made for the test: who
// may call what, /pods, /containerLogs against an in-process fake CRI
// runtime (containers found by labels, attempts, follow until exit), and
// /stats/summary.
#include "deckhand/agent/node_server.h"

#include <curl/curl.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <stdlib.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "deckhand/common/fs.h"
#include "deckhand/http/pki.h"

using namespace deckhand;
using namespace deckhand::agent;
namespace rt = ::runtime::v1;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/deckhand-node-server-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { (void)fs::remove_all(path); }
};

// A CRI runtime with containers the test sets: ListContainers honours label
// selectors, ContainerStatus gives state and log path, ListContainerStats
// canned numbers; ListPodSandboxStats stays UNIMPLEMENTED.
class FakeRuntime final : public rt::RuntimeService::Service {
 public:
  struct Entry {
    rt::Container container;
    std::string log_path;
  };

  void add(const std::string& id, const std::map<std::string, std::string>& labels, uint32_t attempt,
           rt::ContainerState state, const std::string& log_path) {
    std::lock_guard lock(mu_);
    Entry e;
    e.container.set_id(id);
    e.container.mutable_metadata()->set_name(labels.at("io.kubernetes.container.name"));
    e.container.mutable_metadata()->set_attempt(attempt);
    e.container.set_state(state);
    e.container.set_created_at(attempt);
    for (const auto& [k, v] : labels) (*e.container.mutable_labels())[k] = v;
    e.log_path = log_path;
    entries_[id] = e;
  }
  void set_state(const std::string& id, rt::ContainerState state) {
    std::lock_guard lock(mu_);
    entries_.at(id).container.set_state(state);
  }

  grpc::Status ListContainers(grpc::ServerContext*, const rt::ListContainersRequest* req,
                              rt::ListContainersResponse* resp) override {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : entries_) {
      bool match = true;
      for (const auto& [k, v] : req->filter().label_selector()) {
        auto it = e.container.labels().find(k);
        match = match && it != e.container.labels().end() && it->second == v;
      }
      if (match) *resp->add_containers() = e.container;
    }
    return grpc::Status::OK;
  }

  grpc::Status ContainerStatus(grpc::ServerContext*, const rt::ContainerStatusRequest* req,
                               rt::ContainerStatusResponse* resp) override {
    std::lock_guard lock(mu_);
    auto it = entries_.find(req->container_id());
    if (it == entries_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such container");
    auto* s = resp->mutable_status();
    s->set_id(it->first);
    *s->mutable_metadata() = it->second.container.metadata();
    s->set_state(it->second.container.state());
    s->set_log_path(it->second.log_path);
    return grpc::Status::OK;
  }

  grpc::Status ListContainerStats(grpc::ServerContext*, const rt::ListContainerStatsRequest*,
                                  rt::ListContainerStatsResponse* resp) override {
    std::lock_guard lock(mu_);
    for (const auto& [id, e] : entries_) {
      auto* st = resp->add_stats();
      st->mutable_attributes()->set_id(id);
      *st->mutable_attributes()->mutable_metadata() = e.container.metadata();
      *st->mutable_attributes()->mutable_labels() = e.container.labels();
      st->mutable_cpu()->mutable_usage_core_nano_seconds()->set_value(1000 +
                                                                      e.container.metadata().attempt());
      st->mutable_memory()->mutable_working_set_bytes()->set_value(4096);
    }
    return grpc::Status::OK;
  }

 private:
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

struct ClientCert {
  std::string cert_file, key_file;
};

struct Reply {
  long status = 0;
  std::string body;
  std::string content_type;
};

size_t collect(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<std::function<void(std::string_view)>*>(user);
  (*sink)(std::string_view(data, size * n));
  return size * n;
}

// One HTTPS request with curl; the node's self-signed certificate is not
// checked (as the apiserver does not check it).
Reply fetch(const std::string& url, const ClientCert* cert, const std::string& method = "GET",
            std::function<void(std::string_view)> on_data = {}) {
  Reply reply;
  std::function<void(std::string_view)> sink = [&](std::string_view d) {
    reply.body.append(d);
    if (on_data) on_data(d);
  };
  CURL* curl = curl_easy_init();
  REQUIRE(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  if (cert) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, cert->cert_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, cert->key_file.c_str());
  }
  CURLcode rc = curl_easy_perform(curl);
  CHECK_MESSAGE(rc == CURLE_OK, curl_easy_strerror(rc));
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  char* type = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
  if (type) reply.content_type = type;
  curl_easy_cleanup(curl);
  return reply;
}

const char* kUid = "0f1e2d3c-aaaa-bbbb-cccc-000000000001";

Json test_pod() {
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "web"}, {"namespace", "shop"}, {"uid", kUid}}},
              {"spec", {{"containers", {{{"name", "app"}}, {{"name", "sidecar"}}, {{"name", "late"}}}}}},
              {"status",
               {{"containerStatuses",
                 {{{"name", "late"}, {"state", {{"waiting", {{"reason", "ImagePullBackOff"}}}}}}}}}}};
}

std::map<std::string, std::string> labels_of(const std::string& container) {
  return {{"io.kubernetes.pod.uid", kUid},
          {"io.kubernetes.pod.name", "web"},
          {"io.kubernetes.pod.namespace", "shop"},
          {"io.kubernetes.container.name", container}};
}

void append(const std::string& path, std::string_view text) {
  auto fd = fs::open_fd(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  REQUIRE(fd);
  REQUIRE(fs::write_all(fd->get(), text, path));
}

// Everything a test needs: certificates, a fake runtime, and a started server.
struct World {
  TempDir dir;
  FakeRuntime runtime;
  std::unique_ptr<grpc::Server> grpc_server;
  std::shared_ptr<cri::CriClient> cri;
  ClientCert apiserver, admin, stranger;
  NodeServerOptions options;
  std::unique_ptr<NodeServer> server;

  World() {
    auto ca = http::make_ca("test-ca");
    REQUIRE(ca);
    REQUIRE(http::write_cert_files(dir.path, "ca", http::IssuedCert{ca->cert_pem, ca->key_pem}));
    apiserver = issue(*ca, "apiserver-client", "deckhand-apiserver", {});
    admin = issue(*ca, "admin", "someone", {"ops", "system:masters"});
    stranger = issue(*ca, "stranger", "bob", {"dev"});

    std::string socket = dir.path + "/cri.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
    builder.RegisterService(&runtime);
    grpc_server = builder.BuildAndStart();
    REQUIRE(grpc_server);
    auto client = cri::CriClient::connect(socket, std::chrono::seconds(5));
    REQUIRE(client);
    cri = std::move(*client);

    options.address = "127.0.0.1";
    options.port = 0;
    options.client_ca_file = dir.path + "/ca.crt";
    options.state_dir = dir.path + "/state";
    options.node_name = "node-a";
    start();
  }
  ~World() {
    server.reset();
    grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  void start() {
    server.reset();
    auto started =
        NodeServer::start(options, cri, NodePodSource{[] { return std::vector<Json>{test_pod()}; }});
    REQUIRE_MESSAGE(started, (started ? "" : started.error().message));
    server = std::move(*started);
  }

  ClientCert issue(const http::CertificateAuthority& ca, const std::string& name, const std::string& user,
                   const std::vector<std::string>& groups) {
    auto cert = http::issue_client_cert(ca, user, groups);
    REQUIRE(cert);
    REQUIRE(http::write_cert_files(dir.path, name, *cert));
    return {dir.path + "/" + name + ".crt", dir.path + "/" + name + ".key"};
  }

  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(server->port()) + path;
  }
};

}  // namespace

TEST_CASE("node server: /healthz is open, the rest needs an allowed client certificate") {
  World w;
  auto health = fetch(w.url("/healthz"), nullptr);
  CHECK(health.status == 200);
  CHECK(health.body == "ok\n");

  auto anonymous = fetch(w.url("/pods"), nullptr);
  CHECK(anonymous.status == 401);
  auto stranger = fetch(w.url("/pods"), &w.stranger);
  CHECK(stranger.status == 403);
  CHECK(stranger.body.find("user=bob") != std::string::npos);
  CHECK(stranger.body.find("verb=get") != std::string::npos);
  CHECK(fetch(w.url("/stats/summary"), &w.stranger).body.find("subresource=stats") != std::string::npos);

  CHECK(fetch(w.url("/pods"), &w.apiserver).status == 200);
  CHECK(fetch(w.url("/pods"), &w.admin).status == 200);
  CHECK(fetch(w.url("/no/such/thing"), &w.admin).status == 404);
  CHECK(fetch(w.url("/containerLogs/shop/web"), &w.admin).status == 404);
  CHECK(fetch(w.url("/pods"), &w.admin, "POST").status == 405);
  CHECK(fetch(w.url("/no/such/thing"), nullptr).status == 401);
}

TEST_CASE("node server: /pods is a v1 PodList of the agent's pods") {
  World w;
  auto reply = fetch(w.url("/pods"), &w.apiserver);
  REQUIRE(reply.status == 200);
  CHECK(reply.content_type.find("application/json") == 0);
  auto list = parse_json(reply.body, "pods");
  REQUIRE(list);
  CHECK((*list)["kind"] == "PodList");
  CHECK((*list)["apiVersion"] == "v1");
  CHECK((*list)["metadata"].is_object());
  REQUIRE((*list)["items"].size() == 1);
  CHECK((*list)["items"][0]["metadata"]["name"] == "web");
}

TEST_CASE("node server: the self-signed serving certificate is kept and reused") {
  World w;
  std::string crt = w.options.state_dir + "/pki/node-a.crt";
  auto first = fs::read_file(crt);
  REQUIRE(first);
  CHECK(fs::exists(w.options.state_dir + "/pki/node-a.key"));
  w.start();
  CHECK(fs::read_file(crt).value() == *first);
  CHECK(fetch(w.url("/healthz"), nullptr).status == 200);
}

TEST_CASE("node server: client_ca_file is required") {
  NodeServerOptions o;
  o.port = 0;
  o.state_dir = "/nonexistent";
  auto started = NodeServer::start(o, nullptr, {});
  REQUIRE(!started);
  CHECK(started.error().message.find("client_ca_file") != std::string::npos);
}

TEST_CASE("node server: /containerLogs finds the container through CRI") {
  World w;
  std::string logs = w.dir.path + "/logs";
  REQUIRE(fs::make_dirs(logs));
  append(logs + "/app-0.log", "2026-01-02T03:04:05Z stdout F first run\n");
  append(logs + "/app-1.log",
         "2026-01-02T03:04:06Z stdout F second run\n2026-01-02T03:04:07Z stderr F it failed\n");
  append(logs + "/sidecar-0.log", "2026-01-02T03:04:05Z stdout F beside\n");
  w.runtime.add("c-app-0", labels_of("app"), 0, rt::CONTAINER_EXITED, logs + "/app-0.log");
  w.runtime.add("c-app-1", labels_of("app"), 1, rt::CONTAINER_EXITED, logs + "/app-1.log");
  w.runtime.add("c-sidecar-0", labels_of("sidecar"), 0, rt::CONTAINER_EXITED, logs + "/sidecar-0.log");
  // Another pod's container of the same name is not ours.
  auto other = labels_of("app");
  other["io.kubernetes.pod.uid"] = "another-uid";
  w.runtime.add("c-other", other, 7, rt::CONTAINER_EXITED, logs + "/app-0.log");

  auto current = fetch(w.url("/containerLogs/shop/web/app"), &w.apiserver);
  CHECK(current.status == 200);
  CHECK(current.content_type.find("text/plain") == 0);
  CHECK(current.body == "second run\nit failed\n");
  CHECK(fetch(w.url("/containerLogs/shop/web/app?previous=true"), &w.apiserver).body == "first run\n");
  CHECK(fetch(w.url("/containerLogs/shop/web/app?tailLines=1&timestamps=true"), &w.apiserver).body ==
        "2026-01-02T03:04:07Z it failed\n");
  CHECK(fetch(w.url("/containerLogs/shop/web/app?sinceTime=2026-01-02T03:04:07Z"), &w.apiserver).body ==
        "it failed\n");
  CHECK(fetch(w.url("/containerLogs/shop/web/app?limitBytes=4"), &w.apiserver).body == "seco");
  CHECK(fetch(w.url("/containerLogs/shop/web/sidecar"), &w.admin).body == "beside\n");

  auto no_previous = fetch(w.url("/containerLogs/shop/web/sidecar?previous=true"), &w.apiserver);
  CHECK(no_previous.status == 400);
  CHECK(no_previous.body == "previous terminated container \"sidecar\" in pod \"web\" not found\n");
  auto waiting = fetch(w.url("/containerLogs/shop/web/late"), &w.apiserver);
  CHECK(waiting.status == 400);
  CHECK(waiting.body.find("is waiting to start: ImagePullBackOff") != std::string::npos);

  CHECK(fetch(w.url("/containerLogs/shop/nopod/app"), &w.apiserver).status == 404);
  CHECK(fetch(w.url("/containerLogs/other/web/app"), &w.apiserver).status == 404);
  auto no_container = fetch(w.url("/containerLogs/shop/web/nope"), &w.apiserver);
  CHECK(no_container.status == 404);
  CHECK(no_container.body.find("\"nope\"") != std::string::npos);

  for (const char* bad : {"tailLines=-1", "tailLines=x", "sinceSeconds=0", "limitBytes=0", "follow=maybe",
                          "sinceTime=yesterday", "sinceSeconds=5&sinceTime=2026-01-02T03:04:07Z"}) {
    auto reply = fetch(w.url(std::string("/containerLogs/shop/web/app?") + bad), &w.apiserver);
    CHECK_MESSAGE(reply.status == 400, bad);
    std::string param = std::string(bad).substr(0, std::string(bad).find('='));
    CHECK_MESSAGE(reply.body.find(param) != std::string::npos, reply.body);
  }
  CHECK(fetch(w.url("/containerLogs/shop/web/app"), &w.stranger).status == 403);
}

TEST_CASE("node server: follow streams lines as they come and ends when the container exits") {
  World w;
  std::string log = w.dir.path + "/app.log";
  append(log, "2026-01-02T03:04:05Z stdout F one\n");
  w.runtime.add("c-app", labels_of("app"), 0, rt::CONTAINER_RUNNING, log);

  std::mutex mu;
  std::string streamed;
  auto seen = [&] {
    std::lock_guard lock(mu);
    return streamed;
  };
  auto wait_for = [&](const std::string& want) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (seen() != want && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    REQUIRE(seen() == want);
  };
  Reply reply;
  std::thread client([&] {
    reply =
        fetch(w.url("/containerLogs/shop/web/app?follow=true"), &w.apiserver, "GET", [&](std::string_view d) {
          std::lock_guard lock(mu);
          streamed.append(d);
        });
  });
  wait_for("one\n");
  append(log, "2026-01-02T03:04:06Z stdout F two\n");
  wait_for("one\ntwo\n");
  append(log, "2026-01-02T03:04:07Z stdout F three\n");
  w.runtime.set_state("c-app", rt::CONTAINER_EXITED);
  client.join();
  CHECK(reply.status == 200);
  CHECK(reply.body == "one\ntwo\nthree\n");
}

TEST_CASE("node server: /stats/summary has the node's and the pods' numbers") {
  World w;
  w.runtime.add("c-app", labels_of("app"), 2, rt::CONTAINER_RUNNING, "/dev/null");
  auto first = fetch(w.url("/stats/summary"), &w.apiserver);
  REQUIRE(first.status == 200);
  auto summary = parse_json(first.body, "summary");
  REQUIRE(summary);
  const Json& node = (*summary)["node"];
  CHECK(node["nodeName"] == "node-a");
  CHECK(node["cpu"]["usageCoreNanoSeconds"].get<uint64_t>() > 0);
  CHECK(node["cpu"]["time"].is_string());
  CHECK(node["memory"]["workingSetBytes"].get<uint64_t>() > 0);
  CHECK(node["memory"]["usageBytes"].get<uint64_t>() >=
        node["memory"]["workingSetBytes"].get<uint64_t>() / 2);
  REQUIRE((*summary)["pods"].size() == 1);
  const Json& pod = (*summary)["pods"][0];
  CHECK(pod["podRef"] == Json{{"name", "web"}, {"namespace", "shop"}, {"uid", kUid}});
  REQUIRE(pod["containers"].size() == 1);
  CHECK(pod["containers"][0]["name"] == "app");
  CHECK(pod["containers"][0]["cpu"]["usageCoreNanoSeconds"] == 1002);
  CHECK(pod["containers"][0]["memory"]["workingSetBytes"] == 4096);
  // ListPodSandboxStats is unimplemented here: no pod-level numbers, no error.
  CHECK(!pod.contains("cpu"));
  // A second sample gives a rate.
  auto second = parse_json(fetch(w.url("/stats/summary"), &w.apiserver).body, "summary");
  REQUIRE(second);
  CHECK((*second)["node"]["cpu"].contains("usageNanoCores"));
}
