#include "deckhand/cni/netconf.h"

#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::cni;

namespace {

void write(const std::string& path, const std::string& text) { REQUIRE(fs::write_file_atomic(path, text)); }

std::string conflist(const std::string& name, const std::string& version = "1.0.0") {
  return R"({"cniVersion":")" + version + R"(","name":")" + name +
         R"(","plugins":[{"type":"bridge"},{"type":"portmap"}]})";
}

}  // namespace

TEST_CASE("load_network_list takes the first config in name order and wraps a single .conf") {
  test::TempDir dir("deckhand-cni-conf");
  write(dir.sub("20-list.conflist"), conflist("listnet"));
  write(dir.sub("10-single.conf"), R"({"cniVersion":"0.4.0","name":"single","type":"bridge","bridge":"x0"})");
  write(dir.sub("05-notes.txt"), "not a config");
  auto list = load_network_list(dir.path());
  REQUIRE(list);
  CHECK(list->name == "single");
  CHECK(list->cni_version == "0.4.0");
  REQUIRE(list->plugins.size() == 1);
  CHECK(list->plugins[0]["bridge"] == "x0");
  CHECK(list->source == dir.sub("10-single.conf"));
  CHECK(list->raw["plugins"].size() == 1);
}

TEST_CASE("load_network_list skips invalid files and uses the next valid one") {
  test::TempDir dir("deckhand-cni-conf");
  write(dir.sub("10-broken.conflist"), "{ not json");
  write(dir.sub("11-old.conflist"), conflist("old", "0.2.0"));
  write(dir.sub("12-good.json"), R"({"cniVersion":"0.3.1","name":"good","type":"ptp"})");
  auto list = load_network_list(dir.path());
  REQUIRE(list);
  CHECK(list->name == "good");
  CHECK(list->plugins[0]["type"] == "ptp");
}

TEST_CASE("load_network_list errors name the file and the problem") {
  test::TempDir dir("deckhand-cni-conf");
  SUBCASE("empty dir") {
    auto list = load_network_list(dir.path());
    REQUIRE(!list);
    CHECK(list.error().kind == ErrorKind::FailedPrecondition);
    CHECK(list.error().message.find("no network config found") != std::string::npos);
  }
  SUBCASE("bad JSON") {
    write(dir.sub("10-broken.conflist"), "{ not json");
    auto list = load_network_list(dir.path());
    REQUIRE(!list);
    CHECK(list.error().message.find(dir.sub("10-broken.conflist")) != std::string::npos);
  }
  SUBCASE("unsupported version") {
    write(dir.sub("10-old.conflist"), conflist("old", "0.2.0"));
    auto list = load_network_list(dir.path());
    REQUIRE(!list);
    CHECK(list.error().message.find(dir.sub("10-old.conflist")) != std::string::npos);
    CHECK(list.error().message.find("\"0.2.0\"") != std::string::npos);
  }
  SUBCASE("a list in a .conf file") {
    write(dir.sub("10-list.conf"), conflist("x"));
    auto list = load_network_list(dir.path());
    REQUIRE(!list);
    CHECK(list.error().message.find("conflist") != std::string::npos);
  }
}

TEST_CASE("parse_network_list validates name, version, plugins and types") {
  CHECK(parse_network_list(conflist("n", "0.3.0"), "t", false));
  CHECK(parse_network_list(conflist("n", "1.1.0"), "t", false));
  CHECK(!parse_network_list(conflist("n", "1.2.0"), "t", false));
  CHECK(!parse_network_list(R"({"cniVersion":"1.0.0","plugins":[{"type":"a"}]})", "t", false));
  CHECK(!parse_network_list(R"({"name":"n","plugins":[{"type":"a"}]})", "t", false));
  CHECK(!parse_network_list(R"({"cniVersion":"1.0.0","name":"n","plugins":[]})", "t", false));
  CHECK(!parse_network_list(R"({"cniVersion":"1.0.0","name":"n","plugins":[{"type":""}]})", "t", false));
  CHECK(!parse_network_list(R"({"cniVersion":"1.0.0","name":"n","plugins":[3]})", "t", false));
  CHECK(!parse_network_list(R"({"cniVersion":1,"name":"n","plugins":[{"type":"a"}]})", "t", false));
  CHECK(!parse_network_list(R"([1,2])", "t", false));
  CHECK(!parse_network_list(R"({"cniVersion":"1.0.0","name":"n"})", "t", true));
  auto l = parse_network_list(R"({"cniVersion":"1.0.0","name":"n","disableCheck":true,"disableGC":true,
                                  "plugins":[{"type":"a"}]})",
                              "t", false);
  REQUIRE(l);
  CHECK(l->disable_check);
  CHECK(l->disable_gc);
}

TEST_CASE("compare_cni_versions orders dotted versions") {
  CHECK(compare_cni_versions("0.3.1", "0.4.0") < 0);
  CHECK(compare_cni_versions("1.0.0", "0.4.0") > 0);
  CHECK(compare_cni_versions("1.1.0", "1.1.0") == 0);
  CHECK(compare_cni_versions("0.10.0", "0.9.0") > 0);
}

TEST_CASE("plugin_stdin injects name, cniVersion, prevResult and declared capabilities only") {
  auto list = parse_network_list(
      R"({"cniVersion":"1.0.0","name":"net","plugins":[
          {"type":"bridge","name":"ignored","cniVersion":"0.3.0"},
          {"type":"portmap","capabilities":{"portMappings":true,"bandwidth":false}}]})",
      "t", false);
  REQUIRE(list);
  Json caps = {{"portMappings", Json::array({{{"hostPort", 8080}}})}, {"bandwidth", {{"x", 1}}}};
  Json first = plugin_stdin(*list, list->plugins[0], Json(), caps);
  CHECK(first["name"] == "net");
  CHECK(first["cniVersion"] == "1.0.0");
  CHECK(!first.contains("prevResult"));
  CHECK(!first.contains("runtimeConfig"));
  Json prev = {{"cniVersion", "1.0.0"}, {"ips", Json::array()}};
  Json second = plugin_stdin(*list, list->plugins[1], prev, caps);
  CHECK(second["prevResult"] == prev);
  CHECK(second["runtimeConfig"]["portMappings"][0]["hostPort"] == 8080);
  CHECK(!second["runtimeConfig"].contains("bandwidth"));
}
