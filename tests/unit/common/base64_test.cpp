#include <doctest/doctest.h>

#include "deckhand/common/base64.h"

using namespace deckhand;

TEST_CASE("base64 round trips every length and the RFC 4648 vectors") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    auto back = base64_decode(base64_encode(bytes));
    REQUIRE(back);
    CHECK(*back == bytes);
    bytes += static_cast<char>(i * 37);
  }
}

TEST_CASE("base64 decoding skips line breaks, allows missing padding, names bad input") {
  CHECK(base64_decode("Zm9v\nYmFy\n").value() == "foobar");
  CHECK(base64_decode("Zm8").value() == "fo");
  auto bad = base64_decode("Zm9v!");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == ErrorKind::InvalidArgument);
  CHECK(bad.error().message.find("offset 4") != std::string::npos);
  CHECK_FALSE(base64_decode("Z"));
  CHECK_FALSE(base64_decode("Zg=a"));
}
