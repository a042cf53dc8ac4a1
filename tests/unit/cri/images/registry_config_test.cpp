// Registry config parsing, WWW-Authenticate challenges and credentials: the
// parts of registry pulls that need no registry.
#include <doctest/doctest.h>

#include "deckhand/images/image_puller.h"
#include "registry_client.h"

using namespace deckhand;
using namespace deckhand::images;

TEST_CASE("parse_registry_config reads hosts, mirrors, TLS and credentials") {
  auto cfg = parse_registry_config(R"(
[cri]
root = "/var/lib/deckhand/cri"

[registry.hosts."docker.io"]
mirrors = ["http://127.0.0.1:5000", "https://mirror.example"]

[registry.hosts."myreg:5000"]
insecure = true
ca_file = "/etc/deckhand/myreg.pem"
username = "u"
password = "p"
)");
  REQUIRE_MESSAGE(cfg.has_value(), (cfg ? "" : cfg.error().message));
  REQUIRE(cfg->hosts.size() == 2);
  auto& hub = cfg->hosts.at("docker.io");
  CHECK(hub.mirrors == std::vector<std::string>{"http://127.0.0.1:5000", "https://mirror.example"});
  CHECK_FALSE(hub.insecure);
  auto& mine = cfg->hosts.at("myreg:5000");
  CHECK(mine.insecure);
  CHECK(mine.ca_file == "/etc/deckhand/myreg.pem");
  CHECK(mine.username == "u");
  CHECK(mine.password == "p");
}

TEST_CASE("parse_registry_config without a registry section is empty") {
  auto cfg = parse_registry_config("[cri]\nroot = \"/x\"\n");
  REQUIRE(cfg.has_value());
  CHECK(cfg->hosts.empty());
}

TEST_CASE("parse_registry_config names the line of what is wrong") {
  SUBCASE("bad TOML") {
    auto cfg = parse_registry_config("[registry.hosts.\"a\"]\nmirrors = [\"x\"\n");
    REQUIRE_FALSE(cfg.has_value());
    CHECK(cfg.error().kind == ErrorKind::InvalidArgument);
    CHECK(cfg.error().message.find("line ") != std::string::npos);
  }
  SUBCASE("wrong type") {
    auto cfg = parse_registry_config("[registry.hosts.\"a\"]\n\ninsecure = \"yes\"\n");
    REQUIRE_FALSE(cfg.has_value());
    CHECK(cfg.error().kind == ErrorKind::InvalidArgument);
    CHECK(cfg.error().message.find("line 3") != std::string::npos);
    CHECK(cfg.error().message.find("insecure") != std::string::npos);
  }
  SUBCASE("unknown key") {
    auto cfg = parse_registry_config("[registry.hosts.\"a\"]\nmirror = [\"http://x\"]\n");
    REQUIRE_FALSE(cfg.has_value());
    CHECK(cfg.error().message.find("line 2") != std::string::npos);
    CHECK(cfg.error().message.find("mirror") != std::string::npos);
  }
  SUBCASE("registry not a table") {
    auto cfg = parse_registry_config("registry = 3\n");
    REQUIRE_FALSE(cfg.has_value());
    CHECK(cfg.error().message.find("line 1") != std::string::npos);
  }
  SUBCASE("hosts not a table") {
    auto cfg = parse_registry_config("[registry]\nhosts = 3\n");
    REQUIRE_FALSE(cfg.has_value());
    CHECK(cfg.error().kind == ErrorKind::InvalidArgument);
  }
}

TEST_CASE("parse_challenges reads Bearer and Basic challenges") {
  using registry::parse_challenges;
  auto cs = parse_challenges(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  REQUIRE(cs.size() == 1);
  CHECK(cs[0].scheme == "bearer");
  CHECK(cs[0].params["realm"] == "https://auth.example/token");
  CHECK(cs[0].params["service"] == "registry.example");
  CHECK(cs[0].params["scope"] == "repository:a/b:pull,push");

  cs = parse_challenges(R"(Basic realm="deckhand test", Bearer realm=x, error="insufficient_scope")");
  REQUIRE(cs.size() == 2);
  CHECK(cs[0].scheme == "basic");
  CHECK(cs[0].params["realm"] == "deckhand test");
  CHECK(cs[1].scheme == "bearer");
  CHECK(cs[1].params["realm"] == "x");
  CHECK(cs[1].params["error"] == "insufficient_scope");

  CHECK(parse_challenges("").empty());
  CHECK(parse_challenges("Basic").size() == 1);
}

TEST_CASE("credentials_from decodes the auth field") {
  PullAuth a;
  a.auth = deckhand::base64_encode("user:pa:ss");
  auto c = registry::credentials_from(a);
  REQUIRE(c.has_value());
  CHECK(c->username == "user");
  CHECK(c->password == "pa:ss");

  a.auth = "not base64!";
  CHECK_FALSE(registry::credentials_from(a).has_value());
  a.auth = deckhand::base64_encode("no-colon");
  CHECK_FALSE(registry::credentials_from(a).has_value());
}

TEST_CASE("TokenCache forgets expired tokens") {
  registry::TokenCache cache;
  cache.put("k", "t", std::chrono::seconds(60));
  CHECK(cache.get("k") == std::optional<std::string>("t"));
  cache.put("gone", "t", std::chrono::seconds(0));
  CHECK_FALSE(cache.get("gone").has_value());
  CHECK_FALSE(cache.get("other").has_value());
}
