// The DaemonSet controller's decisions: node eligibility (nodeSelector,
// required node affinity, taints with the daemon tolerations), the pods it
// makes, the hash and maxUnavailable.
#include <doctest/doctest.h>

#include "deckhand/controllers/daemon_set_controller.h"

using namespace deckhand;
using namespace deckhand::controllers;

namespace {

Json node(const std::string& name, Json labels = Json::object(), Json taints = Json::array()) {
  return {{"metadata", {{"name", name}, {"labels", labels}}}, {"spec", {{"taints", taints}}}};
}

Json daemon_set(Json pod_spec = Json::object()) {
  if (!pod_spec.contains("containers")) pod_spec["containers"] = Json::array({{{"name", "c"}, {"image", "x:1"}}});
  return {{"metadata", {{"name", "agent"}, {"namespace", "kube-system"}, {"uid", "u-1"}, {"generation", 3}}},
          {"spec", {{"selector", {{"matchLabels", {{"app", "agent"}}}}},
                    {"template", {{"metadata", {{"labels", {{"app", "agent"}}}}}, {"spec", pod_spec}}}}}};
}

}  // namespace

TEST_CASE("eligibility: nodeSelector and required node affinity") {
  Json ds = daemon_set({{"nodeSelector", {{"disk", "ssd"}}}});
  CHECK(daemon_node_eligibility(ds, node("a", {{"disk", "ssd"}})).should_run);
  CHECK_FALSE(daemon_node_eligibility(ds, node("b", {{"disk", "hdd"}})).should_run);
  CHECK_FALSE(daemon_node_eligibility(ds, node("c")).should_keep_running);

  Json affinity = {{"nodeAffinity",
                    {{"requiredDuringSchedulingIgnoredDuringExecution",
                      {{"nodeSelectorTerms",
                        Json::array({{{"matchExpressions", Json::array({{{"key", "zone"}, {"operator", "In"}, {"values", {"z1", "z2"}}}})}},
                                     {{"matchFields", Json::array({{{"key", "metadata.name"}, {"operator", "In"}, {"values", {"special"}}}})}}})}}}}}};
  Json ds2 = daemon_set({{"affinity", affinity}});
  CHECK(daemon_node_eligibility(ds2, node("a", {{"zone", "z2"}})).should_run);
  CHECK_FALSE(daemon_node_eligibility(ds2, node("a", {{"zone", "z3"}})).should_run);
  CHECK(daemon_node_eligibility(ds2, node("special")).should_run);
  Json gt = {{"nodeSelectorTerms", Json::array({{{"matchExpressions", Json::array({{{"key", "cores"}, {"operator", "Gt"}, {"values", {"4"}}}})}}})}};
  Json spec = {{"affinity", {{"nodeAffinity", {{"requiredDuringSchedulingIgnoredDuringExecution", gt}}}}}};
  CHECK(node_matches_pod_placement(spec, node("a", {{"cores", "8"}})));
  CHECK_FALSE(node_matches_pod_placement(spec, node("a", {{"cores", "2"}})));
  CHECK_FALSE(node_matches_pod_placement(spec, node("a")));
}

TEST_CASE("eligibility: taints, with the tolerations daemon pods get") {
  Json ds = daemon_set();
  Json dedicated = Json::array({{{"key", "dedicated"}, {"value", "db"}, {"effect", "NoSchedule"}}});
  auto e = daemon_node_eligibility(ds, node("a", {}, dedicated));
  CHECK_FALSE(e.should_run);
  CHECK(e.should_keep_running);  // NoSchedule does not evict what runs
  Json evicting = Json::array({{{"key", "dedicated"}, {"value", "db"}, {"effect", "NoExecute"}}});
  CHECK_FALSE(daemon_node_eligibility(ds, node("a", {}, evicting)).should_keep_running);
  // The default daemon tolerations cover lifecycle and pressure taints.
  Json lifecycle = Json::array({{{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoExecute"}},
                                {{"key", "node.kubernetes.io/not-ready"}, {"effect", "NoExecute"}},
                                {{"key", "node.kubernetes.io/unschedulable"}, {"effect", "NoSchedule"}},
                                {{"key", "node.kubernetes.io/disk-pressure"}, {"effect", "NoSchedule"}}});
  CHECK(daemon_node_eligibility(ds, node("a", {}, lifecycle)).should_run);
  Json tolerant = daemon_set({{"tolerations", Json::array({{{"key", "dedicated"}, {"operator", "Exists"}}})}});
  CHECK(daemon_node_eligibility(tolerant, node("a", {}, dedicated)).should_run);
  CHECK(daemon_node_eligibility(tolerant, node("a", {}, evicting)).should_run);
}

TEST_CASE("a daemon pod: owned, labelled with the template hash, pinned by matchFields, with default tolerations") {
  Json ds = daemon_set({{"nodeSelector", {{"disk", "ssd"}}}});
  std::string hash = template_hash(ds);
  Json pod = daemon_pod(ds, "node-7", hash);
  CHECK(pod["metadata"]["generateName"] == "agent-");
  CHECK(pod["metadata"]["namespace"] == "kube-system");
  CHECK(pod["metadata"]["labels"]["app"] == "agent");
  CHECK(pod["metadata"]["labels"]["controller-revision-hash"] == hash);
  CHECK(pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet");
  CHECK(pod["metadata"]["ownerReferences"][0]["uid"] == "u-1");
  CHECK(pod["metadata"]["ownerReferences"][0]["controller"] == true);
  const Json& terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
  REQUIRE(terms.size() == 1);
  CHECK(terms[0]["matchFields"][0] == Json{{"key", "metadata.name"}, {"operator", "In"}, {"values", {"node-7"}}});
  CHECK(daemon_pod_node(pod) == "node-7");
  pod["spec"]["nodeName"] = "bound";
  CHECK(daemon_pod_node(pod) == "bound");
  CHECK(pod["spec"]["tolerations"].size() == 6);
  CHECK(pod["spec"]["nodeSelector"]["disk"] == "ssd");
}

TEST_CASE("the template hash changes with the template only; maxUnavailable") {
  Json ds = daemon_set();
  Json other = ds;
  other["metadata"]["generation"] = 9;
  CHECK(template_hash(ds) == template_hash(other));
  other["spec"]["template"]["spec"]["containers"][0]["image"] = "x:2";
  CHECK(template_hash(ds) != template_hash(other));
  CHECK(template_hash(ds).size() == 8);
  CHECK(max_unavailable(ds, 10) == 1);
  ds["spec"]["updateStrategy"] = {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", "30%"}}}};
  CHECK(max_unavailable(ds, 10) == 3);
  CHECK(max_unavailable(ds, 2) == 1);
  ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = 4;
  CHECK(max_unavailable(ds, 10) == 4);
}
