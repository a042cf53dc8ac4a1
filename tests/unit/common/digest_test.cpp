#include <doctest/doctest.h>

#include "deckhand/common/digest.h"

using namespace deckhand;

TEST_CASE("sha256 of known inputs") {
  CHECK(sha256_digest("") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.update("ab");
  h.update("c");
  CHECK(h.hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("random ids are 64 hex characters and differ") {
  auto a = random_id(), b = random_id();
  CHECK(a.size() == 64);
  CHECK(a != b);
  CHECK(is_sha256_digest("sha256:" + a));
  CHECK(!is_sha256_digest("sha256:" + a.substr(1)));
  CHECK(!is_sha256_digest("sha512:" + a));
}
