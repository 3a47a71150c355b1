#include "rollup/rollup_bucket.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "event/time.h"
#include "testing/events.h"
#include "testing/fixed_times.h"

namespace genalytics {
namespace {

using testing::kHour;
using testing::make_completion;
using testing::make_event;

TEST(RollupBucketTest, CountsEachEventTypeAndCompletionMeasures) {
  RollupBucket b;
  b.add(make_event(GenerationEventType::kRequest, kHour, "u1"));
  b.add(make_event(GenerationEventType::kStart, kHour, "u1"));
  GenerationEvent ok = make_completion(kHour, true, 1000, "u1");
  ok.batch_size = 3;
  ok.queue_wait_time_ms = 100;
  ok.generation_time_ms = 900;
  b.add(ok);
  b.add(make_completion(kHour, false, 500, "u2", "", "oom"));
  b.add(make_event(GenerationEventType::kCancellation, kHour, "u3"));
  GenerationEvent sample = make_event(GenerationEventType::kRequest, kHour);
  sample.queue_length = 7;
  b.add(sample);

  EXPECT_EQ(b.event_count, 6);
  EXPECT_EQ(b.requests, 2);
  EXPECT_EQ(b.starts, 1);
  EXPECT_EQ(b.successes, 1);
  EXPECT_EQ(b.failures, 1);
  EXPECT_EQ(b.cancellations, 1);
  EXPECT_EQ(b.images, 3);
  EXPECT_EQ(b.duration_count, 2);
  EXPECT_DOUBLE_EQ(*b.avg_duration_ms(), 750.0);
  EXPECT_DOUBLE_EQ(*b.avg_queue_wait_ms(), 100.0);
  EXPECT_DOUBLE_EQ(*b.avg_generation_time_ms(), 900.0);
  EXPECT_DOUBLE_EQ(*b.success_rate(), 0.5);
  EXPECT_EQ(b.queue_length_max, 7);
  EXPECT_EQ(b.users.estimate(), 3u);
  ASSERT_EQ(b.sample_messages.size(), 1u);
  EXPECT_EQ(b.sample_messages[0], "oom happened");
}

TEST(RollupBucketTest, EmptyBucketHasNoDerivedFigures) {
  RollupBucket b;
  EXPECT_FALSE(b.success_rate());
  EXPECT_FALSE(b.avg_duration_ms());
  EXPECT_FALSE(b.duration_quantile(0.5));
  EXPECT_EQ(b.users.estimate(), 0u);
}

TEST(RollupBucketTest, MergeEqualsBucketOfTheUnion) {
  RollupBucket left, right, all;
  for (int i = 0; i < 200; ++i) {
    GenerationEvent e = make_completion(kHour, i % 7 != 0, 100 + i * 13, "user" + std::to_string(i % 31),
                                        "", "type" + std::to_string(i % 9));
    e.queue_length = i % 17;
    (i % 2 ? left : right).add(e);
    all.add(e);
  }
  left.merge(right);
  EXPECT_EQ(left.successes, all.successes);
  EXPECT_EQ(left.failures, all.failures);
  EXPECT_EQ(left.duration_sum, all.duration_sum);
  EXPECT_EQ(left.queue_length_max, all.queue_length_max);
  EXPECT_EQ(left.users.estimate(), all.users.estimate());
  EXPECT_TRUE(left.durations == all.durations);
  EXPECT_EQ(left.sample_messages.size(), RollupBucket::kMaxSampleMessages);
}

TEST(RollupBucketTest, MergeOfAPrefixAndTheRestEqualsTheWholeExactly) {
  std::vector<GenerationEvent> events;
  for (int i = 0; i < 200; ++i) {
    GenerationEvent e = make_completion(kHour, i % 7 != 0, 100 + i * 13,
                                        "user" + std::to_string(i % 31), "",
                                        "type" + std::to_string(i % 9));
    e.error_message = "message " + std::to_string(i % 11);
    e.queue_length = i % 17;
    e.queue_wait_time_ms = i;
    e.generation_time_ms = 2 * i;
    events.push_back(e);
    events.push_back(make_event(i % 2 ? GenerationEventType::kRequest : GenerationEventType::kStart,
                                kHour, "user" + std::to_string(i % 5)));
  }
  RollupBucket prefix, rest, all;
  for (size_t i = 0; i < events.size(); ++i) {
    (i < 150 ? prefix : rest).add(events[i]);
    all.add(events[i]);
  }
  prefix.merge(rest);
  EXPECT_TRUE(prefix == all);
}

// Equality is what the store suites compare rows with: a bucket that differs
// in any one field must not compare equal.
TEST(RollupBucketTest, EqualityTellsApartEveryField) {
  RollupBucket base;
  GenerationEvent failed = make_completion(kHour, false, 700, "u1", "sdxl", "oom");
  failed.error_message = "out of memory";
  failed.queue_length = 3;
  failed.queue_wait_time_ms = 5;
  failed.generation_time_ms = 600;
  base.add(failed);
  base.add(make_completion(kHour, true, 300, "u2"));
  const RollupBucket same = base;
  EXPECT_TRUE(same == base);

  int64_t RollupBucket::*const counters[] = {
      &RollupBucket::event_count,        &RollupBucket::requests,
      &RollupBucket::starts,             &RollupBucket::successes,
      &RollupBucket::failures,           &RollupBucket::cancellations,
      &RollupBucket::duration_count,     &RollupBucket::duration_sum,
      &RollupBucket::queue_wait_count,   &RollupBucket::queue_wait_sum,
      &RollupBucket::generation_time_count, &RollupBucket::generation_time_sum,
      &RollupBucket::queue_length_count, &RollupBucket::queue_length_sum,
      &RollupBucket::queue_length_max,   &RollupBucket::images};
  for (size_t i = 0; i < std::size(counters); ++i) {
    RollupBucket changed = base;
    ++(changed.*counters[i]);
    EXPECT_FALSE(changed == base) << "counter " << i;
  }
  RollupBucket durations = base;
  durations.durations.add(300);
  EXPECT_FALSE(durations == base);
  RollupBucket users = base;
  users.users.add("u3");
  EXPECT_FALSE(users == base);
  RollupBucket messages = base;
  messages.sample_messages.push_back("another");
  EXPECT_FALSE(messages == base);
  RollupBucket reordered = base;
  messages.sample_messages = {"x", "y"};
  reordered.sample_messages = {"y", "x"};
  EXPECT_FALSE(messages == reordered);  // first-seen order is part of the bucket
}

TEST(RollupBucketTest, SampleMessagesAreDistinctAndCapped) {
  RollupBucket b;
  for (int i = 0; i < 20; ++i) {
    GenerationEvent e = make_completion(kHour, false, 10);
    e.error_message = "message " + std::to_string(i % 3);
    b.add(e);
  }
  EXPECT_EQ(b.sample_messages, (std::vector<std::string>{"message 0", "message 1", "message 2"}));
}

TEST(RollupDeltaTest, RoutesEventsToTheirHourAndDimensions) {
  RollupDelta delta;
  GenerationEvent failed = make_completion(kHour + 5, false, 10, "u", "sdxl");
  failed.generation_type = "batch";
  delta.add(failed);  // no error_type: grouped as "unknown"
  delta.add(make_completion(kHour + kMicrosPerHour, true, 10, "u", "sdxl"));

  std::vector<RollupKey> keys;
  for (const auto& [key, bucket] : delta.buckets()) keys.push_back(key);
  std::vector<RollupKey> expected = {
      {kHour, Dimension::kAll, ""},
      {kHour, Dimension::kModelCheckpoint, "sdxl"},
      {kHour, Dimension::kErrorType, "unknown"},
      {kHour, Dimension::kGenerationType, "batch"},
      {kHour + kMicrosPerHour, Dimension::kAll, ""},
      {kHour + kMicrosPerHour, Dimension::kModelCheckpoint, "sdxl"},
  };
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(keys, expected);
}

std::vector<RollupKey> keys_of(const RollupDelta& delta) {
  std::vector<RollupKey> keys;
  for (const auto& [key, bucket] : delta.buckets()) keys.push_back(key);
  return keys;
}

RollupKey attribute_key(int64_t hour, std::string_view key, std::string value) {
  return RollupKey{hour, *Dimension::attribute(key), std::move(value)};
}

TEST(RollupDeltaTest, AttributesRollUpUnderTheirKeysWithTheirValuesText) {
  RollupDelta delta;
  GenerationEvent e = make_event(GenerationEventType::kRequest, kHour);
  // Scalars count (numbers and booleans as their JSON text); null, objects
  // and arrays do not; an escaped key or value is read unescaped.
  e.attributes_json =
      R"({"beta":true,"list":[1],"nested":{"a":1},"nil":null,"st\u0079le":"an\"ime","steps":30})";
  delta.add(e);
  delta.add(e);
  EXPECT_EQ(keys_of(delta), (std::vector<RollupKey>{{kHour, Dimension::kAll, ""},
                                                    attribute_key(kHour, "beta", "true"),
                                                    attribute_key(kHour, "steps", "30"),
                                                    attribute_key(kHour, "style", "an\"ime")}));
  for (const auto& [key, bucket] : delta.buckets()) EXPECT_EQ(bucket.requests, 2) << key.value;
}

TEST(RollupDeltaTest, AnEventRollsUpAtMostItsFirstSixteenAttributeKeys) {
  RollupDelta delta;
  GenerationEvent e = make_event(GenerationEventType::kRequest, kHour);
  // A key that makes no dimension and a repeated key take no place.
  std::string json = R"({"\u0001":"x","k00":"a","k00":"b")";
  for (int i = 1; i < 40; ++i) json += ",\"k" + std::string(i < 10 ? "0" : "") + std::to_string(i) + "\":1";
  e.attributes_json = json + "}";
  delta.add(e);
  std::vector<RollupKey> expected = {{kHour, Dimension::kAll, ""}};
  expected.push_back(attribute_key(kHour, "k00", "a"));
  for (int i = 1; i < static_cast<int>(kMaxAttributeDimensionsPerEvent); ++i) {
    expected.push_back(
        attribute_key(kHour, "k" + std::string(i < 10 ? "0" : "") + std::to_string(i), "1"));
  }
  EXPECT_EQ(keys_of(delta), expected);
  EXPECT_EQ(kMaxAttributeDimensionsPerEvent, 16u);
}

TEST(RollupDeltaTest, FoldingCapsAttributeValuesOnlyAndAsksOncePerHourAndAttribute) {
  RollupDelta delta;
  for (int i = 0; i < 6; ++i) {
    for (int hour = 0; hour < 2; ++hour) {
      GenerationEvent e = make_completion(kHour + hour * kMicrosPerHour, true, 10 + i, "u",
                                          "model" + std::to_string(i));
      e.attributes_json = R"({"client":"web","style":"s)" + std::to_string(i) + R"("})";
      for (int repeat = 0; repeat <= i; ++repeat) delta.add(e);  // s5 is the most frequent
    }
  }
  std::vector<std::pair<int64_t, std::string>> asked;
  delta.fold_attribute_values(2, [&](int64_t hour, const Dimension& dimension) {
    asked.emplace_back(hour, std::string(to_string(dimension)));
    // The first hour already stores s0 (which keeps merging) and s9.
    if (hour != kHour || dimension != *Dimension::attribute("style")) return std::vector<std::string>{};
    return std::vector<std::string>{"s0", "s9"};
  });
  EXPECT_EQ(asked, (std::vector<std::pair<int64_t, std::string>>{
                       {kHour, "attribute:client"},
                       {kHour, "attribute:style"},
                       {kHour + kMicrosPerHour, "attribute:client"},
                       {kHour + kMicrosPerHour, "attribute:style"}}));
  std::map<std::string, int64_t> first_hour, second_hour;
  int64_t models = 0;
  for (const auto& [key, bucket] : delta.buckets()) {
    if (key.dimension == Dimension::kModelCheckpoint) ++models;
    if (key.dimension != *Dimension::attribute("style")) continue;
    (key.hour_us == kHour ? first_hour : second_hour)[key.value] = bucket.event_count;
  }
  EXPECT_EQ(models, 12);  // fixed dimensions are never capped
  EXPECT_EQ(first_hour, (std::map<std::string, int64_t>{{"s0", 1}, {"(other)", 20}}));
  EXPECT_EQ(second_hour, (std::map<std::string, int64_t>{{"s5", 6}, {"s4", 5}, {"(other)", 10}}));
}

TEST(DimensionTest, NamesRoundTrip) {
  for (Dimension d : {Dimension::kAll, Dimension::kModelCheckpoint, Dimension::kErrorType,
                      Dimension::kGenerationType}) {
    EXPECT_EQ(parse_dimension(to_string(d)), d);
  }
  EXPECT_FALSE(parse_dimension("user"));
}

}  // namespace
}  // namespace genalytics
