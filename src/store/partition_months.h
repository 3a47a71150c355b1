// Calendar arithmetic of the monthly raw-event partitions, apart from any
// database so that month ends, leap days and year ends can be tested alone.
// A month is "YYYY-MM" (UTC, proleptic Gregorian, years 0000 to 9999), so text
// order is time order.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace genalytics {

// The month holding the instant `us` (microseconds since the Unix epoch).
std::string month_of(int64_t us);

// The month `count` calendar months after `month` (before, when negative).
// REQUIRES: `month` is well formed and the result lies in years 0000-9999.
std::string month_plus(std::string_view month, int count);

// The month of `now_us` and the `months_ahead` calendar months after it: the
// partitions a store keeps ready. REQUIRES: months_ahead >= 0.
std::set<std::string> months_ahead_of(int64_t now_us, int months_ahead);

// Retention: months before the returned one ended more than `days` days
// before `now_us`, so their partitions may be dropped. REQUIRES: days >= 0.
std::string first_month_kept(int64_t now_us, int days);

// The first instant of `month` as a PostgreSQL timestamptz literal (year 0000
// is PostgreSQL's 1 BC).
std::string month_start_literal(std::string_view month);

// "generation_events", "2026-02" -> "generation_events_p2026_02".
std::string partition_name(std::string_view table, std::string_view month);

// The month of a partition of `table` named by partition_name(), or nullopt
// for any other name.
std::optional<std::string> month_of_partition(std::string_view table, std::string_view name);

}  // namespace genalytics
