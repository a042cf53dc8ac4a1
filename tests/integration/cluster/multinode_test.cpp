// Issue 6's multi-node run on one machine: three nodes, each a network
// namespace of its own with its own deckhand-cri (pods on the node's bridge,
// a /24 per node) and a deckhand-agent, joined by a bridge in a namespace of
// the test's own, with routes between the nodes' pod subnets and no default
// route anywhere; one apiserver, scheduler and controller-manager. A
// Deployment spreads over the nodes, its pods reach each other across nodes
// by pod IP, and a node whose agent dies is marked unreachable, tainted, and
// its pods are replaced on the others.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <set>

#include "agent_process.h"
#include "api_world.h"
#include "cluster_world.h"
#include "cri_world.h"
#include "deckhand/common/process.h"
#include "netns.h"

using namespace deckhand;
using namespace deckhand::test;
using namespace std::chrono_literals;

namespace {

void ip(const std::vector<std::string>& args) {
  RunOptions o;
  o.argv = {"ip"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  auto r = run_process(o);
  REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
  std::string command;
  for (auto& a : o.argv) command += a + " ";
  REQUIRE_MESSAGE(r->exit_code == 0, command << ": " << r->err);
}

// Runs a shell command inside a network namespace (for its /proc/sys/net).
void in_netns(const std::string& netns, const std::string& script) {
  RunOptions o;
  o.argv = {"/usr/bin/nsenter", "--net=" + netns, "--", "/bin/sh", "-c", script};
  auto r = run_process(o);
  REQUIRE_MESSAGE((r && r->exit_code == 0), script << ": " << (r ? r->err : r.error().message));
}

// The nodes' network: a fabric namespace holding a bridge, and per node a
// namespace with a veth into the fabric at 10.<x>.0.<i+1>/24 and routes to
// the other nodes' pod subnets through their addresses.
class NodeNetwork {
 public:
  explicit NodeNetwork(int nodes) {
    tag_ = unique_name("dm", 10);
    fabric_ = std::make_unique<Netns>("/run/netns/" + tag_ + "f");
    ip({"-n", tag_ + "f", "link", "add", "fabric", "type", "bridge"});
    ip({"-n", tag_ + "f", "link", "set", "fabric", "up"});
    int x = 100 + static_cast<int>(::getpid() % 100);
    for (int i = 0; i < nodes; ++i) {
      std::string name = tag_ + "n" + std::to_string(i);
      netns_.push_back(std::make_unique<Netns>("/run/netns/" + name));
      addresses_.push_back(fmt::format("10.{}.0.{}", x, i + 1));
      std::string node_end = "eth-fabric", fabric_end = "node" + std::to_string(i);
      ip({"link", "add", node_end, "netns", name, "type", "veth", "peer", "name", fabric_end, "netns", tag_ + "f"});
      ip({"-n", tag_ + "f", "link", "set", fabric_end, "master", "fabric", "up"});
      ip({"-n", name, "addr", "add", addresses_.back() + "/24", "dev", node_end});
      ip({"-n", name, "link", "set", node_end, "up"});
      ip({"-n", name, "link", "set", "lo", "up"});
      // A node routes between its pods and the fabric.
      in_netns(netns_.back()->path(), "echo 1 > /proc/sys/net/ipv4/ip_forward");
    }
  }

  const std::string& netns(int i) const { return netns_.at(i)->path(); }
  std::string name(int i) const { return tag_ + "n" + std::to_string(i); }

  // Node i reaches the pods of node j (subnet "a.b.c.0/24") through node j's address.
  void route(int i, int j, const std::string& subnet) {
    ip({"-n", name(i), "route", "add", subnet, "via", addresses_.at(j)});
  }

 private:
  std::string tag_;
  std::unique_ptr<Netns> fabric_;
  std::vector<std::unique_ptr<Netns>> netns_;
  std::vector<std::string> addresses_;
};

// One node: its deckhand-cri in its namespace, its agent (in ours: it needs
// only the apiserver on loopback and the runtime's socket).
struct Node {
  std::string name;
  std::unique_ptr<CriWorld> cri;
  std::unique_ptr<AgentProcess> agent;
};

class MultiNodeWorld {
 public:
  static constexpr int kNodes = 3;

  MultiNodeWorld() : network_(kNodes) {
    for (int i = 0; i < kNodes; ++i) {
      Node n;
      n.name = unique_name("mn" + std::to_string(i) + "-", 40);
      WorldOptions o;
      o.netns = network_.netns(i);
      o.pod_routes = {"10.0.0.0/8"};  // the other nodes' pods; the nodes have no route beyond them
      n.cri = std::make_unique<CriWorld>(o);
      n.cri->start();
      auto imported = n.cri->client().import_image(build_path("tests/fixtures/busybox-1.36-oci.tar"));
      REQUIRE_MESSAGE(imported, (imported ? "" : imported.error().message));
      nodes_.push_back(std::move(n));
    }
    for (int i = 0; i < kNodes; ++i)
      for (int j = 0; j < kNodes; ++j)
        if (i != j) network_.route(i, j, nodes_[j].cri->subnet_prefix() + "0/24");
    scheduler_ = std::make_unique<ControlPlaneProcess>(
        api_, "api-lite/scheduler/deckhand-scheduler", "scheduler",
        std::vector<std::string>{"--leader-elect", "false", "--backoff-initial-ms", "200", "--backoff-max-ms", "1000"});
    controller_manager_ = std::make_unique<ControlPlaneProcess>(
        api_, "api-lite/controller-manager/deckhand-controller-manager", "controller-manager",
        std::vector<std::string>{"--leader-elect", "false", "--node-monitor-grace-period-ms", "3000",
                                 "--node-monitor-period-ms", "500"});
    for (auto& n : nodes_) {
      n.agent = std::make_unique<AgentProcess>(
          api_, AgentProcessOptions{n.name, "unix://" + n.cri->root() + "/cri.sock", n.cri->cgroup_parent(), {}});
      n.agent->start();
    }
    bool ready = eventually([&] {
      int count = 0;
      for (auto& n : nodes_) count += node_condition(n.name, "Ready") == "True";
      return count == kNodes;
    }, 30s);
    REQUIRE_MESSAGE(ready, logs());
  }

  ~MultiNodeWorld() {
    // Pods of a dead node are never confirmed by its agent: force them out.
    api_.kubectl({"delete", "deployments", "--all", "--wait=false"});
    api_.kubectl({"delete", "pods", "--all", "--grace-period=0", "--force", "--wait=false"});
  }

  ApiWorld& api() { return api_; }
  Node& node(int i) { return nodes_.at(i); }
  int index_of(const std::string& node_name) const {
    for (int i = 0; i < kNodes; ++i)
      if (nodes_[i].name == node_name) return i;
    return -1;
  }

  Json get_json(const std::vector<std::string>& what) {
    std::vector<std::string> args = {"get"};
    args.insert(args.end(), what.begin(), what.end());
    args.insert(args.end(), {"-o", "json"});
    auto r = api_.kubectl(args);
    if (r.exit_code != 0) return Json::object();
    auto j = parse_json(r.out, "kubectl output");
    return j ? *j : Json::object();
  }

  std::string node_condition(const std::string& node, const std::string& type) {
    for (const auto& c : get_json({"node", node}).value("status", Json::object()).value("conditions", Json::array()))
      if (c.value("type", "") == type) return c.value("status", "");
    return "";
  }

  // The Deployment's pods that are Running and not being deleted.
  std::vector<Json> running_pods(const std::string& app) {
    std::vector<Json> out;
    for (auto& p : get_json({"pods", "-l", "app=" + app}).value("items", Json::array())) {
      if (p["metadata"].contains("deletionTimestamp")) continue;
      if (p.value("status", Json::object()).value("phase", "") == "Running" && p["status"].contains("podIP"))
        out.push_back(p);
    }
    return out;
  }

  // Whether any node could send traffic off the machine.
  bool nodes_have_default_route() {
    for (int i = 0; i < kNodes; ++i) {
      RunOptions o;
      o.argv = {"ip", "-n", network_.name(i), "route", "show", "default"};
      auto r = run_process(o);
      if (!r || r->exit_code != 0 || !r->out.empty()) return true;
    }
    return false;
  }

  // Addresses and routes of every node, for failure messages.
  std::string network_report() {
    std::string s;
    for (int i = 0; i < kNodes; ++i)
      for (auto what : {std::vector<std::string>{"addr"}, {"route"}}) {
        RunOptions o;
        o.argv = {"ip", "-n", network_.name(i)};
        o.argv.insert(o.argv.end(), what.begin(), what.end());
        auto r = run_process(o);
        s += "--- node " + std::to_string(i) + " " + what[0] + ":\n" + (r ? r->out + r->err : r.error().message);
      }
    return s;
  }

  std::string logs() {
    std::string s = scheduler_->output() + controller_manager_->output();
    for (auto& n : nodes_) s += "--- agent " + n.name + ":\n" + n.agent->log();
    return s.size() > 20000 ? s.substr(s.size() - 20000) : s;
  }

 private:
  NodeNetwork network_;
  ApiWorld api_;
  std::vector<Node> nodes_;
  std::unique_ptr<ControlPlaneProcess> scheduler_, controller_manager_;
};

Json web_deployment(int replicas) {
  Json container = {
      {"name", "web"},
      {"image", "deckhand.test/busybox:1.36"},
      {"command",
       {"sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"}}};
  // Evicted from an unreachable node after 1 s, not the default 300 s.
  Json tolerations = Json::array({{{"key", "node.kubernetes.io/unreachable"},
                                   {"operator", "Exists"},
                                   {"effect", "NoExecute"},
                                   {"tolerationSeconds", 1}}});
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", "web"}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", "web"}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", "web"}}}}},
              {"spec",
               {{"dnsPolicy", "Default"},
                {"terminationGracePeriodSeconds", 1},
                {"tolerations", tolerations},
                {"containers", Json::array({container})}}}}}}}};
}

std::string container_id(const Json& pod) {
  std::string id = pod["status"]["containerStatuses"][0].value("containerID", "");
  return id.substr(id.find("://") + 3);
}

}  // namespace

TEST_CASE("three nodes on one machine: a Deployment spreads, pods talk across nodes, a dead node's pods move") {
  MultiNodeWorld w;
  REQUIRE_FALSE(w.nodes_have_default_route());
  auto created = w.api().kubectl({"create", "-f", "-"}, web_deployment(3).dump());
  REQUIRE_MESSAGE(created.exit_code == 0, created.err);
  std::vector<Json> pods;
  REQUIRE_MESSAGE(eventually([&] { return (pods = w.running_pods("web")).size() == 3; }, 60s), w.logs());

  // Spread: the scheduler's selector spreading puts them on different nodes.
  std::set<std::string> nodes;
  for (auto& p : pods) nodes.insert(p["spec"].value("nodeName", ""));
  CHECK_MESSAGE(nodes.size() == 3, "pods on " << nodes.size() << " nodes");
  REQUIRE(nodes.size() >= 2);

  // Each pod's IP is from its own node's subnet, and a pod reaches a pod on another node.
  const Json* from = nullptr;
  const Json* to = nullptr;
  for (auto& p : pods) {
    int i = w.index_of(p["spec"]["nodeName"]);
    REQUIRE(i >= 0);
    CHECK(p["status"]["podIP"].get<std::string>().rfind(w.node(i).cri->subnet_prefix(), 0) == 0);
    if (!from) from = &p;
    else if (!to && p["spec"]["nodeName"] != (*from)["spec"]["nodeName"]) to = &p;
  }
  REQUIRE(to);
  int from_node = w.index_of((*from)["spec"]["nodeName"]);
  // nc, not wget: the static busybox's wget looks the "http" service up through NSS and crashes.
  std::string request = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 " +
                        (*to)["status"]["podIP"].get<std::string>() + " 8080";
  std::string answer;
  bool reached = eventually([&] {
    auto r = w.node(from_node).cri->client().exec_sync(container_id(*from), {"sh", "-c", request}, 5);
    answer = r ? fmt::format("exit {}: {}{}", r->exit_code(), r->stdout(), r->stderr()) : r.error().message;
    return r && r->exit_code() == 0;
  }, 20s);
  CHECK_MESSAGE(reached, answer << "\n" << w.network_report());
  CHECK(answer.find((*to)["metadata"].value("name", "")) != std::string::npos);  // its hostname

  // A node's agent dies: the node goes unreachable, is tainted, its pod moves.
  std::string dead = (*to)["spec"]["nodeName"];
  w.node(w.index_of(dead)).agent->stop(SIGKILL);
  REQUIRE_MESSAGE(eventually([&] { return w.node_condition(dead, "Ready") == "Unknown"; }, 20s), w.logs());
  // The controller writes the condition and the taint in two updates: wait for the second too.
  bool tainted = eventually([&] {
    Json node = w.get_json({"node", dead});
    for (auto& t : node["spec"].value("taints", Json::array()))
      if (t.value("key", "") == "node.kubernetes.io/unreachable" && t.value("effect", "") == "NoExecute") return true;
    return false;
  }, 20s);
  CHECK_MESSAGE(tainted, w.get_json({"node", dead}).dump() << "\n" << w.logs());
  bool moved = eventually([&] {
    pods = w.running_pods("web");
    if (pods.size() != 3) return false;
    for (auto& p : pods)
      if (p["spec"].value("nodeName", "") == dead) return false;
    return true;
  }, 60s);
  CHECK_MESSAGE(moved, w.logs());
}
