// A SQLite statement as the rollup column descriptions
// (store/generation_rollup_columns.h, store/route_rollup_columns.h) read and
// write it: a result row's columns, and positional parameters bound in order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/sqlite.h"

namespace genalytics {

// The current result row of `statement`; valid until its next step or reset.
class SqliteRow {
 public:
  explicit SqliteRow(const SqliteStatement& statement) : statement_(statement) {}
  bool is_null(int column) const { return statement_.is_null(column); }
  int64_t int64(int column) const { return statement_.column_int64(column); }
  std::string_view bytes(int column) const { return statement_.column_blob(column); }
  std::string_view text(int column) const { return statement_.column_text(column); }

 private:
  const SqliteStatement& statement_;
};

// Binds the parameters of `statement` from `first` on, one per call, in order.
class SqliteBinds {
 public:
  SqliteBinds(SqliteStatement& statement, int first) : statement_(statement), next_(first) {}
  void int64(int64_t value) { statement_.bind_int64(next_++, value); }
  void bytes(std::string_view value) { statement_.bind_blob(next_++, value); }
  void text(std::string_view value) { statement_.bind_text(next_++, value); }
  void optional_int64(const std::optional<int64_t>& value) {
    statement_.bind_optional_int64(next_++, value);
  }
  void optional_double(const std::optional<double>& value) {
    if (value) {
      statement_.bind_double(next_++, *value);
    } else {
      statement_.bind_null(next_++);
    }
  }

 private:
  SqliteStatement& statement_;
  int next_;
};

}  // namespace genalytics
