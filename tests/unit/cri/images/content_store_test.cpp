#include "deckhand/images/content_store.h"

#include <doctest/doctest.h>

#include "deckhand/common/digest.h"
#include "deckhand/common/fs.h"
#include "test_env.h"

namespace deckhand::images {

namespace {
const std::string kHello = "hello";
const std::string kHelloDigest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

size_t ingest_entries(const test::TempDir& dir) {
  auto names = fs::list_dir(dir.sub("ingest"));
  REQUIRE(names);
  return names->size();
}
}  // namespace

TEST_CASE("content store keeps blobs under blobs/sha256/<hex>") {
  test::TempDir dir("cs");
  ContentStore cs(dir.path());
  CHECK(cs.path(kHelloDigest) == dir.path() + "/blobs/sha256/" + kHelloDigest.substr(7));
  CHECK_FALSE(cs.has(kHelloDigest));
  REQUIRE(cs.put(kHelloDigest, kHello));
  CHECK(cs.has(kHelloDigest));
  CHECK(fs::read_file(dir.sub("blobs/sha256/" + kHelloDigest.substr(7))).value() == kHello);
  CHECK(cs.size(kHelloDigest).value() == 5);
  CHECK(cs.read(kHelloDigest).value() == kHello);
  auto all = cs.list();
  REQUIRE(all);
  CHECK(*all == std::vector<std::string>{kHelloDigest});
  auto d = cs.put(std::string_view("other"));
  REQUIRE(d);
  CHECK(*d == sha256_digest("other"));
  CHECK(cs.list()->size() == 2);
  REQUIRE(cs.remove(kHelloDigest));
  CHECK_FALSE(cs.has(kHelloDigest));
  CHECK(cs.remove(kHelloDigest));  // removing a missing blob is fine
}

TEST_CASE("content store rejects data that does not match its digest") {
  test::TempDir dir("cs");
  ContentStore cs(dir.path());
  auto st = cs.put(kHelloDigest, "hellO");
  REQUIRE_FALSE(st);
  CHECK(st.error().kind == ErrorKind::InvalidArgument);
  CHECK_FALSE(cs.has(kHelloDigest));
  CHECK(cs.list()->empty());
  auto bad = cs.put("sha256:XYZ", kHello);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == ErrorKind::InvalidArgument);
  CHECK_FALSE(cs.read(kHelloDigest));
  CHECK(cs.read(kHelloDigest).error().kind == ErrorKind::NotFound);
}

TEST_CASE("content store writer verifies digest and size at commit") {
  test::TempDir dir("cs");
  ContentStore cs(dir.path());
  SUBCASE("good") {
    auto w = cs.writer(kHelloDigest, 5);
    REQUIRE(w);
    REQUIRE(w->write("hel"));
    CHECK_FALSE(cs.has(kHelloDigest));  // not visible before commit
    REQUIRE(w->write("lo"));
    CHECK(w->written() == 5);
    REQUIRE(w->commit());
    CHECK(cs.read(kHelloDigest).value() == kHello);
    CHECK_FALSE(w->write("more"));  // finished
  }
  SUBCASE("wrong content") {
    auto w = cs.writer(kHelloDigest);
    REQUIRE(w);
    REQUIRE(w->write("jello"));
    auto st = w->commit();
    REQUIRE_FALSE(st);
    CHECK(st.error().kind == ErrorKind::InvalidArgument);
    CHECK_FALSE(cs.has(kHelloDigest));
  }
  SUBCASE("wrong size") {
    auto w = cs.writer(kHelloDigest, 6);
    REQUIRE(w);
    REQUIRE(w->write(kHello));
    CHECK_FALSE(w->commit());
    CHECK_FALSE(cs.has(kHelloDigest));
  }
  SUBCASE("unknown digest") {
    auto w = cs.writer_unknown();
    REQUIRE(w);
    REQUIRE(w->write(kHello));
    auto d = w->commit_computed();
    REQUIRE(d);
    CHECK(*d == kHelloDigest);
    CHECK(cs.has(kHelloDigest));
  }
  CHECK(ingest_entries(dir) == 0);
}

TEST_CASE("a content store writer dropped without commit leaves nothing") {
  test::TempDir dir("cs");
  ContentStore cs(dir.path());
  {
    auto w = cs.writer(kHelloDigest);
    REQUIRE(w);
    REQUIRE(w->write(kHello));
    CHECK(ingest_entries(dir) == 1);  // the partial blob exists while writing
    ContentStore::Writer moved(std::move(*w));
    CHECK(ingest_entries(dir) == 1);
  }
  CHECK(ingest_entries(dir) == 0);
  CHECK_FALSE(cs.has(kHelloDigest));
  CHECK(cs.list()->empty());
}

TEST_CASE("fresh blobs are protected until settled") {
  test::TempDir dir("cs");
  ContentStore cs(dir.path());
  REQUIRE(cs.put(kHelloDigest, kHello));
  CHECK(cs.is_fresh(kHelloDigest, std::chrono::seconds(60)));
  CHECK_FALSE(cs.is_fresh(kHelloDigest, std::chrono::seconds(0)));
  cs.settle(kHelloDigest);
  CHECK_FALSE(cs.is_fresh(kHelloDigest, std::chrono::seconds(60)));
}

}  // namespace deckhand::images
