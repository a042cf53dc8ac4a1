// The garbage collector's verdicts, the namespace controller's discovery
// filter, and the controller-manager's flags and config file.
#include <doctest/doctest.h>

#include <algorithm>

#include "deckhand/common/fs.h"
#include "deckhand/controllers/controller_manager.h"
#include "deckhand/controllers/endpoints_controller.h"
#include "deckhand/controllers/garbage_collector.h"
#include "deckhand/controllers/namespace_controller.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::controllers;

TEST_CASE("owner states") {
  Json owner = {{"metadata", {{"uid", "u1"}}}};
  CHECK(owner_state(std::nullopt, "u1") == OwnerState::Dangling);
  CHECK(owner_state(owner, "u2") == OwnerState::Dangling);  // same name, another object
  CHECK(owner_state(owner, "u1") == OwnerState::Solid);
  owner["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  CHECK(owner_state(owner, "u1") == OwnerState::Solid);  // background deletion under way
  owner["metadata"]["finalizers"] = Json::array({"foregroundDeletion"});
  CHECK(owner_state(owner, "u1") == OwnerState::WaitingForDependents);
}

TEST_CASE("garbage collector verdicts") {
  Json obj = {{"metadata", {{"uid", "d"}}}};
  using S = OwnerState;
  CHECK(gc_verdict(obj, {}, false) == GcVerdict::Keep);
  CHECK(gc_verdict(obj, {S::Solid}, false) == GcVerdict::Keep);
  CHECK(gc_verdict(obj, {S::Solid, S::Dangling}, false) == GcVerdict::RemoveRefs);
  CHECK(gc_verdict(obj, {S::Solid, S::WaitingForDependents}, false) == GcVerdict::RemoveRefs);
  CHECK(gc_verdict(obj, {S::Dangling}, false) == GcVerdict::DeleteBackground);
  CHECK(gc_verdict(obj, {S::Dangling, S::Dangling}, true) == GcVerdict::DeleteBackground);
  CHECK(gc_verdict(obj, {S::WaitingForDependents}, false) == GcVerdict::DeleteBackground);
  CHECK(gc_verdict(obj, {S::WaitingForDependents}, true) == GcVerdict::DeleteForeground);
  Json orphaning = obj;
  orphaning["metadata"]["finalizers"] = Json::array({"orphan"});
  CHECK(gc_verdict(orphaning, {S::Dangling}, true) == GcVerdict::DeleteOrphan);
  Json dying = obj;
  dying["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  CHECK(gc_verdict(dying, {S::Dangling}, false) == GcVerdict::Keep);
}

TEST_CASE("namespace deletion covers namespaced resources that can be listed and deleted") {
  Json list = {{"resources", Json::array({
                   {{"name", "pods"}, {"namespaced", true}, {"kind", "Pod"}, {"verbs", {"list", "delete", "get"}}},
                   {{"name", "pods/status"}, {"namespaced", true}, {"kind", "Pod"}, {"verbs", {"get"}}},
                   {{"name", "nodes"}, {"namespaced", false}, {"kind", "Node"}, {"verbs", {"list", "delete"}}},
                   {{"name", "bindings"}, {"namespaced", true}, {"kind", "Binding"}, {"verbs", {"create"}}},
               })}};
  auto rs = deletable_resources(list, "", "v1");
  REQUIRE(rs.size() == 1);
  CHECK(rs[0].plural == "pods");
  CHECK(rs[0].kind == "Pod");
  CHECK(rs[0].path("ns1") == "/api/v1/namespaces/ns1/pods");
}

TEST_CASE("flags") {
  test::Argv missing({"deckhand-controller-manager", "--config", "/nonexistent/none.toml"});
  CHECK_FALSE(load_config(missing.argc(), missing.argv()));  // --config names a file that must exist
  test::Argv args({"deckhand-controller-manager", "--leader-elect=false", "--kubeconfig", "/k", "--controllers",
                   "*,-namespace", "--concurrent-syncs", "replicaset=2", "--leader-elect-lease-duration-ms", "3000",
                   "--log-level=debug", "--node-monitor-grace-period-ms", "1500", "--node-monitor-period-ms=200"});
  auto c = load_config(args.argc(), args.argv());
  REQUIRE_MESSAGE(c, c.error().message);
  CHECK_FALSE(c->leader_elect);
  CHECK(c->kubeconfig == "/k");
  CHECK(c->leader_election.lease_duration == std::chrono::milliseconds(3000));
  CHECK(c->concurrent_syncs["replicaset"] == 2);
  CHECK(c->concurrent_syncs["deployment"] == 5);
  CHECK(c->log_level == "debug");
  CHECK(enabled_controllers(c->controllers).value() ==
        std::vector<std::string>{"replicaset", "deployment", "garbagecollector", "endpoint", "nodelifecycle",
                                 "daemonset", "job"});
  CHECK(c->node_monitor_grace_period == std::chrono::milliseconds(1500));
  CHECK(c->node_monitor_period == std::chrono::milliseconds(200));
  CHECK(std::string(usage()).find("--node-monitor-grace-period-ms") != std::string::npos);

  test::Argv bad({"deckhand-controller-manager", "--controllers", "replicaset,bogus"});
  auto err = load_config(bad.argc(), bad.argv());
  REQUIRE_FALSE(err);
  CHECK(err.error().message.find("bogus") != std::string::npos);
  CHECK(enabled_controllers({"deployment", "replicaset"}).value() == std::vector<std::string>{"replicaset", "deployment"});
}

TEST_CASE("config file") {
  test::TempDir dir;
  std::string path = dir.sub("cm.toml");
  auto load = [&](const std::string& text) {
    REQUIRE(fs::write_file_atomic(path, text));
    test::Argv args({"deckhand-controller-manager", "--config", path});
    return load_config(args.argc(), args.argv());
  };
  auto c = load(R"(
kubeconfig = "/etc/x.kubeconfig"
leader_elect = false
lease_name = "cm"
leader_elect_retry_period_ms = 500
controllers = ["replicaset", "deployment"]
[concurrent_syncs]
deployment = 7
)");
  REQUIRE_MESSAGE(c, c.error().message);
  CHECK(c->kubeconfig == "/etc/x.kubeconfig");
  CHECK_FALSE(c->leader_elect);
  CHECK(c->leader_election.lease_name == "cm");
  CHECK(c->leader_election.retry_period == std::chrono::milliseconds(500));
  CHECK(c->controllers == std::vector<std::string>{"replicaset", "deployment"});
  CHECK(c->concurrent_syncs["deployment"] == 7);
  CHECK(c->concurrent_syncs["replicaset"] == 5);
  auto every = load("concurrent_syncs = 3\n");  // one number for every controller
  REQUIRE_MESSAGE(every, every.error().message);
  CHECK(every->concurrent_syncs["job"] == 3);
  auto bad = load("lease_name = 3\n");
  CHECK_FALSE(bad);
  auto unknown = load("nonsense = \"x\"\n");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("cm.toml") != std::string::npos);
  CHECK(unknown.error().message.find("nonsense") != std::string::npos);
  auto bad_syncs = load("[concurrent_syncs]\nbogus = 2\n");
  REQUIRE_FALSE(bad_syncs);
  CHECK(bad_syncs.error().message.find("bogus") != std::string::npos);
}

TEST_CASE("endpoint subsets: ready and not-ready addresses, ports by number and by name") {
  Json svc = {{"spec", {{"selector", {{"app", "web"}}},
                        {"ports", Json::array({{{"name", "http"}, {"port", 80}, {"targetPort", "web"}, {"protocol", "TCP"}},
                                               {{"name", "admin"}, {"port", 9000}, {"targetPort", 9001}}})}}}};
  auto pod = [](const std::string& name, const std::string& ip, int web_port, bool ready) {
    Json p = {{"metadata", {{"name", name}, {"namespace", "default"}, {"uid", name + "-uid"}}},
              {"spec", {{"nodeName", "n1"},
                        {"containers", Json::array({{{"name", "c"}, {"ports", Json::array({{{"name", "web"}, {"containerPort", web_port}}})}}})}}},
              {"status", {{"podIP", ip}, {"phase", "Running"}}}};
    if (ready) p["status"]["conditions"] = Json::array({{{"type", "Ready"}, {"status", "True"}}});
    return p;
  };
  Json no_ip = pod("pending", "", 8080, false);
  Json subsets = endpoint_subsets(svc, {pod("b", "10.0.0.2", 8080, true), pod("a", "10.0.0.1", 8080, true),
                                        pod("c", "10.0.0.3", 8080, false), pod("d", "10.0.0.4", 8081, true), no_ip});
  REQUIRE(subsets.size() == 2);  // 8080 and 8081 pods differ in their resolved ports
  const Json* main = nullptr;
  for (const auto& s : subsets)
    if (s["ports"][0]["port"] == 8080 || s["ports"][1]["port"] == 8080) main = &s;
  REQUIRE(main != nullptr);
  REQUIRE((*main)["addresses"].size() == 2);
  CHECK((*main)["addresses"][0]["ip"] == "10.0.0.1");
  CHECK((*main)["addresses"][0]["nodeName"] == "n1");
  CHECK((*main)["addresses"][0]["targetRef"]["name"] == "a");
  CHECK((*main)["addresses"][1]["ip"] == "10.0.0.2");
  REQUIRE((*main)["notReadyAddresses"].size() == 1);
  CHECK((*main)["notReadyAddresses"][0]["ip"] == "10.0.0.3");
  Json ports = (*main)["ports"];
  CHECK(ports.size() == 2);
  CHECK(std::count(ports.begin(), ports.end(), Json{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}) == 1);
  CHECK(std::count(ports.begin(), ports.end(), Json{{"name", "admin"}, {"port", 9001}, {"protocol", "TCP"}}) == 1);
  CHECK(endpoint_subsets(svc, {}).empty());
}
