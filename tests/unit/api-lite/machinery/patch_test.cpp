#include "deckhand/api/patch.h"

#include <doctest/doctest.h>

#include <string>

using namespace deckhand;
using namespace deckhand::api;

namespace {

Json j(const char* text) { return Json::parse(text); }

// Applies a JSON patch given as text; the test fails on an error.
Json json_patched(const char* doc, const char* patch) {
  auto r = apply_json_patch(j(doc), j(patch));
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return *r;
}

std::string json_patch_error(const char* doc, const char* patch) {
  auto r = apply_json_patch(j(doc), j(patch));
  REQUIRE(!r.has_value());
  CHECK(r.error().kind == ErrorKind::InvalidArgument);
  return r.error().message;
}

Json strategic(const Json& doc, const char* patch, const std::string& kind) {
  auto r = apply_strategic_merge_patch(doc, j(patch), kind);
  REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().message));
  return *r;
}

std::string strategic_error(const Json& doc, const char* patch, const std::string& kind) {
  auto r = apply_strategic_merge_patch(doc, j(patch), kind);
  REQUIRE(!r.has_value());
  CHECK(r.error().kind == ErrorKind::InvalidArgument);
  return r.error().message;
}

bool has_directive(const Json& v) { return v.dump().find("\"$") != std::string::npos; }

const Json& deployment() {
  static const Json d = j(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "old"}},
    "spec": {
      "replicas": 2,
      "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
      "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [
          {"name": "app", "image": "nginx:1.24", "env": [{"name": "A", "value": "1"}],
           "ports": [{"containerPort": 80, "protocol": "TCP"}]},
          {"name": "sidecar", "image": "busybox"}]}}}})");
  return d;
}

}  // namespace

// ---------------------------------------------------------------------------
// RFC 6902, after its appendix A.

TEST_CASE("json patch: add to an object and into an array") {
  CHECK(json_patched(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux"}])") ==
        j(R"({"baz":"qux","foo":"bar"})"));
  CHECK(json_patched(R"({"foo":["bar","baz"]})", R"([{"op":"add","path":"/foo/1","value":"qux"}])") ==
        j(R"({"foo":["bar","qux","baz"]})"));
  CHECK(json_patched(R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])") ==
        j(R"({"foo":["bar",["abc","def"]]})"));
  CHECK(json_patched(R"({"foo":["bar"]})", R"([{"op":"add","path":"/foo/1","value":"end"}])") ==
        j(R"({"foo":["bar","end"]})"));
  CHECK(json_patched(R"({"foo":"bar"})", R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])") ==
        j(R"({"foo":"bar","child":{"grandchild":{}}})"));
  CHECK(json_patched(R"({"foo":"bar"})", R"([{"op":"add","path":"","value":[1]}])") == j("[1]"));
  // Members the op does not use are ignored.
  CHECK(json_patched(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz","value":"qux","xyz":123}])") ==
        j(R"({"baz":"qux","foo":"bar"})"));
}

TEST_CASE("json patch: remove, replace, move, copy") {
  CHECK(json_patched(R"({"baz":"qux","foo":"bar"})", R"([{"op":"remove","path":"/baz"}])") ==
        j(R"({"foo":"bar"})"));
  CHECK(json_patched(R"({"foo":["bar","qux","baz"]})", R"([{"op":"remove","path":"/foo/1"}])") ==
        j(R"({"foo":["bar","baz"]})"));
  CHECK(json_patched(R"({"baz":"qux","foo":"bar"})", R"([{"op":"replace","path":"/baz","value":"boo"}])") ==
        j(R"({"baz":"boo","foo":"bar"})"));
  CHECK(json_patched(R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
                     R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])") ==
        j(R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"));
  CHECK(json_patched(R"({"foo":["all","grass","cows","eat"]})",
                     R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])") ==
        j(R"({"foo":["all","cows","eat","grass"]})"));
  CHECK(json_patched(R"({"a":{"b":[1]}})", R"([{"op":"copy","from":"/a/b","path":"/c"}])") ==
        j(R"({"a":{"b":[1]},"c":[1]})"));
  CHECK(json_patched(R"({"a":1})", R"([{"op":"move","from":"/a","path":"/a"}])") == j(R"({"a":1})"));
}

TEST_CASE("json patch: test op, escapes and number comparison") {
  CHECK(json_patched(
            R"({"baz":"qux","foo":["a",2,"c"]})",
            R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])") ==
        j(R"({"baz":"qux","foo":["a",2,"c"]})"));
  CHECK(json_patched(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])") ==
        j(R"({"/":9,"~1":10})"));
  CHECK(json_patched(R"({"/":9})", R"([{"op":"replace","path":"/~1","value":8}])") == j(R"({"/":8})"));
  CHECK(json_patched(R"({"a":1})", R"([{"op":"test","path":"/a","value":1.0}])") == j(R"({"a":1})"));
  CHECK(json_patch_error(R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":"10"}])") ==
        "json patch operation 0 (test /~01): test failed: the value differs");
  CHECK(json_patch_error(R"({"baz":"qux"})", R"([{"op":"test","path":"/baz","value":"bar"}])")
            .find("test failed") != std::string::npos);
}

TEST_CASE("json patch: errors name the operation and path") {
  CHECK(json_patch_error(R"({"spec":{}})",
                         R"([{"op":"test","path":"/spec","value":{}},
                             {"op":"add","path":"/spec/y","value":1},
                             {"op":"replace","path":"/spec/x","value":1}])") ==
        "json patch operation 2 (replace /spec/x): path not found");
  CHECK(json_patch_error(R"({"foo":"bar"})", R"([{"op":"add","path":"/baz/bat","value":"qux"}])") ==
        "json patch operation 0 (add /baz/bat): path not found");
  CHECK(json_patch_error(R"({"a":1})", R"([{"op":"remove","path":"/b"}])") ==
        "json patch operation 0 (remove /b): path not found");
  CHECK(json_patch_error(R"({"a":[1]})", R"([{"op":"add","path":"/a/5","value":1}])").find("out of range") !=
        std::string::npos);
  CHECK(json_patch_error(R"({"a":[1,2]})", R"([{"op":"remove","path":"/a/01"}])").find("path not found") !=
        std::string::npos);
  CHECK(json_patch_error(R"({"a":[1]})", R"([{"op":"replace","path":"/a/-","value":1}])")
            .find("path not found") != std::string::npos);
  CHECK(json_patch_error(R"({"a":1})", R"([{"op":"add","path":"a","value":1}])").find("pointer") !=
        std::string::npos);
  CHECK(json_patch_error(R"({"a":1})", R"([{"op":"add","path":"/~2","value":1}])").find("~") !=
        std::string::npos);
  CHECK(
      json_patch_error(R"({"a":{"b":1}})", R"([{"op":"move","from":"/a","path":"/a/c"}])").find("children") !=
      std::string::npos);
  CHECK(json_patch_error(R"({"a":1})", R"([{"op":"copy","from":"/x","path":"/y"}])").find("from path /x") !=
        std::string::npos);
  CHECK(json_patch_error(R"({"a":1})", R"([{"op":"remove","path":""}])").find("whole document") !=
        std::string::npos);
  CHECK(json_patch_error(R"({"a":1})", R"([{"op":"add","path":"/b"}])") ==
        "json patch operation 0 (add /b): missing member \"value\"");
  CHECK(json_patch_error(R"({"a":1})", R"([{"op":"move","path":"/b"}])").find("\"from\"") !=
        std::string::npos);
  CHECK(json_patch_error(R"({"a":1})", R"([{"op":"frob","path":"/a"}])") ==
        "json patch operation 0 (frob /a): unknown op \"frob\"");
  CHECK(json_patch_error(R"({"a":"s"})", R"([{"op":"add","path":"/a/b","value":1}])")
            .find("not an object or array") != std::string::npos);
}

TEST_CASE("json patch: the patch must be an array of objects with op and path") {
  CHECK(json_patch_error("{}", R"({"op":"add","path":"/a","value":1})").find("not an array") !=
        std::string::npos);
  CHECK(json_patch_error("{}", R"([1])") == "json patch operation 0: not an object");
  CHECK(json_patch_error("{}", R"([{"path":"/a","value":1}])")
            .find("operation 0: missing string member \"op\"") != std::string::npos);
  CHECK(json_patch_error("{}", R"([{"op":"add","value":1}])").find("missing string member \"path\"") !=
        std::string::npos);
  CHECK(json_patch_error("{}", R"([{"op":1,"path":"/a"}])").find("\"op\"") != std::string::npos);
  CHECK(json_patched(R"({"a":1})", "[]") == j(R"({"a":1})"));
}

TEST_CASE("json patch: a failed patch applies nothing") {
  Json doc = j(R"({"a":1,"list":[1,2]})");
  Json before = doc;
  auto r = apply_json_patch(doc, j(R"([{"op":"replace","path":"/a","value":2},
                                         {"op":"remove","path":"/list/0"},
                                         {"op":"test","path":"/a","value":3}])"));
  REQUIRE(!r);
  CHECK(r.error().message.rfind("json patch operation 2 (test /a)", 0) == 0);
  CHECK(doc == before);
  // The same operations without the failing test do apply.
  CHECK(json_patched(R"({"a":1,"list":[1,2]})", R"([{"op":"replace","path":"/a","value":2},
                                                     {"op":"remove","path":"/list/0"}])") ==
        j(R"({"a":2,"list":[2]})"));
}

// ---------------------------------------------------------------------------
// RFC 7386, its appendix A.

TEST_CASE("merge patch: the RFC 7386 examples") {
  struct Case {
    const char* doc;
    const char* patch;
    const char* want;
  };
  const Case cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", "null", "null"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.patch);
    auto r = apply_merge_patch(j(c.doc), j(c.patch));
    REQUIRE(r);
    CHECK(*r == j(c.want));
  }
}

TEST_CASE("merge patch: absurd nesting is refused") {
  Json deep = Json::object();
  for (int i = 0; i < 1000; ++i) deep = Json{{"a", std::move(deep)}};
  auto r = apply_merge_patch(Json::object(), deep);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::InvalidArgument);
  CHECK(r.error().message.find("nested too deeply") != std::string::npos);
}

// ---------------------------------------------------------------------------
// Strategic merge patch, with the patches kubectl sends.

TEST_CASE("strategic: kubectl apply changes an image and adds an env var") {
  Json got = strategic(deployment(), R"({
    "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "new"}},
    "spec": {"template": {"spec": {
      "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
      "containers": [{"$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                      "env": [{"name": "B", "value": "2"}], "image": "nginx:1.25", "name": "app"}]}}}})",
                       "Deployment");
  Json want = deployment();
  want["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = "new";
  Json& app = want["spec"]["template"]["spec"]["containers"][0];
  app["image"] = "nginx:1.25";
  app["env"] = j(R"([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])");
  CHECK(got == want);
  CHECK(!has_directive(got));
}

TEST_CASE("strategic: $setElementOrder decides the order of a merged list") {
  Json got = strategic(deployment(), R"({"spec": {"template": {"spec": {
      "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
      "containers": [{"name": "app", "$setElementOrder/env": [{"name": "B"}, {"name": "A"}],
                      "env": [{"name": "B", "value": "2"}]}]}}}})",
                       "Deployment");
  const Json& containers = got["spec"]["template"]["spec"]["containers"];
  REQUIRE(containers.size() == 2);
  CHECK(containers[0]["name"] == "sidecar");
  CHECK(containers[1]["name"] == "app");
  CHECK(containers[1]["env"] == j(R"([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}])"));
  CHECK(!has_directive(got));

  // Live elements the order does not name keep their place relative to the
  // named ones they preceded in the live list (the API server's rule).
  Json pod = j(
      R"({"spec": {"containers": [{"name": "c"}, {"name": "b"}, {"name": "d"}, {"name": "a"}, {"name": "e"}]}})");
  Json reordered = strategic(pod, R"({"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                                               "containers": [{"name": "a", "image": "x"}, {"name": "b"}]}})",
                             "Pod");
  CHECK(reordered["spec"]["containers"] ==
        j(R"([{"name": "c"}, {"name": "d"}, {"name": "a", "image": "x"}, {"name": "b"}, {"name": "e"}])"));

  CHECK(strategic_error(deployment(), R"({"spec": {"template": {"spec": {
      "$setElementOrder/containers": [{"name": "app"}],
      "containers": [{"name": "sidecar", "image": "y"}]}}}})",
                        "Deployment") ==
        "strategic merge patch at spec.template.spec.containers: the list does not follow $setElementOrder");
  CHECK(strategic_error(deployment(), R"({"spec": {"template": {"spec": {
      "$setElementOrder/containers": [{"image": "app"}], "containers": [{"name": "app"}]}}}})",
                        "Deployment")
            .find("$setElementOrder element without merge key \"name\"") != std::string::npos);
}

TEST_CASE("strategic: $setElementOrder alone reorders the live list") {
  Json got = strategic(deployment(), R"({"spec": {"template": {"spec": {
      "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}}}})",
                       "Deployment");
  const Json& containers = got["spec"]["template"]["spec"]["containers"];
  REQUIRE(containers.size() == 2);
  CHECK(containers[0] == deployment()["spec"]["template"]["spec"]["containers"][1]);
  CHECK(containers[1] == deployment()["spec"]["template"]["spec"]["containers"][0]);
  CHECK(!has_directive(got));
}

TEST_CASE("strategic: kubectl apply removes a container with $patch: delete") {
  Json got = strategic(deployment(), R"({"spec": {"template": {"spec": {
      "$setElementOrder/containers": [{"name": "app"}],
      "containers": [{"$patch": "delete", "name": "sidecar"}]}}}})",
                       "Deployment");
  Json want = deployment();
  want["spec"]["template"]["spec"]["containers"].erase(1);
  CHECK(got == want);

  CHECK(strategic_error(deployment(), R"({"spec": {"template": {"spec": {
      "containers": [{"$patch": "delete", "image": "busybox"}]}}}})",
                        "Deployment")
            .find("without merge key \"name\"") != std::string::npos);
}

TEST_CASE("strategic: kubectl set image keeps the other containers in place") {
  Json got = strategic(deployment(), R"({"spec": {"template": {"spec": {
      "containers": [{"name": "sidecar", "image": "busybox:2"}]}}}})",
                       "Deployment");
  Json want = deployment();
  want["spec"]["template"]["spec"]["containers"][1]["image"] = "busybox:2";
  CHECK(got == want);
}

TEST_CASE("strategic: container ports merge by containerPort, env by name") {
  Json got = strategic(deployment(), R"({"spec": {"template": {"spec": {"containers": [
      {"name": "app", "ports": [{"containerPort": 80, "name": "http"}],
       "env": [{"name": "A", "value": "changed"}]}]}}}})",
                       "Deployment");
  const Json& app = got["spec"]["template"]["spec"]["containers"][0];
  CHECK(app["ports"] == j(R"([{"containerPort": 80, "protocol": "TCP", "name": "http"}])"));
  CHECK(app["env"] == j(R"([{"name": "A", "value": "changed"}])"));
}

TEST_CASE("strategic: a new element without $setElementOrder goes before the live ones") {
  // The API server orders a merged list by the patch first; elements that
  // were live only follow the patch's new elements.
  Json got = strategic(deployment(), R"({"spec": {"template": {"spec": {"containers": [
      {"name": "app", "env": [{"name": "B", "value": "2"}]}]}}}})",
                       "Deployment");
  CHECK(got["spec"]["template"]["spec"]["containers"][0]["env"] ==
        j(R"([{"name": "B", "value": "2"}, {"name": "A", "value": "1"}])"));
}

TEST_CASE("strategic: kubectl label and annotate") {
  Json pod =
      j(R"({"kind": "Pod", "metadata": {"name": "p", "labels": {"x": "y"}}, "spec": {"containers": []}})");
  Json labeled = strategic(pod, R"({"metadata": {"labels": {"a": "b"}}})", "Pod");
  CHECK(labeled["metadata"]["labels"] == j(R"({"x": "y", "a": "b"})"));
  Json unlabeled = strategic(labeled, R"({"metadata": {"labels": {"a": null}}})", "Pod");
  CHECK(unlabeled == pod);
  Json annotated = strategic(pod, R"({"metadata": {"annotations": {"note": "hi"}}})", "Pod");
  CHECK(annotated["metadata"]["annotations"] == j(R"({"note": "hi"})"));
  // Removing what is not there creates nothing.
  CHECK(strategic(pod, R"({"metadata": {"annotations": {"note": null}}})",
                  "Pod")["metadata"]["annotations"] == Json::object());
}

TEST_CASE("strategic: kubectl scale and rollout restart") {
  Json scaled = strategic(deployment(), R"({"spec": {"replicas": 3}})", "Deployment");
  Json want = deployment();
  want["spec"]["replicas"] = 3;
  CHECK(scaled == want);

  Json restarted = strategic(deployment(), R"({"spec": {"template": {"metadata": {"annotations": {
      "kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"}}}}})",
                             "Deployment");
  CHECK(restarted["spec"]["template"]["metadata"] == j(R"({"labels": {"app": "web"},
              "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"}})"));
  CHECK(restarted["spec"]["template"]["spec"] == deployment()["spec"]["template"]["spec"]);
}

TEST_CASE("strategic: finalizers are a set; $deleteFromPrimitiveList removes values") {
  Json obj = j(R"({"metadata": {"name": "x", "finalizers": ["a", "b"]}})");
  // Union; new values come before the live ones, as the API server orders them.
  CHECK(strategic(obj, R"({"metadata": {"finalizers": ["c", "a"]}})",
                  "ConfigMap")["metadata"]["finalizers"] == j(R"(["c", "a", "b"])"));
  CHECK(strategic(obj, R"({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}})",
                  "ConfigMap")["metadata"]["finalizers"] == j(R"(["a"])"));
  // What kubectl apply sends: the full order, the removals and the additions.
  Json applied = strategic(obj, R"({"metadata": {"$setElementOrder/finalizers": ["a", "d"],
                                                  "$deleteFromPrimitiveList/finalizers": ["b"],
                                                  "finalizers": ["d"]}})",
                           "Deployment");
  CHECK(applied["metadata"] == j(R"({"name": "x", "finalizers": ["a", "d"]})"));
  CHECK(strategic_error(obj, R"({"metadata": {"finalizers": [{"x": 1}]}})", "Pod")
            .find("at metadata.finalizers") != std::string::npos);
}

TEST_CASE("strategic: $retainKeys when a Deployment strategy changes to Recreate") {
  Json got = strategic(deployment(), R"({"spec": {"strategy": {
      "$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"}}})",
                       "Deployment");
  CHECK(got["spec"]["strategy"] == j(R"({"type": "Recreate"})"));
  CHECK(got["spec"]["replicas"] == 2);
  // Without the null, $retainKeys alone still clears the old field.
  Json cleared = strategic(
      deployment(), R"({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})", "Deployment");
  CHECK(cleared["spec"]["strategy"] == j(R"({"type": "Recreate"})"));
  CHECK(strategic_error(deployment(), R"({"spec": {"strategy": {
      "$retainKeys": ["type"], "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}})",
                        "Deployment") ==
        "strategic merge patch at spec.strategy: field \"rollingUpdate\" is set but not in $retainKeys");
}

TEST_CASE("strategic: Service ports merge by port") {
  Json svc = j(R"({"kind": "Service", "spec": {"ports": [
      {"name": "http", "port": 80, "targetPort": 8080}, {"name": "https", "port": 443}]}})");
  Json got = strategic(svc, R"({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})", "Service");
  CHECK(got["spec"]["ports"] ==
        j(R"([{"name": "http", "port": 80, "targetPort": 9090}, {"name": "https", "port": 443}])"));
  Json added =
      strategic(svc, R"({"spec": {"$setElementOrder/ports": [{"port": 80}, {"port": 443}, {"port": 8443}],
                                           "ports": [{"port": 8443, "name": "alt"}]}})",
                "Service");
  CHECK(added["spec"]["ports"].size() == 3);
  CHECK(added["spec"]["ports"][2] == j(R"({"port": 8443, "name": "alt"})"));
}

TEST_CASE("strategic: other lists replace wholesale") {
  Json pod = j(R"({"spec": {"containers": [{"name": "a", "args": ["x", "y"]}],
                            "tolerations": [{"key": "k1"}, {"key": "k2"}]}})");
  Json got = strategic(pod, R"({"spec": {"tolerations": [{"key": "k3"}],
                                         "containers": [{"name": "a", "args": ["z"]}]}})",
                       "Pod");
  CHECK(got["spec"]["tolerations"] == j(R"([{"key": "k3"}])"));
  CHECK(got["spec"]["containers"] == j(R"([{"name": "a", "args": ["z"]}])"));
}

TEST_CASE("strategic: $patch replace and delete") {
  Json pod = j(R"({"spec": {"nodeSelector": {"zone": "a"}, "affinity": {"nodeAffinity": {}},
                            "containers": [{"name": "a"}, {"name": "b"}]}})");
  CHECK(strategic(pod, R"({"spec": {"nodeSelector": {"$patch": "replace", "disk": "ssd"}}})",
                  "Pod")["spec"]["nodeSelector"] == j(R"({"disk": "ssd"})"));
  CHECK(strategic(pod, R"({"spec": {"affinity": {"$patch": "delete"}}})", "Pod")["spec"]["affinity"] ==
        Json::object());
  CHECK(strategic(pod, R"({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}})",
                  "Pod")["spec"]["containers"] == j(R"([{"name": "only", "image": "x"}])"));
  CHECK(strategic(pod, R"({"spec": {"nodeSelector": {"$patch": "merge", "disk": "ssd"}}})",
                  "Pod")["spec"]["nodeSelector"] == j(R"({"zone": "a", "disk": "ssd"})"));
  CHECK(strategic_error(pod, R"({"spec": {"nodeSelector": {"$patch": "frob"}}})", "Pod") ==
        "strategic merge patch at spec.nodeSelector: unknown $patch directive \"frob\"");
  CHECK(strategic_error(pod, R"({"spec": {"containers": [{"$patch": "merge", "name": "a"}]}})", "Pod")
            .find("unsupported $patch directive") != std::string::npos);
}

TEST_CASE("strategic: no directive survives in new values") {
  Json pod = j(R"({"spec": {}})");
  Json got = strategic(pod, R"({"spec": {
      "$setElementOrder/containers": [{"name": "a"}],
      "containers": [{"name": "a", "$setElementOrder/env": [{"name": "X"}],
                      "env": [{"name": "X", "value": "1"}],
                      "resources": {"$retainKeys": ["limits"], "limits": {"cpu": "1"}}}]}})",
                       "Pod");
  CHECK(got == j(R"({"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}],
                                              "resources": {"limits": {"cpu": "1"}}}]}})"));
  CHECK(!has_directive(got));
}

TEST_CASE("strategic: the pod spec is found under each workload kind") {
  const char* patch = R"({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
      "containers": [{"name": "b", "image": "new"}]}}}}}})";
  Json cronjob = j(R"({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
      "containers": [{"name": "a"}, {"name": "b", "image": "old"}]}}}}}})");
  CHECK(
      strategic(cronjob, patch, "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"] ==
      j(R"([{"name": "a"}, {"name": "b", "image": "new"}])"));
  // A kind we do not know replaces the list.
  CHECK(
      strategic(cronjob, patch, "Widget")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"] ==
      j(R"([{"name": "b", "image": "new"}])"));

  Json tmpl = j(R"({"template": {"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}}})");
  CHECK(strategic(tmpl, R"({"template": {"spec": {"volumes": [{"name": "w", "hostPath": {"path": "/x"}}]}}})",
                  "PodTemplate")["template"]["spec"]["volumes"]
            .size() == 2);
  Json node = j(
      R"({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "False"}]}})");
  CHECK(
      strategic(node, R"({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})",
                "Node")["status"] ==
      j(R"({"conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}]})"));
}

TEST_CASE("strategic: unknown kinds merge like a merge patch but keep the metadata list rules") {
  Json widget = j(R"({"metadata": {"finalizers": ["a"], "ownerReferences": [{"uid": "1", "name": "x"}]},
                      "spec": {"items": [{"name": "a", "v": 1}], "size": 1, "drop": true}})");
  Json got =
      strategic(widget, R"({"metadata": {"finalizers": ["b"], "ownerReferences": [{"uid": "2", "name": "y"}]},
                                   "spec": {"items": [{"name": "b"}], "drop": null}})",
                "Widget");
  CHECK(got["spec"] == j(R"({"items": [{"name": "b"}], "size": 1})"));
  CHECK(got["metadata"]["finalizers"] == j(R"(["b", "a"])"));
  CHECK(got["metadata"]["ownerReferences"].size() == 2);
  // Keys that merely start with "$" are data, not directives.
  CHECK(strategic(widget, R"({"spec": {"schema": {"$ref": "#/x"}}})", "Widget")["spec"]["schema"] ==
        j(R"({"$ref": "#/x"})"));
}

TEST_CASE("strategic: malformed patches are refused") {
  Json pod = j(R"({"spec": {"containers": [{"name": "a"}]}})");
  CHECK(strategic_error(deployment(), R"({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})",
                        "Deployment") ==
        "strategic merge patch at spec.template.spec.containers: element without merge key \"name\"");
  CHECK(strategic_error(pod, R"({"spec": {"containers": [{"name": null}]}})", "Pod") ==
        "strategic merge patch at spec.containers: element without merge key \"name\"");
  CHECK(strategic_error(pod, R"({"spec": {"containers": ["a"]}})", "Pod").find("not an object") !=
        std::string::npos);
  CHECK(strategic_error(pod, R"({"spec": {"$setElementOrder/containers": "a"}})", "Pod").find("not a list") !=
        std::string::npos);
  CHECK(strategic_error(pod, R"({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}})", "Pod")
            .find("metadata.finalizers") != std::string::npos);
  CHECK(strategic_error(pod, R"({"spec": {"$retainKeys": "x"}})", "Pod").find("not a list") !=
        std::string::npos);
  CHECK(strategic_error(pod, R"([1])", "Pod").find("not a JSON object") != std::string::npos);
  CHECK(strategic_error(j("[]"), R"({})", "Pod").find("not a JSON object") != std::string::npos);

  // A patch nested deeper than any real object is refused, not recursed into.
  Json deep = Json::object();
  for (int i = 0; i < 1000; ++i) deep = Json{{"a", std::move(deep)}};
  auto r = apply_strategic_merge_patch(Json::object(), deep, "Pod");
  REQUIRE(!r);
  CHECK(r.error().message.find("nested too deeply") != std::string::npos);
}

TEST_CASE("strategic: type changes replace the value") {
  Json doc = j(R"({"spec": {"a": {"x": 1}, "b": [1], "c": "s"}})");
  Json got =
      strategic(doc, R"({"spec": {"a": "now a string", "b": {"k": null, "v": 2}, "c": {"d": 1}}})", "Pod");
  CHECK(got == j(R"({"spec": {"a": "now a string", "b": {"v": 2}, "c": {"d": 1}}})"));
}
