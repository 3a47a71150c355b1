#include "store/store_suite.h"

#include <algorithm>
#include <map>
#include <string>

#include "event/time.h"
#include "store/generation_rollup_columns.h"
#include "testing/events.h"
#include "testing/temp_dir.h"

namespace genalytics::testing {
namespace {

constexpr int64_t kBase = 1'750'000'000'000'000 / kMicrosPerDay * kMicrosPerDay;

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
    events.push_back(e);
  }
  return events;
}

// The exact per-(hour, dimension, value) counts of `events`.
std::map<RollupKey, RollupBucket> exact_rollups(const std::vector<GenerationEvent>& events) {
  RollupDelta delta;
  for (const auto& e : events) delta.add(e);
  return delta.buckets();
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
  for (Dimension d : {Dimension::kAll, Dimension::kModelCheckpoint, Dimension::kErrorType,
                      Dimension::kGenerationType}) {
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
  }
}

TEST_P(StoreSuite, WritesEventsAndExactRollups) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto events = sample_events();
  std::vector<uint8_t> inserted;
  store->write_generation_events(events, &inserted);
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
    store->write_generation_events(part, &inserted);
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
  store->write_generation_events(events, &inserted);
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
  store->write_generation_events(events, &inserted);
  // A replay of everything, plus a duplicate inside one batch.
  std::vector<GenerationEvent> replay = events;
  GenerationEvent fresh = make_completion(kBase, true, 10);
  replay.push_back(fresh);
  replay.push_back(fresh);
  store->write_generation_events(replay, &inserted);
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
  store->write_generation_events(events, &inserted);
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
  store->write_generation_events(events, &inserted);
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
  store->write_generation_events(events, &inserted);
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
  store->write_generation_events(events, &inserted);
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
    store->write_generation_events(events, &inserted);
  }
  auto store = GetParam().open(dir.path());
  EXPECT_EQ(store->count_generation_events(), 300);
  expect_rollups_equal(*store, events);
}

}  // namespace
}  // namespace genalytics::testing
