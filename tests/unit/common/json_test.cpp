#include <doctest/doctest.h>

#include "deckhand/common/json.h"

using namespace deckhand;

TEST_CASE("parse_json reports what was being parsed") {
  CHECK(parse_json(R"({"a":1})", "config").value()["a"] == 1);
  auto r = parse_json("{nope", "network config");
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::InvalidArgument);
  CHECK(r.error().message.rfind("decode network config:", 0) == 0);
}
