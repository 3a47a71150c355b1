#include "demo/traffic_generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "event/time.h"
#include "testing/fixed_times.h"

namespace genalytics {
namespace {

using testing::kDemoEndUs;

std::vector<GenerationEvent> generate(const DemoOptions& options, size_t batch_size = 1000,
                                      std::vector<size_t>* batch_sizes = nullptr) {
  std::vector<GenerationEvent> events;
  generate_demo_traffic(options, batch_size, [&](std::vector<GenerationEvent>&& batch) {
    if (batch_sizes != nullptr) batch_sizes->push_back(batch.size());
    for (GenerationEvent& event : batch) events.push_back(std::move(event));
  });
  return events;
}

DemoOptions thirty_days() {
  DemoOptions options;
  options.days = 30;
  options.end_us = kDemoEndUs;
  return options;
}

auto fields(const GenerationEvent& e) {
  return std::tie(e.event_id, e.event_type, e.generation_id, e.user_id, e.timestamp_us,
                  e.generation_type, e.duration_ms, e.success, e.error_type, e.error_message,
                  e.queue_wait_time_ms, e.generation_time_ms, e.model_checkpoint,
                  e.image_dimensions_json, e.batch_size, e.prompt_tokens, e.costs_json,
                  e.tokens_json, e.params_json, e.attributes_json, e.retry_count, e.gpu_memory_mb,
                  e.queue_length);
}

bool is_canonical_uuid(const std::string& text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// One month of default traffic, generated once for the whole suite.
class TrafficGeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { events_ = generate(thirty_days()); }
  static void TearDownTestSuite() { events_.clear(); }
  static const std::vector<GenerationEvent>& events() { return events_; }

 private:
  inline static std::vector<GenerationEvent> events_;
};

TEST_F(TrafficGeneratorTest, ProducesAboutTheRequestedVolume) {
  int64_t requests = 0;
  for (const GenerationEvent& event : events()) {
    requests += event.event_type == GenerationEventType::kRequest;
  }
  const double expected = 30 * 24 * thirty_days().mean_generations_per_hour;
  EXPECT_GT(requests, 0.85 * expected);
  EXPECT_LT(requests, 1.15 * expected);
}

TEST_F(TrafficGeneratorTest, OtherSeedGivesOtherEvents) {
  DemoOptions options = thirty_days();
  options.days = 2;
  options.seed = 7;
  const std::vector<GenerationEvent> other = generate(options);
  ASSERT_FALSE(other.empty());
  EXPECT_NE(other.front().event_id, events().front().event_id);
}

TEST_F(TrafficGeneratorTest, EventsAreInTimestampOrderInsideTheWindow) {
  ASSERT_FALSE(events().empty());
  const int64_t begin_us = kDemoEndUs - 30 * kMicrosPerDay;
  EXPECT_GE(events().front().timestamp_us, begin_us);
  EXPECT_LE(events().back().timestamp_us, kDemoEndUs);
  for (size_t i = 1; i < events().size(); ++i) {
    ASSERT_LE(events()[i - 1].timestamp_us, events()[i].timestamp_us) << "event " << i;
  }
}

TEST(TrafficGeneratorBatchTest, BatchesHoldAtMostBatchSizeEvents) {
  DemoOptions options = thirty_days();
  options.days = 3;
  std::vector<size_t> batch_sizes;
  const std::vector<GenerationEvent> events = generate(options, 257, &batch_sizes);
  ASSERT_GT(batch_sizes.size(), 2u);
  for (size_t size : batch_sizes) {
    EXPECT_GT(size, 0u);
    EXPECT_LE(size, 257u);
  }
  // Only the last batch may be short.
  for (size_t i = 0; i + 1 < batch_sizes.size(); ++i) EXPECT_EQ(batch_sizes[i], 257u);
  // The batching does not change the events.
  const std::vector<GenerationEvent> one_batch = generate(options, events.size() + 1);
  ASSERT_EQ(one_batch.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) ASSERT_TRUE(fields(events[i]) == fields(one_batch[i]));
}

// A week, not the month: nothing the simulation does needs a longer window (a
// week holds weekdays and a weekend, the daily incidents, users joining late,
// the trend, batch jobs, failures and cancellations), so the same week
// generated twice, in batches of other sizes, shows its determinism as well.
TEST(TrafficGeneratorBatchTest, SameOptionsGiveIdenticalEvents) {
  DemoOptions options = thirty_days();
  options.days = 7;
  const std::vector<GenerationEvent> events = generate(options);
  const std::vector<GenerationEvent> again = generate(options, 333);
  ASSERT_EQ(again.size(), events.size());
  for (size_t i = 0; i < again.size(); ++i) {
    ASSERT_TRUE(fields(again[i]) == fields(events[i])) << "event " << i;
  }
}

TEST(TrafficGeneratorBatchTest, NoDaysGiveNoEvents) {
  DemoOptions options = thirty_days();
  options.days = 0;
  EXPECT_TRUE(generate(options).empty());
}

TEST_F(TrafficGeneratorTest, EveryEventIsValid) {
  std::set<std::string> event_ids;
  for (const GenerationEvent& event : events()) {
    SCOPED_TRACE(event.event_id);
    EXPECT_TRUE(is_canonical_uuid(event.event_id));
    EXPECT_EQ(event.event_id[14], '4');
    EXPECT_NE(std::string("89ab").find(event.event_id[19]), std::string::npos);
    EXPECT_TRUE(is_canonical_uuid(event.generation_id));
    ASSERT_TRUE(event.user_id.has_value());
    EXPECT_TRUE(is_canonical_uuid(*event.user_id));
    EXPECT_TRUE(event_ids.insert(event.event_id).second) << "duplicate event_id";
    ASSERT_TRUE(event.generation_type.has_value());
    EXPECT_TRUE(*event.generation_type == "standard" || *event.generation_type == "batch" ||
                *event.generation_type == "priority");
    EXPECT_TRUE(event.model_checkpoint.has_value());
    ASSERT_TRUE(event.batch_size.has_value());
    EXPECT_GE(*event.batch_size, 1);
    EXPECT_LE(*event.batch_size, 4);
    if (*event.generation_type != "batch") {
      EXPECT_EQ(*event.batch_size, 1);
    }

    switch (event.event_type) {
      case GenerationEventType::kRequest:
        EXPECT_TRUE(event.image_dimensions_json.has_value());
        EXPECT_TRUE(event.params_json.has_value());
        ASSERT_TRUE(event.prompt_tokens.has_value());
        EXPECT_GT(*event.prompt_tokens, 0);
        ASSERT_TRUE(event.queue_length.has_value());
        EXPECT_GE(*event.queue_length, 0);
        EXPECT_FALSE(event.success.has_value());
        break;
      case GenerationEventType::kStart:
        ASSERT_TRUE(event.queue_wait_time_ms.has_value());
        EXPECT_GE(*event.queue_wait_time_ms, 0);
        break;
      case GenerationEventType::kCompletion:
        ASSERT_TRUE(event.success.has_value());
        EXPECT_EQ(event.error_type.has_value(), !*event.success);
        EXPECT_EQ(event.error_message.has_value(), !*event.success);
        ASSERT_TRUE(event.duration_ms.has_value());
        ASSERT_TRUE(event.generation_time_ms.has_value());
        ASSERT_TRUE(event.queue_wait_time_ms.has_value());
        EXPECT_GE(*event.generation_time_ms, 0);
        EXPECT_GE(*event.queue_wait_time_ms, 0);
        EXPECT_GE(*event.duration_ms, *event.generation_time_ms + *event.queue_wait_time_ms);
        EXPECT_TRUE(event.costs_json.has_value());
        EXPECT_TRUE(event.tokens_json.has_value());
        EXPECT_TRUE(event.gpu_memory_mb.has_value());
        break;
      case GenerationEventType::kCancellation:
        EXPECT_FALSE(event.success.has_value());
        break;
    }
  }
}

TEST_F(TrafficGeneratorTest, EachGenerationFollowsItsLifecycle) {
  struct Lifecycle {
    int64_t request_us = -1;
    int64_t start_us = -1;
    int ends = 0;
  };
  std::map<std::string, Lifecycle> generations;
  for (const GenerationEvent& event : events()) {
    Lifecycle& life = generations[event.generation_id];
    switch (event.event_type) {
      case GenerationEventType::kRequest:
        ASSERT_EQ(life.request_us, -1) << "second request for " << event.generation_id;
        life.request_us = event.timestamp_us;
        break;
      case GenerationEventType::kStart:
        ASSERT_NE(life.request_us, -1) << "start before request";
        ASSERT_EQ(life.start_us, -1);
        EXPECT_EQ(*event.queue_wait_time_ms, (event.timestamp_us - life.request_us) / 1000);
        life.start_us = event.timestamp_us;
        break;
      case GenerationEventType::kCompletion:
        ASSERT_NE(life.start_us, -1) << "completion before start";
        EXPECT_EQ(*event.duration_ms, (event.timestamp_us - life.request_us) / 1000);
        ++life.ends;
        break;
      case GenerationEventType::kCancellation:
        ASSERT_NE(life.request_us, -1) << "cancellation before request";
        ++life.ends;
        break;
    }
  }
  for (const auto& [id, life] : generations) EXPECT_LE(life.ends, 1) << id;
}

TEST_F(TrafficGeneratorTest, DemoUserIsActiveAndUsageIsSkewed) {
  std::map<std::string, int64_t> requests_by_user;
  int64_t demo_completions = 0;
  int64_t requests = 0;
  for (const GenerationEvent& event : events()) {
    if (event.event_type == GenerationEventType::kRequest) {
      ++requests_by_user[*event.user_id];
      ++requests;
    }
    demo_completions += event.is_completion() && *event.user_id == kDemoUserId;
  }
  EXPECT_GT(demo_completions, 100);
  EXPECT_GT(requests_by_user.size(), 300u);
  EXPECT_LE(requests_by_user.size(), 400u);

  std::vector<int64_t> counts;
  for (const auto& [user, count] : requests_by_user) counts.push_back(count);
  std::sort(counts.rbegin(), counts.rend());
  int64_t top_ten = 0;
  for (size_t i = 0; i < 10; ++i) top_ten += counts[i];
  EXPECT_GT(top_ten, requests / 4) << "the ten heaviest users make a large share";
}

TEST_F(TrafficGeneratorTest, AfternoonIsBusierThanNight) {
  std::map<int, int64_t> requests_by_hour;
  std::map<bool, int64_t> requests_by_weekend;
  for (const GenerationEvent& event : events()) {
    if (event.event_type != GenerationEventType::kRequest) continue;
    ++requests_by_hour[static_cast<int>(event.timestamp_us / kMicrosPerHour % 24)];
    const int64_t weekday = (event.timestamp_us / kMicrosPerDay + 4) % 7;
    ++requests_by_weekend[weekday == 0 || weekday == 6];
  }
  EXPECT_GT(requests_by_hour[15], 3 * requests_by_hour[3]);
  EXPECT_GT(requests_by_hour[17], 1.6 * requests_by_hour[8]);
  // Per day, weekends are quieter (30 days hold 8 or 9 weekend days).
  EXPECT_LT(requests_by_weekend[true] / 9.0, requests_by_weekend[false] / 21.0);
}

TEST_F(TrafficGeneratorTest, QueueWaitGrowsWithLoad) {
  std::map<int, std::pair<int64_t, int64_t>> wait_by_hour;  // total wait, starts
  for (const GenerationEvent& event : events()) {
    if (event.event_type != GenerationEventType::kStart || *event.generation_type == "priority") {
      continue;
    }
    auto& [total, count] = wait_by_hour[static_cast<int>(event.timestamp_us / kMicrosPerHour % 24)];
    total += *event.queue_wait_time_ms;
    ++count;
  }
  const double night = static_cast<double>(wait_by_hour[3].first) / wait_by_hour[3].second;
  const double peak = static_cast<double>(wait_by_hour[17].first) / wait_by_hour[17].second;
  EXPECT_GT(peak, 2 * night);
}

TEST_F(TrafficGeneratorTest, ModelsDifferInSpeedAndFailureRate) {
  struct ModelStats {
    int64_t completions = 0;
    int64_t failures = 0;
    int64_t generation_ms = 0;
  };
  std::map<std::string, ModelStats> stats;
  for (const GenerationEvent& event : events()) {
    if (!event.is_completion()) continue;
    ModelStats& model = stats[*event.model_checkpoint];
    ++model.completions;
    model.failures += !*event.success;
    model.generation_ms += *event.generation_time_ms;
  }
  ASSERT_GE(stats.size(), 5u);
  double lowest_failure = 1, highest_failure = 0, fastest = 1e18, slowest = 0;
  for (const auto& [name, model] : stats) {
    ASSERT_GT(model.completions, 1000) << name;
    const double failure = static_cast<double>(model.failures) / model.completions;
    const double mean_ms = static_cast<double>(model.generation_ms) / model.completions;
    lowest_failure = std::min(lowest_failure, failure);
    highest_failure = std::max(highest_failure, failure);
    fastest = std::min(fastest, mean_ms);
    slowest = std::max(slowest, mean_ms);
  }
  EXPECT_GT(highest_failure, 4 * lowest_failure);
  EXPECT_GT(highest_failure, 0.08);
  EXPECT_LT(lowest_failure, 0.03);
  EXPECT_GT(slowest, 5 * fastest);
}

TEST_F(TrafficGeneratorTest, FailuresCarryTypedErrorsWithSeveralMessages) {
  std::map<std::string, std::set<std::string>> messages_by_type;
  int64_t completions = 0;
  int64_t cancellations = 0;
  for (const GenerationEvent& event : events()) {
    completions += event.is_completion();
    cancellations += event.event_type == GenerationEventType::kCancellation;
    if (event.is_failed_completion())
      messages_by_type[*event.error_type].insert(*event.error_message);
  }
  for (const char* type :
       {"out_of_memory", "timeout", "model_load_failed", "invalid_prompt", "nsfw_filtered"}) {
    ASSERT_TRUE(messages_by_type.contains(type)) << type;
    EXPECT_GE(messages_by_type[type].size(), 2u) << type;
  }
  EXPECT_EQ(messages_by_type.size(), 5u);
  EXPECT_GT(cancellations, completions / 100);
  EXPECT_LT(cancellations, completions / 10);
}

TEST_F(TrafficGeneratorTest, LargeJobsRunOutOfMemoryMoreOften) {
  std::map<bool, std::pair<int64_t, int64_t>> oom_by_large;  // out of memory, completions
  for (const GenerationEvent& event : events()) {
    if (!event.is_completion()) continue;
    const bool large = *event.batch_size >= 3;
    auto& [oom, total] = oom_by_large[large];
    oom += event.error_type == "out_of_memory";
    ++total;
  }
  const double small_rate =
      static_cast<double>(oom_by_large[false].first) / oom_by_large[false].second;
  const double large_rate =
      static_cast<double>(oom_by_large[true].first) / oom_by_large[true].second;
  EXPECT_GT(large_rate, 1.5 * small_rate);
}

TEST(TrafficGeneratorWindowTest, GenerationsInFlightAtTheEndAreCutOff) {
  // Busy enough that jobs are surely still running when the window closes.
  DemoOptions options = thirty_days();
  options.days = 1;
  options.mean_generations_per_hour = 2000;
  std::set<std::string> finished;
  std::set<std::string> requested;
  for (const GenerationEvent& event : generate(options)) {
    EXPECT_LE(event.timestamp_us, kDemoEndUs);
    if (event.event_type == GenerationEventType::kRequest) requested.insert(event.generation_id);
    if (event.is_completion() || event.event_type == GenerationEventType::kCancellation) {
      finished.insert(event.generation_id);
    }
  }
  EXPECT_LT(finished.size(), requested.size());
  EXPECT_GT(finished.size(), requested.size() * 99 / 100);
}

}  // namespace
}  // namespace genalytics
