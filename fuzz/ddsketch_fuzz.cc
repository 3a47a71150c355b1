// Fuzzes DDSketch::deserialize, which reads sketches back from the stores'
// rollup rows, and then exercises the decoded state.
// Input: the bytes of a serialized sketch.
// Invariants: a sketch that decodes serializes to bytes that decode to an
// equal sketch, canonically; its quantiles are finite, non-negative and
// non-decreasing in q (none when empty); merging it with itself doubles its
// count and keeps its extreme quantiles; merging a fresh sketch of the same
// accuracy in works.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_support.h"
#include "sketch/ddsketch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using genalytics::DDSketch;
  using genalytics::fuzz::check;
  const std::optional<DDSketch> sketch =
      DDSketch::deserialize(genalytics::fuzz::as_text(data, size));
  if (!sketch) return 0;

  const std::string bytes = sketch->serialize();
  const std::optional<DDSketch> again = DDSketch::deserialize(bytes);
  check(again.has_value(), "a decoded sketch's serialization does not decode");
  check(*again == *sketch, "a decoded sketch decodes again differently");
  check(again->serialize() == bytes, "serialization is not canonical");

  std::optional<double> previous;
  for (double q : {0.0, 0.01, 0.5, 0.95, 0.99, 1.0}) {
    const std::optional<double> value = sketch->quantile(q);
    check(value.has_value() == !sketch->empty(), "a quantile of an empty sketch, or none");
    if (!value) continue;
    check(std::isfinite(*value) && *value >= 0, "a quantile that is not a finite duration");
    check(!previous || *value >= *previous, "quantiles decrease with q");
    previous = value;
  }

  // Counts near 2^64 would wrap: real rollups are far below that.
  if (sketch->count() <= (uint64_t{1} << 62)) {
    DDSketch doubled = *sketch;
    doubled.merge(*sketch);
    check(doubled.count() == 2 * sketch->count(), "merge with itself does not double the count");
    check(doubled.quantile(0.0) == sketch->quantile(0.0) &&
              doubled.quantile(1.0) == sketch->quantile(1.0),
          "merge with itself moves the extremes");
    DDSketch fresh(sketch->relative_accuracy());
    fresh.add(0.0);
    fresh.add(1.0, 3);
    fresh.add(45'230.0);
    doubled.merge(fresh);
    check(doubled.count() == 2 * sketch->count() + 5, "merge loses values");
    check(DDSketch::deserialize(doubled.serialize()) == doubled, "a merged sketch does not round-trip");
  }
  return 0;
}
