#include "deckhand/scheduler/pod_info.h"

#include <doctest/doctest.h>

using namespace deckhand;
using namespace deckhand::scheduler;

namespace {

Json container(const std::string& name, const std::string& cpu, const std::string& mem) {
  Json c = {{"name", name}, {"image", "busybox"}};
  Json req = Json::object();
  if (!cpu.empty()) req["cpu"] = cpu;
  if (!mem.empty()) req["memory"] = mem;
  c["resources"] = {{"requests", req}};
  return c;
}

}  // namespace

TEST_CASE("quantities") {
  CHECK(quantity_milli("250m") == 250);
  CHECK(quantity_milli("1") == 1000);
  CHECK(quantity_milli("0.5") == 500);
  CHECK(quantity_milli(2) == 2000);
  CHECK(quantity_milli("100u") == 1);  // rounded up
  CHECK(quantity_value("128Mi") == 128LL * 1024 * 1024);
  CHECK(quantity_value("1G") == 1000000000LL);
  CHECK(quantity_value("1e3") == 1000);
  CHECK(quantity_value("1.5Gi") == 1610612736LL);
  CHECK_FALSE(quantity_value("12 Mi"));
  CHECK_FALSE(quantity_value("Mi"));
  CHECK_FALSE(quantity_value("-1"));
  CHECK_FALSE(quantity_value(Json()));
}

TEST_CASE("pod requests: max of the app sum and each init container, sidecars, overhead") {
  Json pod = {{"metadata", {{"name", "p"}, {"namespace", "ns"}}},
              {"spec",
               {{"containers", {container("a", "100m", "100Mi"), container("b", "200m", "")}},
                {"initContainers", {container("i1", "500m", "10Mi"), container("i2", "50m", "1Gi")}}}}};
  auto p = parse_pod(pod);
  CHECK(p->key == "ns/p");
  CHECK(p->requests.milli_cpu == 500);                 // init 500m > app 300m
  CHECK(p->requests.memory == 1024LL * 1024 * 1024);   // init 1Gi > app 100Mi
  // Scoring counts 200 MiB for the container without a memory request.
  CHECK(p->nonzero_requests.memory == 1024LL * 1024 * 1024);
  CHECK(p->nonzero_requests.milli_cpu == 500);

  // A restartable init container (sidecar) adds to the app sum and to later init containers.
  Json sidecar = container("s", "400m", "");
  sidecar["restartPolicy"] = "Always";
  pod["spec"]["initContainers"] = {sidecar, container("i", "500m", "")};
  pod["spec"]["overhead"] = {{"cpu", "10m"}, {"memory", "1Mi"}};
  p = parse_pod(pod);
  CHECK(p->requests.milli_cpu == 900 + 10);   // max(300 + 400, 400 + 500) + overhead
  CHECK(p->requests.memory == 100 * 1024 * 1024 + 1024 * 1024);

  // Limits stand in for absent requests (the API's defaulting).
  Json limited = container("l", "", "");
  limited["resources"] = {{"limits", {{"cpu", "2"}}}};
  pod["spec"] = {{"containers", {limited}}};
  CHECK(parse_pod(pod)->requests.milli_cpu == 2000);
}

TEST_CASE("pod and node parsing") {
  Json ports = Json::array({{{"containerPort", 80}, {"hostPort", 8080}}});
  Json c = {{"name", "c"}, {"image", "busybox:1.36"}, {"ports", ports}};
  Json owner = {{"uid", "rs-1"}, {"controller", true}};
  Json pod = {{"metadata",
               {{"name", "p"}, {"namespace", "ns"}, {"labels", {{"app", "web"}}}, {"ownerReferences", Json::array({owner})}}},
              {"spec",
               {{"schedulerName", "other"},
                {"nodeSelector", {{"disk", "ssd"}}},
                {"tolerations", Json::array({{{"key", "k"}, {"operator", "Exists"}}})},
                {"containers", Json::array({c})}}}};
  auto p = parse_pod(pod);
  CHECK(p->scheduler_name == "other");
  CHECK(p->owner_uid == "rs-1");
  CHECK(p->node_selector.at("disk") == "ssd");
  REQUIRE(p->host_ports.size() == 1);
  CHECK(p->host_ports[0].port == 8080);
  CHECK(p->host_ports[0].protocol == "TCP");
  CHECK(p->images == std::vector<std::string>{"docker.io/library/busybox:1.36"});

  Json node = {{"metadata", {{"name", "n1"}, {"labels", {{"a", "b"}}}}},
               {"spec", {{"unschedulable", true}, {"taints", {{{"key", "k"}, {"value", "v"}, {"effect", "NoSchedule"}}}}}},
               {"status",
                {{"allocatable", {{"cpu", "4"}, {"memory", "8Gi"}, {"pods", "110"}}},
                 {"conditions", {{{"type", "Ready"}, {"status", "True"}}}},
                 {"images", {{{"names", {"busybox:1.36"}}, {"sizeBytes", 1000}}}}}}};
  auto n = parse_node(node);
  CHECK(n.name == "n1");
  CHECK(n.unschedulable);
  CHECK(n.ready);
  CHECK(n.allocatable.milli_cpu == 4000);
  CHECK(n.allowed_pods == 110);
  CHECK(n.taints.size() == 1);
  CHECK(n.image_sizes.at("docker.io/library/busybox:1.36") == 1000);
  CHECK(normalize_image("registry.local:5000/x/y") == "registry.local:5000/x/y:latest");
  CHECK(normalize_image("a/b@sha256:00") == "docker.io/a/b@sha256:00");
}
