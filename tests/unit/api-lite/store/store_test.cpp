#include <doctest/doctest.h>

#include "deckhand/common/fs.h"
#include "store_test_support.h"
#include "test_env.h"

using namespace deckhand;
using namespace deckhand::store;
using namespace deckhand::store::test_support;

namespace {

std::vector<std::string> keys_of(const RangeResult& r) {
  std::vector<std::string> keys;
  for (const auto& kv : r.kvs) keys.push_back(kv.key);
  return keys;
}

}  // namespace

TEST_CASE("create, get, update and remove give revisions and check preconditions") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  CHECK(store->current_revision() == 0);

  CHECK(must(store->create("/registry/pods/default/x", "one")) == 1);
  auto kv = must(store->get("/registry/pods/default/x"));
  REQUIRE(kv);
  CHECK(kv->key == "/registry/pods/default/x");
  CHECK(kv->value == "one");
  CHECK(kv->create_revision == 1);
  CHECK(kv->mod_revision == 1);

  auto again = store->create("/registry/pods/default/x", "two");
  REQUIRE(!again);
  CHECK(again.error().kind == ErrorKind::AlreadyExists);
  CHECK(again.error().message.find("/registry/pods/default/x") != std::string::npos);

  CHECK(must(store->update("/registry/pods/default/x", "two", Precondition{1})) == 2);
  auto stale = store->update("/registry/pods/default/x", "three", Precondition{1});
  REQUIRE(!stale);
  CHECK(stale.error().kind == ErrorKind::FailedPrecondition);
  CHECK(must(store->update("/registry/pods/default/x", "three", Precondition{})) == 3);
  kv = must(store->get("/registry/pods/default/x"));
  REQUIRE(kv);
  CHECK(kv->value == "three");
  CHECK(kv->create_revision == 1);
  CHECK(kv->mod_revision == 3);

  auto missing = store->update("/registry/pods/default/y", "v", Precondition{});
  REQUIRE(!missing);
  CHECK(missing.error().kind == ErrorKind::NotFound);

  auto wrong_remove = store->remove("/registry/pods/default/x", Precondition{2});
  REQUIRE(!wrong_remove);
  CHECK(wrong_remove.error().kind == ErrorKind::FailedPrecondition);
  CHECK(must(store->remove("/registry/pods/default/x", Precondition{3})) == 4);
  CHECK(!must(store->get("/registry/pods/default/x")));
  auto removed_again = store->remove("/registry/pods/default/x", Precondition{});
  REQUIRE(!removed_again);
  CHECK(removed_again.error().kind == ErrorKind::NotFound);

  // Failed writes take no revision.
  CHECK(store->current_revision() == 4);
  CHECK(must(store->create("/registry/pods/default/x", "back")) == 5);
  kv = must(store->get("/registry/pods/default/x"));
  REQUIRE(kv);
  CHECK(kv->create_revision == 5);
}

TEST_CASE("keys and values are bytes: empty values, NUL and high bytes survive") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  std::string binary("a\0b\xff", 4);
  must(store->create("/k/empty", ""));
  must(store->create("/k/bin", binary));
  must(store->create(std::string("/k/\xff\0", 5), "high"));
  CHECK(must(store->get("/k/empty"))->value.empty());
  CHECK(must(store->get("/k/bin"))->value == binary);
  CHECK(must(store->get(std::string("/k/\xff\0", 5)))->value == "high");
  auto empty_key = store->create("", "v");
  REQUIRE(!empty_key);
  CHECK(empty_key.error().kind == ErrorKind::InvalidArgument);
}

TEST_CASE("range is ordered by key, pages with start_after and limit, and reports its revision") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  for (const char* key : {"/r/c", "/r/a", "/q/z", "/r/b", "/r/a/x", "/s", "/r"})
    must(store->create(key, key));

  auto all = must(store->range("/r/", "", 0));
  CHECK(keys_of(all) == std::vector<std::string>{"/r/a", "/r/a/x", "/r/b", "/r/c"});
  CHECK(!all.more);
  CHECK(all.revision == 7);
  CHECK(all.kvs[0].value == "/r/a");
  CHECK(all.kvs[0].create_revision == 2);

  auto page1 = must(store->range("/r/", "", 2));
  CHECK(keys_of(page1) == std::vector<std::string>{"/r/a", "/r/a/x"});
  CHECK(page1.more);
  auto page2 = must(store->range("/r/", page1.kvs.back().key, 2));
  CHECK(keys_of(page2) == std::vector<std::string>{"/r/b", "/r/c"});
  CHECK(!page2.more);
  auto exact = must(store->range("/r/", "", 4));
  CHECK(exact.kvs.size() == 4);
  CHECK(!exact.more);
  // A start_after before the prefix starts at the prefix.
  CHECK(keys_of(must(store->range("/r/", "/a", 1))) == std::vector<std::string>{"/r/a"});

  CHECK(must(store->range("", "", 0)).kvs.size() == 7);
  CHECK(must(store->range("/nothing/", "", 0)).kvs.empty());

  must(store->remove("/r/b", Precondition{}));
  auto after_remove = must(store->range("/r/", "", 0));
  CHECK(keys_of(after_remove) == std::vector<std::string>{"/r/a", "/r/a/x", "/r/c"});
  CHECK(after_remove.revision == 8);
}

TEST_CASE("range over prefixes that end in 0xff bytes") {
  test::TempDir dir;
  auto store = open_store(dir.sub("db"));
  std::string high = "/h\xff";
  must(store->create(high + "a", "1"));
  must(store->create(high + "\xff", "2"));
  must(store->create("/i", "3"));
  CHECK(must(store->range(high, "", 0)).kvs.size() == 2);
  CHECK(must(store->range("/h", "", 0)).kvs.size() == 2);
}

TEST_CASE("revisions never go back across reopen, after deleting the newest key and after compaction") {
  test::TempDir dir;
  auto path = dir.sub("db");
  {
    auto store = open_store(path);
    must(store->create("/a", "1"));
    must(store->create("/b", "2"));
    must(store->create("/c", "3"));
    CHECK(must(store->remove("/c", Precondition{})) == 4);
  }
  {
    auto store = open_store(path);
    CHECK(store->current_revision() == 4);
    CHECK(must(store->get("/b"))->value == "2");
    CHECK(must(store->create("/d", "4")) == 5);
    REQUIRE(store->compact(5));
    CHECK(store->compacted_revision() == 5);
    CHECK(must(store->remove("/d", Precondition{5})) == 6);
    REQUIRE(store->compact(6));
  }
  {
    auto store = open_store(path);
    CHECK(store->current_revision() == 6);
    CHECK(store->compacted_revision() == 6);
    CHECK(must(store->create("/e", "5")) == 7);
    CHECK(keys_of(must(store->range("/", "", 0))) == std::vector<std::string>{"/a", "/b", "/e"});
  }
}

TEST_CASE("compact checks its target; background compaction keeps keep_revisions") {
  test::TempDir dir;
  auto options = options_at(dir.sub("db"));
  options.keep_revisions = 5;
  options.compact_every = std::chrono::milliseconds(5);
  auto store = open_store(options);
  for (int i = 0; i < 20; ++i) must(store->create("/k/" + std::to_string(i), "v"));
  auto future = store->compact(21);
  REQUIRE(!future);
  CHECK(future.error().kind == ErrorKind::InvalidArgument);
  CHECK(test::eventually([&] { return store->compacted_revision() == 15; }));
  REQUIRE(store->compact(3));  // older than what is compacted: nothing to do
  CHECK(store->compacted_revision() == 15);
  CHECK(must(store->range("/k/", "", 0)).kvs.size() == 20);  // values stay
}

TEST_CASE("opening in a missing directory or a file that is not a database fails clearly") {
  test::TempDir dir;
  auto in_missing = open_sqlite_store(options_at(dir.sub("missing/db")));
  REQUIRE(!in_missing);
  CHECK(in_missing.error().message.find(dir.sub("missing")) != std::string::npos);
  CHECK(in_missing.error().message.find("No such file or directory") != std::string::npos);

  REQUIRE(fs::write_file_atomic(dir.sub("garbage"), std::string(8192, 'x')));
  auto garbage = open_sqlite_store(options_at(dir.sub("garbage")));
  REQUIRE(!garbage);
  CHECK(garbage.error().message.find(dir.sub("garbage")) != std::string::npos);
  CHECK(garbage.error().message.find("not a database") != std::string::npos);
}

TEST_CASE("a database is open in one store at a time") {
  test::TempDir dir;
  auto path = dir.sub("db");
  {
    auto store = open_store(path);
    auto second = open_sqlite_store(options_at(path));
    REQUIRE(!second);
    CHECK(second.error().kind == ErrorKind::Unavailable);
    CHECK(second.error().message.find("another store") != std::string::npos);
  }
  auto reopened = open_store(path);  // closing released it
}
