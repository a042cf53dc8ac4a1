#include "deckhand/http/request_target.h"

#include <doctest/doctest.h>

using namespace deckhand::http;
using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("percent_decode") {
  CHECK(percent_decode("a%20b%2Fc", false) == "a b/c");
  CHECK(percent_decode("a+b", false) == "a+b");
  CHECK(percent_decode("a+b", true) == "a b");
  CHECK(percent_decode("%e2%9C%93", false) == "\xe2\x9c\x93");
  CHECK(percent_decode("100%", false) == std::nullopt);
  CHECK(percent_decode("%4", false) == std::nullopt);
  CHECK(percent_decode("%zz", false) == std::nullopt);
  CHECK(percent_decode("", false) == "");
}

TEST_CASE("parse_request_target splits and decodes path and query") {
  auto t = parse_request_target(
      "/api/v1/namespaces/a%20b/pods?labelSelector=app%3Dweb%2Ctier+in+(x)&watch=1&&flag");
  REQUIRE(t);
  CHECK(t->path == "/api/v1/namespaces/a b/pods");
  CHECK(t->query == Pairs{{"labelSelector", "app=web,tier in (x)"}, {"watch", "1"}, {"flag", ""}});

  auto plain = parse_request_target("/version");
  REQUIRE(plain);
  CHECK(plain->path == "/version");
  CHECK(plain->query.empty());

  auto repeated = parse_request_target("/x?a=1&a=2&b=%3D%3D");
  REQUIRE(repeated);
  CHECK(repeated->query == Pairs{{"a", "1"}, {"a", "2"}, {"b", "=="}});

  CHECK_FALSE(parse_request_target(""));
  CHECK_FALSE(parse_request_target("http://example.com/x"));
  CHECK_FALSE(parse_request_target("*"));
  CHECK_FALSE(parse_request_target("/a%g0"));
  CHECK_FALSE(parse_request_target("/a?x=%"));
}
