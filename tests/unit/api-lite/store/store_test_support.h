// What the store's tests share: opening a store in a test's temp dir, and
// taking values out of results with the error message shown on failure.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>

#include "deckhand/store/sqlite_store.h"

namespace deckhand::store::test_support {

// Options for a store at path, without background compaction (tests compact explicitly).
inline SqliteStoreOptions options_at(const std::string& path) {
  SqliteStoreOptions options;
  options.path = path;
  options.compact_every = std::chrono::milliseconds(0);
  return options;
}

inline std::unique_ptr<Store> open_store(const SqliteStoreOptions& options) {
  auto store = open_sqlite_store(options);
  REQUIRE_MESSAGE(store.has_value(), (store ? std::string() : store.error().message));
  return std::move(*store);
}

inline std::unique_ptr<Store> open_store(const std::string& path) { return open_store(options_at(path)); }

// The value of r; fails the test (from the test's own thread only) with r's error.
template <typename T>
T must(Result<T> r) {
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
  return std::move(*r);
}

}  // namespace deckhand::store::test_support
