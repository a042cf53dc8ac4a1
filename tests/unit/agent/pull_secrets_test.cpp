#include "pull_secrets.h"

#include <doctest/doctest.h>

#include <map>

#include "deckhand/common/base64.h"

using namespace deckhand;
using namespace deckhand::agent;

TEST_CASE("the registry of an image reference") {
  CHECK(image_registry("busybox") == "docker.io");
  CHECK(image_registry("library/busybox:1.36") == "docker.io");
  CHECK(image_registry("registry.k8s.io/pause:3.9") == "registry.k8s.io");
  CHECK(image_registry("localhost:5000/app") == "localhost:5000");
  CHECK(image_registry("localhost/app") == "localhost");
  CHECK(image_registry("127.0.0.1:5000/a/b@sha256:00") == "127.0.0.1:5000");
}

TEST_CASE("imagePullSecrets: credentials for the image's registry, in order") {
  Json docker_json = {{"auths",
                       {{"https://index.docker.io/v1/", {{"username", "hub"}, {"password", "hubpw"}}},
                        {"reg.example:5000", {{"auth", base64_encode("alice:s3cr3t")}}}}}};
  Json docker_cfg = {{"http://reg.example:5000/v2/", {{"username", "bob"}, {"password", "pw2"}}}};
  std::map<std::string, Json> secrets = {
      {"new", {{"type", "kubernetes.io/dockerconfigjson"},
               {"data", {{".dockerconfigjson", base64_encode(docker_json.dump())}}}}},
      {"old", {{"type", "kubernetes.io/dockercfg"}, {"data", {{".dockercfg", base64_encode(docker_cfg.dump())}}}}},
      {"bad", {{"data", {{".dockerconfigjson", base64_encode("{not json")}}}}}};
  ObjectGetter get = [&](const std::string& resource, const std::string& ns, const std::string& name) -> Result<Json> {
    CHECK(resource == "secrets");
    CHECK(ns == "shop");
    auto it = secrets.find(name);
    if (it == secrets.end()) return fail(ErrorKind::NotFound, "secret {} not found", name);
    return it->second;
  };
  auto pod = [](std::vector<std::string> names) {
    Json refs = Json::array();
    for (auto& n : names) refs.push_back({{"name", n}});
    return Json{{"metadata", {{"namespace", "shop"}}}, {"spec", {{"imagePullSecrets", refs}}}};
  };

  auto creds = pull_credentials(pod({"missing", "new", "old"}), "reg.example:5000/app:1", get);
  REQUIRE_MESSAGE(creds, (creds ? "" : creds.error().message));
  REQUIRE(creds->size() == 2);
  CHECK((*creds)[0].username() == "alice");
  CHECK((*creds)[0].password() == "s3cr3t");
  CHECK((*creds)[0].server_address() == "reg.example:5000");
  CHECK((*creds)[1].username() == "bob");

  auto hub = pull_credentials(pod({"new"}), "busybox:1.36", get);
  REQUIRE(hub);
  REQUIRE(hub->size() == 1);
  CHECK((*hub)[0].username() == "hub");

  auto none = pull_credentials(pod({"new"}), "quay.io/x:1", get);
  REQUIRE(none);
  CHECK(none->empty());

  auto bad = pull_credentials(pod({"bad"}), "busybox:1.36", get);
  REQUIRE(!bad);
  CHECK(bad.error().message.find("imagePullSecret bad") != std::string::npos);
}
