#include <doctest/doctest.h>

#include "deckhand/api/table.h"

using namespace deckhand;
using namespace deckhand::api;
using namespace std::chrono;

namespace {

// 2024-05-01T12:00:00Z
const system_clock::time_point kNow = system_clock::time_point(seconds(1714564800));

TableRequest request(const std::string& resource) {
  TableRequest r;
  r.resource = resource;
  r.now = kNow;
  return r;
}

std::vector<std::string> column_names(const Json& table) {
  std::vector<std::string> out;
  for (const auto& c : table["columnDefinitions"]) out.push_back(c["name"].get<std::string>());
  return out;
}

std::vector<std::string> wide_column_names(const Json& table) {
  std::vector<std::string> out;
  for (const auto& c : table["columnDefinitions"]) {
    if (c["priority"] == 1) out.push_back(c["name"].get<std::string>());
  }
  return out;
}

Json cells_of(const std::string& resource, const char* object_json) {
  Json t = make_table(request(resource), {Json::parse(object_json)}, Json::object());
  REQUIRE(t["rows"].size() == 1);
  REQUIRE(t["rows"][0]["cells"].size() == t["columnDefinitions"].size());
  return t["rows"][0]["cells"];
}

// Pod cells: Name, Ready, Status, Restarts, Age, IP, Node, Nominated Node, Readiness Gates.
Json pod_cells(const char* object_json) { return cells_of("pods", object_json); }

}  // namespace

TEST_CASE("human_duration follows Kubernetes' boundaries") {
  CHECK(human_duration(seconds(-5)) == "<invalid>");
  CHECK(human_duration(milliseconds(-1500)) == "0s");
  CHECK(human_duration(seconds(0)) == "0s");
  CHECK(human_duration(seconds(119)) == "119s");
  CHECK(human_duration(seconds(120)) == "2m");
  CHECK(human_duration(seconds(192)) == "3m12s");
  CHECK(human_duration(minutes(10)) == "10m");
  CHECK(human_duration(minutes(179)) == "179m");
  CHECK(human_duration(hours(3)) == "3h");
  CHECK(human_duration(hours(3) + minutes(5)) == "3h5m");
  CHECK(human_duration(hours(8) + minutes(5)) == "8h");
  CHECK(human_duration(hours(47)) == "47h");
  CHECK(human_duration(hours(48)) == "2d");
  CHECK(human_duration(hours(51)) == "2d3h");
  CHECK(human_duration(hours(24 * 8)) == "8d");
  CHECK(human_duration(hours(24 * 729)) == "729d");
  CHECK(human_duration(hours(24 * 730)) == "2y");
  CHECK(human_duration(hours(24 * 800)) == "2y70d");
  CHECK(human_duration(hours(24 * 365 * 9)) == "9y");
}

TEST_CASE("table shape, metadata and row objects") {
  auto pod = Json::parse(R"({"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"default",
                             "creationTimestamp":"2024-05-01T11:55:00Z"},"spec":{},"status":{}})");
  Json t = make_table(request("pods"), {pod}, Json::parse(R"({"resourceVersion":"42","continue":"abc"})"));
  CHECK(t["kind"] == "Table");
  CHECK(t["apiVersion"] == "meta.k8s.io/v1");
  CHECK(t["metadata"] == Json::parse(R"({"resourceVersion":"42","continue":"abc"})"));
  CHECK(t["columnDefinitions"][0] == Json::parse(R"({"name":"Name","type":"string","format":"name",
      "description":"Name must be unique within a namespace.","priority":0})"));
  CHECK(t["rows"][0]["object"] == Json::parse(R"({"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1",
      "metadata":{"name":"p","namespace":"default","creationTimestamp":"2024-05-01T11:55:00Z"}})"));

  auto full = request("pods");
  full.include_full_object = true;
  CHECK(make_table(full, {pod}, Json())["rows"][0]["object"] == pod);
  auto none = request("pods");
  none.include_object_metadata = false;
  CHECK(!make_table(none, {pod}, Json())["rows"][0].contains("object"));
  CHECK(make_table(request("pods"), {}, Json())["rows"] == Json::array());
}

TEST_CASE("pods: columns") {
  Json t = make_table(request("pods"), {}, Json());
  CHECK(column_names(t) == std::vector<std::string>{"Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                                                    "Nominated Node", "Readiness Gates"});
  CHECK(wide_column_names(t) == std::vector<std::string>{"IP", "Node", "Nominated Node", "Readiness Gates"});
}

TEST_CASE("pods: pending, container creating") {
  Json pending = pod_cells(R"({"metadata":{"name":"p","creationTimestamp":"2024-05-01T11:59:30Z"},
      "spec":{"containers":[{"name":"a"}]},"status":{"phase":"Pending"}})");
  CHECK(pending == Json::parse(R"(["p","0/1","Pending","0","30s","<none>","<none>","<none>","<none>"])"));

  Json creating = pod_cells(R"({"metadata":{"name":"p","creationTimestamp":"2024-05-01T11:59:30Z"},
      "spec":{"nodeName":"n1","containers":[{"name":"a"},{"name":"b"}]},
      "status":{"phase":"Pending","containerStatuses":[
        {"name":"a","ready":false,"restartCount":0,"state":{"waiting":{"reason":"ContainerCreating"}}},
        {"name":"b","ready":false,"restartCount":0,"state":{"waiting":{"reason":"ContainerCreating"}}}]}})");
  CHECK(creating[1] == "0/2");
  CHECK(creating[2] == "ContainerCreating");
  CHECK(creating[6] == "n1");
}

TEST_CASE("pods: running and ready, with wide cells") {
  Json c = pod_cells(R"({"metadata":{"name":"web","creationTimestamp":"2024-04-30T09:00:00Z"},
      "spec":{"nodeName":"n1","containers":[{"name":"a"}],"readinessGates":[{"conditionType":"example.com/lb"}]},
      "status":{"phase":"Running","podIP":"10.88.0.4","podIPs":[{"ip":"10.88.0.4"}],
        "conditions":[{"type":"Ready","status":"True"},{"type":"example.com/lb","status":"True"}],
        "containerStatuses":[{"name":"a","ready":true,"restartCount":0,"state":{"running":{"startedAt":"x"}}}]}})");
  CHECK(c == Json::parse(R"(["web","1/1","Running","0","27h","10.88.0.4","n1","<none>","1/1"])"));
}

TEST_CASE("pods: crash loop with restarts and the time of the last one") {
  Json c = pod_cells(R"({"metadata":{"name":"crash","creationTimestamp":"2024-05-01T11:00:00Z"},
      "spec":{"containers":[{"name":"a"}]},
      "status":{"phase":"Running","containerStatuses":[{"name":"a","ready":false,"restartCount":4,
        "state":{"waiting":{"reason":"CrashLoopBackOff"}},
        "lastState":{"terminated":{"exitCode":1,"reason":"Error","finishedAt":"2024-05-01T11:55:00Z"}}}]}})");
  CHECK(c[1] == "0/1");
  CHECK(c[2] == "CrashLoopBackOff");
  CHECK(c[3] == "4 (5m ago)");
  CHECK(c[4] == "60m");

  Json image = pod_cells(R"({"metadata":{"name":"i"},"spec":{"containers":[{"name":"a"}]},
      "status":{"phase":"Pending","containerStatuses":[{"name":"a","state":{"waiting":{"reason":"ErrImagePull"}}}]}})");
  CHECK(image[2] == "ErrImagePull");
  CHECK(image[4] == "<unknown>");
}

TEST_CASE("pods: completed, failed by signal or exit code") {
  Json t = make_table(request("pods"), {Json::parse(R"({"metadata":{"name":"job"},
      "spec":{"containers":[{"name":"a"}]},
      "status":{"phase":"Succeeded","containerStatuses":[{"name":"a","ready":false,"restartCount":0,
        "state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}})")},
                      Json());
  CHECK(t["rows"][0]["cells"][2] == "Completed");
  CHECK(t["rows"][0]["conditions"][0]["type"] == "Completed");
  CHECK(t["rows"][0]["conditions"][0]["reason"] == "Succeeded");

  Json signal = pod_cells(R"({"metadata":{"name":"s"},"spec":{"containers":[{"name":"a"}]},
      "status":{"phase":"Failed","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":137,"signal":9}}}]}})");
  CHECK(signal[2] == "Signal:9");
  Json code = pod_cells(R"({"metadata":{"name":"s"},"spec":{"containers":[{"name":"a"}]},
      "status":{"phase":"Failed","containerStatuses":[{"name":"a","state":{"terminated":{"exitCode":3}}}]}})");
  CHECK(code[2] == "ExitCode:3");

  // One container done, one still running: Running if the pod is ready, else NotReady.
  const char* mixed = R"({"metadata":{"name":"m"},"spec":{"containers":[{"name":"a"},{"name":"b"}]},
      "status":{"phase":"Running","conditions":[{"type":"Ready","status":"%s"}],"containerStatuses":[
        {"name":"a","ready":false,"state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
        {"name":"b","ready":true,"state":{"running":{}}}]}})";
  std::string ready(mixed), not_ready(mixed);
  ready.replace(ready.find("%s"), 2, "True");
  not_ready.replace(not_ready.find("%s"), 2, "False");
  CHECK(pod_cells(ready.c_str())[2] == "Running");
  CHECK(pod_cells(not_ready.c_str())[2] == "NotReady");
  CHECK(pod_cells(ready.c_str())[1] == "1/2");
}

TEST_CASE("pods: terminating") {
  Json c = pod_cells(R"({"metadata":{"name":"t","deletionTimestamp":"2024-05-01T11:59:00Z"},
      "spec":{"containers":[{"name":"a"}]},
      "status":{"phase":"Running","containerStatuses":[{"name":"a","ready":true,"state":{"running":{}}}]}})");
  CHECK(c[2] == "Terminating");
  Json done = pod_cells(R"({"metadata":{"name":"t","deletionTimestamp":"2024-05-01T11:59:00Z"},
      "spec":{"containers":[{"name":"a"}]},"status":{"phase":"Succeeded"}})");
  CHECK(done[2] == "Succeeded");
}

TEST_CASE("pods: init containers") {
  Json waiting = pod_cells(R"({"metadata":{"name":"i"},
      "spec":{"initContainers":[{"name":"i1"},{"name":"i2"}],"containers":[{"name":"a"}]},
      "status":{"phase":"Pending","initContainerStatuses":[
        {"name":"i1","state":{"terminated":{"exitCode":0,"reason":"Completed"}}},
        {"name":"i2","state":{"running":{}}}],
      "containerStatuses":[{"name":"a","state":{"waiting":{"reason":"PodInitializing"}}}]}})");
  CHECK(waiting[2] == "Init:1/2");
  CHECK(waiting[1] == "0/1");

  Json crash = pod_cells(R"({"metadata":{"name":"i"},
      "spec":{"initContainers":[{"name":"i1"}],"containers":[{"name":"a"}]},
      "status":{"phase":"Pending","initContainerStatuses":[{"name":"i1","restartCount":3,
        "state":{"waiting":{"reason":"CrashLoopBackOff"}},
        "lastState":{"terminated":{"exitCode":1,"finishedAt":"2024-05-01T11:58:00Z"}}}]}})");
  CHECK(crash[2] == "Init:CrashLoopBackOff");
  CHECK(crash[3] == "3 (2m ago)");

  Json failed = pod_cells(R"({"metadata":{"name":"i"},
      "spec":{"initContainers":[{"name":"i1"}],"containers":[{"name":"a"}]},
      "status":{"phase":"Failed","initContainerStatuses":[{"name":"i1","state":{"terminated":{"exitCode":2}}}]}})");
  CHECK(failed[2] == "Init:ExitCode:2");
}

TEST_CASE("nodes") {
  Json t = make_table(request("nodes"), {}, Json());
  CHECK(column_names(t) == std::vector<std::string>{"Name", "Status", "Roles", "Age", "Version", "Internal-IP",
                                                    "External-IP", "OS-Image", "Kernel-Version",
                                                    "Container-Runtime"});
  Json c = cells_of("nodes", R"js({"metadata":{"name":"n1","creationTimestamp":"2024-04-01T12:00:00Z",
      "labels":{"node-role.kubernetes.io/control-plane":"","node-role.kubernetes.io/worker":"","other":"x"}},
      "spec":{"unschedulable":true},
      "status":{"conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True"}],
        "addresses":[{"type":"Hostname","address":"n1"},{"type":"InternalIP","address":"10.0.0.1"}],
        "nodeInfo":{"kubeletVersion":"v1.29.0-deckhand","osImage":"Debian GNU/Linux 12 (bookworm)",
                    "kernelVersion":"6.1.0","containerRuntimeVersion":"containerd://1.6.20"}}})js");
  CHECK(c == Json::parse(R"js(["n1","Ready,SchedulingDisabled","control-plane,worker","30d","v1.29.0-deckhand",
      "10.0.0.1","<none>","Debian GNU/Linux 12 (bookworm)","6.1.0","containerd://1.6.20"])js"));
  Json bare = cells_of("nodes", R"({"metadata":{"name":"n2"},"status":{"conditions":[{"type":"Ready","status":"Unknown"}]}})");
  CHECK(bare[1] == "NotReady");
  CHECK(bare[2] == "<none>");
  CHECK(bare[7] == "<unknown>");
  CHECK(cells_of("nodes", R"({"metadata":{"name":"n3"}})")[1] == "Unknown");
}

TEST_CASE("deployments, replicasets, daemonsets") {
  Json t = make_table(request("deployments"), {}, Json());
  CHECK(column_names(t) == std::vector<std::string>{"Name", "Ready", "Up-to-date", "Available", "Age", "Containers",
                                                    "Images", "Selector"});
  Json d = cells_of("deployments", R"({"metadata":{"name":"web","creationTimestamp":"2024-05-01T11:00:00Z"},
      "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
        "template":{"spec":{"containers":[{"name":"a","image":"busybox"},{"name":"b","image":"nginx:1"}]}}},
      "status":{"readyReplicas":2,"updatedReplicas":3,"availableReplicas":2}})");
  CHECK(d == Json::parse(R"(["web","2/3",3,2,"60m","a,b","busybox,nginx:1","app=web"])"));
  CHECK(cells_of("deployments", R"({"metadata":{"name":"x"},"spec":{}})")[1] == "0/1");

  Json rs = cells_of("replicasets", R"({"metadata":{"name":"web-1"},"spec":{"replicas":2,
      "selector":{"matchExpressions":[{"key":"app","operator":"In","values":["web"]}]},
      "template":{"spec":{"containers":[{"name":"a","image":"i"}]}}},"status":{"replicas":2,"readyReplicas":1}})");
  CHECK(rs == Json::parse(R"js(["web-1",2,2,1,"<unknown>","a","i","app in (web)"])js"));

  Json ds = cells_of("daemonsets", R"({"metadata":{"name":"agent"},"spec":{"selector":{"matchLabels":{"a":"b"}},
      "template":{"spec":{"nodeSelector":{"os":"linux"},"containers":[{"name":"c","image":"i"}]}}},
      "status":{"desiredNumberScheduled":3,"currentNumberScheduled":3,"numberReady":2,"updatedNumberScheduled":3,
        "numberAvailable":2}})");
  CHECK(ds == Json::parse(R"(["agent",3,3,2,3,2,"os=linux","<unknown>","c","i","a=b"])"));
}

TEST_CASE("services and endpoints") {
  Json t = make_table(request("services"), {}, Json());
  CHECK(column_names(t) == std::vector<std::string>{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age",
                                                    "Selector"});
  Json cluster = cells_of("services", R"({"metadata":{"name":"web"},"spec":{"type":"ClusterIP",
      "clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],"ports":[{"port":80,"protocol":"TCP"},{"port":53,
      "protocol":"UDP"}],"selector":{"app":"web"}}})");
  CHECK(cluster == Json::parse(R"(["web","ClusterIP","10.96.0.10","<none>","80/TCP,53/UDP","<unknown>","app=web"])"));
  Json node_port = cells_of("services", R"({"metadata":{"name":"np"},"spec":{"type":"NodePort",
      "clusterIP":"10.96.0.11","ports":[{"port":80,"nodePort":30080}]}})");
  CHECK(node_port[4] == "80:30080/TCP");
  CHECK(node_port[6] == "<none>");
  CHECK(cells_of("services", R"({"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer"}})")[3] == "<pending>");
  CHECK(cells_of("services", R"({"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer"},
      "status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}})")[3] == "1.2.3.4");
  CHECK(cells_of("services", R"({"metadata":{"name":"ext"},"spec":{"type":"ExternalName",
      "externalName":"example.com"}})")[3] == "example.com");

  Json e = cells_of("endpoints", R"({"metadata":{"name":"web"},"subsets":[
      {"addresses":[{"ip":"10.88.0.1"},{"ip":"10.88.0.2"}],"ports":[{"port":80}]},
      {"addresses":[{"ip":"10.88.0.3"},{"ip":"10.88.0.4"},{"ip":"fd00::5"}],"ports":[{"port":8080}]}]})");
  CHECK(e[1] == "10.88.0.1:80,10.88.0.2:80,10.88.0.3:8080 + 2 more...");
  CHECK(cells_of("endpoints", R"({"metadata":{"name":"x"}})")[1] == "<none>");
  CHECK(cells_of("endpoints", R"({"metadata":{"name":"x"},"subsets":[{"addresses":[{"ip":"fd00::5"}],
      "ports":[{"port":80}]}]})")[1] == "[fd00::5]:80");
  CHECK(cells_of("endpoints", R"({"metadata":{"name":"x"},"subsets":[{"addresses":[{"ip":"10.0.0.9"}]}]})")[1] ==
        "10.0.0.9");
}

TEST_CASE("events") {
  Json t = make_table(request("events"), {}, Json());
  CHECK(column_names(t) == std::vector<std::string>{"Last Seen", "Type", "Reason", "Object", "Subobject", "Source",
                                                    "Message", "First Seen", "Count", "Name"});
  CHECK(wide_column_names(t) ==
        std::vector<std::string>{"Subobject", "Source", "First Seen", "Count", "Name"});
  CHECK(t["columnDefinitions"][9]["format"] == "name");
  Json c = cells_of("events", R"({"metadata":{"name":"web.17a"},"type":"Warning","reason":"BackOff",
      "involvedObject":{"kind":"Pod","name":"web","fieldPath":"spec.containers{a}"},
      "source":{"component":"kubelet","host":"n1"},"message":" Back-off restarting failed container \n",
      "firstTimestamp":"2024-05-01T11:00:00Z","lastTimestamp":"2024-05-01T11:58:00Z","count":7})");
  CHECK(c == Json::parse(R"(["2m","Warning","BackOff","pod/web","spec.containers{a}","kubelet, n1",
      "Back-off restarting failed container","60m",7,"web.17a"])"));
  Json fresh = cells_of("events", R"({"metadata":{"name":"e"},"involvedObject":{"kind":"Node"},
      "eventTime":"2024-05-01T11:59:50.123456Z","reportingComponent":"scheduler"})");
  CHECK(fresh[0] == "9s");
  CHECK(fresh[3] == "node");
  CHECK(fresh[5] == "scheduler");
  CHECK(fresh[8] == 1);
}

TEST_CASE("small kinds and the default table") {
  CHECK(cells_of("namespaces", R"({"metadata":{"name":"default"},"status":{"phase":"Active"}})") ==
        Json::parse(R"(["default","Active","<unknown>"])"));
  CHECK(cells_of("configmaps", R"({"metadata":{"name":"c"},"data":{"a":"1","b":"2"},"binaryData":{"c":""}})")[1] ==
        3);
  CHECK(cells_of("secrets", R"({"metadata":{"name":"s"},"type":"Opaque","data":{"a":"MQ=="}})") ==
        Json::parse(R"(["s","Opaque",1,"<unknown>"])"));
  CHECK(cells_of("serviceaccounts", R"({"metadata":{"name":"default"}})")[1] == 0);
  CHECK(cells_of("leases", R"({"metadata":{"name":"l"},"spec":{"holderIdentity":"sched-1"}})")[1] == "sched-1");
  CHECK(cells_of("controllerrevisions", R"({"metadata":{"name":"r","ownerReferences":[
      {"apiVersion":"apps/v1","kind":"DaemonSet","name":"agent","controller":true}]},"revision":2})") ==
        Json::parse(R"(["r","daemonset.apps/agent",2,"<unknown>"])"));

  Json t = make_table(request("widgets"), {Json::parse(
      R"({"metadata":{"name":"w","creationTimestamp":"2024-05-01T13:30:00+02:00"}})")}, Json());
  CHECK(column_names(t) == std::vector<std::string>{"Name", "Created At"});
  CHECK(t["columnDefinitions"][1]["type"] == "date");
  CHECK(t["rows"][0]["cells"] == Json::parse(R"(["w","2024-05-01T11:30:00Z"])"));
}

TEST_CASE("junk objects never throw") {
  const char* junk[] = {
      "null", "42", "\"x\"", "[]", "{}",
      R"({"metadata":[],"spec":"x","status":7})",
      R"({"metadata":{"name":5,"creationTimestamp":"yesterday","labels":[1],"deletionTimestamp":3},
          "spec":{"containers":"x","initContainers":[1,{"name":2}],"replicas":1e300,"ports":[{"port":"80"}],
                  "selector":{"matchLabels":7},"type":"LoadBalancer","clusterIPs":[null],"readinessGates":[7],
                  "template":{"spec":{"containers":[5]}},"unschedulable":"yes"},
          "status":{"conditions":[null,{"type":1}],"containerStatuses":[1,{"state":5,"lastState":{"terminated":3}}],
                    "initContainerStatuses":[{"state":{"terminated":{"exitCode":"x"}}}],"podIPs":[3],
                    "loadBalancer":{"ingress":"x"},"addresses":{},"nodeInfo":[]},
          "subsets":[{"addresses":[1],"ports":[2]}],"involvedObject":[],"series":{"count":"x"},"data":[],
          "revision":"x"})",
  };
  for (const char* resource : {"pods", "nodes", "namespaces", "deployments", "replicasets", "daemonsets", "services",
                               "endpoints", "events", "configmaps", "secrets", "serviceaccounts", "leases",
                               "controllerrevisions", "widgets"}) {
    for (const char* object : junk) {
      Json t;
      CHECK_NOTHROW(t = make_table(request(resource), {Json::parse(object)}, Json(7)));
      CHECK_MESSAGE(t["rows"][0]["cells"].size() == t["columnDefinitions"].size(), resource, " ", object);
    }
  }
}
