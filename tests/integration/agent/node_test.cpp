// NodeReporter against a real deckhand-apiserver and deckhand-cri: the agent
// registers its Node with a node certificate (system:node:<name>), posts
// status and renews its Lease; we look through the admin kubectl.
#include <doctest/doctest.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <regex>
#include <sstream>
#include <thread>

#include "api_world.h"
#include "cri_world.h"
#include "deckhand/agent/node_reporter.h"
#include "deckhand/client/kubeconfig.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"

using namespace deckhand;
using namespace deckhand::test;
using namespace std::chrono_literals;

namespace {

std::string issue_node_kubeconfig(ApiWorld& w, const std::string& node) {
  return w.issue_kubeconfig("system:node:" + node, {"system:nodes"});
}

std::shared_ptr<client::ApiClient> api_client(const std::string& kubeconfig) {
  auto config = client::load_kubeconfig(kubeconfig);
  REQUIRE_MESSAGE(config, config.error().message);
  auto api = client::ApiClient::create(*config);
  REQUIRE_MESSAGE(api, api.error().message);
  return *api;
}

std::shared_ptr<cri::CriClient> cri_client(CriWorld& cri) {
  auto c = cri::CriClient::connect("unix://" + cri.root() + "/cri.sock");
  REQUIRE_MESSAGE(c, c.error().message);
  return std::shared_ptr<cri::CriClient>(std::move(*c));
}

Json json_of(const RunOutput& r) {
  REQUIRE_MESSAGE(r.exit_code == 0, r.out << r.err);
  auto j = parse_json(r.out, "kubectl output");
  REQUIRE_MESSAGE(j, r.out << r.err);
  return *j;
}

// The condition of the given type in a Node's status (null when absent).
Json status_list(const Json& node, const char* key) {
  Json list =
      node.is_object() && node.contains("status") ? node["status"].value(key, Json::array()) : Json::array();
  return list.is_array() ? list : Json::array();
}

Json condition(const Json& node, const std::string& type) {
  for (const auto& c : status_list(node, "conditions"))
    if (c.value("type", "") == type) return c;
  return Json::object();
}

std::string address(const Json& node, const std::string& type) {
  for (const auto& a : status_list(node, "addresses"))
    if (a.value("type", "") == type) return a.value("address", "");
  return "";
}

std::string lease_renew_time(client::ApiClient& admin, const std::string& node) {
  auto lease = admin.get(client::resources::kLeases, "kube-node-lease", node);
  if (!lease || !(*lease)["spec"].contains("renewTime")) return "";
  return (*lease)["spec"]["renewTime"].get<std::string>();
}

std::string ready_status(client::ApiClient& admin, const std::string& node) {
  auto n = admin.get(client::resources::kNodes, "", node);
  return n ? condition(*n, "Ready").value("status", "") : "";
}

struct NodeWorld {
  ApiWorld api;
  CriWorld cri;
  TempDir dir{"deckhand-node"};
  std::string node = unique_name("node-", 40);
  std::shared_ptr<client::ApiClient> admin = api_client(api.kubeconfig());
  std::shared_ptr<client::ApiClient> node_api = api_client(issue_node_kubeconfig(api, node));

  NodeWorld() { cri.start(); }

  agent::AgentConfig config() const {
    agent::AgentConfig c;
    c.node_name = node;
    c.root_dir = dir.sub("agent-root");  // absent: start() makes it
    c.node_labels = {{"deckhand.io/pool", "blue"}};
    c.node_taints = {"dedicated=infra:NoSchedule", "gpu:NoExecute"};
    c.max_pods = 7;
    c.lease_interval = 200ms;
    c.status_interval = 300ms;
    return c;
  }
};

}  // namespace

TEST_CASE("registers the Node with labels, taints, capacity, nodeInfo and Ready, and renews its Lease") {
  NodeWorld w;
  auto started = agent::NodeReporter::start(w.config(), w.node_api, cri_client(w.cri));
  REQUIRE_MESSAGE(started, started.error().message);
  auto& reporter = *started;
  CHECK(fs::exists(w.dir.sub("agent-root")));

  REQUIRE(eventually([&] { return ready_status(*w.admin, w.node) == "True"; }));
  Json node = json_of(w.api.kubectl({"get", "node", w.node, "-o", "json"}));
  Json labels = node["metadata"]["labels"];
  CHECK(labels["kubernetes.io/hostname"] == w.node);
  CHECK(labels["kubernetes.io/os"] == "linux");
  CHECK(labels["deckhand.io/pool"] == "blue");
  struct utsname u {};
  REQUIRE(::uname(&u) == 0);
  if (std::string(u.machine) == "x86_64") CHECK(labels["kubernetes.io/arch"] == "amd64");
  CHECK(node["spec"]["taints"] == Json::parse(R"([{"key":"dedicated","value":"infra","effect":"NoSchedule"},
                                                 {"key":"gpu","effect":"NoExecute"}])"));

  Json status = node["status"];
  for (const char* list : {"capacity", "allocatable"}) {
    CAPTURE(list);
    CHECK(status[list]["cpu"] == std::to_string(::sysconf(_SC_NPROCESSORS_ONLN)));
    CHECK(status[list]["pods"] == "7");
    CHECK(std::regex_match(status[list]["memory"].get<std::string>(), std::regex("[1-9][0-9]*Ki")));
    CHECK(
        std::regex_match(status[list]["ephemeral-storage"].get<std::string>(), std::regex("[1-9][0-9]*Ki")));
  }
  auto meminfo = fs::read_file("/proc/meminfo");
  REQUIRE(meminfo);
  std::istringstream first_line(meminfo->substr(0, meminfo->find('\n')));
  std::string key, kib;
  first_line >> key >> kib;
  CHECK(status["capacity"]["memory"] == kib + "Ki");

  Json info = status["nodeInfo"];
  auto runtime = w.cri.client().version();
  REQUIRE(runtime);
  CHECK(info["containerRuntimeVersion"] == runtime->runtime_name() + "://" + runtime->runtime_version());
  CHECK(info["containerRuntimeVersion"].get<std::string>().rfind("deckhand-cri://", 0) == 0);
  CHECK(info["kubeletVersion"] == "v1.33.0-deckhand");
  CHECK(info["operatingSystem"] == "linux");
  CHECK(info["architecture"] == labels["kubernetes.io/arch"]);
  CHECK(info["kernelVersion"] == u.release);
  auto boot_id = fs::read_file("/proc/sys/kernel/random/boot_id");
  REQUIRE(boot_id);
  CHECK(info["bootID"] == boot_id->substr(0, boot_id->find('\n')));
  CHECK(!info["osImage"].get<std::string>().empty());

  CHECK(address(node, "InternalIP") == reporter->host_ip());
  CHECK(!reporter->host_ip().empty());
  CHECK(address(node, "Hostname") == w.node);
  CHECK(status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10250);

  Json ready = condition(node, "Ready");
  CHECK(ready["reason"] == "KubeletReady");
  CHECK(ready["message"] == "deckhand-agent is posting ready status");
  for (auto [type, reason] : {std::pair{"MemoryPressure", "KubeletHasSufficientMemory"},
                              std::pair{"DiskPressure", "KubeletHasNoDiskPressure"},
                              std::pair{"PIDPressure", "KubeletHasSufficientPID"}}) {
    CAPTURE(type);
    CHECK(condition(node, type)["status"] == "False");
    CHECK(condition(node, type)["reason"] == reason);
  }

  auto table = w.api.kubectl({"get", "nodes"});
  REQUIRE(table.exit_code == 0);
  CHECK_MESSAGE(std::regex_search(table.out, std::regex(w.node + " +Ready ")), table.out);

  // The Lease: ours, owned by the Node, renewed every lease_interval.
  Json lease = json_of(w.api.kubectl({"get", "lease", "-n", "kube-node-lease", w.node, "-o", "json"}));
  CHECK(lease["spec"]["holderIdentity"] == w.node);
  CHECK(lease["spec"]["leaseDurationSeconds"] == 40);
  CHECK(std::regex_match(lease["spec"]["renewTime"].get<std::string>(),
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
  REQUIRE(lease["metadata"]["ownerReferences"].size() == 1);
  CHECK(lease["metadata"]["ownerReferences"][0]["kind"] == "Node");
  CHECK(lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]);
  std::string renewed = lease["spec"]["renewTime"];
  CHECK(eventually([&] { return lease_renew_time(*w.admin, w.node) > renewed; }, 5s));

  // Heartbeats move on (seconds resolution), transitions stay put.
  std::string beat = ready["lastHeartbeatTime"];
  Json later;
  CHECK(eventually(
      [&] {
        auto n = w.admin->get(client::resources::kNodes, "", w.node);
        if (n) later = *n;
        return n && condition(*n, "Ready").value("lastHeartbeatTime", "") > beat;
      },
      5s));
  CHECK(condition(later, "Ready")["lastTransitionTime"] == ready["lastTransitionTime"]);
}

TEST_CASE("Ready follows the runtime; the reporter rides out an apiserver restart") {
  NodeWorld w;
  auto started = agent::NodeReporter::start(w.config(), w.node_api, cri_client(w.cri));
  REQUIRE_MESSAGE(started, started.error().message);
  REQUIRE(eventually([&] { return ready_status(*w.admin, w.node) == "True"; }));

  // Without a CNI config the runtime's network is not ready, and neither is the node.
  std::string conflist = w.cri.root() + "/cni/10-test.conflist";
  auto saved = fs::read_file(conflist);
  REQUIRE(saved);
  REQUIRE(::unlink(conflist.c_str()) == 0);
  REQUIRE(eventually([&] { return ready_status(*w.admin, w.node) == "False"; }));
  auto node = w.admin->get(client::resources::kNodes, "", w.node);
  REQUIRE(node);
  Json not_ready = condition(*node, "Ready");
  CHECK(not_ready["reason"] == "KubeletNotReady");
  CHECK_MESSAGE(not_ready["message"].get<std::string>().find("NetworkReady=false") != std::string::npos,
                not_ready);
  REQUIRE(fs::write_file_atomic(conflist, *saved));
  REQUIRE(eventually([&] { return ready_status(*w.admin, w.node) == "True"; }));

  // The apiserver goes away and comes back on the same port: renewals resume.
  w.api.stop();
  std::this_thread::sleep_for(600ms);  // a few failing ticks on purpose; nothing waits on them
  w.api.start();
  std::string after_restart = lease_renew_time(*w.admin, w.node);
  CHECK(!after_restart.empty());
  CHECK(eventually([&] { return lease_renew_time(*w.admin, w.node) > after_restart; }, 5s));

  // Someone deletes the Node: the agent registers it again, and its Lease follows the new uid.
  auto before_delete = w.admin->get(client::resources::kNodes, "", w.node);
  REQUIRE(before_delete);
  std::string old_uid = (*before_delete)["metadata"]["uid"];
  REQUIRE(w.admin->remove(client::resources::kNodes, "", w.node));
  std::string new_uid;
  REQUIRE(eventually([&] {
    auto n = w.admin->get(client::resources::kNodes, "", w.node);
    if (n) new_uid = (*n)["metadata"]["uid"];
    return n && new_uid != old_uid;
  }));
  CHECK(eventually([&] {
    auto lease = w.admin->get(client::resources::kLeases, "kube-node-lease", w.node);
    return lease && (*lease)["metadata"]["ownerReferences"][0]["uid"] == new_uid;
  }));

  // The runtime crashes: NotReady, naming the runtime.
  w.cri.crash();
  REQUIRE(eventually([&] { return ready_status(*w.admin, w.node) == "False"; }));
  node = w.admin->get(client::resources::kNodes, "", w.node);
  REQUIRE(node);
  CHECK_MESSAGE(condition(*node, "Ready")["message"].get<std::string>().find("container runtime is down") !=
                    std::string::npos,
                condition(*node, "Ready"));
}

TEST_CASE("a restarted agent keeps the Node and its uid and takes its labels and taints over") {
  NodeWorld w;
  auto config = w.config();
  config.lease_interval = 10s;  // long ticks: destruction must not wait for them
  config.status_interval = 10s;
  std::string uid;
  {
    auto first = agent::NodeReporter::start(config, w.node_api, cri_client(w.cri));
    REQUIRE_MESSAGE(first, first.error().message);
    auto node = w.admin->get(client::resources::kNodes, "", w.node);
    REQUIRE(node);
    uid = (*node)["metadata"]["uid"];
    auto before = std::chrono::steady_clock::now();
    first->reset();
    CHECK(std::chrono::steady_clock::now() - before < 2s);
  }
  // Someone else's label and taint, which the agent must leave alone.
  CHECK(w.api.kubectl({"label", "node", w.node, "team=storage"}).exit_code == 0);
  CHECK(w.api.kubectl({"taint", "node", w.node, "maintenance=soon:PreferNoSchedule"}).exit_code == 0);

  config.node_labels["deckhand.io/pool"] = "green";
  config.node_taints = {"dedicated=db:NoSchedule"};
  auto second = agent::NodeReporter::start(config, w.node_api, cri_client(w.cri));
  REQUIRE_MESSAGE(second, second.error().message);
  Json node = json_of(w.api.kubectl({"get", "node", w.node, "-o", "json"}));
  CHECK(node["metadata"]["uid"] == uid);
  CHECK(node["metadata"]["labels"]["deckhand.io/pool"] == "green");
  CHECK(node["metadata"]["labels"]["team"] == "storage");
  Json taints = node["spec"]["taints"];
  auto has_taint = [&](const std::string& key, const std::string& value, const std::string& effect) {
    for (const auto& t : taints)
      if (t.value("key", "") == key && t.value("value", "") == value && t.value("effect", "") == effect)
        return true;
    return false;
  };
  CHECK_MESSAGE(has_taint("dedicated", "db", "NoSchedule"), taints);
  CHECK_MESSAGE(!has_taint("dedicated", "infra", "NoSchedule"), taints);
  CHECK_MESSAGE(has_taint("gpu", "", "NoExecute"), taints);  // from the first config: taints we set stay
  CHECK_MESSAGE(has_taint("maintenance", "soon", "PreferNoSchedule"), taints);
  CHECK(condition(node, "Ready")["status"] == "True");
}

TEST_CASE("start() fails clearly: another node's certificate (403), a malformed taint") {
  NodeWorld w;
  auto config = w.config();
  config.node_name = w.node + "-other";
  auto denied = agent::NodeReporter::start(config, w.node_api, cri_client(w.cri));
  REQUIRE_FALSE(denied);
  CHECK_MESSAGE(denied.error().message.rfind("register node " + config.node_name + ": ", 0) == 0,
                denied.error().message);
  CHECK_MESSAGE(denied.error().message.find("403 Forbidden") != std::string::npos, denied.error().message);
  CHECK(denied.error().kind == ErrorKind::PermissionDenied);
  CHECK(w.admin->get(client::resources::kNodes, "", config.node_name).error().kind == ErrorKind::NotFound);

  config = w.config();
  config.node_taints = {"dedicated=infra:Sometimes"};
  auto bad = agent::NodeReporter::start(config, w.node_api, cri_client(w.cri));
  REQUIRE_FALSE(bad);
  CHECK_MESSAGE(bad.error().message.find("taint \"dedicated=infra:Sometimes\"") != std::string::npos,
                bad.error().message);
}
