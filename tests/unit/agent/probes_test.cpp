// Probe actions against a local HTTP server, local TCP ports and a fake CRI
// (ExecSync only) over gRPC; ProbeManager's thresholds, startup gating,
// fresh state per container instance and stopping, driven by the HTTP
// server's switchable answers.
#include "probes.h"

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "deckhand/common/fd.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::agent;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace rt = ::runtime::v1;

namespace {

// Polls cond every 20 ms until it holds or the time is up.
template <typename Cond>
bool eventually(Cond cond, std::chrono::milliseconds within = 5s) {
  auto deadline = Clock::now() + within;
  while (Clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

// A small HTTP/1.1 server on loopback. Each path answers with the status set
// for it (404 for unknown paths); "/redirect" answers 302 to "/fail" and
// "/slow" answers after 3 s. It counts and keeps the requests per path.
class TestHttpServer {
 public:
  explicit TestHttpServer(bool ipv6 = false) {
    listener_.reset(::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(listener_);
    sockaddr_storage addr{};
    socklen_t len = 0;
    if (ipv6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *a;
    }
    bound_ = ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0 &&
             ::listen(listener_.get(), 64) == 0 &&
             ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    if (!bound_) return;
    port_ = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                       : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    statuses_ = {{"/ok", 200}, {"/fail", 500}, {"/redirect", 302}, {"/slow", 200}};
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~TestHttpServer() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::vector<std::thread> handlers;
    {
      std::lock_guard lock(mu_);
      handlers.swap(handlers_);
    }
    for (auto& t : handlers) t.join();
  }
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  bool bound() const { return bound_; }
  int port() const { return port_; }
  // Sets a path's status; returns how many requests it had before.
  int set_status(const std::string& path, int status) {
    std::lock_guard lock(mu_);
    statuses_[path] = status;
    return counts_[path];
  }
  int count(const std::string& path) const {
    std::lock_guard lock(mu_);
    auto found = counts_.find(path);
    return found == counts_.end() ? 0 : found->second;
  }
  std::string last_request(const std::string& path) const {
    std::lock_guard lock(mu_);
    auto found = last_request_.find(path);
    return found == last_request_.end() ? "" : found->second;
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listener_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) continue;
      std::lock_guard lock(mu_);
      handlers_.emplace_back([this, fd = std::make_shared<UniqueFd>(std::move(conn))] { serve(fd->get()); });
    }
  }

  // The request head, or "" when the client went away first.
  std::string read_head(int fd) {
    std::string head;
    char buf[4096];
    auto deadline = Clock::now() + 5s;
    while (head.find("\r\n\r\n") == std::string::npos && Clock::now() < deadline && !stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return "";
      head.append(buf, static_cast<size_t>(n));
    }
    return head;
  }

  void serve(int fd) {
    std::string head = read_head(fd);
    auto first_space = head.find(' ');
    if (first_space == std::string::npos) return;
    std::string path = head.substr(first_space + 1, head.find(' ', first_space + 1) - first_space - 1);
    int status = 404;
    {
      std::lock_guard lock(mu_);
      ++counts_[path];
      last_request_[path] = head;
      if (auto found = statuses_.find(path); found != statuses_.end()) status = found->second;
    }
    if (path == "/slow")
      for (auto until = Clock::now() + 3s; Clock::now() < until && !stop_;) std::this_thread::sleep_for(10ms);
    std::string response =
        "HTTP/1.1 " + std::to_string(status) + " Test\r\nContent-Length: 0\r\nConnection: close\r\n";
    if (path == "/redirect") response += "Location: http://127.0.0.1:" + std::to_string(port_) + "/fail\r\n";
    response += "\r\n";
    (void)::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
  }

  UniqueFd listener_;
  bool bound_ = false;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> handlers_;
  std::map<std::string, int> statuses_, counts_;
  std::map<std::string, std::string> last_request_;
};

// A CRI runtime that only runs ExecSync: "true" exits 0, "false" prints to
// both streams and exits 3, "chatty" prints 5000 bytes and exits 1, "hang"
// runs until the request's timeout or a cancel and answers DEADLINE_EXCEEDED.
class FakeExecRuntime final : public rt::RuntimeService::Service {
 public:
  grpc::Status ExecSync(grpc::ServerContext* ctx, const rt::ExecSyncRequest* q,
                        rt::ExecSyncResponse* r) override {
    {
      std::lock_guard lock(mu);
      last_container_id = q->container_id();
      last_timeout = q->timeout();
    }
    std::string cmd = q->cmd_size() > 0 ? q->cmd(0) : "";
    if (cmd == "true") return grpc::Status::OK;
    if (cmd == "false") {
      r->set_stdout("out\n");
      r->set_stderr("err\n");
      r->set_exit_code(3);
      return grpc::Status::OK;
    }
    if (cmd == "chatty") {
      r->set_stdout(std::string(5000, 'x'));
      r->set_exit_code(1);
      return grpc::Status::OK;
    }
    if (cmd == "hang") {
      ++hanging;
      auto until = Clock::now() + std::chrono::seconds(q->timeout());
      while (Clock::now() < until && !ctx->IsCancelled()) std::this_thread::sleep_for(10ms);
      --hanging;
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "timeout exceeded");
    }
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no such command");
  }

  std::mutex mu;
  std::string last_container_id;
  int64_t last_timeout = -1;
  std::atomic<int> hanging{0};
};

// The fake runtime on a unix socket with a CriClient connected to it.
struct FakeCri {
  test::TempDir dir{"deckhand-probes"};
  FakeExecRuntime runtime;
  std::unique_ptr<grpc::Server> server;
  std::shared_ptr<cri::CriClient> client;

  FakeCri() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + dir.sub("cri.sock"), grpc::InsecureServerCredentials());
    builder.RegisterService(&runtime);
    server = builder.BuildAndStart();
    REQUIRE(server);
    auto c = cri::CriClient::connect(dir.sub("cri.sock"), 5s);
    REQUIRE_MESSAGE(c, c.error().message);
    client = std::move(*c);
  }
  ~FakeCri() { server->Shutdown(std::chrono::system_clock::now() + 2s); }
};

Json http_get(int port, const std::string& path) { return {{"httpGet", {{"path", path}, {"port", port}}}}; }

const ActionTarget kLoopback{"c1", "127.0.0.1", nullptr};

// Records the pod keys on_change reported.
struct Changes {
  mutable std::mutex mu;
  std::vector<std::string> keys;
  std::function<void(const std::string&)> callback() {
    return [this](const std::string& key) {
      std::lock_guard lock(mu);
      keys.push_back(key);
    };
  }
  size_t count() const {
    std::lock_guard lock(mu);
    return keys.size();
  }
  bool all_for(const std::string& key) const {
    std::lock_guard lock(mu);
    return std::all_of(keys.begin(), keys.end(), [&](const std::string& k) { return k == key; });
  }
};

Json probe_on(int port, const std::string& path, Json extra = Json::object()) {
  Json probe = {{"httpGet", {{"path", path}, {"port", port}}}, {"periodSeconds", 1}};
  probe.update(extra);
  return probe;
}

Json pod_with(Json containers, Json init_containers = Json::array()) {
  return {{"metadata", {{"name", "web"}, {"namespace", "default"}}},
          {"spec", {{"containers", std::move(containers)}, {"initContainers", std::move(init_containers)}}}};
}

const std::string kPod = "default/web";

}  // namespace

TEST_CASE("httpGet: 2xx and 3xx succeed without following redirects, other statuses fail") {
  FakeCri cri;
  TestHttpServer server;
  REQUIRE(server.bound());
  auto ok = run_action(*cri.client, http_get(server.port(), "/ok"), kLoopback, 1s);
  CHECK(ok.result == ProbeResult::Success);

  auto failed = run_action(*cri.client, http_get(server.port(), "/fail"), kLoopback, 1s);
  CHECK(failed.result == ProbeResult::Failure);
  CHECK(failed.message == "HTTP probe failed with statuscode: 500");

  auto redirected = run_action(*cri.client, http_get(server.port(), "/redirect"), kLoopback, 1s);
  CHECK(redirected.result == ProbeResult::Success);
  CHECK(server.count("/redirect") == 1);
  CHECK(server.count("/fail") == 1);  // only the direct request above

  // No path: "/" (which this server does not know).
  Json no_path = {{"httpGet", {{"port", server.port()}}}};
  auto root = run_action(*cri.client, no_path, kLoopback, 1s);
  CHECK(root.result == ProbeResult::Failure);
  CHECK(root.message == "HTTP probe failed with statuscode: 404");
  CHECK(server.count("/") == 1);
}

TEST_CASE("httpGet sends kubelet's default headers unless the handler sets its own") {
  FakeCri cri;
  TestHttpServer server;
  REQUIRE(server.bound());
  REQUIRE(run_action(*cri.client, http_get(server.port(), "/ok"), kLoopback, 1s).result ==
          ProbeResult::Success);
  std::string plain = server.last_request("/ok");
  CHECK(plain.starts_with("GET /ok HTTP/1.1\r\n"));
  CHECK(plain.find("User-Agent: kube-probe/1.33\r\n") != std::string::npos);
  CHECK(plain.find("Accept: */*\r\n") != std::string::npos);

  Json handler = http_get(server.port(), "/ok");
  handler["httpGet"]["httpHeaders"] = Json::array({{{"name", "X-Probe"}, {"value", "yes"}},
                                                   {{"name", "accept"}, {"value", "application/json"}},
                                                   {{"name", "Host"}, {"value", "example.test"}}});
  REQUIRE(run_action(*cri.client, handler, kLoopback, 1s).result == ProbeResult::Success);
  std::string custom = server.last_request("/ok");
  CHECK(custom.find("X-Probe: yes\r\n") != std::string::npos);
  CHECK(custom.find("accept: application/json\r\n") != std::string::npos);
  CHECK(custom.find("Accept: */*") == std::string::npos);
  CHECK(custom.find("Host: example.test\r\n") != std::string::npos);
  CHECK(custom.find("User-Agent: kube-probe/1.33\r\n") != std::string::npos);
}

TEST_CASE("httpGet and tcpSocket resolve named ports against the container's ports") {
  FakeCri cri;
  TestHttpServer server;
  REQUIRE(server.bound());
  Json container = {{"name", "app"},
                    {"ports", Json::array({{{"name", "metrics"}, {"containerPort", 1}},
                                           {{"name", "web"}, {"containerPort", server.port()}}})}};
  ActionTarget target{"c1", "127.0.0.1", &container};

  Json named = {{"httpGet", {{"path", "/ok"}, {"port", "web"}}}};
  CHECK(run_action(*cri.client, named, target, 1s).result == ProbeResult::Success);
  Json as_text = {{"httpGet", {{"path", "/ok"}, {"port", std::to_string(server.port())}}}};
  CHECK(run_action(*cri.client, as_text, target, 1s).result == ProbeResult::Success);
  CHECK(server.count("/ok") == 2);

  Json unknown = {{"httpGet", {{"path", "/ok"}, {"port", "admin"}}}};
  auto missing = run_action(*cri.client, unknown, target, 1s);
  CHECK(missing.result == ProbeResult::Failure);
  CHECK(missing.message.find("\"admin\"") != std::string::npos);

  Json tcp_named = {{"tcpSocket", {{"port", "web"}}}};
  CHECK(run_action(*cri.client, tcp_named, target, 1s).result == ProbeResult::Success);
  Json out_of_range = {{"tcpSocket", {{"port", 70000}}}};
  CHECK(run_action(*cri.client, out_of_range, target, 1s).result == ProbeResult::Failure);
}

TEST_CASE("httpGet gives up after the timeout") {
  FakeCri cri;
  TestHttpServer server;
  REQUIRE(server.bound());
  auto start = Clock::now();
  auto slow = run_action(*cri.client, http_get(server.port(), "/slow"), kLoopback, 500ms);
  auto took = Clock::now() - start;
  CHECK(slow.result == ProbeResult::Failure);
  CHECK(slow.message.find("Get \"http://127.0.0.1:") == 0);
  CHECK(took >= 450ms);
  CHECK(took < 2500ms);
}

TEST_CASE("httpGet to an IPv6 pod IP puts it in brackets") {
  FakeCri cri;
  // Whether or not this host has IPv6, the URL and the address say where we went.
  ActionTarget nowhere{"c1", "::1", nullptr};
  auto http = run_action(*cri.client, http_get(1, "/x"), nowhere, 1s);
  CHECK(http.message.starts_with("Get \"http://[::1]:1/x\": "));
  auto tcp_closed = run_action(*cri.client, Json{{"tcpSocket", {{"port", 1}}}}, nowhere, 1s);
  CHECK(tcp_closed.message.starts_with("dial tcp [::1]:1: "));

  TestHttpServer server(true);
  if (!server.bound()) {
    MESSAGE("no IPv6 loopback here: skipped");
    return;
  }
  ActionTarget target{"c1", "::1", nullptr};
  CHECK(run_action(*cri.client, http_get(server.port(), "/ok"), target, 1s).result == ProbeResult::Success);
  CHECK(server.count("/ok") == 1);
  Json tcp = {{"tcpSocket", {{"port", server.port()}}}};
  CHECK(run_action(*cri.client, tcp, target, 1s).result == ProbeResult::Success);
}

TEST_CASE("tcpSocket: an open port succeeds, a closed one fails") {
  FakeCri cri;
  TestHttpServer server;
  REQUIRE(server.bound());
  Json open = {{"tcpSocket", {{"port", server.port()}}}};
  CHECK(run_action(*cri.client, open, kLoopback, 1s).result == ProbeResult::Success);

  // A port bound but not listening refuses connections, and nobody else can take it meanwhile.
  UniqueFd closed(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(closed.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0);
  REQUIRE(::getsockname(closed.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  Json refused = {{"tcpSocket", {{"host", "127.0.0.1"}, {"port", ntohs(addr.sin_port)}}}};
  auto outcome = run_action(*cri.client, refused, ActionTarget{"c1", "", nullptr}, 1s);
  CHECK(outcome.result == ProbeResult::Failure);
  CHECK(outcome.message ==
        "dial tcp 127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + ": connect: Connection refused");
}

TEST_CASE("exec runs through CRI ExecSync; non-zero exits and timeouts fail") {
  FakeCri cri;
  Json ok = {{"exec", {{"command", {"true", "arg"}}}}};
  CHECK(run_action(*cri.client, ok, kLoopback, 2s).result == ProbeResult::Success);
  {
    std::lock_guard lock(cri.runtime.mu);
    CHECK(cri.runtime.last_container_id == "c1");
    CHECK(cri.runtime.last_timeout == 2);
  }

  Json failing = {{"exec", {{"command", {"false"}}}}};
  auto failed = run_action(*cri.client, failing, kLoopback, 1s);
  CHECK(failed.result == ProbeResult::Failure);
  CHECK(failed.message == "command [false] exited with 3: out\nerr");

  Json chatty = {{"exec", {{"command", {"chatty"}}}}};
  auto long_output = run_action(*cri.client, chatty, kLoopback, 1s);
  CHECK(long_output.result == ProbeResult::Failure);
  CHECK(long_output.message.size() <= 1030);
  CHECK(long_output.message.ends_with("xxx..."));

  Json hanging = {{"exec", {{"command", {"hang"}}}}};
  auto start = Clock::now();
  auto timed_out = run_action(*cri.client, hanging, kLoopback, 1s);
  CHECK(timed_out.result == ProbeResult::Failure);
  CHECK(timed_out.message == "command [hang] timed out after 1s");
  CHECK(Clock::now() - start < 4s);

  Json no_command = {{"exec", {{"command", Json::array()}}}};
  CHECK(run_action(*cri.client, no_command, kLoopback, 1s).result == ProbeResult::Failure);
}

TEST_CASE("a sleep handler sleeps its seconds, at most until the timeout") {
  FakeCri cri;
  auto t0 = Clock::now();
  auto cut = run_action(*cri.client, Json{{"sleep", {{"seconds", 30}}}}, kLoopback, 200ms);
  auto took = Clock::now() - t0;
  CHECK(cut.result == ProbeResult::Success);
  CHECK(took >= 200ms);
  CHECK(took < 10s);  // not the 30 s asked for
  t0 = Clock::now();
  CHECK(run_action(*cri.client, Json{{"sleep", {{"seconds", 0}}}}, kLoopback, 10s).result == ProbeResult::Success);
  CHECK(Clock::now() - t0 < 5s);
}

TEST_CASE("handlers without a supported action fail with a reason") {
  FakeCri cri;
  auto grpc_probe = run_action(*cri.client, Json{{"grpc", {{"port", 9000}}}}, kLoopback, 1s);
  CHECK(grpc_probe.result == ProbeResult::Failure);
  CHECK(grpc_probe.message == "grpc probes are not supported");
  auto empty = run_action(*cri.client, Json::object(), kLoopback, 1s);
  CHECK(empty.result == ProbeResult::Failure);
  CHECK(empty.message.find("none of exec, httpGet, tcpSocket") != std::string::npos);
  auto bad_port = run_action(*cri.client, Json{{"httpGet", {{"port", true}}}}, kLoopback, 1s);
  CHECK(bad_port.result == ProbeResult::Failure);
}

TEST_CASE("readiness: not ready until a success, not ready again after failureThreshold failures") {
  FakeCri cri;
  TestHttpServer server;
  REQUIRE(server.bound());
  server.set_status("/ready", 500);
  Changes changes;
  ProbeManager probes(cri.client, changes.callback());
  Json container = {{"name", "app"},
                    {"ports", Json::array({{{"name", "http"}, {"containerPort", server.port()}}})},
                    {"readinessProbe", probe_on(server.port(), "/ready", {{"failureThreshold", 2}})}};
  container["readinessProbe"]["httpGet"]["port"] = "http";
  probes.update_pod(kPod, pod_with(Json::array({container})), "127.0.0.1", {{"app", "c1"}});

  auto h = probes.health(kPod, "c1");
  CHECK(h.started);
  CHECK_FALSE(h.ready);
  REQUIRE(eventually([&] { return server.count("/ready") >= 1; }));
  CHECK_FALSE(probes.health(kPod, "c1").ready);
  CHECK(changes.count() == 0);

  server.set_status("/ready", 200);
  REQUIRE(eventually([&] { return probes.health(kPod, "c1").ready; }));
  CHECK(eventually([&] { return changes.count() == 1; }));

  int before_failing = server.set_status("/ready", 500);
  REQUIRE(eventually([&] { return !probes.health(kPod, "c1").ready; }));
  CHECK(server.count("/ready") - before_failing >= 2);
  CHECK(eventually([&] { return changes.count() == 2; }));
  CHECK(changes.all_for(kPod));
  CHECK_FALSE(probes.health(kPod, "c1").restart_wanted);
}

TEST_CASE("liveness: failureThreshold failures ask for a restart; a new instance starts afresh") {
  FakeCri cri;
  TestHttpServer server;
  REQUIRE(server.bound());
  server.set_status("/live", 500);
  Changes changes;
  ProbeManager probes(cri.client, changes.callback());
  // The readiness probe keeps running: it is the clock that shows liveness has stopped.
  Json container = {{"name", "app"},
                    {"livenessProbe", probe_on(server.port(), "/live", {{"failureThreshold", 2}})},
                    {"readinessProbe", probe_on(server.port(), "/ok")}};
  Json pod = pod_with(Json::array({container}));
  probes.update_pod(kPod, pod, "127.0.0.1", {{"app", "c1"}});

  REQUIRE(eventually([&] { return probes.health(kPod, "c1").restart_wanted; }));
  auto h = probes.health(kPod, "c1");
  CHECK(h.message == "Liveness probe failed: HTTP probe failed with statuscode: 500");
  CHECK(h.started);
  CHECK(server.count("/live") == 2);
  int readiness_runs = server.count("/ok");
  REQUIRE(eventually([&] { return server.count("/ok") >= readiness_runs + 2; }));
  CHECK(server.count("/live") == 2);
  CHECK(probes.health(kPod, "c1").ready);
  CHECK(eventually([&] { return changes.count() == 2; }));  // ready, then restart_wanted

  // The restarted container: fresh state, and its own probes fail it again.
  probes.update_pod(kPod, pod, "127.0.0.1", {{"app", "c2"}});
  CHECK_FALSE(probes.health(kPod, "c2").restart_wanted);
  CHECK_FALSE(probes.health(kPod, "c1").restart_wanted);  // forgotten
  REQUIRE(eventually([&] { return probes.health(kPod, "c2").restart_wanted; }));
  // c1's worker stopped at its failure: only c2's two probes came since.
  CHECK(server.count("/live") == 4);
  CHECK(eventually([&] { return changes.count() == 4; }));
}

TEST_CASE("startup probe: liveness and readiness wait for it; it stops once passed") {
  FakeCri cri;
  TestHttpServer server;
  REQUIRE(server.bound());
  server.set_status("/startup", 500);
  server.set_status("/ready", 200);
  server.set_status("/live", 200);
  Changes changes;
  ProbeManager probes(cri.client, changes.callback());
  Json container = {{"name", "app"},
                    {"startupProbe", probe_on(server.port(), "/startup", {{"failureThreshold", 30}})},
                    {"livenessProbe", probe_on(server.port(), "/live")},
                    {"readinessProbe", probe_on(server.port(), "/ready")}};
  probes.update_pod(kPod, pod_with(Json::array({container})), "127.0.0.1", {{"app", "c1"}});

  REQUIRE(eventually([&] { return server.count("/startup") >= 2; }));
  auto h = probes.health(kPod, "c1");
  CHECK_FALSE(h.started);
  CHECK_FALSE(h.ready);
  CHECK_FALSE(h.restart_wanted);
  CHECK(server.count("/ready") == 0);
  CHECK(server.count("/live") == 0);

  server.set_status("/startup", 200);
  REQUIRE(eventually([&] { return probes.health(kPod, "c1").ready; }));
  CHECK(probes.health(kPod, "c1").started);
  int startup_runs = server.count("/startup");
  REQUIRE(eventually([&] { return server.count("/live") >= 2; }));
  CHECK(server.count("/startup") == startup_runs);
  CHECK(changes.count() >= 1);
}

TEST_CASE("startup probe failure asks for a restart") {
  FakeCri cri;
  TestHttpServer server;
  REQUIRE(server.bound());
  Changes changes;
  ProbeManager probes(cri.client, changes.callback());
  Json container = {{"name", "app"},
                    {"startupProbe", probe_on(server.port(), "/fail", {{"failureThreshold", 1}})}};
  probes.update_pod(kPod, pod_with(Json::array({container})), "127.0.0.1", {{"app", "c1"}});
  REQUIRE(eventually([&] { return probes.health(kPod, "c1").restart_wanted; }));
  auto h = probes.health(kPod, "c1");
  CHECK(h.message == "Startup probe failed: HTTP probe failed with statuscode: 500");
  CHECK_FALSE(h.started);
  CHECK(eventually([&] { return changes.count() == 1; }));
}

TEST_CASE("restartable init containers are probed; other init containers are not") {
  FakeCri cri;
  TestHttpServer server;
  REQUIRE(server.bound());
  ProbeManager probes(cri.client, nullptr);
  Json sidecar = {
      {"name", "sidecar"}, {"restartPolicy", "Always"}, {"readinessProbe", probe_on(server.port(), "/side")}};
  Json setup = {{"name", "setup"}, {"readinessProbe", probe_on(server.port(), "/setup")}};
  Json plain = {{"name", "app"}};
  probes.update_pod(kPod, pod_with(Json::array({plain}), Json::array({sidecar, setup})), "127.0.0.1",
                    {{"sidecar", "s1"}, {"setup", "s2"}, {"app", "a1"}});
  CHECK_FALSE(probes.health(kPod, "s1").ready);
  CHECK(probes.health(kPod, "s2").ready);
  CHECK(probes.health(kPod, "a1").ready);
  REQUIRE(eventually([&] { return server.count("/side") >= 2; }));
  CHECK(server.count("/setup") == 0);
  CHECK_FALSE(probes.health(kPod, "s1").ready);  // 404
}

TEST_CASE("remove_pod stops probing") {
  FakeCri cri;
  TestHttpServer server;
  REQUIRE(server.bound());
  ProbeManager probes(cri.client, nullptr);
  Json container = {{"name", "app"}, {"readinessProbe", probe_on(server.port(), "/ok")}};
  probes.update_pod(kPod, pod_with(Json::array({container})), "127.0.0.1", {{"app", "c1"}});
  REQUIRE(eventually([&] { return server.count("/ok") >= 2; }));
  CHECK(probes.health(kPod, "c1").ready);

  probes.remove_pod(kPod);
  CHECK(probes.health(kPod, "c1").ready);  // unknown instance: defaults
  // A probe already on its way may still land; after that, none for 2+ periods.
  std::this_thread::sleep_for(300ms);
  int after_remove = server.count("/ok");
  CHECK_FALSE(eventually([&] { return server.count("/ok") != after_remove; }, 2200ms));
}

TEST_CASE("the destructor ends an exec probe in flight") {
  FakeCri cri;
  auto probes = std::make_unique<ProbeManager>(cri.client, nullptr);
  Json probe = {{"exec", {{"command", {"hang"}}}}, {"timeoutSeconds", 30}};
  Json container = {{"name", "app"}, {"livenessProbe", probe}};
  probes->update_pod(kPod, pod_with(Json::array({container})), "10.0.0.1", {{"app", "c1"}});
  REQUIRE(eventually([&] { return cri.runtime.hanging.load() == 1; }));
  auto start = Clock::now();
  probes.reset();
  CHECK(Clock::now() - start < 3s);
  CHECK(eventually([&] { return cri.runtime.hanging.load() == 0; }));
}
