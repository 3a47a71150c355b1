#include "store/store_suite.h"

#include <algorithm>
#include <map>

#include "event/time.h"
#include "testing/events.h"
#include "testing/temp_dir.h"

namespace genalytics::testing {
namespace {

constexpr int64_t kBase = 1'750'000'000'000'000 / kMicrosPerDay * kMicrosPerDay;

std::vector<GenerationEvent> sample_events() {
  std::vector<GenerationEvent> events;
  const char* models[] = {"sdxl", "flux", "sd15"};
  for (int i = 0; i < 300; ++i) {
    const int64_t t = kBase + (i % 5) * kMicrosPerHour + i * 1000;
    const std::string user = "00000000-0000-4000-8000-0000000000" + std::to_string(10 + i % 20);
    if (i % 3 == 0) {
      GenerationEvent e = make_event(GenerationEventType::kRequest, t, user);
      e.model_checkpoint = models[i % 3];
      events.push_back(e);
    } else {
      events.push_back(make_completion(t, i % 4 != 0, 50 + i, user, models[i % 3],
                                       i % 8 == 0 ? "oom" : "timeout"));
    }
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

void expect_rollups_equal(const Store& store, const std::vector<GenerationEvent>& events,
                          bool visit = false) {
  if (!visit) expect_rollups_equal(store, events, true);
  const auto expected = exact_rollups(events);
  for (Dimension d : {Dimension::kAll, Dimension::kModelCheckpoint, Dimension::kErrorType,
                      Dimension::kGenerationType}) {
    auto rows = all_rows(store, d, visit);
    ASSERT_TRUE(std::is_sorted(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
      return a.key < b.key;
    })) << to_string(d);
    size_t expected_rows = 0;
    for (const auto& [key, bucket] : expected) expected_rows += key.dimension == d;
    ASSERT_EQ(rows.size(), expected_rows) << to_string(d);
    for (const RollupRow& row : rows) {
      auto it = expected.find(row.key);
      ASSERT_NE(it, expected.end()) << to_string(d) << " " << row.key.value;
      const RollupBucket& want = it->second;
      EXPECT_EQ(row.bucket.event_count, want.event_count);
      EXPECT_EQ(row.bucket.requests, want.requests);
      EXPECT_EQ(row.bucket.successes, want.successes);
      EXPECT_EQ(row.bucket.failures, want.failures);
      EXPECT_EQ(row.bucket.duration_sum, want.duration_sum);
      EXPECT_TRUE(row.bucket.durations == want.durations);
      EXPECT_EQ(row.bucket.users.estimate(), want.users.estimate());
      EXPECT_EQ(row.bucket.sample_messages, want.sample_messages);
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
