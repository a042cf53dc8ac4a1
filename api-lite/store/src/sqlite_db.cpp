#include "sqlite_db.h"

namespace deckhand::store::sqlite {

namespace {

// How long a connection waits for a lock another connection holds (WAL
// recovery, a checkpoint) before giving up with "database is locked".
constexpr int kBusyTimeoutMs = 10000;

}  // namespace

Error make_error(sqlite3* db, int rc, std::string_view what) {
  int primary = rc & 0xff;
  ErrorKind kind =
      primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? ErrorKind::Unavailable : ErrorKind::Internal;
  // The connection's message is more precise than the code's, but only when it
  // belongs to this failure.
  const char* text = db != nullptr && sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error{kind, 0, fmt::format("sqlite: {}: {}", what, text)};
}

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(o.stmt_, nullptr);
    what_ = std::move(o.what_);
    bind_rc_ = o.bind_rc_;
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::bind_blob(int index, std::string_view value) {
  // A null data pointer would bind NULL instead of an empty blob.
  static const char kEmpty = 0;
  const char* data = value.data() != nullptr ? value.data() : &kEmpty;
  int rc = sqlite3_bind_blob64(stmt_, index, data, value.size(), SQLITE_STATIC);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::bind_int(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::bind_text(int index, std::string_view value) {
  static const char kEmpty = 0;
  const char* data = value.data() != nullptr ? value.data() : &kEmpty;
  int rc = sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

namespace {

std::string describe(std::string_view action, const std::string& what, std::string_view key) {
  if (key.empty()) return fmt::format("{} {}", action, what);
  return fmt::format("{} {} for key {}", action, what, key);
}

}  // namespace

Result<bool> Statement::step(std::string_view key) {
  if (bind_rc_ != SQLITE_OK) {
    return tl::unexpected(make_error(nullptr, bind_rc_, describe("bind", what_, key)));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return tl::unexpected(make_error(sqlite3_db_handle(stmt_), rc, describe("step", what_, key)));
}

Status Statement::run(std::string_view key) {
  ResetOnExit reset_after(*this);
  for (;;) {
    DH_TRY(row, step(key));
    if (!row) return {};
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
}

std::string Statement::column_blob(int index) const {
  const void* data = sqlite3_column_blob(stmt_, index);
  int size = sqlite3_column_bytes(stmt_, index);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

int64_t Statement::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }

Result<Connection> Connection::open(const std::string& path, bool create) {
  sqlite3* db = nullptr;
  // NOMUTEX: each connection is used by one thread at a time, so SQLite's own
  // per-connection mutex would only cost.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  Connection conn(db);  // closes db on every path, also when open failed
  if (rc != SQLITE_OK) return tl::unexpected(make_error(db, rc, fmt::format("open {}", path)));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  return conn;
}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
  }
  return *this;
}

Connection::~Connection() { sqlite3_close_v2(db_); }

Result<Statement> Connection::prepare(std::string_view sql, std::string what) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return tl::unexpected(make_error(db_, rc, fmt::format("prepare {}", what)));
  }
  return Statement(stmt, std::move(what));
}

Status Connection::exec(const char* sql, std::string_view what) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return tl::unexpected(make_error(db_, rc, what));
  return {};
}

Result<std::string> Connection::query_text(std::string_view sql, std::string what) {
  DH_TRY(stmt, prepare(sql, what));
  DH_TRY(row, stmt.step());
  if (!row) return fail(ErrorKind::Internal, "sqlite: {}: no result row", what);
  return stmt.column_blob(0);
}

}  // namespace deckhand::store::sqlite
