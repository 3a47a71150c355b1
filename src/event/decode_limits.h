// The bounds every event decoder enforces (generation_decoder, route_decoder):
// configurable per server (DecodeLimits, from config/base.json's `ingest`)
// and fixed (the integer, time and cost ranges the stores can hold).
#pragma once

#include <cstddef>
#include <cstdint>

namespace genalytics {

// Integer fields (durations, counts, tokens) must fit the seeds' INTEGER
// columns; this also keeps hourly sums of them far from int64 overflow.
inline constexpr int64_t kMaxEventInteger = 2'147'483'647;

// The earliest accepted event time, 2000-01-01T00:00:00Z: earlier ones are
// clock errors (1970, 0001-01-01), not history.
inline constexpr int64_t kMinEventTimestampUs = 946'684'800'000'000;

struct DecodeLimits {
  size_t max_string_length = 256;          // characters; longer strings are rejected
  size_t max_error_message_length = 2048;  // bytes; longer error messages are truncated
  size_t max_object_bytes = 16 * 1024;     // nested objects, as compact JSON text
  size_t max_events_per_body = 1'000'000;
  // Rejected events listed with their errors; the rest are only counted, so
  // an answer (and the memory behind it) stays small whatever the body.
  size_t max_rejected_listed = 100;
  // How far after the decoder's `now` a timestamp may be, in microseconds.
  int64_t max_future_skew_us = 3600LL * 1'000'000;
};

}  // namespace genalytics
