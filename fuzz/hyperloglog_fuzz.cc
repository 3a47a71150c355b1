// Fuzzes HyperLogLog::deserialize, which reads distinct counters back from
// the stores' rollup rows, and then exercises the decoded state.
// Input: the bytes of a serialized sketch.
// Invariants: a sketch that decodes serializes to bytes that decode to an
// equal sketch, canonically; the union with itself is itself; adding keys or
// merging another sketch in never lowers an exact count, and the result
// round-trips too.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_support.h"
#include "sketch/hyperloglog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using genalytics::HyperLogLog;
  using genalytics::fuzz::check;
  const std::optional<HyperLogLog> sketch =
      HyperLogLog::deserialize(genalytics::fuzz::as_text(data, size));
  if (!sketch) return 0;

  const std::string bytes = sketch->serialize();
  const std::optional<HyperLogLog> again = HyperLogLog::deserialize(bytes);
  check(again.has_value(), "a decoded sketch's serialization does not decode");
  check(*again == *sketch, "a decoded sketch decodes again differently");
  check(again->serialize() == bytes, "serialization is not canonical");

  const uint64_t estimate = sketch->estimate();
  HyperLogLog same = *sketch;
  same.merge(*sketch);
  check(same == *sketch, "the union of a sketch with itself is not itself");
  check(same.estimate() == estimate, "the union of a sketch with itself counts differently");

  HyperLogLog grown = *sketch;
  grown.add("550e8400-e29b-41d4-a716-446655440000");
  HyperLogLog other;
  for (int i = 0; i < 3; ++i) other.add("user-" + std::to_string(i));
  grown.merge(other);
  if (sketch->is_exact() && grown.is_exact()) {
    check(grown.estimate() >= estimate, "adding keys lowered an exact count");
  }
  check(HyperLogLog::deserialize(grown.serialize()) == grown, "a merged sketch does not round-trip");
  return 0;
}
