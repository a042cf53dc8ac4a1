// The Node and Lease the agent writes, and the host facts behind them.
#include <doctest/doctest.h>

#include "host_facts.h"
#include "node_object.h"

using namespace deckhand;
using namespace deckhand::agent;
using namespace std::chrono_literals;

TEST_CASE("host fact parsers: meminfo, os-release, architecture names") {
  auto mem = parse_memory_total_kib("MemTotal:       16303264 kB\nMemFree:  1 kB\n");
  REQUIRE(mem);
  CHECK(*mem == 16303264);
  CHECK_FALSE(parse_memory_total_kib("MemFree: 1 kB\n"));
  CHECK(parse_os_pretty_name("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n") ==
        "Debian GNU/Linux 12 (bookworm)");
  CHECK(parse_os_pretty_name("NAME=x\n") == "Linux");
  CHECK(go_arch("x86_64") == "amd64");
  CHECK(go_arch("aarch64") == "arm64");
}

TEST_CASE("our labels and taints replace ours and keep everyone else's") {
  AgentConfig config;
  config.node_name = "n1";
  config.node_labels["tier"] = "edge";
  auto labels = owned_labels(config, "amd64");
  CHECK(labels["kubernetes.io/hostname"] == "n1");
  CHECK(labels["kubernetes.io/arch"] == "amd64");
  CHECK(labels["kubernetes.io/os"] == "linux");
  Json node = new_node("n1", labels, {{"a", "1", "NoSchedule"}});
  node["metadata"]["labels"]["theirs"] = "kept";
  node["spec"]["taints"].push_back({{"key", "theirs"}, {"effect", "NoExecute"}});
  CHECK_FALSE(apply_owned_metadata(node, labels, {{"a", "1", "NoSchedule"}}));
  CHECK(apply_owned_metadata(node, labels, {{"a", "2", "NoSchedule"}}));
  CHECK(node["metadata"]["labels"]["theirs"] == "kept");
  REQUIRE(node["spec"]["taints"].size() == 2);
  CHECK(node["spec"]["taints"][0]["value"] == "2");
}

TEST_CASE("status: Ready follows the runtime; a transition time moves only when the status flips") {
  ::runtime::v1::StatusResponse ok;
  for (const char* type : {"RuntimeReady", "NetworkReady"}) {
    auto* c = ok.mutable_status()->add_conditions();
    c->set_type(type);
    c->set_status(true);
  }
  StatusFacts facts;
  facts.node_name = "n1";
  facts.max_pods = 110;
  facts.host.cpus = 2;
  facts.host.memory_kib = 1024;
  facts.host.internal_ip = "10.0.0.2";
  facts.runtime_version = "deckhand-cri://0.1.0";
  Json node = new_node("n1", {}, {});
  auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  apply_status(node, facts, node_conditions(ok), t0);
  auto ready = [&]() -> Json {
    for (auto& c : node["status"]["conditions"])
      if (c["type"] == "Ready") return c;
    return Json();
  };
  CHECK(ready()["status"] == "True");
  CHECK(node["status"]["capacity"]["pods"] == "110");
  CHECK(node["status"]["nodeInfo"]["containerRuntimeVersion"] == "deckhand-cri://0.1.0");
  auto first_transition = ready()["lastTransitionTime"];
  apply_status(node, facts, node_conditions(ok), t0 + 10s);
  CHECK(ready()["lastTransitionTime"] == first_transition);
  CHECK(ready()["lastHeartbeatTime"] != first_transition);
  ::runtime::v1::StatusResponse no_network = ok;
  no_network.mutable_status()->mutable_conditions(1)->set_status(false);
  apply_status(node, facts, node_conditions(no_network), t0 + 20s);
  CHECK(ready()["status"] == "False");
  CHECK(ready()["lastTransitionTime"] != first_transition);
  CHECK(ready()["message"].get<std::string>().find("NetworkReady=false") != std::string::npos);
  Result<::runtime::v1::StatusResponse> down = fail(ErrorKind::Unavailable, "connection refused");
  apply_status(node, facts, node_conditions(down), t0 + 30s);
  CHECK(ready()["message"].get<std::string>().find("container runtime is down") != std::string::npos);
}

TEST_CASE("the Lease names its holder, renews in microseconds and belongs to the Node") {
  Json lease = Json::object();
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)) + 123456us;
  apply_lease(lease, "n1", "uid-1", now);
  CHECK(lease["spec"]["holderIdentity"] == "n1");
  CHECK(lease["spec"]["leaseDurationSeconds"] == 40);
  CHECK(lease["spec"]["renewTime"] == "2027-01-15T08:00:00.123456Z");
  CHECK(lease["metadata"]["ownerReferences"][0]["uid"] == "uid-1");
  CHECK(lease["metadata"]["ownerReferences"][0]["kind"] == "Node");
  CHECK(rfc3339(now) == "2027-01-15T08:00:00Z");
}
