#include <doctest/doctest.h>

#include "deckhand/common/text.h"

using namespace deckhand;

TEST_CASE("split keeps empty parts; split_nonempty drops them") {
  CHECK(split("a::b", ':') == std::vector<std::string_view>{"a", "", "b"});
  CHECK(split("", ':') == std::vector<std::string_view>{""});
  CHECK(split("x", ':') == std::vector<std::string_view>{"x"});
  CHECK(split_nonempty(":a::b:", ':') == std::vector<std::string>{"a", "b"});
  CHECK(split_nonempty("", ';').empty());
}
