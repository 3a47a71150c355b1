// Fuzzes the analytics window (resolve_window: `days`, or `start` and `end`)
// and the RFC 3339 parser under it, with the strings a query may carry.
// Input: one flags byte (bit 0: days given, bit 1: start given, bit 2: end
// given), then the given parameters' values in that order, separated by NUL
// bytes.
// Invariants: a resolved window is non-empty, hour-aligned, at most
// kMaxWindowDays long and, for `days`, ends with the current hour; anything
// else is an InvalidArgument (400), never another exception. A string that
// parses as RFC 3339 formats back (format_rfc3339_micros) to the same time.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "analytics/window.h"
#include "event/time.h"
#include "fuzz_support.h"

namespace {

using genalytics::fuzz::check;

void check_rfc3339(std::string_view text) {
  const std::optional<int64_t> us = genalytics::parse_rfc3339(text);
  if (!us) return;
  const std::string formatted = genalytics::format_rfc3339_micros(*us);
  check(genalytics::parse_rfc3339(formatted) == us, "an RFC 3339 time does not format back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using genalytics::kMicrosPerHour;
  if (size == 0) return 0;
  const auto parts = genalytics::fuzz::split(genalytics::fuzz::as_text(data + 1, size - 1), '\0');
  size_t next = 0;
  auto take = [&](int bit) -> std::optional<std::string> {
    if ((data[0] & (1 << bit)) == 0 || next == parts.size()) return std::nullopt;
    return std::string(parts[next++]);
  };
  genalytics::WindowParams params;
  params.days = take(0);
  params.start = take(1);
  params.end = take(2);
  for (std::string_view part : parts) check_rfc3339(part);

  const int64_t now = genalytics::fuzz::kFuzzNowUs;
  try {
    const genalytics::TimeWindow window = genalytics::resolve_window(params, now);
    check(window.start_us < window.end_us, "an empty window");
    check(window.start_us % kMicrosPerHour == 0 && window.end_us % kMicrosPerHour == 0,
          "a window not aligned to whole hours");
    check(window.hours() <= int64_t{genalytics::kMaxWindowDays} * 24, "a window over the limit");
    if (!params.start && !params.end) {
      check(window.end_us == genalytics::floor_hour(now) + kMicrosPerHour,
            "a days window that does not end with the current hour");
    }
  } catch (const genalytics::InvalidArgument& error) {
    check(!error.parameter().empty() && error.what()[0] != '\0', "an error without its parameter");
  }
  return 0;
}
