#include "deckhand/scheduler/framework.h"

#include <doctest/doctest.h>

#include "deckhand/scheduler/cache.h"

using namespace deckhand;
using namespace deckhand::scheduler;

namespace {

NodeSpecInfo node_spec(const std::string& name, int64_t milli_cpu = 4000, int64_t memory = 8LL << 30) {
  NodeSpecInfo n;
  n.name = name;
  n.ready = true;
  n.labels = {{"kubernetes.io/hostname", name}};
  n.allocatable = {milli_cpu, memory, 0};
  n.allowed_pods = 110;
  return n;
}

NodeInfo node_info(const NodeSpecInfo& spec) {
  NodeInfo n;
  n.spec = spec;
  return n;
}

std::shared_ptr<PodInfo> pod(const std::string& name, int64_t milli_cpu = 100, int64_t memory = 100 << 20) {
  auto p = std::make_shared<PodInfo>();
  p->ns = "default";
  p->name = name;
  p->key = "default/" + name;
  p->requests = {milli_cpu, memory, 0};
  p->nonzero_requests = p->requests;
  return p;
}

NodeSelectorRequirement req(const std::string& key, const std::string& op, std::vector<std::string> values = {}) {
  return {key, op, std::move(values)};
}

}  // namespace

TEST_CASE("filters: resources, pods, unschedulable, readiness") {
  NodeInfo n = node_info(node_spec("n1", 1000, 1 << 30));
  auto small = pod("small", 600, 100 << 20);
  CHECK_FALSE(filter_node(*small, n, {}).failed());
  n.add_pod(pod("other", 600, 1 << 29));
  auto f = filter_node(*small, n, {});
  CHECK(f.reasons == std::vector<std::string>{"Insufficient cpu"});
  CHECK(f.resolvable);
  auto big = pod("big", 600, 1 << 30);
  CHECK(filter_node(*big, n, {}).reasons == std::vector<std::string>{"Insufficient cpu", "Insufficient memory"});
  n.remove_pod("default/other");
  CHECK(n.requested.milli_cpu == 0);
  CHECK(n.pod_count == 0);
  n.spec.allowed_pods = 0;
  CHECK(filter_node(*small, n, {}).reasons == std::vector<std::string>{"Too many pods"});
  n.spec.allowed_pods = 10;

  n.spec.unschedulable = true;
  CHECK(filter_node(*small, n, {}).reasons == std::vector<std::string>{reason::kUnschedulable});
  small->tolerations.push_back({"node.kubernetes.io/unschedulable", "Exists", "", "NoSchedule"});
  CHECK_FALSE(filter_node(*small, n, {}).failed());
  n.spec.ready = false;
  CHECK(filter_node(*small, n, {}).reasons == std::vector<std::string>{reason::kNotReady});
}

TEST_CASE("filters: taints and tolerations") {
  NodeInfo n = node_info(node_spec("n1"));
  n.spec.taints = {{"dedicated", "gpu", "NoSchedule"}, {"soft", "x", "PreferNoSchedule"}};
  auto p = pod("p");
  auto f = filter_node(*p, n, {});
  CHECK(f.reasons == std::vector<std::string>{"node(s) had untolerated taint {dedicated: gpu}"});
  CHECK_FALSE(f.resolvable);
  p->tolerations = {{"dedicated", "Equal", "cpu", ""}};
  CHECK(filter_node(*p, n, {}).failed());
  p->tolerations = {{"dedicated", "Equal", "gpu", "NoExecute"}};
  CHECK(filter_node(*p, n, {}).failed());
  p->tolerations = {{"dedicated", "Equal", "gpu", "NoSchedule"}};
  CHECK_FALSE(filter_node(*p, n, {}).failed());
  p->tolerations = {{"", "Exists", "", ""}};  // tolerates everything
  CHECK_FALSE(filter_node(*p, n, {}).failed());
  n.spec.taints = {{"node.kubernetes.io/unreachable", "", "NoExecute"}};
  p->tolerations.clear();
  CHECK(filter_node(*p, n, {}).reasons ==
        std::vector<std::string>{"node(s) had untolerated taint {node.kubernetes.io/unreachable: }"});
}

TEST_CASE("filters: nodeSelector and required node affinity") {
  NodeInfo n = node_info(node_spec("n1"));
  n.spec.labels["disk"] = "ssd";
  n.spec.labels["cores"] = "8";
  auto p = pod("p");
  p->node_selector = {{"disk", "ssd"}};
  CHECK_FALSE(filter_node(*p, n, {}).failed());
  p->node_selector = {{"disk", "hdd"}};
  CHECK(filter_node(*p, n, {}).reasons == std::vector<std::string>{reason::kAffinity});
  p->node_selector.clear();

  auto term = [](std::vector<NodeSelectorRequirement> exprs, std::vector<NodeSelectorRequirement> fields = {}) {
    return NodeSelectorTerm{std::move(exprs), std::move(fields)};
  };
  auto fits = [&](std::vector<NodeSelectorTerm> terms) {
    p->required_node_terms = std::move(terms);
    return fits_node_affinity(*p, n.spec);
  };
  CHECK(fits({term({req("disk", "In", {"ssd", "nvme"})})}));
  CHECK_FALSE(fits({term({req("disk", "NotIn", {"ssd"})})}));
  CHECK(fits({term({req("disk", "Exists")})}));
  CHECK_FALSE(fits({term({req("gpu", "Exists")})}));
  CHECK(fits({term({req("gpu", "DoesNotExist")})}));
  CHECK(fits({term({req("cores", "Gt", {"4"})})}));
  CHECK_FALSE(fits({term({req("cores", "Lt", {"4"})})}));
  CHECK_FALSE(fits({term({req("disk", "Gt", {"4"})})}));  // not a number
  CHECK(fits({term({}, {req("metadata.name", "In", {"n1"})})}));
  CHECK_FALSE(fits({term({}, {req("metadata.name", "In", {"n2"})})}));
  CHECK(fits({term({req("gpu", "Exists")}), term({req("disk", "In", {"ssd"})})}));  // terms are ORed
  CHECK_FALSE(fits({term({req("disk", "In", {"ssd"}), req("gpu", "Exists")})}));  // requirements ANDed
  CHECK_FALSE(fits({term({})}));  // an empty term matches nothing
}

TEST_CASE("filters: host ports and pod anti-affinity on hostname") {
  NodeInfo n = node_info(node_spec("n1"));
  auto web = pod("web-1");
  web->labels = {{"app", "web"}};
  web->host_ports = {{"TCP", "", 8080}};
  n.add_pod(web);

  auto p = pod("web-2");
  p->labels = {{"app", "web"}};
  p->host_ports = {{"TCP", "", 8080}};
  CHECK(filter_node(*p, n, {}).reasons == std::vector<std::string>{reason::kPorts});
  p->host_ports = {{"UDP", "", 8080}};
  CHECK_FALSE(filter_node(*p, n, {}).failed());
  p->host_ports = {{"TCP", "10.0.0.1", 8080}};
  CHECK(filter_node(*p, n, {}).failed());  // the other binds every address

  p->host_ports.clear();
  PodAffinityTerm anti;
  anti.selector = *api::LabelSelector::parse("app=web");
  anti.topology_key = "kubernetes.io/hostname";
  p->required_anti_affinity = {anti};
  CHECK(filter_node(*p, n, {}).reasons == std::vector<std::string>{reason::kAntiAffinity});
  p->required_anti_affinity[0].namespaces = {"elsewhere"};
  CHECK_FALSE(filter_node(*p, n, {}).failed());

  // An existing pod's anti-affinity keeps matching pods away too.
  NodeInfo m = node_info(node_spec("n2"));
  auto loner = pod("loner");
  loner->required_anti_affinity = {anti};
  m.add_pod(loner);
  CHECK(filter_node(*p, m, {}).reasons == std::vector<std::string>{reason::kExistingAntiAffinity});
  auto unrelated = pod("db");
  unrelated->labels = {{"app", "db"}};
  CHECK_FALSE(filter_node(*unrelated, m, {}).failed());

  // Required pod affinity: only next to a matching pod, unless it is the first of its group.
  auto follower = pod("follower");
  PodAffinityTerm with_web = anti;
  follower->required_affinity = {with_web};
  CHECK_FALSE(filter_node(*follower, n, {}).failed());
  CHECK(filter_node(*follower, m, {}).reasons == std::vector<std::string>{reason::kPodAffinity});
  CHECK_FALSE(filter_node(*follower, m, PodClusterState{true}).failed());
}

TEST_CASE("scores") {
  NodeInfo empty = node_info(node_spec("empty", 4000, 4LL << 30));
  NodeInfo busy = node_info(node_spec("busy", 4000, 4LL << 30));
  busy.add_pod(pod("x", 2000, 2LL << 30));
  auto p = pod("p", 1000, 1LL << 30);
  CHECK(least_allocated_score(*p, empty) == 75);
  CHECK(least_allocated_score(*p, busy) == 25);
  CHECK(balanced_allocation_score(*p, empty) == 100);
  auto cpu_heavy = pod("c", 4000, 0);
  CHECK(balanced_allocation_score(*cpu_heavy, empty) == 50);

  NodeInfo tainted = node_info(node_spec("tainted"));
  tainted.spec.taints = {{"soft", "x", "PreferNoSchedule"}};
  CHECK(intolerable_prefer_no_schedule(*p, tainted.spec) == 1);
  p->tolerations = {{"soft", "Exists", "", "PreferNoSchedule"}};
  CHECK(intolerable_prefer_no_schedule(*p, tainted.spec) == 0);
  p->tolerations.clear();

  p->preferred_node_terms = {{5, {{req("zone", "In", {"a"})}, {}}}, {3, {{req("disk", "Exists")}, {}}}};
  empty.spec.labels["zone"] = "a";
  busy.spec.labels["disk"] = "ssd";
  CHECK(preferred_affinity_raw(*p, empty.spec) == 5);
  CHECK(preferred_affinity_raw(*p, busy.spec) == 3);

  // Totals: the tainted node loses against an equal untainted one; same-owner pods spread.
  NodeInfo a = node_info(node_spec("a")), b = node_info(node_spec("b"));
  b.spec.taints = {{"soft", "x", "PreferNoSchedule"}};
  auto q = pod("q");
  auto totals = score_nodes(*q, {&a, &b}, {});
  CHECK(totals[0] > totals[1]);
  auto sibling = pod("sib");
  sibling->owner_uid = "rs";
  q->owner_uid = "rs";
  b.spec.taints.clear();
  a.add_pod(sibling);
  CHECK(same_owner_pods(*q, a) == 1);
  totals = score_nodes(*q, {&a, &b}, {});
  CHECK(totals[1] > totals[0]);

  // Image locality: a node with a large image of the pod scores higher.
  NodeInfo with_image = node_info(node_spec("img"));
  with_image.spec.image_sizes["docker.io/library/big:1"] = 500LL << 20;
  q->images = {"docker.io/library/big:1"};
  std::unordered_map<std::string, int> counts{{"docker.io/library/big:1", 1}};
  CHECK(image_locality_score(*q, with_image, {&counts, 1}) > 0);
  CHECK(image_locality_score(*q, b, {&counts, 1}) == 0);
}

TEST_CASE("feasible nodes to find: kube-scheduler's adaptive percentage") {
  CHECK(feasible_nodes_to_find(50) == 50);
  CHECK(feasible_nodes_to_find(100) == 100);
  CHECK(feasible_nodes_to_find(200) == 100);      // 48% = 96, at least 100
  CHECK(feasible_nodes_to_find(1000) == 420);     // 42%
  CHECK(feasible_nodes_to_find(5000) == 500);     // 10%
  CHECK(feasible_nodes_to_find(100000) == 5000);  // 5% floor
}

TEST_CASE("the FailedScheduling message") {
  CHECK(fit_error_message(3, {{"Insufficient cpu", 1}, {"node(s) had untolerated taint {key: value}", 2}}, 1, false) ==
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {key: value}. preemption: 0/3 "
        "nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for "
        "scheduling.");
  // Sorted as strings, the way kube-scheduler sorts "<count> <reason>".
  CHECK(fit_error_message(12, {{"Insufficient memory", 10}, {"Insufficient cpu", 2}}, 12, false) ==
        "0/12 nodes are available: 10 Insufficient memory, 2 Insufficient cpu. preemption: 0/12 nodes are available: "
        "12 No preemption victims found for incoming pod.");
  CHECK(fit_error_message(1, {{"node(s) were unschedulable", 1}}, 0, true) ==
        "0/1 nodes are available: 1 node(s) were unschedulable. preemption: not eligible due to "
        "preemptionPolicy=Never.");
  CHECK(fit_error_message(0, {}, 0, false) == "no nodes available to schedule pods");
}

TEST_CASE("cache: decisions, assumed pods and the failure message") {
  ClusterCache cache;
  CHECK(cache.set_node(node_spec("n1", 1000)));
  CHECK(cache.set_node(node_spec("n2", 1000)));
  auto tainted = node_spec("n3", 8000);
  tainted.taints = {{"key", "value", "NoSchedule"}};
  CHECK(cache.set_node(tainted));
  CHECK_FALSE(cache.set_node(node_spec("n1", 1000)));  // nothing changed
  auto with_image = node_spec("n1", 1000);
  with_image.image_sizes["x:1"] = 5;
  CHECK_FALSE(cache.set_node(with_image));  // images alone do not matter to waiting pods

  auto first = cache.schedule_and_assume(*pod("a", 600));
  auto second = cache.schedule_and_assume(*pod("b", 600));
  REQUIRE(!first.node.empty());
  REQUIRE(!second.node.empty());
  CHECK(first.node != second.node);  // the assumed pod fills its node
  CHECK(cache.is_assumed("default/a"));
  auto third = cache.schedule_and_assume(*pod("c", 600));
  CHECK(third.node.empty());
  CHECK(third.failure_message ==
        "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu. preemption: 0/3 "
        "nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming "
        "pod.");
  // A failed bind gives the room back.
  cache.forget("default/a");
  CHECK_FALSE(cache.is_assumed("default/a"));
  CHECK(cache.schedule_and_assume(*pod("c", 600)).node == first.node);
  // Seen bound: no longer assumed; deleted: room again.
  auto bound = pod("c", 600);
  bound->node_name = first.node;
  CHECK_FALSE(cache.set_bound_pod(bound));
  CHECK_FALSE(cache.is_assumed("default/c"));
  CHECK(cache.node(first.node)->pod_count == 1);
  CHECK(cache.remove_pod("default/c"));
  CHECK(cache.node(first.node)->pod_count == 0);
  cache.remove_node("n3");
  CHECK(cache.node_count() == 2);
}

TEST_CASE("cache: ties are broken at random, spread by owner") {
  ClusterCache cache;
  for (int i = 0; i < 4; ++i) cache.set_node(node_spec("n" + std::to_string(i)));
  std::map<std::string, int> chosen;
  for (int i = 0; i < 8; ++i) {
    auto p = pod("p" + std::to_string(i), 0, 0);
    p->owner_uid = "rs";
    p->nonzero_requests = {100, 200 << 20, 0};
    ++chosen[cache.schedule_and_assume(*p).node];
  }
  // Eight pods of one owner on four equal nodes: two each.
  CHECK(chosen.size() == 4);
  for (const auto& [node, count] : chosen) CHECK(count == 2);
}
