#include "rollup/rollup_bucket.h"

#include <algorithm>

#include "event/time.h"

#include "rollup/ratio.h"

namespace genalytics {

void RollupBucket::add(const GenerationEvent& event) {
  ++event_count;
  switch (event.event_type) {
    case GenerationEventType::kRequest: ++requests; break;
    case GenerationEventType::kStart: ++starts; break;
    case GenerationEventType::kCancellation: ++cancellations; break;
    case GenerationEventType::kCompletion:
      if (event.success.value_or(false)) {
        ++successes;
        images += event.batch_size.value_or(1);
      } else {
        ++failures;
        if (event.error_message) add_sample_message(*event.error_message);
      }
      if (event.duration_ms) {
        ++duration_count;
        duration_sum += *event.duration_ms;
        durations.add(static_cast<double>(*event.duration_ms));
      }
      if (event.queue_wait_time_ms) {
        ++queue_wait_count;
        queue_wait_sum += *event.queue_wait_time_ms;
      }
      if (event.generation_time_ms) {
        ++generation_time_count;
        generation_time_sum += *event.generation_time_ms;
      }
      break;
  }
  if (event.queue_length) {
    ++queue_length_count;
    queue_length_sum += *event.queue_length;
    queue_length_max = std::max(queue_length_max, *event.queue_length);
  }
  if (event.user_id) users.add(*event.user_id);
}

void RollupBucket::merge(const RollupBucket& other, const BucketParts& parts) {
  event_count += other.event_count;
  requests += other.requests;
  starts += other.starts;
  successes += other.successes;
  failures += other.failures;
  cancellations += other.cancellations;
  duration_count += other.duration_count;
  duration_sum += other.duration_sum;
  if (parts.durations) durations.merge(other.durations);
  queue_wait_count += other.queue_wait_count;
  queue_wait_sum += other.queue_wait_sum;
  generation_time_count += other.generation_time_count;
  generation_time_sum += other.generation_time_sum;
  queue_length_count += other.queue_length_count;
  queue_length_sum += other.queue_length_sum;
  queue_length_max = std::max(queue_length_max, other.queue_length_max);
  images += other.images;
  if (parts.users) users.merge(other.users);
  if (parts.sample_messages) {
    for (const std::string& message : other.sample_messages) add_sample_message(message);
  }
}

void RollupBucket::add_sample_message(const std::string& message) {
  if (sample_messages.size() >= kMaxSampleMessages) return;
  if (std::find(sample_messages.begin(), sample_messages.end(), message) != sample_messages.end()) {
    return;
  }
  sample_messages.push_back(message);
}

std::optional<double> RollupBucket::avg_duration_ms() const { return ratio(duration_sum, duration_count); }
std::optional<double> RollupBucket::avg_queue_wait_ms() const {
  return ratio(queue_wait_sum, queue_wait_count);
}
std::optional<double> RollupBucket::avg_generation_time_ms() const {
  return ratio(generation_time_sum, generation_time_count);
}
std::optional<double> RollupBucket::avg_queue_length() const {
  return ratio(queue_length_sum, queue_length_count);
}
std::optional<double> RollupBucket::success_rate() const { return ratio(successes, completions()); }

void RollupDelta::add(const GenerationEvent& event) {
  const int64_t hour = floor_hour(event.timestamp_us);
  for_each_dimension(event, &pairs_, [&](const DimensionView& dimension, std::string_view value) {
    const RollupKeyView view{hour, dimension, value};
    // A key is built only when it is new.
    auto it = buckets_.lower_bound(view);
    if (it == buckets_.end() || buckets_.key_comp()(view, it->first)) {
      it = buckets_.try_emplace(it, RollupKey{hour, Dimension::of(dimension), std::string(value)});
    }
    it->second.add(event);
  });
}

}  // namespace genalytics
