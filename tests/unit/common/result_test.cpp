#include <doctest/doctest.h>

#include "deckhand/common/result.h"

using namespace deckhand;

static Result<int> half(int x) {
  if (x % 2) return fail(ErrorKind::InvalidArgument, "{} is odd", x);
  return x / 2;
}

static Result<int> quarter(int x) {
  DH_TRY(h, half(x));
  DH_TRY(q, half(h));
  return q;
}

TEST_CASE("DH_TRY passes values on and stops at the first error") {
  CHECK(quarter(8).value() == 2);
  auto r = quarter(6);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::InvalidArgument);
  CHECK(r.error().message == "3 is odd");
}

TEST_CASE("sys_fail carries errno, its text and the kind it maps to") {
  errno = ENOENT;
  Result<int> r = sys_fail("open {}", "/nope");
  CHECK(r.error().sys_errno == ENOENT);
  CHECK(r.error().kind == ErrorKind::NotFound);
  CHECK(r.error().message == "open /nope: No such file or directory");
}

TEST_CASE("context prefixes what we were doing") {
  auto r = with_context(half(3), "split {}", "pie");
  CHECK(r.error().message == "split pie: 3 is odd");
}
