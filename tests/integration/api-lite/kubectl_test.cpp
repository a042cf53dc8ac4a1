// deckhand-apiserver driven by the real kubectl (1.33; a smoke subset with
// 1.27 and 1.20): each test starts its own server on a free loopback port
// with its own PKI, data dir and kubeconfig.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <thread>

#include "api_world.h"
#include "deckhand/common/fs.h"
#include "deckhand/common/json.h"

using namespace deckhand;
using namespace deckhand::test;

namespace {

const char* kPod = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: c
    image: busybox:1.36
    ports: [{containerPort: 80}]
)";

const char* kDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: busybox:1.36
        env: [{name: A, value: "1"}]
)";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
  return s;
}

#define CHECK_OK(r) CHECK_MESSAGE((r).exit_code == 0, "kubectl failed: " << (r).out << (r).err)
#define CHECK_FAILS_WITH(r, text)                                                         \
  do {                                                                                    \
    CHECK((r).exit_code != 0);                                                            \
    CHECK_MESSAGE((r).err.find(text) != std::string::npos, "stderr: " << (r).err);        \
  } while (0)

Json json_of(const RunOutput& r) {
  auto j = parse_json(r.out, "kubectl output");
  REQUIRE_MESSAGE(j, r.out << r.err);
  return *j;
}

}  // namespace

TEST_CASE("kubectl version, api-resources and discovery") {
  ApiWorld w;
  auto v = w.kubectl({"version"});
  CHECK_OK(v);
  CHECK(v.out.find("Server Version: v1.33.0") != std::string::npos);
  auto r = w.kubectl({"api-resources"});
  CHECK_OK(r);
  for (const char* line : {"pods ", "po ", "deployments ", "deploy ", "replicasets ", "rs ", "namespaces ", "ns ",
                           "services ", "svc ", "nodes ", "no ", "leases ", "configmaps ", "cm "})
    CHECK_MESSAGE(r.out.find(line) != std::string::npos, line);
  auto ns = w.kubectl({"get", "namespaces", "-o", "name"});
  CHECK_OK(ns);
  for (const char* n : {"namespace/default", "namespace/kube-system", "namespace/kube-public", "namespace/kube-node-lease"})
    CHECK(ns.out.find(n) != std::string::npos);
  auto all = w.kubectl({"get", "all"});
  CHECK_OK(all);
}

TEST_CASE("create, get in every output, selectors, describe and delete of a pod") {
  ApiWorld w;
  auto c = w.kubectl({"create", "-f", w.file("pod.yaml", kPod)});
  CHECK_OK(c);
  CHECK(c.out == "pod/web created\n");
  auto table = w.kubectl({"get", "pods"});
  CHECK_OK(table);
  CHECK(table.out.find("NAME   READY   STATUS    RESTARTS   AGE") == 0);
  CHECK(table.out.find("web    0/1     Pending   0") != std::string::npos);
  auto wide = w.kubectl({"get", "pods", "-o", "wide"});
  CHECK(wide.out.find("NODE") != std::string::npos);
  CHECK(wide.out.find("NOMINATED NODE") != std::string::npos);
  auto js = json_of(w.kubectl({"get", "pod", "web", "-o", "json"}));
  CHECK(js["metadata"]["uid"].get<std::string>().size() == 36);
  CHECK(js["spec"]["restartPolicy"] == "Always");
  CHECK(js["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent");
  CHECK(js["spec"]["tolerations"].size() == 2);
  CHECK(js["status"]["phase"] == "Pending");
  auto yaml = w.kubectl({"get", "pod", "web", "-o", "yaml"});
  CHECK(yaml.out.find("name: web") != std::string::npos);
  CHECK(w.kubectl({"get", "pods", "-o", "name"}).out == "pod/web\n");
  CHECK(w.kubectl({"get", "pods", "-l", "app=web", "-o", "name"}).out == "pod/web\n");
  CHECK(w.kubectl({"get", "pods", "-l", "app!=web", "-o", "name"}).out.empty());
  CHECK(w.kubectl({"get", "pods", "-l", "app in (a,web)", "-o", "name"}).out == "pod/web\n");
  CHECK(w.kubectl({"get", "pods", "--field-selector", "status.phase=Pending", "-o", "name"}).out == "pod/web\n");
  CHECK(w.kubectl({"get", "pods", "--field-selector", "spec.nodeName=n1", "-o", "name"}).out.empty());
  auto a = w.kubectl({"get", "pods", "-A"});
  CHECK(a.out.find("NAMESPACE") == 0);
  CHECK(a.out.find("default     web") != std::string::npos);
  auto labels = w.kubectl({"get", "pods", "--show-labels"});
  CHECK(labels.out.find("app=web") != std::string::npos);
  auto d = w.kubectl({"describe", "pod", "web"});
  CHECK_OK(d);
  CHECK(d.out.find("Name:") != std::string::npos);
  CHECK(d.out.find("busybox:1.36") != std::string::npos);
  auto del = w.kubectl({"delete", "pod", "web", "--wait=false"});
  CHECK_OK(del);
  CHECK(del.out == "pod \"web\" deleted\n");
  CHECK_FAILS_WITH(w.kubectl({"get", "pod", "web"}), "pods \"web\" not found");
}

TEST_CASE("apply creates, applies a change, and a second apply is a no-op") {
  ApiWorld w;
  CHECK(w.kubectl({"apply", "-f", w.file("d.yaml", kDeployment)}).out == "deployment.apps/web created\n");
  std::string changed = replace_all(replace_all(kDeployment, "replicas: 2", "replicas: 3"), "value: \"1\"", "value: \"2\"");
  auto f = w.file("d2.yaml", changed);
  CHECK(w.kubectl({"apply", "-f", f}).out == "deployment.apps/web configured\n");
  auto again = w.kubectl({"apply", "-f", f});
  CHECK(again.out == "deployment.apps/web unchanged\n");
  auto d = json_of(w.kubectl({"get", "deploy", "web", "-o", "json"}));
  CHECK(d["spec"]["replicas"] == 3);
  CHECK(d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] == "2");
  CHECK(d["metadata"]["generation"] == 2);
  CHECK(d["metadata"]["annotations"].contains("kubectl.kubernetes.io/last-applied-configuration"));
  auto rv = d["metadata"]["resourceVersion"];
  CHECK(json_of(w.kubectl({"get", "deploy", "web", "-o", "json"}))["metadata"]["resourceVersion"] == rv);
  auto table = w.kubectl({"get", "deploy", "-o", "wide"});
  CHECK(table.out.find("READY   UP-TO-DATE   AVAILABLE") != std::string::npos);
  CHECK(table.out.find("app=web") != std::string::npos);
}

TEST_CASE("edit, label, annotate, scale") {
  ApiWorld w;
  REQUIRE(w.kubectl({"create", "-f", w.file("d.yaml", kDeployment)}).exit_code == 0);
  REQUIRE(w.kubectl({"create", "-f", w.file("p.yaml", kPod)}).exit_code == 0);
  auto editor = w.file("editor.sh", "#!/bin/sh\nsed -i 's/image: busybox:1.36/image: busybox:1.37/' \"$1\"\n");
  REQUIRE(::chmod(editor.c_str(), 0755) == 0);
  auto e = w.kubectl({"edit", "deploy", "web"}, "", "", {"KUBE_EDITOR=" + editor});
  CHECK_OK(e);
  CHECK(e.out == "deployment.apps/web edited\n");
  auto d = json_of(w.kubectl({"get", "deploy", "web", "-o", "json"}));
  CHECK(d["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.37");
  CHECK(d["metadata"]["generation"] == 2);
  CHECK(w.kubectl({"label", "pod", "web", "tier=front"}).out == "pod/web labeled\n");
  CHECK(w.kubectl({"annotate", "pod", "web", "note=hi"}).out == "pod/web annotated\n");
  auto p = json_of(w.kubectl({"get", "pod", "web", "-o", "json"}));
  CHECK(p["metadata"]["labels"]["tier"] == "front");
  CHECK(p["metadata"]["annotations"]["note"] == "hi");
  CHECK(w.kubectl({"label", "pod", "web", "tier-"}).exit_code == 0);
  CHECK_FALSE(json_of(w.kubectl({"get", "pod", "web", "-o", "json"}))["metadata"]["labels"].contains("tier"));
  CHECK(w.kubectl({"scale", "deploy", "web", "--replicas=5"}).out == "deployment.apps/web scaled\n");
  CHECK(json_of(w.kubectl({"get", "deploy", "web", "-o", "json"}))["spec"]["replicas"] == 5);
  CHECK_FAILS_WITH(w.kubectl({"scale", "deploy", "nope", "--replicas=1"}), "not found");
}

TEST_CASE("delete: grace periods for bound pods, --wait=false, namespaces go Terminating") {
  ApiWorld w;
  std::string bound = replace_all(kPod, "spec:\n", "spec:\n  nodeName: node-a\n");
  REQUIRE(w.kubectl({"create", "-f", w.file("p.yaml", bound)}).exit_code == 0);
  // A pod on a node stays, marked, until its node confirms (or a forced delete).
  CHECK_OK(w.kubectl({"delete", "pod", "web", "--wait=false", "--grace-period=20"}));
  auto p = json_of(w.kubectl({"get", "pod", "web", "-o", "json"}));
  CHECK(p["metadata"]["deletionGracePeriodSeconds"] == 20);
  CHECK(p["metadata"].contains("deletionTimestamp"));
  CHECK(w.kubectl({"get", "pod", "web"}).out.find("Terminating") != std::string::npos);
  CHECK_OK(w.kubectl({"delete", "pod", "web", "--grace-period=0", "--force"}));
  CHECK_FAILS_WITH(w.kubectl({"get", "pod", "web"}), "not found");

  CHECK(w.kubectl({"create", "namespace", "team"}).out == "namespace/team created\n");
  REQUIRE(w.kubectl({"create", "-n", "team", "-f", w.file("p2.yaml", kPod)}).exit_code == 0);
  CHECK_OK(w.kubectl({"delete", "namespace", "team", "--wait=false"}));
  auto ns = json_of(w.kubectl({"get", "ns", "team", "-o", "json"}));
  CHECK(ns["status"]["phase"] == "Terminating");
  CHECK_FAILS_WITH(w.kubectl({"create", "-n", "team", "-f", w.file("p3.yaml", replace_all(kPod, "name: web", "name: web2"))}),
                   "because it is being terminated");
  CHECK_FAILS_WITH(w.kubectl({"create", "-n", "nowhere", "-f", w.file("p4.yaml", kPod)}), "namespaces \"nowhere\" not found");
}

TEST_CASE("get -w streams changes until the client goes") {
  ApiWorld w;
  RunOutput watch_out;
  std::thread watcher([&] { watch_out = w.kubectl({"get", "pods", "-w", "--request-timeout=0", "--output-watch-events"}, "", "",
                                                   {}); });
  // Changes made before the watch opens would be folded into its first list.
  REQUIRE(eventually([&] { return w.log().find("watch of pods opened") != std::string::npos; }));
  REQUIRE(w.kubectl({"create", "-f", w.file("p.yaml", kPod)}).exit_code == 0);
  REQUIRE(w.kubectl({"label", "pod", "web", "x=y"}).exit_code == 0);
  REQUIRE(w.kubectl({"delete", "pod", "web", "--wait=false"}).exit_code == 0);
  // kubectl get -w ends only when the server closes the stream: stop the server.
  w.stop();
  watcher.join();
  CHECK_MESSAGE(watch_out.out.find("ADDED      web") != std::string::npos, watch_out.out << watch_out.err);
  CHECK(watch_out.out.find("MODIFIED   web") != std::string::npos);
  CHECK(watch_out.out.find("DELETED    web") != std::string::npos);
}

TEST_CASE("two kubectl updates from the same resourceVersion: exactly one gets 409 Conflict") {
  ApiWorld w;
  REQUIRE(w.kubectl({"create", "-f", w.file("p.yaml", kPod)}).exit_code == 0);
  auto pod = json_of(w.kubectl({"get", "pod", "web", "-o", "json"}));
  Json a = pod, b = pod;
  a["metadata"]["labels"]["writer"] = "a";
  b["metadata"]["labels"]["writer"] = "b";
  auto fa = w.file("a.json", a.dump()), fb = w.file("b.json", b.dump());
  RunOutput ra, rb;
  std::thread ta([&] { ra = w.kubectl({"replace", "-f", fa}); });
  std::thread tb([&] { rb = w.kubectl({"replace", "-f", fb}); });
  ta.join();
  tb.join();
  CHECK((ra.exit_code == 0) != (rb.exit_code == 0));
  const RunOutput& loser = ra.exit_code == 0 ? rb : ra;
  CHECK_MESSAGE(loser.err.find("Error from server (Conflict)") != std::string::npos, loser.err);
  CHECK(loser.err.find("the object has been modified; please apply your changes to the latest version") !=
        std::string::npos);
}

TEST_CASE("errors reach kubectl with the right code and message") {
  ApiWorld w;
  REQUIRE(w.kubectl({"create", "-f", w.file("p.yaml", kPod)}).exit_code == 0);
  CHECK_FAILS_WITH(w.kubectl({"create", "-f", w.file("p.yaml", kPod)}), "Error from server (AlreadyExists)");
  CHECK_FAILS_WITH(w.kubectl({"get", "pod", "nope"}), "Error from server (NotFound): pods \"nope\" not found");
  CHECK_FAILS_WITH(w.kubectl({"get", "deploy", "nope"}), "deployments.apps \"nope\" not found");
  CHECK_FAILS_WITH(w.kubectl({"get", "foos"}), "the server doesn't have a resource type \"foos\"");
  auto bad_name = w.kubectl({"create", "-f", w.file("bad.yaml", replace_all(kPod, "name: web", "name: Bad_Name"))});
  CHECK_FAILS_WITH(bad_name, "The Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\"");
  auto no_containers = w.kubectl(
      {"create", "-f", w.file("nc.json", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[]}})")});
  CHECK_FAILS_WITH(no_containers, "spec.containers: Required value");
  // Workload selectors: valid, and matching the pod template.
  auto mismatch = w.kubectl({"create", "-f", w.file("d1.yaml", replace_all(kDeployment, "selector: {matchLabels: {app: web}}",
                                                                           "selector: {matchLabels: {app: other}}"))});
  CHECK_FAILS_WITH(mismatch, "The Deployment \"web\" is invalid: spec.template.metadata.labels: Invalid value");
  CHECK(mismatch.err.find("`selector` does not match template `labels`") != std::string::npos);
  auto bad_op = w.kubectl({"create", "-f", w.file("d2.yaml", replace_all(kDeployment, "selector: {matchLabels: {app: web}}",
      "selector: {matchExpressions: [{key: app, operator: Near, values: [web]}]}"))});
  CHECK_FAILS_WITH(bad_op, "spec.selector: Invalid value");
  CHECK_FAILS_WITH(w.kubectl({"get", "deploy", "web"}), "not found");
  auto bad_json = w.kubectl({"create", "--raw", "/api/v1/namespaces/default/pods", "-f", w.file("bad.json", "{bad json")});
  CHECK_FAILS_WITH(bad_json, "Error from server (BadRequest)");
  CHECK_FAILS_WITH(w.kubectl({"get", "pods", "-l", "a in (b"}), "unable to parse requirement");
  CHECK_FAILS_WITH(w.kubectl({"get", "pods", "--field-selector", "spec.bogus=1"}), "field label not supported: spec.bogus");
  // Oversized bodies are refused before anything is stored.
  std::string big = R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":")" +
                    std::string(4 * 1024 * 1024, 'x') + "\"}}";
  auto too_big = w.kubectl({"create", "--raw", "/api/v1/namespaces/default/configmaps", "-f", w.file("big.json", big)});
  CHECK(too_big.exit_code != 0);
  CHECK_FAILS_WITH(w.kubectl({"get", "cm", "big"}), "not found");
}

TEST_CASE("authentication and authorization") {
  TempDir tokens("deckhand-tokens");
  REQUIRE(fs::write_file_atomic(tokens.sub("tokens.csv"), "s3cret,ops-admin,1,\"system:masters,ops\"\n"));
  ApiWorld w({"--token-file", tokens.sub("tokens.csv")});
  // A bearer token from the token file works; a wrong one gets 401.
  auto empty = w.file("empty.kubeconfig", "apiVersion: v1\nkind: Config\n");
  std::vector<std::string> no_cert{"--kubeconfig", empty, "--server", w.url(), "--insecure-skip-tls-verify"};
  auto with = [&](std::vector<std::string> a, std::vector<std::string> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  CHECK_OK(w.kubectl(with(no_cert, {"--token", "s3cret", "get", "pods"})));
  CHECK_FAILS_WITH(w.kubectl(with(no_cert, {"--token", "wrong", "get", "pods"})), "Unauthorized");
  // A node identity from issue-cert may read pods and write its own Node, not create deployments.
  std::string node_kc = w.issue_kubeconfig("system:node:n1", {"system:nodes"});
  CHECK_OK(w.kubectl({"--kubeconfig", node_kc, "get", "pods"}));
  CHECK_OK(w.kubectl({"--kubeconfig", node_kc, "create", "-f",
                      w.file("n1.json", R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}})")}));
  auto other = w.kubectl({"--kubeconfig", node_kc, "create", "-f",
                          w.file("n2.json", R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"n2"}})")});
  CHECK_FAILS_WITH(other, "Error from server (Forbidden)");
  auto deploy = w.kubectl({"--kubeconfig", node_kc, "create", "-f", w.file("d.yaml", kDeployment)});
  CHECK_FAILS_WITH(deploy, "User \"system:node:n1\" cannot create resource \"deployments\" in API group \"apps\"");
}

TEST_CASE("restart keeps every object and resourceVersions keep rising") {
  ApiWorld w;
  REQUIRE(w.kubectl({"create", "-f", w.file("p.yaml", kPod)}).exit_code == 0);
  auto before = json_of(w.kubectl({"get", "pod", "web", "-o", "json"}));
  w.kill9();
  w.start();
  auto after = json_of(w.kubectl({"get", "pod", "web", "-o", "json"}));
  CHECK(after["metadata"]["uid"] == before["metadata"]["uid"]);
  REQUIRE(w.kubectl({"label", "pod", "web", "a=b"}).exit_code == 0);
  auto changed = json_of(w.kubectl({"get", "pod", "web", "-o", "json"}));
  CHECK(std::stoll(changed["metadata"]["resourceVersion"].get<std::string>()) >
        std::stoll(before["metadata"]["resourceVersion"].get<std::string>()));
}

TEST_CASE("older kubectl clients: 1.27 and 1.20 smoke (create, get, apply, watch, delete)") {
  for (const char* minor : {"27", "20"}) {
    std::string k = kubectl_path(minor);
    if (k.empty()) {
      MESSAGE("kubectl 1." << minor << " not installed (packaging/install-deps.sh unpacks 1.20): skipped");
      continue;
    }
    CAPTURE(minor);
    ApiWorld w;
    auto c = w.kubectl({"create", "-f", w.file("p.yaml", kPod)}, "", k);
    CHECK_OK(c);
    CHECK(w.kubectl({"get", "pods"}, "", k).out.find("web    0/1     Pending") != std::string::npos);
    CHECK(w.kubectl({"apply", "-f", w.file("d.yaml", kDeployment)}, "", k).out == "deployment.apps/web created\n");
    CHECK(w.kubectl({"apply", "-f", w.file("d.yaml", kDeployment)}, "", k).out == "deployment.apps/web unchanged\n");
    auto watch = w.kubectl({"get", "pods", "-w", "--request-timeout=2s"}, "", k);
    CHECK(watch.out.find("web") != std::string::npos);
    CHECK_OK(w.kubectl({"delete", "pod", "web"}, "", k));
    CHECK_OK(w.kubectl({"delete", "deploy", "web"}, "", k));
    CHECK_OK(w.kubectl({"create", "namespace", "n2"}, "", k));
  }
}

TEST_CASE("events, status and binding subresources, deletecollection") {
  ApiWorld w;
  REQUIRE(w.kubectl({"create", "-f", w.file("p.yaml", kPod)}).exit_code == 0);
  auto uid = json_of(w.kubectl({"get", "pod", "web", "-o", "json"}))["metadata"]["uid"].get<std::string>();
  Json event{{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"name", "web.1"}}},
             {"involvedObject", {{"kind", "Pod"}, {"namespace", "default"}, {"name", "web"}, {"uid", uid}}},
             {"reason", "Scheduled"},
             {"message", "placed on n1"},
             {"type", "Normal"},
             {"count", 1},
             {"firstTimestamp", "2026-01-01T00:00:00Z"},
             {"lastTimestamp", "2026-01-01T00:00:00Z"}};
  CHECK_OK(w.kubectl({"create", "-f", w.file("ev.json", event.dump())}));
  auto events = w.kubectl({"get", "events"});
  CHECK(events.out.find("LAST SEEN   TYPE     REASON      OBJECT    MESSAGE") == 0);
  CHECK(events.out.find("pod/web") != std::string::npos);
  CHECK(w.kubectl({"describe", "pod", "web"}).out.find("placed on n1") != std::string::npos);

  // Status writes change only status; main-resource writes leave status alone.
  CHECK_OK(w.kubectl({"patch", "pod", "web", "--subresource=status", "--type=merge", "-p",
                      R"({"status":{"phase":"Running","podIP":"10.88.0.5"}})"}));
  CHECK_OK(w.kubectl({"patch", "pod", "web", "--type=merge", "-p", R"({"status":{"phase":"Failed"}})"}));
  auto pod = json_of(w.kubectl({"get", "pod", "web", "-o", "json"}));
  CHECK(pod["status"]["phase"] == "Running");
  CHECK(pod["status"]["podIP"] == "10.88.0.5");

  // Binding sets the node once; a second binding is refused.
  std::string binding = R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"web"},"target":{"kind":"Node","name":"n1"}})";
  CHECK_OK(w.kubectl({"create", "--raw", "/api/v1/namespaces/default/pods/web/binding", "-f", w.file("b.json", binding)}));
  CHECK(json_of(w.kubectl({"get", "pod", "web", "-o", "json"}))["spec"]["nodeName"] == "n1");
  CHECK_FAILS_WITH(w.kubectl({"create", "--raw", "/api/v1/namespaces/default/pods/web/binding", "-f",
                              w.file("b2.json", binding)}),
                   "already assigned to node");
  // Logs come from the pod's node agent: without the Node there is nowhere to ask.
  CHECK_FAILS_WITH(w.kubectl({"logs", "web"}), "nodes \"n1\" not found");

  // deletecollection with a selector deletes what matches.
  REQUIRE(w.kubectl({"create", "-f", w.file("p2.yaml", replace_all(replace_all(kPod, "name: web", "name: other"),
                                                                  "app: web", "app: other"))}).exit_code == 0);
  CHECK_OK(w.kubectl({"delete", "--raw", "/api/v1/namespaces/default/pods?labelSelector=app%3Dother"}));
  CHECK_FAILS_WITH(w.kubectl({"get", "pod", "other"}), "not found");
  CHECK_OK(w.kubectl({"get", "pod", "web"}));
}

TEST_CASE("a watch from a resourceVersion the server no longer holds gets 410 Gone") {
  ApiWorld w;
  REQUIRE(w.kubectl({"create", "-f", w.file("p.yaml", kPod)}).exit_code == 0);
  auto rv = json_of(w.kubectl({"get", "pod", "web", "-o", "json"}))["metadata"]["resourceVersion"].get<std::string>();
  // Its history is in the store, not in the new server's window of changes.
  w.stop();
  w.start();
  auto r = w.kubectl({"get", "--raw", "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=2&resourceVersion=" +
                                          std::to_string(std::stoll(rv) - 1)});
  CHECK_MESSAGE(r.out.find(R"("type":"ERROR")") != std::string::npos, r.out << r.err);
  CHECK(r.out.find(R"("code":410)") != std::string::npos);
  // From the current version the watch works and ends at its timeout.
  auto ok = w.kubectl({"get", "--raw", "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=1&resourceVersion=" + rv});
  CHECK_OK(ok);
}

TEST_CASE("paging, bookmarks, finalizers, foreground deletion and service cluster IPs") {
  ApiWorld w({"--bookmark-interval-s", "1", "--service-cidr", "10.99.0.0/24"});
  for (const char* n : {"p1", "p2", "p3"})
    REQUIRE(w.kubectl({"create", "-f", w.file(std::string(n) + ".yaml", replace_all(kPod, "name: web", std::string("name: ") + n))})
                .exit_code == 0);
  // kubectl pages with limit and continue.
  auto paged = w.kubectl({"get", "pods", "--chunk-size=1", "-o", "name", "-v=6"});
  CHECK(paged.out == "pod/p1\npod/p2\npod/p3\n");
  CHECK(paged.err.find("continue=") != std::string::npos);
  auto bm = w.kubectl({"get", "--raw", "/api/v1/namespaces/default/pods?watch=1&allowWatchBookmarks=true&timeoutSeconds=3"});
  CHECK_MESSAGE(bm.out.find(R"("type":"BOOKMARK")") != std::string::npos, bm.out);

  // An object with finalizers stays, marked, until they are gone.
  CHECK_OK(w.kubectl({"create", "-f", w.file("cm.json", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"keep","finalizers":["example.com/hold"]},"data":{"a":"b"}})")}));
  CHECK_OK(w.kubectl({"delete", "cm", "keep", "--wait=false"}));
  CHECK(json_of(w.kubectl({"get", "cm", "keep", "-o", "json"}))["metadata"].contains("deletionTimestamp"));
  CHECK_OK(w.kubectl({"patch", "cm", "keep", "--type=json", "-p", R"([{"op":"remove","path":"/metadata/finalizers"}])"}));
  CHECK_FAILS_WITH(w.kubectl({"get", "cm", "keep"}), "not found");

  // Foreground deletion leaves the owner with the foregroundDeletion finalizer for the garbage collector.
  REQUIRE(w.kubectl({"create", "-f", w.file("d.yaml", kDeployment)}).exit_code == 0);
  CHECK_OK(w.kubectl({"delete", "deploy", "web", "--cascade=foreground", "--wait=false"}));
  auto d = json_of(w.kubectl({"get", "deploy", "web", "-o", "json"}));
  CHECK(d["metadata"]["finalizers"] == Json::array({"foregroundDeletion"}));

  // Services get a cluster IP from the configured range; an explicit one is honoured once.
  const char* svc = R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"NAME"},"spec":{IP"selector":{"app":"web"},"ports":[{"port":80}]}})";
  CHECK_OK(w.kubectl({"create", "-f", w.file("s1.json", replace_all(replace_all(svc, "NAME", "s1"), "IP", ""))}));
  auto s1 = json_of(w.kubectl({"get", "svc", "s1", "-o", "json"}));
  CHECK(s1["spec"]["clusterIP"].get<std::string>().rfind("10.99.0.", 0) == 0);
  CHECK(s1["spec"]["ports"][0]["targetPort"] == 80);
  CHECK(w.kubectl({"get", "svc"}).out.find("NAME   TYPE        CLUSTER-IP") == 0);
  auto explicit_ip = replace_all(svc, "IP", R"("clusterIP":"10.99.0.200",)");
  CHECK_OK(w.kubectl({"create", "-f", w.file("s2.json", replace_all(explicit_ip, "NAME", "s2"))}));
  CHECK_FAILS_WITH(w.kubectl({"create", "-f", w.file("s3.json", replace_all(explicit_ip, "NAME", "s3"))}),
                   "provided IP is already allocated");
  CHECK_FAILS_WITH(w.kubectl({"get", "svc", "s3"}), "not found");
}

TEST_CASE("kubectl create generators (protobuf bodies): configmap, secret, deployment, service") {
  ApiWorld w;
  CHECK(w.kubectl({"create", "configmap", "cfg", "--from-literal=a=b"}).out == "configmap/cfg created\n");
  CHECK(json_of(w.kubectl({"get", "cm", "cfg", "-o", "json"}))["data"]["a"] == "b");
  CHECK(w.kubectl({"create", "secret", "generic", "s", "--from-literal=k=v"}).out == "secret/s created\n");
  CHECK(json_of(w.kubectl({"get", "secret", "s", "-o", "json"}))["data"]["k"] == "dg==");
  CHECK(w.kubectl({"create", "deployment", "d", "--image=busybox:1.36", "--replicas=2"}).out ==
        "deployment.apps/d created\n");
  auto d = json_of(w.kubectl({"get", "deploy", "d", "-o", "json"}));
  CHECK(d["spec"]["replicas"] == 2);
  CHECK(d["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1.36");
  CHECK(w.kubectl({"create", "service", "clusterip", "svc", "--tcp=80:8080"}).out == "service/svc created\n");
  CHECK(json_of(w.kubectl({"get", "svc", "svc", "-o", "json"}))["spec"]["ports"][0]["targetPort"] == 8080);
}
