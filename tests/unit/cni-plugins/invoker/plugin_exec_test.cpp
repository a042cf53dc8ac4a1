#include "deckhand/cni/plugin_exec.h"

#include <doctest/doctest.h>

#include "deckhand/cni/invoker.h"
#include "deckhand/common/fs.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::cni;

TEST_CASE("cni_args is what containerd sends, IgnoreUnknown first") {
  Attachment a;
  a.container_id = "abc123";
  a.pod_name = "web-0";
  a.pod_namespace = "default";
  a.pod_uid = "u-1";
  CHECK(cni_args(a) ==
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;"
        "K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=u-1");
}

TEST_CASE("result_ips strips prefixes and puts IPv4 first") {
  Json r = Json::parse(R"({"cniVersion":"1.0.0","ips":[
      {"address":"fd00::5/64"},{"address":"10.88.0.5/16","gateway":"10.88.0.1"},
      {"version":"4","address":"10.89.0.7/24"},{"nope":1},{"address":7},"junk"]})");
  CHECK(result_ips(r) == std::vector<std::string>{"10.88.0.5", "10.89.0.7", "fd00::5"});
  CHECK(result_ips(Json()).empty());
  CHECK(result_ips(Json::parse(R"({"ips":"x"})")).empty());
  CHECK(result_ips(Json::parse(R"([1])")).empty());
}

TEST_CASE("plugin_error maps the CNI error JSON") {
  auto e =
      plugin_error("bridge", "ADD", 1,
                   R"({"cniVersion":"1.0.0","code":7,"msg":"bad config","details":"no bridge name"})", "");
  CHECK(e.kind == ErrorKind::FailedPrecondition);
  CHECK(e.message.find("bridge") != std::string::npos);
  CHECK(e.message.find("ADD") != std::string::npos);
  CHECK(e.message.find("code 7") != std::string::npos);
  CHECK(e.message.find("bad config") != std::string::npos);
  CHECK(e.message.find("no bridge name") != std::string::npos);
  CHECK(plugin_error("x", "ADD", 1, R"({"code":11,"msg":"busy"})", "").kind == ErrorKind::Unavailable);
  CHECK(plugin_error("x", "DEL", 1, R"({"code":3,"msg":"gone"})", "").kind == ErrorKind::NotFound);
  CHECK(plugin_error("x", "ADD", 1, R"({"code":999,"msg":"custom"})", "").kind == ErrorKind::Internal);
}

TEST_CASE("plugin_error without error JSON reports the exit code and what the plugin printed") {
  auto e = plugin_error("host-local", "ADD", 2, "garbage", "panic: boom\n");
  CHECK(e.kind == ErrorKind::Internal);
  CHECK(e.message.find("host-local") != std::string::npos);
  CHECK(e.message.find("exit 2") != std::string::npos);
  CHECK(e.message.find("panic: boom") != std::string::npos);
  CHECK(plugin_error("x", "ADD", 1, R"({"code":"7"})", "").message.find("exit 1") != std::string::npos);
}

TEST_CASE("find_plugin searches bin dirs in order and refuses paths") {
  test::TempDir dir("deckhand-cni-bin");
  std::string a = dir.sub("a"), b = dir.sub("b");
  REQUIRE(fs::make_dirs(a));
  REQUIRE(fs::make_dirs(b));
  REQUIRE(fs::write_file_atomic(b + "/p", "#!/bin/sh\n", 0755));
  REQUIRE(fs::write_file_atomic(a + "/noexec", "#!/bin/sh\n", 0644));
  auto found = find_plugin("p", {a, b});
  REQUIRE(found);
  CHECK(*found == b + "/p");
  auto missing = find_plugin("noexec", {a, b});
  REQUIRE(!missing);
  CHECK(missing.error().message.find(a + ":" + b) != std::string::npos);
  CHECK(!find_plugin("../b/p", {a}));
  CHECK(!find_plugin("", {a}));
}

TEST_CASE("plugin_environment sets the CNI variables and drops inherited ones") {
  ::setenv("CNI_NETNS", "/stale", 1);
  PluginCall call{"DEL", "cid", "", "eth0", "IgnoreUnknown=1", Json()};
  auto env = plugin_environment(call, {"/x", "/y"});
  ::unsetenv("CNI_NETNS");
  auto has = [&](const std::string& kv) { return std::find(env.begin(), env.end(), kv) != env.end(); };
  CHECK(has("CNI_COMMAND=DEL"));
  CHECK(has("CNI_CONTAINERID=cid"));
  CHECK(has("CNI_IFNAME=eth0"));
  CHECK(has("CNI_ARGS=IgnoreUnknown=1"));
  CHECK(has("CNI_PATH=/x:/y"));
  CHECK(!has("CNI_NETNS=/stale"));
  CHECK(std::none_of(env.begin(), env.end(),
                     [](const std::string& kv) { return kv.starts_with("CNI_NETNS="); }));
  CHECK(std::any_of(env.begin(), env.end(), [](const std::string& kv) { return kv.starts_with("PATH="); }));
}
