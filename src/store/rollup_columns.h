// What every rollup family's column description shares (see
// store/generation_rollup_columns.h and store/route_rollup_columns.h): the
// rounding of the seed's integer figures, the SQL text both stores build
// from a column table, and the decoding of stored sketches.
//
// Interface (stable; both stores build on it):
//   rounded(optional<double>)              -> optional<int64_t>, half away from zero
//   column_list(columns, prefix)           -> "p.a, p.b, p.c"
//   assignments(columns, source)           -> "a = s.a, b = s.b" (source "s." or "excluded.")
//   sums(columns, stored, source)          -> "a = t.a + excluded.a, ..." (an adding upsert)
//   placeholders(count)                    -> "?,?,?"
//   decode_sketch(bytes, column, table)    -> DDSketch, or throws StoreError(kCorrupt)
//   decode_durations(bytes, table)         -> decode_sketch of duration_sketch
//   decode_users(bytes, table)             -> HyperLogLog, or throws StoreError(kCorrupt)
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "sketch/ddsketch.h"
#include "sketch/hyperloglog.h"
#include "store/store.h"

namespace genalytics::rollup_columns {

// The seed's integer columns hold derived figures rounded to the nearest
// integer, halves away from zero; nullopt stays NULL.
inline std::optional<int64_t> rounded(const std::optional<double>& value) {
  if (!value) return std::nullopt;
  return static_cast<int64_t>(std::llround(*value));
}

// `columns`, each after `prefix`, comma-separated: "t.a, t.b".
inline std::string column_list(std::span<const char* const> columns, std::string_view prefix = "") {
  std::string list;
  for (const char* column : columns) {
    if (!list.empty()) list += ", ";
    list += prefix;
    list += column;
  }
  return list;
}

// "a = {source}a, b = {source}b": an UPDATE's SET list taking each column
// from `source` ("excluded." in an upsert, "s." from a staging table).
inline std::string assignments(std::span<const char* const> columns, std::string_view source) {
  std::string list;
  for (const char* column : columns) {
    if (!list.empty()) list += ", ";
    list += fmt::format("{0} = {1}{0}", column, source);
  }
  return list;
}

// "a = {stored}a + {source}a, b = ...": an upsert's SET list adding each
// column of `source` ("excluded.") to the stored one (`stored`: "t." for
// a table aliased t, "" in SQLite, whose upsert names the table's columns
// bare).
inline std::string sums(std::span<const char* const> columns, std::string_view stored,
                        std::string_view source) {
  std::string list;
  for (const char* column : columns) {
    if (!list.empty()) list += ", ";
    list += fmt::format("{0} = {1}{0} + {2}{0}", column, stored, source);
  }
  return list;
}

// `count` positional parameters: "?,?,?".
inline std::string placeholders(int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += i ? ",?" : "?";
  return text;
}

// A stored DDSketch of `column` in `table`. Throws StoreError(kCorrupt)
// naming both when the bytes do not decode.
inline DDSketch decode_sketch(std::string_view bytes, std::string_view column,
                              std::string_view table) {
  auto sketch = DDSketch::deserialize(bytes);
  if (!sketch) {
    throw StoreError(fmt::format("corrupt {} in {}", column, table), StoreFailure::kCorrupt);
  }
  return std::move(*sketch);
}

// A stored duration_sketch. Throws StoreError(kCorrupt) naming `table` when
// the bytes do not decode.
inline DDSketch decode_durations(std::string_view bytes, std::string_view table) {
  return decode_sketch(bytes, "duration_sketch", table);
}

// A stored HyperLogLog. Throws StoreError(kCorrupt) naming `table` when the
// bytes do not decode.
inline HyperLogLog decode_users(std::string_view bytes, std::string_view table) {
  auto users = HyperLogLog::deserialize(bytes);
  if (!users) {
    throw StoreError(fmt::format("corrupt users_hll in {}", table), StoreFailure::kCorrupt);
  }
  return std::move(*users);
}

}  // namespace genalytics::rollup_columns
