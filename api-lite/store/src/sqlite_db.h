// Thin RAII wrappers over the SQLite C API, private to the store. Errors say
// which statement failed and why: "sqlite: step insert into log for key /x: ...".
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "deckhand/common/result.h"

namespace deckhand::store::sqlite {

// "sqlite: <what>: <message>"; busy and locked databases are Unavailable.
Error make_error(sqlite3* db, int rc, std::string_view what);

// A prepared statement. Bind errors are kept and reported by the next step(),
// so that call sites read as bind, bind, step.
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3_stmt* stmt, std::string what) : stmt_(stmt), what_(std::move(what)) {}
  Statement(Statement&& o) noexcept
      : stmt_(std::exchange(o.stmt_, nullptr)), what_(std::move(o.what_)), bind_rc_(o.bind_rc_) {}
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters count from 1, as in SQLite.
  void bind_blob(int index, std::string_view value);
  void bind_int(int index, int64_t value);
  void bind_text(int index, std::string_view value);

  // True for a row, false when done. key, when given, names the key the
  // statement is about in errors ("step insert into log for key /x: ...").
  Result<bool> step(std::string_view key = {});
  // Steps to the end, for statements that return no rows.
  Status run(std::string_view key = {});
  // Ends the statement's use (and its implicit read transaction) and clears bindings.
  void reset();

  std::string column_blob(int index) const;
  int64_t column_int(int index) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
  std::string what_;
  int bind_rc_ = SQLITE_OK;
};

// Resets a statement when the scope ends, whatever path leaves it.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& s) : stmt_(s) {}
  ~ResetOnExit() { stmt_.reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& stmt_;
};

// One database connection, used by one thread at a time.
class Connection {
 public:
  // Opens path read-write (creating it when create is set), with busy_timeout set.
  static Result<Connection> open(const std::string& path, bool create);

  Connection() = default;
  Connection(Connection&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
  Connection& operator=(Connection&& o) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  Result<Statement> prepare(std::string_view sql, std::string what);
  // Runs one or more statements that return nothing of interest.
  Status exec(const char* sql, std::string_view what);
  // The first column of the first row of a one-row query (a PRAGMA's answer).
  Result<std::string> query_text(std::string_view sql, std::string what);
  // Not inside an explicit transaction.
  bool autocommit() const { return sqlite3_get_autocommit(db_) != 0; }
  sqlite3* get() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}
  sqlite3* db_ = nullptr;
};

}  // namespace deckhand::store::sqlite
