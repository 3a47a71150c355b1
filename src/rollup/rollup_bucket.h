// The hourly rollup: the mergeable measures of a set of generation events.
// A window's answer is the merge of its hours' buckets; nothing here is ever
// averaged across buckets (percentiles come from merged DDSketches, distinct
// users from merged HyperLogLogs).
#pragma once

#include <algorithm>
#include <compare>
#include <iterator>
#include <span>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event/attribute_pairs.h"
#include "event/generation_event.h"
#include "rollup/dimension.h"
#include "rollup/dimension_cap.h"
#include "sketch/ddsketch.h"
#include "sketch/hyperloglog.h"

namespace genalytics {

// Failed completions without an error_type are grouped under this name.
inline constexpr std::string_view kUnknownErrorType = "unknown";

// At most this many attribute dimensions per event: the first keys of its
// `attributes` object (which the decoder stores with its keys sorted) that
// make a dimension (rollup/dimension.h's is_valid_attribute_key). The
// decoder admits 16 KiB of attributes, hundreds of keys; each key costs a
// rollup row per hour, so one event must not add hundreds. Those after the
// first kMaxAttributeDimensionsPerEvent are stored with the event but
// rolled up under no dimension of their own.
inline constexpr size_t kMaxAttributeDimensionsPerEvent = 16;

struct RollupKey {
  int64_t hour_us = 0;  // start of the UTC hour
  Dimension dimension = Dimension::kAll;
  std::string value;    // "" for Dimension::kAll
  auto operator<=>(const RollupKey&) const = default;
};

// A RollupKey's parts, viewed: looks a key up without building one.
struct RollupKeyView {
  int64_t hour_us = 0;
  DimensionView dimension;
  std::string_view value;
};

// Orders RollupKeys and RollupKeyViews alike, as RollupKey's operator<=>
// orders keys (hour, dimension, value): a transparent comparator.
struct RollupKeyLess {
  using is_transparent = void;
  static RollupKeyView view(const RollupKey& key) {
    return RollupKeyView{key.hour_us, key.dimension.view(), key.value};
  }
  static const RollupKeyView& view(const RollupKeyView& key) { return key; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    const RollupKeyView& x = view(a);
    const RollupKeyView& y = view(b);
    if (x.hour_us != y.hour_us) return x.hour_us < y.hour_us;
    if (x.dimension.kind != y.dimension.kind) return x.dimension.kind < y.dimension.kind;
    if (x.dimension.attribute_key != y.dimension.attribute_key) {
      return x.dimension.attribute_key < y.dimension.attribute_key;
    }
    return x.value < y.value;
  }
};

// The parts of a bucket beyond its counts and sums, for readers that need
// only some of them.
struct BucketParts {
  bool durations = true;        // the DDSketch
  bool users = true;            // the HyperLogLog
  bool sample_messages = true;
};

struct RollupBucket {
  static constexpr size_t kMaxSampleMessages = 5;

  int64_t event_count = 0;
  int64_t requests = 0;       // request events
  int64_t starts = 0;         // start events
  int64_t successes = 0;      // completion events with success = true
  int64_t failures = 0;       // completion events with success = false
  int64_t cancellations = 0;  // cancellation events
  // Over completions (successful and failed) that carry the field.
  int64_t duration_count = 0;
  int64_t duration_sum = 0;
  DDSketch durations;
  int64_t queue_wait_count = 0;
  int64_t queue_wait_sum = 0;
  int64_t generation_time_count = 0;
  int64_t generation_time_sum = 0;
  // Over every event carrying a queue_length sample.
  int64_t queue_length_count = 0;
  int64_t queue_length_sum = 0;
  int64_t queue_length_max = 0;
  // Sum of batch_size (default 1) over successful completions.
  int64_t images = 0;
  // Distinct user_ids over all events.
  HyperLogLog users;
  // Up to kMaxSampleMessages distinct error messages of failed completions,
  // in first-seen order.
  std::vector<std::string> sample_messages;

  // Accounts for one event.
  void add(const GenerationEvent& event);
  // After merge, this describes the union of both event sets, as far as
  // `parts` go: the parts left out stay as they were.
  void merge(const RollupBucket& other, const BucketParts& parts = BucketParts{});
  // Exact: every count, sum and sketch, and the sample messages in order.
  bool operator==(const RollupBucket&) const = default;

  int64_t completions() const { return successes + failures; }
  // Derived figures; nullopt when their denominator is zero.
  std::optional<double> avg_duration_ms() const;
  std::optional<double> avg_queue_wait_ms() const;
  std::optional<double> avg_generation_time_ms() const;
  std::optional<double> avg_queue_length() const;
  std::optional<double> duration_quantile(double q) const { return durations.quantile(q); }
  // successes / completions as a fraction.
  std::optional<double> success_rate() const;

 private:
  void add_sample_message(const std::string& message);
};

// Calls `visit(dimension, value)`, with a DimensionView and the value as a
// std::string_view, for every rollup an event belongs to: always kAll;
// kModelCheckpoint and kGenerationType when the event carries them;
// kErrorType for failed completions; and attribute:<key> for each of the
// first kMaxAttributeDimensionsPerEvent distinct valid keys of its
// attributes whose value is a string, number or boolean (its text: "anime",
// "30", "true"). `pairs` is scratch for reading the attributes (reused, so
// no allocation per event once warm); the views passed to `visit` point
// into it and into `event`.
// Lifecycle events (seed 003) stay out of generation metrics by
// construction: this, RollupBucket::add and RollupDelta::add take a
// GenerationEvent only, and nothing else rolls up into these rows.
template <typename Visit>
void for_each_dimension(const GenerationEvent& event, AttributePairs* pairs, Visit&& visit) {
  visit(DimensionView{Dimension::kAll, {}}, std::string_view());
  if (event.model_checkpoint) {
    visit(DimensionView{Dimension::kModelCheckpoint, {}}, std::string_view(*event.model_checkpoint));
  }
  if (event.generation_type) {
    visit(DimensionView{Dimension::kGenerationType, {}}, std::string_view(*event.generation_type));
  }
  if (event.is_failed_completion()) {
    visit(DimensionView{Dimension::kErrorType, {}},
          event.error_type ? std::string_view(*event.error_type) : kUnknownErrorType);
  }
  if (!event.attributes_json || !pairs->parse(*event.attributes_json)) return;
  std::string_view keys[kMaxAttributeDimensionsPerEvent];
  size_t count = 0;
  for (size_t i = 0; i < pairs->size() && count < kMaxAttributeDimensionsPerEvent; ++i) {
    const AttributePairs::Pair pair = (*pairs)[i];
    if (!is_valid_attribute_key(pair.key)) continue;
    if (std::find(keys, keys + count, pair.key) != keys + count) continue;  // a duplicate key
    keys[count++] = pair.key;
    visit(DimensionView{Dimension::kAttribute, pair.key}, pair.value);
  }
}

// The rollup rows, by key: ordered as RollupKey orders them, and looked up
// with a RollupKeyView too.
using RollupBuckets = std::map<RollupKey, RollupBucket, RollupKeyLess>;

// The rollup changes caused by a set of events, grouped by key; what a store
// merges into its rollup rows in the same transaction as the raw inserts.
// Not thread-safe.
class RollupDelta {
 public:
  // Adds `event` under every key for_each_dimension names. Allocates only
  // for a key the delta does not hold yet.
  void add(const GenerationEvent& event);
  const RollupBuckets& buckets() const { return buckets_; }
  bool empty() const { return buckets_.empty(); }
  void clear() { buckets_.clear(); }

  // Applies the per-hour cap of rollup/dimension_cap.h to the attribute
  // dimensions only (the fixed ones are never capped): for each (hour,
  // attribute dimension) of the delta, in key order, calls
  // `stored_values(hour_us, dimension)` for the values that hour already
  // has in the store (a std::vector<std::string>), then folds the delta's
  // values over `cap` into the value kOtherValue (fold_to_cap). Afterwards
  // the merge of every bucket of a group is what it was before. Throws what
  // `stored_values` throws, leaving the groups before it folded.
  template <typename StoredValues>
  void fold_attribute_values(size_t cap, StoredValues&& stored_values);

 private:
  RollupBuckets buckets_;
  AttributePairs pairs_;  // scratch for add()
};

template <typename StoredValues>
void RollupDelta::fold_attribute_values(size_t cap, StoredValues&& stored_values) {
  // Attribute dimensions sort after the fixed ones within an hour.
  auto it = buckets_.begin();
  while (it != buckets_.end()) {
    if (!it->first.dimension.is_attribute()) {
      ++it;
      continue;
    }
    const int64_t hour = it->first.hour_us;
    const Dimension dimension = it->first.dimension;
    auto last = std::next(it);
    while (last != buckets_.end() && last->first.hour_us == hour &&
           last->first.dimension == dimension) {
      ++last;
    }
    const std::vector<std::string> stored = stored_values(hour, dimension);
    fold_to_cap(&buckets_, it, last, std::span<const std::string>(stored), cap,
                [](const RollupBucket& bucket) { return bucket.event_count; });
    it = last;
  }
}

}  // namespace genalytics
