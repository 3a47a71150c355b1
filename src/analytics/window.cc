#include "analytics/window.h"

#include <charconv>
#include <cmath>
#include <fmt/format.h>

#include "event/time.h"

namespace genalytics {

int64_t TimeWindow::hours() const { return (end_us - start_us) / kMicrosPerHour; }

int parse_int_parameter(const std::string& name, const std::string& text, int min, int max) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    throw InvalidArgument(name, fmt::format("{} must be an integer between {} and {}", name, min, max));
  }
  return value;
}

double parse_number_parameter(const std::string& name, const std::string& text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || value < 0) {
    throw InvalidArgument(name, fmt::format("{} must be a non-negative number", name));
  }
  return value;
}

namespace {
int64_t parse_hour(const std::string& name, const std::string& text) {
  auto us = parse_rfc3339(text);
  if (!us) throw InvalidArgument(name, fmt::format("{} must be an RFC 3339 date-time", name));
  if (*us != floor_hour(*us)) {
    throw InvalidArgument(name, fmt::format("{} must be aligned to a whole hour", name));
  }
  return *us;
}
}  // namespace

TimeWindow resolve_window(const WindowParams& params, int64_t now_us) {
  if (params.start || params.end) {
    if (params.days) throw InvalidArgument("days", "give either days or start and end, not both");
    if (!params.start) throw InvalidArgument("start", "start is required with end");
    if (!params.end) throw InvalidArgument("end", "end is required with start");
    TimeWindow window{parse_hour("start", *params.start), parse_hour("end", *params.end)};
    if (window.end_us <= window.start_us) throw InvalidArgument("end", "end must be after start");
    if (window.end_us - window.start_us > int64_t{kMaxWindowDays} * kMicrosPerDay) {
      throw InvalidArgument("end", fmt::format("the window must be at most {} days", kMaxWindowDays));
    }
    return window;
  }
  int days = params.days ? parse_int_parameter("days", *params.days, 1, kMaxWindowDays)
                         : kDefaultWindowDays;
  const int64_t end = floor_hour(now_us) + kMicrosPerHour;
  return TimeWindow{end - int64_t{days} * kMicrosPerDay, end};
}

}  // namespace genalytics
