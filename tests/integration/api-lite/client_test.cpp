// The C++ API client against a real deckhand-apiserver (its own port, PKI
// and data dir per test): CRUD, lists, watches, errors, identities,
// concurrency, and what happens when the server stops or never answers.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "api_world.h"
#include "deckhand/client/api_client.h"
#include "deckhand/client/kubeconfig.h"
#include "deckhand/common/fd.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/process.h"

using namespace deckhand;
using namespace deckhand::client;
using namespace deckhand::test;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<ApiClient> client_for(const std::string& kubeconfig, ClientConfig* out = nullptr) {
  auto config = load_kubeconfig(kubeconfig);
  REQUIRE_MESSAGE(config, config.error().message);
  if (out != nullptr) *out = *config;
  auto client = ApiClient::create(*config);
  REQUIRE_MESSAGE(client, client.error().message);
  return *client;
}

#define REQUIRE_OK(r) REQUIRE_MESSAGE((r), (r).error().message)

Json pod(const std::string& name, const Json& labels = Json::object()) {
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"labels", labels}}},
              {"spec",
               {{"containers", Json::array({{{"name", "c"},
                                             {"image", "busybox:1.36"},
                                             {"ports", Json::array({{{"containerPort", 80}}})}}})}}}};
}

Json config_map(const std::string& name, const Json& labels = Json::object()) {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", name}, {"labels", labels}}},
              {"data", {{"k", "v"}}}};
}

int64_t rv_of(const Json& object) {
  return std::stoll(object["metadata"]["resourceVersion"].get<std::string>());
}

// The next event that is not a BOOKMARK, within a deadline.
WatchEvent next_event(WatchStream& stream, std::chrono::milliseconds within = 10s) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    auto event = stream.next(200ms);
    REQUIRE_MESSAGE(event, event.error().message);
    if (*event && (*event)->type != "BOOKMARK") return **event;
  }
  FAIL("no watch event within " << within.count() << " ms");
  return {};
}

// TCP sockets on loopback to or from port, by state ("01" established, "06" TIME_WAIT), from /proc/net/tcp.
std::map<std::string, int> sockets_of_port(uint16_t port, bool client_side_only) {
  auto table = fs::read_file("/proc/net/tcp");
  REQUIRE(table);
  std::map<std::string, int> by_state;
  std::istringstream lines(*table);
  std::string line;
  std::getline(lines, line);  // the header
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    auto port_of = [](const std::string& address) {
      return std::stoul(address.substr(address.find(':') + 1), nullptr, 16);
    };
    bool to_server = port_of(remote) == port;
    bool from_server = port_of(local) == port;
    if (to_server || (!client_side_only && from_server)) ++by_state[state];
  }
  return by_state;
}

// A one-shot HTTP server on loopback: answers the first request with
// `response` (written in small pieces, so that lines straddle them), then
// closes the connection.
// A TCP listener on a free loopback port; returns the fd and sets port.
UniqueFd loopback_listener(uint16_t& port, int backlog) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd.get(), backlog) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  port = ntohs(addr.sin_port);
  return fd;
}

class OneShotHttpServer {
 public:
  explicit OneShotHttpServer(std::string response) : listener_(loopback_listener(port_, 4)) {
    thread_ = std::thread([this, r = std::move(response)] { serve(r); });
  }
  ~OneShotHttpServer() { thread_.join(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  bool all_written() const { return all_written_; }

 private:
  void serve(const std::string& response) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return;  // the test failed before connecting
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return;
    std::string request;
    char buf[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(conn.get(), buf, sizeof buf, 0);
      if (n <= 0) return;
      request.append(buf, static_cast<size_t>(n));
    }
    for (size_t off = 0; off < response.size(); off += 1000) {
      std::string_view piece = std::string_view(response).substr(off, 1000);
      if (::send(conn.get(), piece.data(), piece.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(piece.size()))
        return;
    }
    all_written_ = true;
  }

  uint16_t port_ = 0;  // before listener_: its initializer sets it
  UniqueFd listener_;
  std::atomic<bool> all_written_{false};
  std::thread thread_;
};

std::string issue_node_kubeconfig(ApiWorld& w, const std::string& node) {
  return w.issue_kubeconfig("system:node:" + node, {"system:nodes"});
}

}  // namespace

TEST_CASE("create, get, update, patch, update_status and remove of pods and configmaps") {
  ApiWorld w;
  auto api = client_for(w.kubeconfig());
  const auto& pods = resources::kPods;

  auto created = api->create(pods, "default", pod("web", {{"app", "web"}}));
  REQUIRE_OK(created);
  CHECK(created->at("metadata").at("uid").is_string());
  CHECK(rv_of(*created) > 0);
  auto again = api->create(pods, "default", pod("web"));
  REQUIRE_FALSE(again);
  CHECK(again.error().kind == ErrorKind::AlreadyExists);
  CHECK(last_status().code == 409);
  CHECK(last_status().reason == "AlreadyExists");
  CHECK_FALSE(is_conflict(again.error()));

  auto got = api->get(pods, "default", "web");
  REQUIRE_OK(got);
  CHECK(got->at("metadata").at("uid") == created->at("metadata").at("uid"));

  // A conditional update moves the resourceVersion; a second one from the old version conflicts.
  Json changed = *got;
  changed["metadata"]["labels"]["tier"] = "front";
  auto updated = api->update(pods, changed);
  REQUIRE_OK(updated);
  CHECK(rv_of(*updated) > rv_of(*got));
  changed["metadata"]["labels"]["tier"] = "back";
  auto stale = api->update(pods, changed);
  REQUIRE_FALSE(stale);
  CHECK(is_conflict(stale.error()));
  CHECK_FALSE(is_gone(stale.error()));
  CHECK(stale.error().kind == ErrorKind::FailedPrecondition);
  CHECK(last_status().code == 409);
  CHECK(last_status().reason == "Conflict");
  CHECK(stale.error().message.find("409 Conflict: ") != std::string::npos);

  // The three patch types.
  auto merged =
      api->patch(pods, "default", "web", PatchType::Merge, {{"metadata", {{"labels", {{"m", "1"}}}}}});
  REQUIRE_OK(merged);
  CHECK(merged->at("metadata").at("labels") == Json{{"app", "web"}, {"tier", "front"}, {"m", "1"}});
  auto strategic =
      api->patch(pods, "default", "web", PatchType::Strategic,
                 {{"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "busybox:1.37"}}})}}}});
  REQUIRE_OK(strategic);
  const Json& container = strategic->at("spec").at("containers").at(0);
  CHECK(container.at("image") == "busybox:1.37");
  CHECK(container.at("ports").at(0).at("containerPort") == 80);  // merged by name, not replaced
  auto json_patch =
      api->patch(pods, "default", "web", PatchType::Json,
                 Json::array({{{"op", "add"}, {"path", "/metadata/annotations"}, {"value", {{"a", "b"}}}}}));
  REQUIRE_OK(json_patch);
  CHECK(json_patch->at("metadata").at("annotations") == Json{{"a", "b"}});
  auto bad_patch =
      api->patch(pods, "default", "web", PatchType::Json,
                 Json::array({{{"op", "test"}, {"path", "/metadata/name"}, {"value", "other"}}}));
  REQUIRE_FALSE(bad_patch);
  CHECK(last_status().code >= 400);

  // update_status changes the status and nothing else.
  Json with_status = *json_patch;
  with_status["status"] = {{"phase", "Running"}};
  with_status["metadata"]["labels"]["ignored"] = "yes";
  auto status_updated = api->update_status(pods, with_status);
  REQUIRE_OK(status_updated);
  CHECK(status_updated->at("status").at("phase") == "Running");
  CHECK_FALSE(status_updated->at("metadata").at("labels").contains("ignored"));
  auto reread = api->get(pods, "default", "web");
  REQUIRE_OK(reread);
  CHECK(reread->at("status").at("phase") == "Running");
  CHECK_FALSE(reread->at("metadata").at("labels").contains("ignored"));

  REQUIRE_OK(api->remove(pods, "default", "web", {{"gracePeriodSeconds", 0}}));
  auto gone = api->get(pods, "default", "web");
  REQUIRE_FALSE(gone);
  CHECK(gone.error().kind == ErrorKind::NotFound);
  CHECK(last_status().code == 404);
  CHECK(gone.error().message.find("404 NotFound: ") != std::string::npos);

  // ConfigMaps: an empty namespace means the kubeconfig's ("default"); a
  // missing name is the server's 422, mapped to InvalidArgument.
  const auto& cms = resources::kConfigMaps;
  auto cm = api->create(cms, "", config_map("settings"));
  REQUIRE_OK(cm);
  CHECK(cm->at("metadata").at("namespace") == "default");
  Json cm_changed = *cm;
  cm_changed["data"]["k"] = "v2";
  auto cm_updated = api->update(cms, cm_changed);
  REQUIRE_OK(cm_updated);
  CHECK(cm_updated->at("data").at("k") == "v2");
  REQUIRE_OK(api->remove(cms, "default", "settings"));
  auto cm_gone = api->get(cms, "default", "settings");
  REQUIRE_FALSE(cm_gone);
  CHECK(cm_gone.error().kind == ErrorKind::NotFound);
  auto remove_again = api->remove(cms, "default", "settings");
  REQUIRE_FALSE(remove_again);
  CHECK(remove_again.error().kind == ErrorKind::NotFound);
  Json nameless = config_map("x");
  nameless["metadata"].erase("name");
  auto invalid = api->create(cms, "default", nameless);
  REQUIRE_FALSE(invalid);
  CHECK(invalid.error().kind == ErrorKind::InvalidArgument);
  CHECK((last_status().code == 422 || last_status().code == 400));

  // Raw GETs.
  auto version = api->get_raw("/version");
  REQUIRE_OK(version);
  CHECK(version->find("gitVersion") != std::string::npos);
  auto healthz = api->get_raw("/healthz");
  REQUIRE_OK(healthz);
  CHECK(*healthz == "ok");
}

TEST_CASE("list with label and field selectors, limit and continue; cluster-scoped resources") {
  ApiWorld w;
  auto api = client_for(w.kubeconfig());
  const auto& cms = resources::kConfigMaps;
  for (int i = 0; i < 5; ++i) {
    REQUIRE_OK(
        api->create(cms, "default", config_map("cm" + std::to_string(i), {{"tier", i < 3 ? "a" : "b"}})));
  }
  ListOptions by_label;
  by_label.label_selector = "tier=a";
  auto a = api->list(cms, "default", by_label);
  REQUIRE_OK(a);
  CHECK(a->at("items").size() == 3);
  CHECK(rv_of(*a) > 0);
  ListOptions set_based;
  set_based.label_selector = "tier in (b),tier!=a";  // commas, parentheses and '!' go through URL-encoded
  auto b = api->list(cms, "", set_based);            // "" = all namespaces
  REQUIRE_OK(b);
  CHECK(b->at("items").size() == 2);
  ListOptions by_field;
  by_field.field_selector = "metadata.name=cm4";
  auto one = api->list(cms, "default", by_field);
  REQUIRE_OK(one);
  REQUIRE(one->at("items").size() == 1);
  CHECK(one->at("items").at(0).at("metadata").at("name") == "cm4");

  std::set<std::string> seen;
  ListOptions page;
  page.limit = 2;
  int pages = 0;
  for (;;) {
    auto listed = api->list(cms, "default", page);
    REQUIRE_OK(listed);
    CHECK(listed->at("items").size() <= 2);
    for (const auto& item : listed->at("items")) seen.insert(item["metadata"]["name"].get<std::string>());
    ++pages;
    const Json& meta = listed->at("metadata");
    if (!meta.contains("continue") || meta["continue"] == "") break;
    page.continue_token = meta["continue"].get<std::string>();
    REQUIRE(pages < 10);
  }
  CHECK(pages == 3);
  CHECK(seen.size() == 5);

  auto ns = api->get(resources::kNamespaces, "", "default");
  REQUIRE_OK(ns);
  CHECK(ns->at("kind") == "Namespace");
  CHECK(resources::kNamespaces.path("ignored", "default") == "/api/v1/namespaces/default");
  CHECK(resources::kDeployments.path("ns1", "d", "scale") ==
        "/apis/apps/v1/namespaces/ns1/deployments/d/scale");
  CHECK(resources::kLeases.path("") == "/apis/coordination.k8s.io/v1/leases");
}

TEST_CASE("a watch sees ADDED, MODIFIED and DELETED in order; closing a quiet watch is prompt") {
  ApiWorld w;
  auto api = client_for(w.kubeconfig());
  const auto& cms = resources::kConfigMaps;
  auto listed = api->list(cms, "default");
  REQUIRE_OK(listed);
  WatchOptions opts;
  opts.resource_version = listed->at("metadata").at("resourceVersion").get<std::string>();
  auto stream = api->watch(cms, "default", opts);
  REQUIRE_OK(stream);
  WatchOptions selected = opts;
  selected.label_selector = "watched=yes";
  auto only_labelled = api->watch(cms, "default", selected);
  REQUIRE_OK(only_labelled);

  REQUIRE_OK(api->create(cms, "default", config_map("other")));
  REQUIRE_OK(api->create(cms, "default", config_map("w1", {{"watched", "yes"}})));
  REQUIRE_OK(api->patch(cms, "default", "w1", PatchType::Merge, {{"data", {{"k", "v2"}}}}));
  REQUIRE_OK(api->remove(cms, "default", "w1"));

  std::vector<std::pair<std::string, std::string>> expected = {
      {"ADDED", "other"}, {"ADDED", "w1"}, {"MODIFIED", "w1"}, {"DELETED", "w1"}};
  int64_t last_rv = 0;
  for (const auto& [type, name] : expected) {
    WatchEvent event = next_event(**stream);
    CHECK(event.type == type);
    CHECK(event.object["metadata"]["name"] == name);
    CHECK(rv_of(event.object) > last_rv);
    last_rv = rv_of(event.object);
  }
  for (const char* type : {"ADDED", "MODIFIED", "DELETED"}) {
    WatchEvent event = next_event(**only_labelled);
    CHECK(event.type == type);
    CHECK(event.object["metadata"]["name"] == "w1");
  }

  // Nothing more comes: next() returns nothing after its wait, and closing
  // the stream (its reader blocked on a quiet connection) is prompt.
  auto start = std::chrono::steady_clock::now();
  auto quiet = (*stream)->next(200ms);
  REQUIRE_OK(quiet);
  CHECK_FALSE(quiet->has_value());
  CHECK(std::chrono::steady_clock::now() - start >= 190ms);
  start = std::chrono::steady_clock::now();
  stream->reset();
  only_labelled->reset();
  CHECK(std::chrono::steady_clock::now() - start < 1s);
}

TEST_CASE("watch errors: 410 Gone after a restart as an ERROR event, the end of a watch, a bad request") {
  ApiWorld w;
  auto api = client_for(w.kubeconfig());
  auto created = api->create(resources::kPods, "default", pod("web"));
  REQUIRE_OK(created);
  // The new server's window of changes starts after this version.
  w.stop();
  w.start();
  WatchOptions old;
  old.resource_version = std::to_string(rv_of(*created) - 1);
  auto stream = api->watch(resources::kPods, "default", old);  // the kept-alive connection is dead: a new one
  REQUIRE_OK(stream);
  WatchEvent event = next_event(**stream);
  CHECK(event.type == "ERROR");
  CHECK(event.object["code"] == 410);
  CHECK(event.object["kind"] == "Status");

  // A watch the server ends (its timeout) is an Unavailable "watch ended".
  WatchOptions short_watch;
  short_watch.resource_version = std::to_string(rv_of(*created));
  short_watch.timeout = 1s;
  short_watch.allow_bookmarks = false;
  auto ending = api->watch(resources::kPods, "default", short_watch);
  REQUIRE_OK(ending);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  Result<std::optional<WatchEvent>> last = std::optional<WatchEvent>();
  while (last && std::chrono::steady_clock::now() < deadline) last = (*ending)->next(200ms);
  REQUIRE_FALSE(last);
  CHECK(last.error().kind == ErrorKind::Unavailable);
  CHECK(last.error().message.rfind("watch ended", 0) == 0);
  CHECK(last_status().code == 0);

  // A watch the server refuses at once is an error of watch() itself.
  WatchOptions bad;
  bad.label_selector = "a in (";
  auto refused = api->watch(resources::kPods, "default", bad);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == ErrorKind::InvalidArgument);
  CHECK(last_status().code == 400);
}

TEST_CASE(
    "identities: a node may not create what it is not allowed to; tokens; kubectl-written kubeconfigs") {
  TempDir tokens("deckhand-tokens");
  REQUIRE(fs::write_file_atomic(tokens.sub("tokens.csv"), "s3cret,ops-admin,1,\"system:masters,ops\"\n"));
  ApiWorld w({"--token-file", tokens.sub("tokens.csv")});

  auto node = client_for(issue_node_kubeconfig(w, "n1"));
  REQUIRE_OK(node->list(resources::kPods, ""));
  REQUIRE_OK(node->create(resources::kNodes, "",
                          Json{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "n1"}}}}));
  auto other_node = node->create(
      resources::kNodes, "", Json{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "n2"}}}});
  REQUIRE_FALSE(other_node);
  CHECK(other_node.error().kind == ErrorKind::PermissionDenied);
  CHECK(last_status().code == 403);
  CHECK(last_status().reason == "Forbidden");
  Json deployment = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", {{"name", "d"}}},
      {"spec",
       {{"selector", {{"matchLabels", {{"app", "d"}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", "d"}}}}},
          {"spec", {{"containers", Json::array({{{"name", "c"}, {"image", "busybox"}}})}}}}}}}};
  auto denied = node->create(resources::kDeployments, "default", deployment);
  REQUIRE_FALSE(denied);
  CHECK(denied.error().kind == ErrorKind::PermissionDenied);
  CHECK(last_status().message.find("cannot create resource \"deployments\"") != std::string::npos);

  // A kubeconfig that kubectl's own config commands wrote: a bearer token, and
  // a CA file that kubectl writes relative to the kubeconfig's directory.
  std::string kc = w.dir() + "/kubectl.kubeconfig";
  auto config_cmd = [&](std::vector<std::string> args) {
    std::vector<std::string> all = {"--kubeconfig", kc, "config"};
    all.insert(all.end(), args.begin(), args.end());
    auto r = w.kubectl(all);
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  };
  config_cmd(
      {"set-cluster", "c", "--server=" + w.url(), "--certificate-authority=" + w.pki_dir() + "/ca.crt"});
  config_cmd({"set-credentials", "ops", "--token=s3cret"});
  config_cmd({"set-credentials", "wrong",
              "--token=not the token, and long enough that kubectl folds it over lines"});
  config_cmd({"set-context", "ops@c", "--cluster=c", "--user=ops", "--namespace=kube-system"});
  config_cmd({"set-context", "wrong@c", "--cluster=c", "--user=wrong"});
  config_cmd({"use-context", "ops@c"});
  auto written = fs::read_file(kc);
  REQUIRE(written);
  CHECK_MESSAGE(written->find("certificate-authority: data/pki/ca.crt") != std::string::npos, *written);
  ClientConfig ops_config;
  auto ops = client_for(kc, &ops_config);
  CHECK(ops_config.token == "s3cret");
  CHECK(ops_config.default_namespace == "kube-system");
  auto cm = ops->create(resources::kConfigMaps, "", config_map("by-token"));
  REQUIRE_OK(cm);
  CHECK(cm->at("metadata").at("namespace") == "kube-system");
  auto wrong_config = load_kubeconfig(kc, "wrong@c");
  REQUIRE_OK(wrong_config);
  CHECK(wrong_config->token == "not the token, and long enough that kubectl folds it over lines");
  auto wrong = ApiClient::create(*wrong_config);
  REQUIRE_OK(wrong);
  auto unauthorized = (*wrong)->list(resources::kPods, "");
  REQUIRE_FALSE(unauthorized);
  CHECK(unauthorized.error().kind == ErrorKind::PermissionDenied);
  CHECK(last_status().code == 401);
}

TEST_CASE("8 threads x 50 creates share one client") {
  ApiWorld w;
  auto api = client_for(w.kubeconfig());
  constexpr int kThreads = 8;
  constexpr int kEach = 50;
  std::atomic<int> failures{0};
  std::string first_error;
  std::mutex error_mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = api->create(resources::kConfigMaps, "default",
                             config_map("t" + std::to_string(t) + "-" + std::to_string(i), {{"batch", "x"}}));
        if (!r) {
          ++failures;
          std::lock_guard lock(error_mu);
          if (first_error.empty()) first_error = r.error().message;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK_MESSAGE(failures == 0, first_error);
  ListOptions opts;
  opts.label_selector = "batch=x";
  auto listed = api->list(resources::kConfigMaps, "default", opts);
  REQUIRE_OK(listed);
  CHECK(listed->at("items").size() == kThreads * kEach);
  // Connections were kept alive and reused: a few open ones, not 400 closed ones.
  auto sockets = sockets_of_port(w.port(), /*client_side_only=*/false);
  CHECK(sockets["06"] < 20);
  auto ours = sockets_of_port(w.port(), /*client_side_only=*/true);
  CHECK(ours["01"] >= 1);
  CHECK(ours["01"] <= kThreads + 1);
}

TEST_CASE("a stopped server is Unavailable at once; a server that never answers, at the request timeout") {
  ApiWorld w;
  ClientConfig config;
  auto api = client_for(w.kubeconfig(), &config);
  REQUIRE_OK(api->get_raw("/healthz"));  // a kept-alive connection to a server about to go
  w.stop();
  auto start = std::chrono::steady_clock::now();
  auto down = api->get(resources::kPods, "default", "x");
  REQUIRE_FALSE(down);
  CHECK(down.error().kind == ErrorKind::Unavailable);
  CHECK(last_status().code == 0);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
  auto no_watch = api->watch(resources::kPods, "default", {});
  REQUIRE_FALSE(no_watch);
  CHECK(no_watch.error().kind == ErrorKind::Unavailable);

  // A listener that never accepts: the TCP connection opens (the kernel's
  // backlog), the TLS handshake never ends.
  uint16_t port = 0;
  UniqueFd listener = loopback_listener(port, 16);
  config.server = "https://127.0.0.1:" + std::to_string(port);
  config.request_timeout = 1s;
  auto silent = ApiClient::create(config);
  REQUIRE_OK(silent);
  start = std::chrono::steady_clock::now();
  auto hung = (*silent)->get(resources::kPods, "default", "x");
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(hung);
  CHECK(hung.error().kind == ErrorKind::Unavailable);
  CHECK(took >= 900ms);
  CHECK(took < 5s);
  start = std::chrono::steady_clock::now();
  auto hung_watch = (*silent)->watch(resources::kPods, "default", {});
  REQUIRE_FALSE(hung_watch);
  CHECK(hung_watch.error().kind == ErrorKind::Unavailable);
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

TEST_CASE(
    "a watch stream read slowly loses nothing; lines across pieces, blank lines, the end of the stream") {
  REQUIRE(ApiClient::create(ClientConfig{}).has_value() == false);  // no server URL
  constexpr int kEvents = 20000;  // far more than the socket buffers hold: the server waits for us
  std::string body;
  for (int i = 0; i < kEvents; ++i) {
    body += R"({"type":"ADDED","object":{"metadata":{"name":"e)" + std::to_string(i) + R"("}}})" + "\n";
    if (i % 1000 == 0) body += "\n";  // blank keep-alive lines are skipped
  }
  body += R"({"type":"DELETED","object":{}})";  // the last line may lack its line break
  OneShotHttpServer server("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" +
                           body);
  ClientConfig config;
  config.server = server.url();
  auto api = ApiClient::create(config);
  REQUIRE_OK(api);
  auto stream = (*api)->watch(resources::kPods, "default", {});
  REQUIRE_OK(stream);
  // The server writes until TCP makes it wait for our reads.
  eventually([&] { return server.all_written(); }, 200ms);
  for (int i = 0; i < kEvents; ++i) {
    auto event = (*stream)->next(5s);
    REQUIRE_OK(event);
    REQUIRE(event->has_value());
    REQUIRE((*event)->object["metadata"]["name"] == "e" + std::to_string(i));
  }
  auto last = (*stream)->next(5s);
  REQUIRE_OK(last);
  REQUIRE(last->has_value());
  CHECK((*last)->type == "DELETED");
  auto ended = (*stream)->next(5s);
  REQUIRE_FALSE(ended);
  CHECK(ended.error().kind == ErrorKind::Unavailable);
  CHECK(ended.error().message == "watch ended");
  CHECK(server.all_written());
}

TEST_CASE(
    "a watch refused with a Status is an error of watch(); a body that is no event is an error of next()") {
  {
    std::string status = R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcd is sad",)"
                         R"("reason":"InternalError","code":500})";
    OneShotHttpServer server(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: " +
        std::to_string(status.size()) + "\r\nConnection: close\r\n\r\n" + status);
    ClientConfig config;
    config.server = server.url();
    auto api = ApiClient::create(config);
    REQUIRE_OK(api);
    auto refused = (*api)->watch(resources::kPods, "default", {});
    REQUIRE_FALSE(refused);
    CHECK(refused.error().kind == ErrorKind::Unavailable);
    CHECK(refused.error().message.find("500 InternalError: etcd is sad") != std::string::npos);
    CHECK(last_status().code == 500);
    CHECK(last_status().message == "etcd is sad");
  }
  {
    OneShotHttpServer server("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nnot json\n");
    ClientConfig config;
    config.server = server.url();
    auto api = ApiClient::create(config);
    REQUIRE_OK(api);
    auto stream = (*api)->watch(resources::kPods, "default", {});
    REQUIRE_OK(stream);
    auto bad = (*stream)->next(5s);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("watch event") != std::string::npos);
  }
}
