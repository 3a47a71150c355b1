// Minimal RAII wrappers over the SQLite C API. Every failure throws
// StoreError with SQLite's message, classified by sqlite_failure(). Handles
// are neither copyable nor movable: a statement is owned by its connection's
// cache, a connection by its store, a transaction by its scope.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "store/store.h"

namespace genalytics {

// What a SQLite result code (primary or extended) means for the caller:
// CORRUPT and NOTADB are kCorrupt; CONSTRAINT, TOOBIG, RANGE and MISMATCH
// are kInvalid; everything else (BUSY, LOCKED, IOERR, FULL, CANTOPEN, NOMEM,
// ...) is kUnavailable.
StoreFailure sqlite_failure(int result_code);

class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, std::string_view sql);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Parameters are 1-based, as in SQLite. Text and blobs are copied.
  void bind_int64(int index, int64_t value);
  void bind_double(int index, double value);
  void bind_text(int index, std::string_view value);
  void bind_blob(int index, std::string_view bytes);
  void bind_null(int index);
  void bind_optional_int64(int index, const std::optional<int64_t>& value);
  void bind_optional_text(int index, const std::optional<std::string>& value);

  // Advances; true while a row is available. Throws StoreError on failure.
  bool step();
  // Makes the statement runnable again and clears its bindings.
  void reset();

  // Columns are 0-based. Views stay valid until the next step() or reset().
  bool is_null(int column) const;
  int64_t column_int64(int column) const;
  double column_double(int column) const;
  std::string_view column_text(int column) const;
  std::string_view column_blob(int column) const;
  std::optional<int64_t> column_optional_int64(int column) const;
  std::optional<std::string> column_optional_text(int column) const;

 private:
  void check(int rc, int index) const;

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// One connection. Not thread-safe: use from one thread at a time.
class SqliteDatabase {
 public:
  // Opens (creating when `create`) the database file at `path`.
  SqliteDatabase(const std::string& path, bool create);
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  // Runs one or more statements without results.
  void exec(std::string_view sql);
  // A prepared statement owned by this connection, reset and ready to bind.
  SqliteStatement& prepare_cached(const std::string& sql);
  int64_t changes() const;
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::map<std::string, std::unique_ptr<SqliteStatement>, std::less<>> statements_;
};

// A transaction on `db` for the scope: BEGIN IMMEDIATE (kWrite: takes the
// write lock now, so that a busy database fails here, not half-way) or BEGIN
// (kRead: one snapshot for several statements). Rolled back on destruction
// unless commit() succeeded; a read transaction needs no commit.
class SqliteTransaction {
 public:
  enum class Mode { kRead, kWrite };

  SqliteTransaction(SqliteDatabase& db, Mode mode);
  ~SqliteTransaction();
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;

  void commit();

 private:
  SqliteDatabase& db_;
  bool open_ = true;
};

}  // namespace genalytics
