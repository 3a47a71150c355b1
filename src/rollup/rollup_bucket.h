// The hourly rollup: the mergeable measures of a set of generation events.
// A window's answer is the merge of its hours' buckets; nothing here is ever
// averaged across buckets (percentiles come from merged DDSketches, distinct
// users from merged HyperLogLogs).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event/generation_event.h"
#include "sketch/ddsketch.h"
#include "sketch/hyperloglog.h"

namespace genalytics {

// What a rollup row is grouped by besides the hour.
enum class Dimension : uint8_t { kAll, kModelCheckpoint, kErrorType, kGenerationType };

// "all", "model_checkpoint", "error_type", "generation_type".
std::string_view to_string(Dimension dimension);
std::optional<Dimension> parse_dimension(std::string_view name);

// Failed completions without an error_type are grouped under this name.
inline constexpr std::string_view kUnknownErrorType = "unknown";

struct RollupKey {
  int64_t hour_us = 0;  // start of the UTC hour
  Dimension dimension = Dimension::kAll;
  std::string value;    // "" for Dimension::kAll
  auto operator<=>(const RollupKey&) const = default;
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

// Calls `visit(dimension, value)` for every rollup an event belongs to:
// always kAll; kModelCheckpoint and kGenerationType when the event carries
// them; kErrorType for failed completions.
template <typename Visit>
void for_each_dimension(const GenerationEvent& event, Visit&& visit) {
  visit(Dimension::kAll, std::string_view());
  if (event.model_checkpoint) visit(Dimension::kModelCheckpoint, std::string_view(*event.model_checkpoint));
  if (event.generation_type) visit(Dimension::kGenerationType, std::string_view(*event.generation_type));
  if (event.is_failed_completion()) {
    visit(Dimension::kErrorType,
          event.error_type ? std::string_view(*event.error_type) : kUnknownErrorType);
  }
}

// The rollup changes caused by a set of events, grouped by key; what a store
// merges into its rollup rows in the same transaction as the raw inserts.
class RollupDelta {
 public:
  void add(const GenerationEvent& event);
  const std::map<RollupKey, RollupBucket>& buckets() const { return buckets_; }
  bool empty() const { return buckets_.empty(); }
  void clear() { buckets_.clear(); }

 private:
  std::map<RollupKey, RollupBucket> buckets_;
};

}  // namespace genalytics
