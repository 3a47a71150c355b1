// Over 400 lines: one contract suite, every case of which both stores must
// pass; splitting it would split that contract across files.
#include "store/store_suite.h"

#include <algorithm>
#include <map>
#include <string>

#include "event/time.h"
#include "rollup/dimension_cap.h"
#include "store/generation_rollup_columns.h"
#include "testing/events.h"
#include "testing/temp_dir.h"

namespace genalytics::testing {
namespace {

// 300 events over 5 hours: every event type, three models, two generation
// types, failures with more distinct messages than a bucket keeps, and every
// measure a bucket sums, each with its own values (a store that swapped two
// columns would not pass).
std::vector<GenerationEvent> sample_events() {
  std::vector<GenerationEvent> events;
  const char* models[] = {"sdxl", "flux", "sd15"};
  for (int i = 0; i < 300; ++i) {
    const int64_t t = kBase + (i % 5) * kMicrosPerHour + i * 1000;
    const std::string user = "00000000-0000-4000-8000-0000000000" + std::to_string(10 + i % 20);
    GenerationEvent e;
    if (i % 3 == 0) {
      e = make_event(GenerationEventType::kRequest, t, user);
      e.model_checkpoint = models[i % 3];
    } else if (i % 11 == 1) {
      e = make_event(GenerationEventType::kStart, t, user);
    } else if (i % 13 == 2) {
      e = make_event(GenerationEventType::kCancellation, t, user);
    } else {
      e = make_completion(t, i % 4 != 0, 50 + i, user, models[i % 3],
                          i % 8 == 0 ? "oom" : "timeout");
      if (e.error_message) *e.error_message += " at step " + std::to_string(i % 7);
      e.queue_wait_time_ms = 5 + i % 13;
      e.generation_time_ms = 40 + 3 * i;
      e.batch_size = 1 + i % 4;
    }
    if (i % 2 == 0) e.generation_type = i % 4 == 0 ? "txt2img" : "img2img";
    if (i % 5 != 2) e.queue_length = i % 9;
    // Attributes as the decoder stores them (compact, keys sorted): open
    // dimensions with string, number and boolean values.
    const char* styles[] = {"anime", "photo", "oil", "sketch"};
    if (i % 6 != 5) {
      e.attributes_json = std::string(R"({"client":")") + (i % 2 == 0 ? "web" : "ios") +
                          R"(","draft":)" + (i % 7 == 0 ? "true" : "false") +
                          R"(,"steps":)" + std::to_string(20 + 10 * (i % 3)) +
                          R"(,"style":")" + styles[i % 4] + R"("})";
    }
    events.push_back(e);
  }
  return events;
}

// The exact per-(hour, dimension, value) counts of `events`.
RollupBuckets exact_rollups(const std::vector<GenerationEvent>& events) {
  RollupDelta delta;
  for (const auto& e : events) delta.add(e);
  return delta.buckets();
}

// The dimensions sample_events() rolls up under.
std::vector<Dimension> sample_dimensions() {
  std::vector<Dimension> dimensions(std::begin(kFixedDimensions), std::end(kFixedDimensions));
  for (const char* key : {"client", "draft", "steps", "style"}) {
    dimensions.push_back(*Dimension::attribute(key));
  }
  return dimensions;
}

// The rows of `d` in the day around kBase, through read_rollups or, with
// `visit`, through visit_rollups (which a store may answer from memory).
std::vector<RollupRow> all_rows(const Store& store, Dimension d, bool visit) {
  if (!visit) {
    return store.read_rollups(d, kBase - kMicrosPerDay, kBase + kMicrosPerDay, std::nullopt,
                              RollupColumns{true, true, true});
  }
  std::vector<RollupRow> rows;
  store.visit_rollups(d, kBase - kMicrosPerDay, kBase + kMicrosPerDay, std::nullopt,
                      RollupColumns{true, true, true},
                      [&](const RollupRow& row) { rows.push_back(row); });
  return rows;
}

// Every field of `b`, for failure messages.
std::string describe(const RollupBucket& b) {
  std::string text;
  const auto fields = generation_columns::counters(b);
  for (int i = 0; i < generation_columns::kCounterCount; ++i) {
    text += std::string(generation_columns::kCounters[i]) + "=" + std::to_string(*fields[i]) + " ";
  }
  text += "durations.count=" + std::to_string(b.durations.count()) +
          " users=" + std::to_string(b.users.estimate()) + " sample_messages=[";
  for (const std::string& m : b.sample_messages) text += m + ";";
  return text + "]";
}

// Expects the store's rollup rows, through read_rollups and visit_rollups,
// to be exactly (every key and every bucket field) the in-memory rollup of
// `events`, in key order.
void expect_rollups_equal(const Store& store, const std::vector<GenerationEvent>& events,
                          bool visit = false) {
  if (!visit) expect_rollups_equal(store, events, true);
  const auto expected = exact_rollups(events);
  size_t rows_compared = 0;
  for (const Dimension& d : sample_dimensions()) {
    std::vector<RollupRow> want;
    for (const auto& [key, bucket] : expected) {
      if (key.dimension == d) want.push_back(RollupRow{key, bucket});
    }
    const auto rows = all_rows(store, d, visit);
    ASSERT_EQ(rows.size(), want.size()) << to_string(d);
    for (size_t i = 0; i < rows.size(); ++i) {
      SCOPED_TRACE(std::string(to_string(d)) + " " + want[i].key.value + " hour " +
                   std::to_string(want[i].key.hour_us));
      ASSERT_TRUE(rows[i].key == want[i].key) << "got " << rows[i].key.value << " at "
                                              << rows[i].key.hour_us;
      EXPECT_TRUE(rows[i].bucket == want[i].bucket)
          << "got  " << describe(rows[i].bucket) << "\nwant " << describe(want[i].bucket);
    }
    rows_compared += rows.size();
  }
  EXPECT_EQ(rows_compared, expected.size());  // no dimension left out
}

TEST_P(StoreSuite, WritesEventsAndExactRollups) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto events = sample_events();
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 300);
  EXPECT_EQ(store->count_generation_events(), 300);
  expect_rollups_equal(*store, events);
}

TEST_P(StoreSuite, RollupsOfSeveralWritesEqualOneWrite) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto events = sample_events();
  std::vector<uint8_t> inserted;
  for (size_t i = 0; i < events.size(); i += 7) {
    const size_t end = std::min(events.size(), i + 7);
    std::vector<GenerationEvent> part(events.begin() + i, events.begin() + end);
    store->write(part, &inserted);
    // Reading between the writes: whatever a store keeps in memory must
    // follow every write.
    if (i % 35 == 0) {
      expect_rollups_equal(*store, std::vector<GenerationEvent>(events.begin(), events.begin() + end));
    }
  }
  expect_rollups_equal(*store, events);
}

TEST_P(StoreSuite, VisitRollupsHonoursWindowValueAndOrder) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto events = sample_events();
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  auto visit = [&](Dimension d, int64_t start, int64_t end, std::optional<std::string> value) {
    std::vector<RollupKey> keys;
    store->visit_rollups(d, start, end, value, RollupColumns{},
                         [&](const RollupRow& row) { keys.push_back(row.key); });
    return keys;
  };
  auto read = [&](Dimension d, int64_t start, int64_t end, std::optional<std::string> value) {
    std::vector<RollupKey> keys;
    for (const RollupRow& row : store->read_rollups(d, start, end, value, RollupColumns{})) {
      keys.push_back(row.key);
    }
    return keys;
  };
  // Twice each: the second may come from memory. Windows that start and end
  // inside an hour hold the hours that start within them.
  for (int pass = 0; pass < 2; ++pass) {
    for (auto [start, end] : {std::pair{kBase, kBase + kMicrosPerDay},
                              std::pair{kBase + kMicrosPerHour, kBase + 3 * kMicrosPerHour},
                              std::pair{kBase + 1, kBase + 2 * kMicrosPerHour + 1},
                              std::pair{kBase + 3 * kMicrosPerHour, kBase + kMicrosPerHour}}) {
      for (Dimension d : {Dimension::kAll, Dimension::kModelCheckpoint, Dimension::kErrorType}) {
        EXPECT_EQ(visit(d, start, end, std::nullopt), read(d, start, end, std::nullopt));
      }
      auto flux = visit(Dimension::kModelCheckpoint, start, end, std::string("flux"));
      EXPECT_EQ(flux, read(Dimension::kModelCheckpoint, start, end, std::string("flux")));
      for (const RollupKey& key : flux) EXPECT_EQ(key.value, "flux");
    }
  }
  EXPECT_EQ(visit(Dimension::kAll, kBase + kMicrosPerHour, kBase + 3 * kMicrosPerHour,
                  std::nullopt).size(), 2u);
}

TEST_P(StoreSuite, DuplicateEventIdsChangeNothing) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto events = sample_events();
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  // A replay of everything, plus a duplicate inside one batch.
  std::vector<GenerationEvent> replay = events;
  GenerationEvent fresh = make_completion(kBase, true, 10);
  replay.push_back(fresh);
  replay.push_back(fresh);
  store->write(replay, &inserted);
  EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 1);
  EXPECT_EQ(inserted[events.size()], 1);
  EXPECT_EQ(inserted[events.size() + 1], 0);
  EXPECT_EQ(store->count_generation_events(), 301);
  events.push_back(fresh);
  expect_rollups_equal(*store, events);
}

TEST_P(StoreSuite, ReadRollupsHonoursWindowAndValue) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto events = sample_events();
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  auto rows = store->read_rollups(Dimension::kAll, kBase + kMicrosPerHour, kBase + 3 * kMicrosPerHour,
                                  std::nullopt, RollupColumns{});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].key.hour_us, kBase + kMicrosPerHour);
  EXPECT_EQ(rows[1].key.hour_us, kBase + 2 * kMicrosPerHour);
  auto flux = store->read_rollups(Dimension::kModelCheckpoint, kBase, kBase + kMicrosPerDay,
                                  std::string("flux"), RollupColumns{false, false, false});
  ASSERT_FALSE(flux.empty());
  for (const RollupRow& row : flux) {
    EXPECT_EQ(row.key.value, "flux");
    EXPECT_TRUE(row.bucket.durations.empty());  // not requested
  }
}

TEST_P(StoreSuite, ScanUserEventsReturnsThatUsersEventsInOrder) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto events = sample_events();
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  const std::string user = *events[3].user_id;
  std::vector<int64_t> expected;
  for (const auto& e : events) {
    if (e.user_id == user && e.timestamp_us >= kBase + kMicrosPerHour) expected.push_back(e.timestamp_us);
  }
  std::sort(expected.begin(), expected.end());
  std::vector<int64_t> seen;
  store->scan_user_events(user, kBase + kMicrosPerHour, kBase + kMicrosPerDay,
                          [&](const GenerationEvent& e) {
                            EXPECT_EQ(e.user_id, user);
                            seen.push_back(e.timestamp_us);
                          });
  EXPECT_EQ(seen, expected);
}

TEST_P(StoreSuite, ScanEventsReturnsTheWindowsEventsInOrder) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto events = sample_events();
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  const int64_t start = kBase + kMicrosPerHour, end = kBase + 3 * kMicrosPerHour;
  std::vector<std::string> expected;
  std::vector<std::pair<int64_t, std::string>> sorted;
  for (const auto& e : events) {
    if (e.timestamp_us >= start && e.timestamp_us < end) sorted.emplace_back(e.timestamp_us, e.event_id);
  }
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> expected_times, seen_times;
  for (const auto& [t, id] : sorted) expected_times.push_back(t);
  size_t completions = 0;
  store->scan_events(start, end, [&](const GenerationEvent& e) {
    seen_times.push_back(e.timestamp_us);
    EXPECT_TRUE(e.user_id.has_value());
    if (e.is_completion()) {
      ++completions;
      EXPECT_TRUE(e.duration_ms.has_value());
    }
  });
  EXPECT_EQ(seen_times, expected_times);
  EXPECT_GT(completions, 0u);
}

TEST_P(StoreSuite, StatusReportsNewestEventAndRollup) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  StoreStatus empty = store->status();
  EXPECT_FALSE(empty.last_event_us);
  EXPECT_EQ(empty.hourly_rows, 0);
  auto events = sample_events();
  std::vector<uint8_t> inserted;
  const int64_t before = now_us();
  store->write(events, &inserted);
  StoreStatus status = store->status();
  int64_t newest = 0;
  for (const auto& e : events) newest = std::max(newest, e.timestamp_us);
  EXPECT_EQ(status.last_event_us, newest);
  EXPECT_EQ(status.last_hour_rolled_up_us, floor_hour(newest));
  EXPECT_EQ(status.hourly_rows, 5);
  ASSERT_TRUE(status.last_rollup_update_us);
  EXPECT_GE(*status.last_rollup_update_us, before - kMicrosPerSecond);
  if (status.events_exact) {
    EXPECT_EQ(status.events, 300);
  }
}

TEST_P(StoreSuite, DataSurvivesReopening) {
  TempDir dir;
  auto events = sample_events();
  {
    auto store = GetParam().open(dir.path());
    std::vector<uint8_t> inserted;
    store->write(events, &inserted);
  }
  auto store = GetParam().open(dir.path());
  EXPECT_EQ(store->count_generation_events(), 300);
  expect_rollups_equal(*store, events);
}

// Open dimensions: the per-hour cap (rollup/dimension_cap.h) with the
// stores' default, kDefaultMaxValuesPerDimensionHour.
constexpr size_t kCap = kDefaultMaxValuesPerDimensionHour;

// An event of the hour at kBase whose attribute `style` is `style` and whose
// model is `model` (a fixed dimension, never capped).
GenerationEvent styled(int i, const std::string& style, const std::string& model) {
  GenerationEvent e = make_completion(kBase + i, i % 5 != 0, 100 + i,
                                      "00000000-0000-4000-8000-0000000000" + std::to_string(10 + i % 80),
                                      model, "oom");
  e.attributes_json = R"({"style":")" + style + R"("})";
  return e;
}

std::string nth_value(int i) {
  std::string digits = std::to_string(i);
  return "v" + std::string(3 - digits.size(), '0') + digits;
}

const Dimension& style() {
  static const Dimension kStyle = *Dimension::attribute("style");
  return kStyle;
}

// The rows of attribute:style in the hour at kBase, by value.
std::map<std::string, RollupBucket> style_rows(const Store& store, bool visit) {
  std::map<std::string, RollupBucket> rows;
  for (const RollupRow& row : all_rows(store, style(), visit)) {
    EXPECT_EQ(row.key.hour_us, kBase);
    rows.emplace(row.key.value, row.bucket);
  }
  return rows;
}

// Expects the style rows of the hour at kBase to be `cap_values` values of
// their own plus "(other)", adding up exactly to the hour's `all` row
// (every event of that hour has a style), through both reads.
void expect_capped_rows_add_up(const Store& store, size_t cap_values) {
  const std::vector<RollupRow> all = all_rows(store, Dimension::kAll, false);
  ASSERT_EQ(all.size(), 1u);
  for (bool visit : {false, true}) {
    const auto rows = style_rows(store, visit);
    ASSERT_EQ(rows.size(), cap_values + 1) << "visit " << visit;
    ASSERT_TRUE(rows.contains(std::string(kOtherValue)));
    RollupBucket total;
    for (const auto& [value, bucket] : rows) total.merge(bucket);
    RollupBucket want = all[0].bucket;
    // Messages are kept in first-seen order, which merging reorders.
    total.sample_messages.clear();
    want.sample_messages.clear();
    EXPECT_TRUE(total == want) << "got  " << describe(total) << "\nwant " << describe(want);
  }
}

TEST_P(StoreSuite, AttributeDimensionsAreReadAndVisitedByName) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto events = sample_events();
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  const auto expected = exact_rollups(events);
  for (bool visit : {false, true}) {
    std::vector<RollupRow> anime;
    if (visit) {
      store->visit_rollups(style(), kBase, kBase + kMicrosPerDay, std::string("anime"),
                           RollupColumns{true, true, true},
                           [&](const RollupRow& row) { anime.push_back(row); });
    } else {
      anime = store->read_rollups(style(), kBase, kBase + kMicrosPerDay, std::string("anime"),
                                  RollupColumns{true, true, true});
    }
    ASSERT_EQ(anime.size(), 5u);  // one per hour
    for (const RollupRow& row : anime) {
      EXPECT_EQ(to_string(row.key.dimension), "attribute:style");
      EXPECT_EQ(row.key.value, "anime");
      EXPECT_TRUE(row.bucket == expected.at(row.key)) << describe(row.bucket);
    }
  }
  // A number's and a boolean's values are their JSON text.
  auto steps = store->read_rollups(*parse_dimension("attribute:steps"), kBase, kBase + kMicrosPerHour,
                                   std::nullopt, RollupColumns{});
  std::vector<std::string> values;
  for (const RollupRow& row : steps) values.push_back(row.key.value);
  EXPECT_EQ(values, (std::vector<std::string>{"20", "30", "40"}));
  EXPECT_FALSE(store->read_rollups(*Dimension::attribute("draft"), kBase, kBase + kMicrosPerDay,
                                   std::string("true"), RollupColumns{}).empty());
  EXPECT_TRUE(store->read_rollups(*Dimension::attribute("absent"), kBase, kBase + kMicrosPerDay,
                                  std::nullopt, RollupColumns{}).empty());
}

TEST_P(StoreSuite, MoreAttributeValuesThanTheCapInAnHourKeepTheCapAndFoldTheRestIntoOther) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  // 150 values in one write: value i is sent 1 + i % 4 times, and every
  // event has a model of its own (fixed dimensions are not capped).
  std::vector<GenerationEvent> events;
  std::map<std::string, int64_t> weight;
  for (int i = 0; i < 150; ++i) {
    for (int repeat = 0; repeat <= i % 4; ++repeat) {
      events.push_back(styled(static_cast<int>(events.size()), nth_value(i),
                              "model" + std::to_string(events.size())));
      ++weight[nth_value(i)];
    }
  }
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  expect_capped_rows_add_up(*store, kCap);
  // The values kept are the heaviest, then the first in byte order, each
  // with exactly its own events.
  std::vector<std::pair<int64_t, std::string>> ranked;
  for (const auto& [value, n] : weight) ranked.emplace_back(-n, value);
  std::sort(ranked.begin(), ranked.end());
  const auto rows = style_rows(*store, false);
  for (size_t i = 0; i < ranked.size(); ++i) {
    const std::string& value = ranked[i].second;
    if (i < kCap) {
      ASSERT_TRUE(rows.contains(value)) << value;
      EXPECT_EQ(rows.at(value).event_count, weight.at(value)) << value;
    } else {
      EXPECT_FALSE(rows.contains(value)) << value;
    }
  }
  EXPECT_EQ(all_rows(*store, Dimension::kModelCheckpoint, false).size(), events.size());
}

TEST_P(StoreSuite, TheCapHoldsAcrossWritesAndReopeningAndStoredValuesKeepMerging) {
  TempDir dir;
  std::vector<GenerationEvent> events;
  auto write = [&](Store& store, int first_value, int last_value) {
    std::vector<GenerationEvent> batch;
    for (int i = first_value; i < last_value; ++i) {
      batch.push_back(styled(static_cast<int>(events.size() + batch.size()), nth_value(i), "sdxl"));
    }
    std::vector<uint8_t> inserted;
    store.write(batch, &inserted);
    events.insert(events.end(), batch.begin(), batch.end());
  };
  {
    auto store = GetParam().open(dir.path());
    // 130 values, 13 at a time: the first 100 get rows, the rest "(other)".
    for (int i = 0; i < 130; i += 13) write(*store, i, i + 13);
    expect_capped_rows_add_up(*store, kCap);
    const auto rows = style_rows(*store, false);
    EXPECT_TRUE(rows.contains(nth_value(99)));
    EXPECT_FALSE(rows.contains(nth_value(100)));
    EXPECT_EQ(rows.at(std::string(kOtherValue)).event_count, 30);
  }
  // After reopening: a stored value keeps merging, a new one is folded.
  auto store = GetParam().open(dir.path());
  write(*store, 0, 1);
  write(*store, 140, 141);
  expect_capped_rows_add_up(*store, kCap);
  const auto rows = style_rows(*store, true);
  EXPECT_EQ(rows.at(nth_value(0)).event_count, 2);
  EXPECT_FALSE(rows.contains(nth_value(140)));
  EXPECT_EQ(rows.at(std::string(kOtherValue)).event_count, 31);
}

}  // namespace
}  // namespace genalytics::testing
