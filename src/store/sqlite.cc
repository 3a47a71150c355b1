#include "store/sqlite.h"

#include <fmt/format.h>

namespace genalytics {

StoreFailure sqlite_failure(int result_code) {
  switch (result_code & 0xff) {  // the primary code of an extended one
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return StoreFailure::kCorrupt;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      return StoreFailure::kInvalid;
    default:
      return StoreFailure::kUnavailable;
  }
}

SqliteStatement::SqliteStatement(sqlite3* db, std::string_view sql) : db_(db) {
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    throw StoreError(fmt::format("sqlite prepare failed: {} in: {}", sqlite3_errmsg(db), sql),
                     sqlite_failure(rc));
  }
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

void SqliteStatement::check(int rc, int index) const {
  if (rc != SQLITE_OK) {
    throw StoreError(
        fmt::format("sqlite bind of parameter {} failed: {}", index, sqlite3_errmsg(db_)),
        sqlite_failure(rc));
  }
}

void SqliteStatement::bind_int64(int index, int64_t value) {
  check(sqlite3_bind_int64(stmt_, index, value), index);
}
void SqliteStatement::bind_double(int index, double value) {
  check(sqlite3_bind_double(stmt_, index, value), index);
}
void SqliteStatement::bind_text(int index, std::string_view value) {
  check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
        index);
}
void SqliteStatement::bind_blob(int index, std::string_view bytes) {
  check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT), index);
}
void SqliteStatement::bind_null(int index) { check(sqlite3_bind_null(stmt_, index), index); }
void SqliteStatement::bind_optional_int64(int index, const std::optional<int64_t>& value) {
  value ? bind_int64(index, *value) : bind_null(index);
}
void SqliteStatement::bind_optional_text(int index, const std::optional<std::string>& value) {
  value ? bind_text(index, *value) : bind_null(index);
}

bool SqliteStatement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw StoreError(fmt::format("sqlite step failed: {}", sqlite3_errmsg(db_)), sqlite_failure(rc));
}

void SqliteStatement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool SqliteStatement::is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
int64_t SqliteStatement::column_int64(int column) const { return sqlite3_column_int64(stmt_, column); }
double SqliteStatement::column_double(int column) const { return sqlite3_column_double(stmt_, column); }
std::string_view SqliteStatement::column_text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return {text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}
std::string_view SqliteStatement::column_blob(int column) const {
  const auto* blob = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  if (blob == nullptr) return {};
  return {blob, static_cast<size_t>(sqlite3_column_bytes(stmt_, column))};
}
std::optional<int64_t> SqliteStatement::column_optional_int64(int column) const {
  if (is_null(column)) return std::nullopt;
  return column_int64(column);
}
std::optional<std::string> SqliteStatement::column_optional_text(int column) const {
  if (is_null(column)) return std::nullopt;
  return std::string(column_text(column));
}

SqliteDatabase::SqliteDatabase(const std::string& path, bool create) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw StoreError(fmt::format("cannot open {}: {}", path, message), sqlite_failure(rc));
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, 10'000);
}

SqliteDatabase::~SqliteDatabase() {
  statements_.clear();  // statements must be finalized before the close
  sqlite3_close_v2(db_);
}

void SqliteDatabase::exec(std::string_view sql) {
  char* error = nullptr;
  std::string text(sql);
  if (int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error); rc != SQLITE_OK) {
    std::string message = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    throw StoreError(fmt::format("sqlite exec failed: {}", message), sqlite_failure(rc));
  }
}

SqliteStatement& SqliteDatabase::prepare_cached(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    it = statements_.emplace(sql, std::make_unique<SqliteStatement>(db_, sql)).first;
  } else {
    it->second->reset();
  }
  return *it->second;
}

int64_t SqliteDatabase::changes() const { return sqlite3_changes64(db_); }

SqliteTransaction::SqliteTransaction(SqliteDatabase& db, Mode mode) : db_(db) {
  db_.exec(mode == Mode::kWrite ? "BEGIN IMMEDIATE" : "BEGIN");
}

SqliteTransaction::~SqliteTransaction() {
  if (!open_) return;
  try {
    db_.exec("ROLLBACK");
  } catch (const StoreError&) {
    // SQLite may already have rolled back (e.g. SQLITE_FULL); nothing is left to undo.
  }
}

void SqliteTransaction::commit() {
  db_.exec("COMMIT");
  open_ = false;
}

}  // namespace genalytics
