// The instants the tests are written against, and how long a test waits for
// another thread. Time is an input: no test reads today's date. Each is
// defined once here, so that the test files of one binary can also be
// compiled as one translation unit (GENALYTICS_UNITY).
#pragma once

#include <chrono>
#include <cstdint>

#include "event/time.h"

namespace genalytics::testing {

// 2025-06-15T15:00:00Z, an hour start: the hour the rollup, store, pipeline
// and live tests put their events in.
inline constexpr int64_t kHour = 1'750'000'000'000'000 / kMicrosPerHour * kMicrosPerHour;

// 2100-01-01T00:00:00Z: the end of a time range that holds every event of a test.
inline constexpr int64_t kYear2100 = 4'102'444'800'000'000;

// 2025-01-31T12:34:56Z, a Friday: where the traffic of the analytics tests
// ends, and their "now" (windows end with its hour).
inline constexpr int64_t kNowUs = 1'738'326'896'000'000;

// 2025-01-31T12:34:56.123456Z: where the demo tests end their traffic,
// deliberately not on an hour boundary (nor on a second).
inline constexpr int64_t kDemoEndUs = kNowUs + 123'456;

// 2025-01-27T00:00:00Z, a Monday midnight: where the tests of weekly rhythms
// (model schedules and simulations) start their week.
inline constexpr int64_t kMondayUs = 1'737'936'000'000'000;

// The instant an RFC 3339 date-time names. REQUIRES: `rfc3339` is valid.
inline int64_t at(const char* rfc3339) { return *parse_rfc3339(rfc3339); }

// How long a test waits for another thread (a scheduler, a queue, a
// checkpointer) before it fails: generous, only a broken one waits this long.
inline constexpr auto kDeadline = std::chrono::seconds(30);

}  // namespace genalytics::testing
