// What the rollup column descriptions (store/generation_rollup_columns.h,
// store/route_rollup_columns.h) read from and write to on PostgreSQL: one row
// of a PgResult, and one row of a COPY. Also the range of instants the
// database can hold, shared by every read of a window.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "event/time.h"
#include "store/postgres.h"

namespace genalytics {

// Row `row` of `result`, read by column. Views are valid while `result` lives.
class PgRow {
 public:
  PgRow(const PgResult& result, int row) : result_(result), row_(row) {}
  bool is_null(int column) const { return result_.is_null(row_, column); }
  int64_t int64(int column) const { return result_.int64(row_, column); }
  std::string bytes(int column) const { return result_.bytes(row_, column); }
  std::string_view text(int column) const { return result_.text(row_, column); }

 private:
  const PgResult& result_;
  const int row_;
};

// Appends values to the current row of a COPY; the caller ends the row.
class PgCopyRow {
 public:
  explicit PgCopyRow(PgCopyBuffer& out) : out_(out) {}
  void int64(int64_t value) { out_.add_int64(value); }
  void bytes(std::string_view value) { out_.add_bytea(value); }
  void text(std::string_view value) { out_.add_text(value); }
  void optional_int64(const std::optional<int64_t>& value) { out_.add_optional_int64(value); }
  void optional_double(const std::optional<double>& value) {
    if (value) {
      out_.add_double(*value);
    } else {
      out_.add_null();
    }
  }

 private:
  PgCopyBuffer& out_;
};

// `us` clamped to what PostgreSQL and pg_timestamp() accept: times outside
// it hold no data, so a window clamped to it reads the same rows.
inline int64_t clamp_to_stored_range(int64_t us) {
  static const int64_t kMin = *parse_rfc3339("0000-01-01T00:00:00Z");
  static const int64_t kMax = *parse_rfc3339("9999-12-31T23:59:59.999999Z");
  return std::clamp(us, kMin, kMax);
}

}  // namespace genalytics
