#include "static_pods.h"

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::agent;

namespace {

const char* kWebYaml = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: ["sleep", "3600"]
)";

Json annotations(const Json& pod) { return pod["metadata"]["annotations"]; }

}  // namespace

TEST_CASE("a YAML manifest becomes a pod of this node, named after it, with a uid from its contents") {
  auto pod = static_pod_from_manifest(kWebYaml, "/etc/manifests/web.yaml", "node-a");
  REQUIRE_MESSAGE(pod, pod.error().message);
  CHECK((*pod)["metadata"]["name"] == "web-node-a");
  CHECK((*pod)["metadata"]["namespace"] == "default");
  CHECK((*pod)["metadata"]["labels"]["app"] == "web");
  CHECK((*pod)["spec"]["nodeName"] == "node-a");
  CHECK((*pod)["spec"]["containers"][0]["command"] == Json({"sleep", "3600"}));
  std::string uid = (*pod)["metadata"]["uid"];
  CHECK(uid.size() == 32);
  CHECK(annotations(*pod)[kConfigHashAnnotation] == uid);
  CHECK(annotations(*pod)[kConfigSourceAnnotation] == "file");
  CHECK(annotations(*pod)[kConfigSeenAnnotation].is_string());
  CHECK(is_static_pod(*pod));
  CHECK_FALSE(is_mirror_pod(*pod));
  CHECK((*pod)["spec"]["tolerations"] == Json::array({{{"operator", "Exists"}, {"effect", "NoExecute"}}}));

  // The same manifest is the same pod; another node, file or content is another.
  CHECK((*static_pod_from_manifest(kWebYaml, "/etc/manifests/web.yaml", "node-a"))["metadata"]["uid"] == uid);
  CHECK((*static_pod_from_manifest(kWebYaml, "/etc/manifests/web.yaml", "node-b"))["metadata"]["uid"] != uid);
  CHECK((*static_pod_from_manifest(kWebYaml, "/etc/manifests/web2.yaml", "node-a"))["metadata"]["uid"] != uid);
  std::string edited = std::string(kWebYaml) + "  restartPolicy: Never\n";
  CHECK((*static_pod_from_manifest(edited, "/etc/manifests/web.yaml", "node-a"))["metadata"]["uid"] != uid);
}

TEST_CASE("a JSON manifest keeps its namespace and its own annotations") {
  Json manifest = {{"apiVersion", "v1"},
                   {"kind", "Pod"},
                   {"metadata", {{"name", "db"}, {"namespace", "infra"}, {"annotations", {{"team", "x"}}}}},
                   {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox:1.36"}}}}}},
                   {"status", {{"phase", "Running"}}}};
  auto pod = static_pod_from_manifest(manifest.dump(), "db.json", "n1");
  REQUIRE_MESSAGE(pod, pod.error().message);
  CHECK((*pod)["metadata"]["namespace"] == "infra");
  CHECK((*pod)["metadata"]["name"] == "db-n1");
  CHECK(annotations(*pod)["team"] == "x");
  CHECK_FALSE(pod->contains("status"));  // a manifest's status is not ours to report
}

TEST_CASE("a bad manifest is refused with its file and what is wrong") {
  auto error_of = [](const std::string& text) {
    auto pod = static_pod_from_manifest(text, "/m/x.yaml", "n1");
    REQUIRE_FALSE(pod);
    CHECK(pod.error().kind == ErrorKind::InvalidArgument);
    CHECK(pod.error().message.find("/m/x.yaml") != std::string::npos);
    return pod.error().message;
  };
  CHECK(error_of("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n").find("not Pod") !=
        std::string::npos);
  CHECK(error_of("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n")
            .find("apiVersion") != std::string::npos);
  CHECK(error_of("apiVersion: v1\nkind: Pod\nspec: {containers: [{name: c, image: i}]}\n").find("metadata.name") !=
        std::string::npos);
  CHECK(error_of("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n").find("spec.containers") !=
        std::string::npos);
  CHECK(error_of("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n")
            .find("an image") != std::string::npos);
  CHECK(error_of("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n").find(":4") != std::string::npos);
  CHECK(error_of("{\"kind\": ").find("x.yaml") != std::string::npos);
}

TEST_CASE("scanning a manifest directory: hidden files, subdirectories and bad or duplicate pods are left out") {
  test::TempDir dir("deckhand-manifests");
  std::string other_web = std::string(kWebYaml) + "  hostNetwork: true\n";
  REQUIRE(fs::write_file_atomic(dir.sub("a-web.yaml"), kWebYaml));
  REQUIRE(fs::write_file_atomic(dir.sub("b-web-again.yaml"), other_web));  // the same pod name
  REQUIRE(fs::write_file_atomic(dir.sub(".web.yaml.swp"), "garbage"));
  REQUIRE(fs::write_file_atomic(dir.sub("c-broken.yaml"), "kind: Pod\n"));
  REQUIRE(fs::make_dirs(dir.sub("d-subdir")));
  Json db = {{"apiVersion", "v1"},
             {"kind", "Pod"},
             {"metadata", {{"name", "db"}}},
             {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox:1.36"}}}}}}};
  REQUIRE(fs::write_file_atomic(dir.sub("e-db.json"), db.dump()));

  auto scan = scan_manifests(dir.path(), "n1");
  REQUIRE_MESSAGE(scan, scan.error().message);
  REQUIRE(scan->pods.size() == 2);
  CHECK(scan->pods[0]["metadata"]["name"] == "web-n1");
  CHECK_FALSE(scan->pods[0]["spec"].contains("hostNetwork"));  // the first file wins
  CHECK(scan->pods[1]["metadata"]["name"] == "db-n1");
  REQUIRE(scan->errors.size() == 2);
  CHECK(scan->errors[0].find("b-web-again.yaml: pod default/web-n1 is already defined") != std::string::npos);
  CHECK(scan->errors[1].find("c-broken.yaml") != std::string::npos);

  auto none = scan_manifests(dir.sub("missing"), "n1");
  REQUIRE(none);
  CHECK(none->pods.empty());
  CHECK(none->errors.empty());
}

TEST_CASE("a mirror pod: the static pod's spec, the config.mirror annotation, the Node as owner, no uid") {
  auto pod = static_pod_from_manifest(kWebYaml, "web.yaml", "n1");
  REQUIRE(pod);
  (*pod)["status"] = {{"phase", "Running"}};
  Json mirror = make_mirror_pod(*pod, "n1", "node-uid-1");
  CHECK(is_mirror_pod(mirror));
  CHECK(mirror_hash(mirror) == config_hash(*pod));
  CHECK(mirror["metadata"]["name"] == "web-n1");
  CHECK_FALSE(mirror["metadata"].contains("uid"));
  CHECK_FALSE(mirror.contains("status"));
  CHECK(mirror["spec"] == (*pod)["spec"]);
  Json owner = mirror["metadata"]["ownerReferences"][0];
  CHECK(owner["kind"] == "Node");
  CHECK(owner["name"] == "n1");
  CHECK(owner["uid"] == "node-uid-1");
  CHECK(owner["controller"] == true);
}
