// The SQLite backend. One writer thread owns the only writing connection: it
// takes every write queued (up to max_batch), applies them in one
// BEGIN IMMEDIATE..COMMIT (synchronous=FULL in WAL mode: COMMIT returns after
// the WAL is fsync'd), then publishes the events to watches and completes each
// caller with its own result. Reads use a small pool of read-only connections;
// WAL lets them run beside the writer, and a read that starts after a COMMIT
// returned sees it.
//
// Schema: kv holds current values, log one row per revision (the history that
// watch replays, deleted up to the compacted revision), meta the current and
// the compacted revision, so that revisions never go back, also when the
// newest keys are deleted or all history is compacted.
#include "deckhand/store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <filesystem>
#include <future>
#include <mutex>
#include <system_error>
#include <thread>

#include "deckhand/common/fs.h"
#include "deckhand/common/log.h"
#include "sqlite_db.h"
#include "watch_hub.h"

namespace deckhand::store {
namespace {

using sqlite::Connection;
using sqlite::ResetOnExit;
using sqlite::Statement;

constexpr const char* kSchema = R"sql(
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS kv (
  key BLOB PRIMARY KEY,
  value BLOB NOT NULL,
  create_rev INTEGER NOT NULL,
  mod_rev INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS log (
  rev INTEGER PRIMARY KEY,
  key BLOB NOT NULL,
  type INTEGER NOT NULL,
  value BLOB NOT NULL,
  create_rev INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta(name, value) VALUES ('revision', 0), ('compacted', 0);
COMMIT;
)sql";

// Values of log.type.
constexpr int64_t kLogPut = 0;
constexpr int64_t kLogDelete = 1;

// Idle read connections kept open; more are opened while many threads read at once.
constexpr size_t kMaxIdleReaders = 8;

// The statements of the writing connection, prepared once.
struct Writer {
  Connection db;
  Statement begin, commit, rollback;
  Statement select_kv, insert_kv, update_kv, delete_kv, insert_log, set_meta, compact_log;
};

// A read-only connection and its statements.
struct Reader {
  Connection db;
  Statement begin, end;
  Statement get, range, history, meta;
};

Result<Writer> prepare_writer(Connection db) {
  Writer w;
  DH_TRY(begin, db.prepare("BEGIN IMMEDIATE", "begin write transaction"));
  DH_TRY(commit, db.prepare("COMMIT", "commit write transaction"));
  DH_TRY(rollback, db.prepare("ROLLBACK", "roll back write transaction"));
  DH_TRY(select_kv, db.prepare("SELECT value, create_rev, mod_rev FROM kv WHERE key = ?1", "select from kv"));
  DH_TRY(insert_kv, db.prepare("INSERT INTO kv(key, value, create_rev, mod_rev) VALUES (?1, ?2, ?3, ?3)",
                               "insert into kv"));
  DH_TRY(update_kv, db.prepare("UPDATE kv SET value = ?2, mod_rev = ?3 WHERE key = ?1", "update kv"));
  DH_TRY(delete_kv, db.prepare("DELETE FROM kv WHERE key = ?1", "delete from kv"));
  DH_TRY(insert_log,
         db.prepare("INSERT INTO log(rev, key, type, value, create_rev) VALUES (?1, ?2, ?3, ?4, ?5)",
                    "insert into log"));
  DH_TRY(set_meta, db.prepare("UPDATE meta SET value = ?2 WHERE name = ?1", "update meta"));
  DH_TRY(compact_log, db.prepare("DELETE FROM log WHERE rev <= ?1", "delete from log"));
  w.begin = std::move(begin);
  w.commit = std::move(commit);
  w.rollback = std::move(rollback);
  w.select_kv = std::move(select_kv);
  w.insert_kv = std::move(insert_kv);
  w.update_kv = std::move(update_kv);
  w.delete_kv = std::move(delete_kv);
  w.insert_log = std::move(insert_log);
  w.set_meta = std::move(set_meta);
  w.compact_log = std::move(compact_log);
  w.db = std::move(db);
  return w;
}

Result<std::unique_ptr<Reader>> open_reader(const std::string& path) {
  DH_TRY(db, Connection::open(path, false));
  DH_CHECK(db.exec("PRAGMA query_only = 1", "set query_only"));
  auto r = std::make_unique<Reader>();
  DH_TRY(begin, db.prepare("BEGIN", "begin read transaction"));
  DH_TRY(end, db.prepare("COMMIT", "end read transaction"));
  DH_TRY(get, db.prepare("SELECT value, create_rev, mod_rev FROM kv WHERE key = ?1", "select from kv"));
  DH_TRY(range, db.prepare("SELECT key, value, create_rev, mod_rev FROM kv WHERE key >= ?1 ORDER BY key",
                           "select range from kv"));
  DH_TRY(history, db.prepare("SELECT rev, key, type, value, create_rev FROM log WHERE rev > ?1 AND rev <= ?2 "
                             "ORDER BY rev",
                             "select from log"));
  DH_TRY(meta, db.prepare("SELECT value FROM meta WHERE name = ?1", "select from meta"));
  r->begin = std::move(begin);
  r->end = std::move(end);
  r->get = std::move(get);
  r->range = std::move(range);
  r->history = std::move(history);
  r->meta = std::move(meta);
  r->db = std::move(db);
  return r;
}

Result<int64_t> read_meta(Statement& meta, const char* name) {
  ResetOnExit reset(meta);
  meta.bind_text(1, name);
  DH_TRY(row, meta.step(name));
  if (!row) return fail(ErrorKind::Internal, "store metadata has no row {}", name);
  return meta.column_int(0);
}

Result<int64_t> query_int(Connection& db, const char* sql, const char* what) {
  DH_TRY(stmt, db.prepare(sql, what));
  DH_TRY(row, stmt.step());
  return row ? stmt.column_int(0) : 0;
}

// Sets up a fresh or existing database on the writing connection.
Status prepare_database(Connection& db) {
  DH_TRY(mode, db.query_text("PRAGMA journal_mode = WAL", "set journal_mode=WAL"));
  if (mode != "wal")
    return fail(ErrorKind::Internal, "sqlite: set journal_mode=WAL: got journal mode {}", mode);
  DH_CHECK(db.exec("PRAGMA synchronous = FULL", "set synchronous=FULL"));
  // Keeps the WAL file from staying large after a burst of writes.
  DH_CHECK(db.exec("PRAGMA journal_size_limit = 67108864", "set journal_size_limit"));
  if (auto st = db.exec(kSchema, "create schema"); !st) {
    if (!db.autocommit()) (void)db.exec("ROLLBACK", "roll back schema");
    return st;
  }
  return {};
}

struct Revisions {
  Revision current = 0;
  Revision compacted = 0;
};

Result<Revisions> read_revisions(Connection& db) {
  DH_TRY(meta, db.prepare("SELECT value FROM meta WHERE name = ?1", "select from meta"));
  DH_TRY(current, read_meta(meta, "revision"));
  DH_TRY(compacted, read_meta(meta, "compacted"));
  // meta is written in the same transactions as kv and log; the maxima only
  // guard against a database that some other program changed.
  DH_TRY(log_max, query_int(db, "SELECT coalesce(max(rev), 0) FROM log", "select max rev from log"));
  DH_TRY(kv_max, query_int(db, "SELECT coalesce(max(mod_rev), 0) FROM kv", "select max mod_rev from kv"));
  return Revisions{std::max({current, log_max, kv_max}), compacted};
}

Status check_directory_of(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return sys_fail("directory {}", dir.string());
  if (!S_ISDIR(st.st_mode)) return fail(ErrorKind::InvalidArgument, "{} is not a directory", dir.string());
  return {};
}

// Only one store may write a database: a second writer would hand out the
// same revisions. The lock file beside it is held for the store's lifetime
// (flock: also two stores in one process exclude each other).
Result<UniqueFd> lock_database(const std::string& path) {
  std::string lock_path = path + ".lock";
  DH_TRY(fd, fs::open_fd(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return fail(ErrorKind::Unavailable, "{} is locked: another store has the database open", lock_path);
    }
    return sys_fail("lock {}", lock_path);
  }
  return fd;
}

struct WriteOp {
  enum class Kind { Create, Update, Remove, Compact };
  Kind kind = Kind::Create;
  std::string_view key;  // the caller's, who waits until done
  std::string_view value;
  Revision revision = 0;  // expected mod revision (update, remove) or compact target
  std::promise<Result<Revision>> done;
};

// What one batch changes, applied to the store's state only after COMMIT.
struct BatchState {
  Revision revision = 0;
  Revision compacted = 0;
  std::vector<Event> events;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(const SqliteStoreOptions& options, UniqueFd lock, Writer writer, Revisions revisions)
      : lock_(std::move(lock)),
        options_(options),
        writer_(std::move(writer)),
        committed_rev_(revisions.current),
        current_rev_(revisions.current),
        compacted_rev_(revisions.compacted),
        hub_(std::make_shared<WatchHub>(revisions.current)) {}
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status start_threads();

  Result<Revision> create(const std::string& key, const std::string& value) override;
  Result<Revision> update(const std::string& key, const std::string& value, Precondition pre) override;
  Result<Revision> remove(const std::string& key, Precondition pre) override;
  Result<std::optional<KeyValue>> get(const std::string& key) override;
  Result<RangeResult> range(const std::string& prefix, const std::string& start_after,
                            int64_t limit) override;
  Revision current_revision() override { return current_rev_.load(); }
  Result<std::unique_ptr<WatchHandle>> watch(
      const std::string& prefix, Revision after,
      std::function<void(const std::vector<Event>&)> callback) override;
  Status compact(Revision upto) override;
  Revision compacted_revision() override { return compacted_rev_.load(); }

  SqliteStoreStats stats() const { return {commits_.load(), writes_.load()}; }

 private:
  // A read connection taken from the pool, given back when the lease ends.
  class ReaderLease {
   public:
    ReaderLease(SqliteStore& store, std::unique_ptr<Reader> reader)
        : store_(store), reader_(std::move(reader)) {}
    ReaderLease(ReaderLease&& o) noexcept = default;
    ~ReaderLease() {
      if (reader_) store_.give_reader(std::move(reader_));
    }
    Reader* operator->() const { return reader_.get(); }
    Reader& operator*() const { return *reader_; }

   private:
    SqliteStore& store_;
    std::unique_ptr<Reader> reader_;
  };

  Result<ReaderLease> take_reader();
  void give_reader(std::unique_ptr<Reader> reader);
  template <typename F>
  auto in_read_transaction(Reader& reader, F&& body) -> decltype(body());
  Result<std::vector<Event>> read_history(Reader& reader, const std::string& prefix, Revision after,
                                          Revision upto);

  Result<Revision> submit(WriteOp& op);
  void writer_loop();
  void commit_batch(const std::vector<WriteOp*>& batch);
  Status apply_batch(const std::vector<WriteOp*>& batch, std::vector<Result<Revision>>& results,
                     BatchState& state);
  Status apply(WriteOp& op, Result<Revision>& result, BatchState& state);
  Result<std::optional<KeyValue>> lookup(std::string_view key);
  Status append(std::string_view key, std::string_view value, EventType type, Revision create_rev,
                BatchState& state);
  Status apply_create(WriteOp& op, Result<Revision>& result, BatchState& state);
  Status apply_update(WriteOp& op, Result<Revision>& result, BatchState& state);
  Status apply_remove(WriteOp& op, Result<Revision>& result, BatchState& state);
  Status apply_compact(WriteOp& op, Result<Revision>& result, BatchState& state);
  Status set_meta(const char* name, int64_t value);
  void compactor_loop();

  UniqueFd lock_;  // first member: released after every connection is closed
  const SqliteStoreOptions options_;

  // Writer thread state.
  Writer writer_;
  Revision committed_rev_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<WriteOp*> queue_;
  bool stopping_ = false;
  std::thread writer_thread_;

  std::atomic<Revision> current_rev_;
  std::atomic<Revision> compacted_rev_;
  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> writes_{0};

  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Reader>> idle_readers_;

  std::shared_ptr<WatchHub> hub_;

  std::mutex compactor_mu_;
  std::condition_variable compactor_cv_;
  bool compactor_stopping_ = false;
  std::thread compactor_thread_;
};

Status SqliteStore::start_threads() {
  try {
    writer_thread_ = std::thread([this] { writer_loop(); });
    if (options_.compact_every.count() > 0) compactor_thread_ = std::thread([this] { compactor_loop(); });
  } catch (const std::system_error& e) {
    return fail(ErrorKind::ResourceExhausted, "start store threads: {}", e.what());
  }
  return {};
}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(compactor_mu_);
    compactor_stopping_ = true;
  }
  compactor_cv_.notify_all();
  if (compactor_thread_.joinable()) compactor_thread_.join();
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
}

// --- writes -----------------------------------------------------------------

Result<Revision> SqliteStore::create(const std::string& key, const std::string& value) {
  if (key.empty()) return fail(ErrorKind::InvalidArgument, "create: empty key");
  WriteOp op{WriteOp::Kind::Create, key, value};
  return submit(op);
}

Result<Revision> SqliteStore::update(const std::string& key, const std::string& value, Precondition pre) {
  if (key.empty()) return fail(ErrorKind::InvalidArgument, "update: empty key");
  WriteOp op{WriteOp::Kind::Update, key, value, pre.expected_mod_revision};
  return submit(op);
}

Result<Revision> SqliteStore::remove(const std::string& key, Precondition pre) {
  if (key.empty()) return fail(ErrorKind::InvalidArgument, "remove: empty key");
  WriteOp op{WriteOp::Kind::Remove, key, {}, pre.expected_mod_revision};
  return submit(op);
}

Status SqliteStore::compact(Revision upto) {
  WriteOp op{WriteOp::Kind::Compact, {}, {}, upto};
  DH_CHECK(submit(op));
  return {};
}

Result<Revision> SqliteStore::submit(WriteOp& op) {
  auto done = op.done.get_future();
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return fail(ErrorKind::Unavailable, "store {} is closing", options_.path);
    queue_.push_back(&op);
  }
  queue_cv_.notify_one();
  return done.get();
}

void SqliteStore::writer_loop() {
  std::vector<WriteOp*> batch;
  for (;;) {
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every queued write is done
      auto take =
          std::min<size_t>(queue_.size(), static_cast<size_t>(std::max<int64_t>(options_.max_batch, 1)));
      batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(take));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(take));
    }
    commit_batch(batch);
  }
}

void SqliteStore::commit_batch(const std::vector<WriteOp*>& batch) {
  std::vector<Result<Revision>> results(batch.size());
  BatchState state{committed_rev_, compacted_rev_.load(), {}};
  Status status;
  try {
    status = apply_batch(batch, results, state);
  } catch (const std::exception& e) {
    status = fail(ErrorKind::Internal, "commit write batch: {}", e.what());
  }
  if (!status) {
    if (!writer_.db.autocommit()) (void)writer_.rollback.run();
    for (WriteOp* op : batch) op->done.set_value(tl::unexpected(status.error()));
    return;
  }
  if (state.revision != committed_rev_) {
    commits_.fetch_add(1);
    writes_.fetch_add(state.revision - committed_rev_);
  }
  committed_rev_ = state.revision;
  current_rev_.store(state.revision);
  compacted_rev_.store(state.compacted);
  // Watches first: a caller that sees its revision and then starts a watch
  // finds the write in history or in the live stream, never in neither.
  if (!state.events.empty()) hub_->publish(state.events, state.revision);
  for (size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value(std::move(results[i]));
}

Status SqliteStore::apply_batch(const std::vector<WriteOp*>& batch, std::vector<Result<Revision>>& results,
                                BatchState& state) {
  DH_CHECK(writer_.begin.run());
  for (size_t i = 0; i < batch.size(); ++i) DH_CHECK(apply(*batch[i], results[i], state));
  if (state.revision != committed_rev_) DH_CHECK(set_meta("revision", state.revision));
  if (state.compacted != compacted_rev_.load()) DH_CHECK(set_meta("compacted", state.compacted));
  return writer_.commit.run();
}

Status SqliteStore::apply(WriteOp& op, Result<Revision>& result, BatchState& state) {
  switch (op.kind) {
    case WriteOp::Kind::Create:
      return apply_create(op, result, state);
    case WriteOp::Kind::Update:
      return apply_update(op, result, state);
    case WriteOp::Kind::Remove:
      return apply_remove(op, result, state);
    case WriteOp::Kind::Compact:
      return apply_compact(op, result, state);
  }
  return fail(ErrorKind::Internal, "unknown write kind");
}

Result<std::optional<KeyValue>> SqliteStore::lookup(std::string_view key) {
  Statement& select = writer_.select_kv;
  ResetOnExit reset(select);
  select.bind_blob(1, key);
  DH_TRY(row, select.step(key));
  if (!row) return std::nullopt;
  return KeyValue{std::string(key), select.column_blob(0), select.column_int(1), select.column_int(2)};
}

// Logs the next revision for key and records its event.
Status SqliteStore::append(std::string_view key, std::string_view value, EventType type, Revision create_rev,
                           BatchState& state) {
  Revision rev = state.revision + 1;
  Statement& insert = writer_.insert_log;
  insert.bind_int(1, rev);
  insert.bind_blob(2, key);
  insert.bind_int(3, type == EventType::Put ? kLogPut : kLogDelete);
  insert.bind_blob(4, value);
  insert.bind_int(5, type == EventType::Put && create_rev == 0 ? rev : create_rev);
  DH_CHECK(insert.run(key));
  state.revision = rev;
  state.events.push_back(
      Event{type, KeyValue{std::string(key), std::string(value), create_rev == 0 ? rev : create_rev, rev}});
  return {};
}

Status SqliteStore::apply_create(WriteOp& op, Result<Revision>& result, BatchState& state) {
  DH_TRY(existing, lookup(op.key));
  if (existing) {
    result = fail(ErrorKind::AlreadyExists, "create {}: already exists", op.key);
    return {};
  }
  Statement& insert = writer_.insert_kv;
  insert.bind_blob(1, op.key);
  insert.bind_blob(2, op.value);
  insert.bind_int(3, state.revision + 1);
  DH_CHECK(insert.run(op.key));
  DH_CHECK(append(op.key, op.value, EventType::Put, 0, state));
  result = state.revision;
  return {};
}

// The current value of op's key if op's precondition holds; otherwise sets result to the error.
Result<std::optional<KeyValue>> checked_target(const char* action, const WriteOp& op,
                                               std::optional<KeyValue> existing, Result<Revision>& result) {
  if (!existing) {
    result = fail(ErrorKind::NotFound, "{} {}: not found", action, op.key);
    return std::nullopt;
  }
  if (op.revision != 0 && op.revision != existing->mod_revision) {
    result = fail(ErrorKind::FailedPrecondition, "{} {}: mod revision is {}, expected {}", action, op.key,
                  existing->mod_revision, op.revision);
    return std::nullopt;
  }
  return existing;
}

Status SqliteStore::apply_update(WriteOp& op, Result<Revision>& result, BatchState& state) {
  DH_TRY(existing, lookup(op.key));
  DH_TRY(target, checked_target("update", op, std::move(existing), result));
  if (!target) return {};
  Statement& update = writer_.update_kv;
  update.bind_blob(1, op.key);
  update.bind_blob(2, op.value);
  update.bind_int(3, state.revision + 1);
  DH_CHECK(update.run(op.key));
  DH_CHECK(append(op.key, op.value, EventType::Put, target->create_revision, state));
  result = state.revision;
  return {};
}

Status SqliteStore::apply_remove(WriteOp& op, Result<Revision>& result, BatchState& state) {
  DH_TRY(existing, lookup(op.key));
  DH_TRY(target, checked_target("remove", op, std::move(existing), result));
  if (!target) return {};
  Statement& remove = writer_.delete_kv;
  remove.bind_blob(1, op.key);
  DH_CHECK(remove.run(op.key));
  DH_CHECK(append(op.key, target->value, EventType::Delete, target->create_revision, state));
  result = state.revision;
  return {};
}

Status SqliteStore::apply_compact(WriteOp& op, Result<Revision>& result, BatchState& state) {
  if (op.revision > state.revision) {
    result = fail(ErrorKind::InvalidArgument, "compact up to {}: newer than the current revision {}",
                  op.revision, state.revision);
    return {};
  }
  if (op.revision <= state.compacted) {
    result = state.compacted;
    return {};
  }
  writer_.compact_log.bind_int(1, op.revision);
  DH_CHECK(writer_.compact_log.run());
  state.compacted = op.revision;
  result = op.revision;
  return {};
}

Status SqliteStore::set_meta(const char* name, int64_t value) {
  writer_.set_meta.bind_text(1, name);
  writer_.set_meta.bind_int(2, value);
  return writer_.set_meta.run(name);
}

void SqliteStore::compactor_loop() {
  std::unique_lock lock(compactor_mu_);
  for (;;) {
    if (compactor_cv_.wait_for(lock, options_.compact_every, [&] { return compactor_stopping_; })) return;
    lock.unlock();
    Revision target = current_rev_.load() - options_.keep_revisions;
    if (target > compacted_rev_.load()) {
      if (auto st = compact(target); !st)
        log::get("store")->warn("compact {}: {}", options_.path, st.error().message);
    }
    lock.lock();
  }
}

// --- reads ------------------------------------------------------------------

Result<SqliteStore::ReaderLease> SqliteStore::take_reader() {
  {
    std::lock_guard lock(readers_mu_);
    if (!idle_readers_.empty()) {
      auto reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return ReaderLease(*this, std::move(reader));
    }
  }
  DH_TRY(reader, open_reader(options_.path));
  return ReaderLease(*this, std::move(reader));
}

void SqliteStore::give_reader(std::unique_ptr<Reader> reader) {
  if (!reader->db.autocommit()) return;  // a transaction left open: close rather than reuse
  std::lock_guard lock(readers_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(reader));
}

// Runs body in one read transaction: everything it reads is one snapshot.
template <typename F>
auto SqliteStore::in_read_transaction(Reader& reader, F&& body) -> decltype(body()) {
  DH_CHECK(reader.begin.run());
  auto result = body();
  if (auto st = reader.end.run(); !st) {
    if (!reader.db.autocommit()) (void)reader.db.exec("ROLLBACK", "end read transaction");
    if (result) return tl::unexpected(st.error());
  }
  return result;
}

Result<std::optional<KeyValue>> SqliteStore::get(const std::string& key) {
  DH_TRY(reader, take_reader());
  Statement& select = reader->get;
  ResetOnExit reset(select);
  select.bind_blob(1, key);
  auto row = select.step(key);
  if (!row) return tl::unexpected(row.error().context("get {}", key));
  if (!*row) return std::nullopt;
  return KeyValue{key, select.column_blob(0), select.column_int(1), select.column_int(2)};
}

Result<RangeResult> SqliteStore::range(const std::string& prefix, const std::string& start_after,
                                       int64_t limit) {
  // The smallest key after start_after is start_after + "\0".
  std::string lower = prefix;
  if (!start_after.empty()) lower = std::max(prefix, start_after + std::string(1, '\0'));
  DH_TRY(reader, take_reader());
  auto result = in_read_transaction(*reader, [&]() -> Result<RangeResult> {
    RangeResult out;
    DH_TRY(revision, read_meta(reader->meta, "revision"));
    out.revision = revision;
    Statement& range = reader->range;
    ResetOnExit reset(range);
    range.bind_blob(1, lower);
    for (;;) {
      DH_TRY(row, range.step(lower));
      if (!row) break;
      std::string key = range.column_blob(0);
      if (!key.starts_with(prefix)) break;  // ordered by key: no later key matches either
      if (limit > 0 && static_cast<int64_t>(out.kvs.size()) == limit) {
        out.more = true;
        break;
      }
      out.kvs.push_back(
          KeyValue{std::move(key), range.column_blob(1), range.column_int(2), range.column_int(3)});
    }
    return out;
  });
  return with_context(std::move(result), "range {}", prefix);
}

Result<std::vector<Event>> SqliteStore::read_history(Reader& reader, const std::string& prefix,
                                                     Revision after, Revision upto) {
  return in_read_transaction(reader, [&]() -> Result<std::vector<Event>> {
    DH_TRY(compacted, read_meta(reader.meta, "compacted"));
    if (after < compacted) {
      return fail(ErrorKind::FailedPrecondition, "revision {} is compacted (history starts after {})", after,
                  compacted);
    }
    std::vector<Event> events;
    Statement& history = reader.history;
    ResetOnExit reset(history);
    history.bind_int(1, after);
    history.bind_int(2, upto);
    for (;;) {
      DH_TRY(row, history.step());
      if (!row) break;
      std::string key = history.column_blob(1);
      if (!key.starts_with(prefix)) continue;
      Revision rev = history.column_int(0);
      EventType type = history.column_int(2) == kLogDelete ? EventType::Delete : EventType::Put;
      events.push_back(
          Event{type, KeyValue{std::move(key), history.column_blob(3), history.column_int(4), rev}});
    }
    return events;
  });
}

Result<std::unique_ptr<WatchHandle>> SqliteStore::watch(
    const std::string& prefix, Revision after, std::function<void(const std::vector<Event>&)> callback) {
  if (after < 0) return fail(ErrorKind::InvalidArgument, "watch {}: negative revision {}", prefix, after);
  if (!callback) return fail(ErrorKind::InvalidArgument, "watch {}: no callback", prefix);
  if (Revision compacted = compacted_rev_.load(); after < compacted) {
    return fail(ErrorKind::FailedPrecondition,
                "watch {} from revision {}: revision {} is compacted (history starts after {})", prefix,
                after, after, compacted);
  }
  auto stream = std::make_shared<WatchStream>(prefix, after, std::move(callback));
  // Register before reading history: whatever commits from now on reaches the
  // stream live, and history covers exactly (after, live_from].
  Revision live_from = hub_->add(stream);
  auto handle = std::make_unique<HubWatchHandle>(hub_, stream);  // unregisters on every error path
  if (after < live_from) {
    DH_TRY(reader, take_reader());
    auto history = read_history(*reader, prefix, after, live_from);
    if (!history) return tl::unexpected(history.error().context("watch {} from revision {}", prefix, after));
    stream->push_history(std::move(*history));
  }
  DH_CHECK(stream->start());
  return std::unique_ptr<WatchHandle>(std::move(handle));
}

Result<std::unique_ptr<Store>> open_store(const SqliteStoreOptions& options) {
  if (options.path.empty()) return fail(ErrorKind::InvalidArgument, "no database path");
  if (options.max_batch < 1) return fail(ErrorKind::InvalidArgument, "max_batch {} < 1", options.max_batch);
  if (options.keep_revisions < 0) {
    return fail(ErrorKind::InvalidArgument, "keep_revisions {} < 0", options.keep_revisions);
  }
  DH_CHECK(check_directory_of(options.path));
  DH_TRY(lock, lock_database(options.path));
  DH_TRY(db, Connection::open(options.path, true));
  DH_CHECK(prepare_database(db));
  DH_TRY(revisions, read_revisions(db));
  DH_TRY(writer, prepare_writer(std::move(db)));
  auto store = std::make_unique<SqliteStore>(options, std::move(lock), std::move(writer), revisions);
  DH_CHECK(store->start_threads());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteStoreOptions& options) {
  return with_context(open_store(options), "open store {}", options.path);
}

std::optional<SqliteStoreStats> sqlite_store_stats(const Store& store) {
  const auto* sqlite_store = dynamic_cast<const SqliteStore*>(&store);
  if (sqlite_store == nullptr) return std::nullopt;
  return sqlite_store->stats();
}

}  // namespace deckhand::store
