// The embedded store: one SQLite database file in WAL mode. Every write is
// durable (fsync'd) before the call returns; concurrent writers are grouped
// into one transaction per commit.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "deckhand/store/store.h"

namespace deckhand::store {

struct SqliteStoreOptions {
  std::string path;                          // database file; its directory must exist
  int64_t max_batch = 256;                   // writes grouped into one transaction at most
  int64_t keep_revisions = 10000;            // background compaction keeps this much history
  std::chrono::milliseconds compact_every{60000};  // 0 = no background compaction
};

// Opens (creating it if missing) the database at options.path. Errors name
// the path: a missing directory, a file that is not a database. Only one
// store has a database open at a time: it holds an flock on "<path>.lock"
// (a second open fails with ErrorKind::Unavailable).
Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteStoreOptions& options);

// Counters of a store's writer since it was opened, for tests and metrics.
struct SqliteStoreStats {
  int64_t commits = 0;  // transactions committed (each holds one or more writes)
  int64_t writes = 0;   // writes that got a revision
};

// The counters of a store made by open_sqlite_store; nullopt for another Store.
std::optional<SqliteStoreStats> sqlite_store_stats(const Store& store);

}  // namespace deckhand::store
