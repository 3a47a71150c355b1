// The time window of an analytics query: whole UTC hours [start, end), and
// the parsing of the query parameters every analytics endpoint shares.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "analytics/errors.h"

namespace genalytics {

inline constexpr int kDefaultWindowDays = 7;
inline constexpr int kMaxWindowDays = 3660;

struct TimeWindow {
  int64_t start_us = 0;  // inclusive, hour-aligned
  int64_t end_us = 0;    // exclusive, hour-aligned, > start_us
  int64_t hours() const;
};

// The query parameters that select a window, as received.
struct WindowParams {
  std::optional<std::string> days;
  std::optional<std::string> start;
  std::optional<std::string> end;
};

// `days=N` (default 7): the N*24 hourly buckets ending with the current hour.
// `start` and `end` (RFC 3339, hour-aligned, start < end) together instead.
// Throws InvalidArgument naming the parameter otherwise.
TimeWindow resolve_window(const WindowParams& params, int64_t now_us);

// Parses a positive integer parameter in [min, max]; throws InvalidArgument.
int parse_int_parameter(const std::string& name, const std::string& text, int min, int max);

// Parses a finite, non-negative number; throws InvalidArgument.
double parse_number_parameter(const std::string& name, const std::string& text);

}  // namespace genalytics
