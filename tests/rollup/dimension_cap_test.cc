#include "rollup/dimension_cap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "event/time.h"
#include "rollup/rollup_bucket.h"
#include "testing/events.h"
#include "testing/fixed_times.h"

namespace genalytics {
namespace {

using testing::kHour;
using testing::make_completion;

std::vector<bool> admit(std::vector<std::string> stored, std::vector<ValueWeight> candidates,
                        size_t cap) {
  return admit_values(stored, candidates, cap);
}

TEST(DimensionCapTest, StoredValuesKeepMergingAndNewOnesFillTheRoomLargestFirst) {
  // Two stored of a cap of 4: room for two new values, the two largest.
  EXPECT_EQ(admit({"anime", "photo"},
                  {{"anime", 1}, {"cartoon", 5}, {"oil", 9}, {"photo", 1}, {"sketch", 2}}, 4),
            (std::vector<bool>{true, true, true, true, false}));
  // Equal weights: byte order decides, whatever order candidates come in.
  EXPECT_EQ(admit({}, {{"b", 3}, {"a", 3}, {"c", 3}}, 2), (std::vector<bool>{true, true, false}));
  EXPECT_EQ(admit({}, {{"c", 3}, {"B", 3}, {"a", 3}}, 2), (std::vector<bool>{false, true, true}));
}

TEST(DimensionCapTest, OtherDoesNotCountTowardTheCapAndIsAlwaysItsOwnRow) {
  EXPECT_EQ(admit({"(other)", "a"}, {{"b", 1}, {"c", 1}}, 2), (std::vector<bool>{true, false}));
  EXPECT_EQ(admit({"a", "b"}, {{"(other)", 7}, {"c", 1}}, 2), (std::vector<bool>{true, false}));
}

TEST(DimensionCapTest, AnHourOverALoweredCapAdmitsNothingNewButKeepsItsValues) {
  EXPECT_EQ(admit({"a", "b", "c"}, {{"a", 1}, {"c", 1}, {"d", 100}}, 2),
            (std::vector<bool>{true, true, false}));
  EXPECT_EQ(admit({}, {{"a", 1}}, 0), (std::vector<bool>{false}));
}

int64_t events_of(const RollupBucket& bucket) { return bucket.event_count; }

RollupBucket merged(const std::map<RollupKey, RollupBucket>& rows) {
  RollupBucket total;
  for (const auto& [key, bucket] : rows) total.merge(bucket);
  total.sample_messages.clear();  // first-seen order depends on merge order
  return total;
}

// One hour of one dimension, folded delta by delta as a store does.
TEST(DimensionCapTest, FoldedRowsAddUpExactlyToTheUnfoldedEventsAndStayUnderTheCap) {
  std::mt19937_64 random(9);
  for (size_t cap : {size_t{0}, size_t{1}, size_t{3}, size_t{10}, size_t{100}}) {
    SCOPED_TRACE(cap);
    std::map<RollupKey, RollupBucket> stored;  // the store's rows of this hour
    std::map<RollupKey, RollupBucket> unfolded;
    for (int batch = 0; batch < 20; ++batch) {
      std::map<RollupKey, RollupBucket> delta;
      for (int e = 0; e < 200; ++e) {
        // A long tail of values: a few frequent, hundreds seen once or twice.
        const uint64_t rank = std::min<uint64_t>(random() % 400, random() % 400);
        const std::string value = rank == 0 ? std::string(kOtherValue) : 'v' + std::to_string(rank);
        GenerationEvent event =
            make_completion(kHour + e, random() % 4 != 0, static_cast<int64_t>(random() % 60'000),
                            'u' + std::to_string(random() % 50), "", "oom");
        event.queue_length = static_cast<int64_t>(random() % 30);
        const RollupKey key{kHour, Dimension::kModelCheckpoint, value};
        delta[key].add(event);
        unfolded[key].add(event);
      }
      std::vector<std::string> values;
      for (const auto& [key, bucket] : stored) values.push_back(key.value);
      std::map<std::string, int64_t> fresh;  // new values of this delta, by weight
      for (const auto& [key, bucket] : delta) {
        if (key.value != kOtherValue && !stored.contains(key))
          fresh[key.value] = bucket.event_count;
      }
      fold_to_cap(&delta, delta.begin(), delta.end(), values, cap, events_of);

      // Admitted: no more than the room, and never lighter than one folded.
      size_t admitted = 0;
      int64_t lightest_admitted = INT64_MAX, heaviest_folded = 0;
      for (const auto& [value, weight] : fresh) {
        if (delta.contains(RollupKey{kHour, Dimension::kModelCheckpoint, value})) {
          ++admitted;
          lightest_admitted = std::min(lightest_admitted, weight);
        } else {
          heaviest_folded = std::max(heaviest_folded, weight);
        }
      }
      const size_t stored_real =
          values.size() - std::count(values.begin(), values.end(), kOtherValue);
      EXPECT_LE(admitted, cap > stored_real ? cap - stored_real : 0);
      EXPECT_GE(lightest_admitted, heaviest_folded);
      for (auto& [key, bucket] : delta) stored[key].merge(bucket);

      size_t real = 0;
      for (const auto& [key, bucket] : stored) real += key.value != kOtherValue;
      EXPECT_LE(real, cap);
      EXPECT_LE(stored.size(), cap + 1);
      EXPECT_EQ(merged(stored), merged(unfolded));
    }
    EXPECT_EQ(merged(stored).event_count, 20 * 200);
    // With room, the frequent values got rows of their own.
  }
}

TEST(DimensionCapTest, FoldTouchesOnlyItsGroup) {
  std::map<RollupKey, RollupBucket> delta;
  for (const char* value : {"a", "b", "c"}) {
    delta[RollupKey{kHour, Dimension::kModelCheckpoint, value}].add(
        make_completion(kHour, true, 10));
    delta[RollupKey{kHour + kMicrosPerHour, Dimension::kModelCheckpoint, value}].add(
        make_completion(kHour + kMicrosPerHour, true, 10));
  }
  delta[RollupKey{kHour, Dimension::kModelCheckpoint, "a"}].add(make_completion(kHour, true, 10));
  const auto group_end = delta.lower_bound(RollupKey{kHour + kMicrosPerHour, Dimension::kAll, ""});
  const auto next_first = group_end;
  fold_to_cap(&delta, delta.begin(), group_end, std::vector<std::string>{}, 1, events_of);

  std::vector<std::pair<int64_t, std::string>> keys;
  for (const auto& [key, bucket] : delta) keys.emplace_back(key.hour_us, key.value);
  const int64_t next = kHour + kMicrosPerHour;
  EXPECT_EQ(keys, (std::vector<std::pair<int64_t, std::string>>{
                      {kHour, "(other)"}, {kHour, "a"}, {next, "a"}, {next, "b"}, {next, "c"}}));
  EXPECT_EQ((delta.at(RollupKey{kHour, Dimension::kModelCheckpoint, "(other)"}).event_count), 2);
  EXPECT_EQ((delta.at(RollupKey{kHour, Dimension::kModelCheckpoint, "a"}).event_count), 2);
  EXPECT_EQ(next_first->first.value, "a");  // still valid
}

TEST(DimensionCapTest, AGroupThatFitsIsLeftAsItIs) {
  std::map<RollupKey, RollupBucket> delta;
  delta[RollupKey{kHour, Dimension::kModelCheckpoint, "new"}].add(make_completion(kHour, true, 1));
  fold_to_cap(&delta, delta.begin(), delta.end(), std::vector<std::string>{"x", "y"}, 3, events_of);
  ASSERT_EQ(delta.size(), 1u);
  EXPECT_EQ(delta.begin()->first.value, "new");
}

}  // namespace
}  // namespace genalytics
