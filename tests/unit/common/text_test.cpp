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

TEST_CASE("ascii_lower and ascii_iequals touch ASCII letters only") {
  CHECK(ascii_lower("Content-Length: ABC-xyz 09") == "content-length: abc-xyz 09");
  CHECK(ascii_lower("\xC3\x89t\xC3\xA9") == "\xC3\x89t\xC3\xA9");  // UTF-8 bytes stay
  CHECK(ascii_lower("") == "");
  CHECK(ascii_iequals("User-Agent", "user-agent"));
  CHECK(ascii_iequals("", ""));
  CHECK_FALSE(ascii_iequals("Accept", "Accept-Encoding"));
  CHECK_FALSE(ascii_iequals("[", "{"));  // '[' + 32 is '{': only letters fold
}

TEST_CASE("parse_integer takes a whole number within its bounds") {
  CHECK(parse_integer("42", 0, 100).value() == 42);
  CHECK(parse_integer("-1", -1, 65535).value() == -1);
  CHECK(parse_integer("101", 0, 100).error().message == "want an integer from 0 to 100, got '101'");
  CHECK_FALSE(parse_integer("", 0, 100));
  CHECK_FALSE(parse_integer("12x", 0, 100));
  CHECK_FALSE(parse_integer("99999999999999999999", 0, INT64_MAX));
}
