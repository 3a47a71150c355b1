// UTC time as int64 microseconds since the Unix epoch, and its RFC 3339 text.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace genalytics {

inline constexpr int64_t kMicrosPerSecond = 1'000'000;
inline constexpr int64_t kMicrosPerHour = 3600 * kMicrosPerSecond;
inline constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;

// The current wall-clock time.
int64_t now_us();

// Where a component reads "now": now_us in service, a fixed time in tests,
// so that no test depends on the date or the hour it runs at.
using TimeSource = std::function<int64_t()>;

// Parses an RFC 3339 date-time ("2025-01-15T10:30:45.123Z", "...+02:00",
// lowercase 't'/'z' and a space separator accepted). Fractions beyond
// microseconds are truncated. Returns nullopt for anything else, including
// out-of-range fields (month 13, Feb 30, hour 24, leap second 60), a missing
// offset, and times outside the years 0000..9999 UTC.
std::optional<int64_t> parse_rfc3339(std::string_view text);

// "2025-01-15T10:30:45.123456Z": fixed width, so text order is time order.
std::string format_rfc3339_micros(int64_t us);

// "2025-01-15T10:00:00Z": whole seconds (fraction dropped).
std::string format_rfc3339_seconds(int64_t us);

// "2025-01-15".
std::string format_date(int64_t us);

// Start of the UTC hour / day containing `us` (floor, also for negative times).
int64_t floor_hour(int64_t us);
int64_t floor_day(int64_t us);

// 0 = Sunday ... 6 = Saturday (PostgreSQL's EXTRACT(DOW)), 0..23 for the hour.
int day_of_week(int64_t us);
int hour_of_day(int64_t us);

}  // namespace genalytics
