#include "store/sqlite_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "event/time.h"
#include "store/sqlite.h"
#include "store/store_suite.h"
#include "testing/events.h"
#include "testing/fixed_times.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::kHour;
using testing::StoreFactory;
using testing::StoreSuite;
using testing::TempDir;

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreSuite,
                         ::testing::Values(StoreFactory{"sqlite", [](const std::string& dir) {
                                                          return std::unique_ptr<Store>(
                                                              std::make_unique<SqliteStore>(dir));
                                                        }}),
                         [](const auto& info) { return info.param.name; });

TEST(SqliteStoreTest, FailedTransactionLeavesNothingBehind) {
  TempDir dir;
  SqliteStore store(dir.path());
  std::vector<uint8_t> inserted;
  store.write(std::vector{testing::make_completion(kHour, true, 10)}, &inserted);
  {
    SqliteDatabase db(store.path(), false);
    db.exec(
        "CREATE TRIGGER boom BEFORE INSERT ON generation_events WHEN NEW.generation_type = 'boom' "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  }
  std::vector<GenerationEvent> batch = {testing::make_completion(kHour, true, 20),
                                        testing::make_completion(kHour, false, 30)};
  batch[1].generation_type = "boom";
  EXPECT_THROW(store.write(batch, &inserted), StoreError);
  EXPECT_EQ(inserted, (std::vector<uint8_t>{0, 0}));
  EXPECT_EQ(store.count_generation_events(), 1);
  auto rows = store.read_rollups(Dimension::kAll, kHour, kHour + kMicrosPerHour, std::nullopt, {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bucket.successes, 1);
  EXPECT_EQ(rows[0].bucket.duration_sum, 10);
  // The store stays usable after the failure.
  batch[1].generation_type.reset();
  store.write(batch, &inserted);
  EXPECT_EQ(store.count_generation_events(), 3);
}

TEST(SqliteStoreTest, SeedColumnsOfTheHourlyTableHoldEachHoursValues) {
  TempDir dir;
  SqliteStore store(dir.path());
  std::vector<GenerationEvent> events;
  for (int i = 1; i <= 100; ++i) events.push_back(testing::make_completion(kHour, i <= 90, i * 10, 'u' + std::to_string(i % 4)));
  std::vector<uint8_t> inserted;
  store.write(events, &inserted);
  SqliteDatabase db(store.path(), false);
  SqliteStatement s(db.handle(),
                    "SELECT successful_generations, failed_generations, avg_duration_ms, "
                    "p50_duration_ms, p99_duration_ms, unique_users FROM generation_metrics_hourly");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.column_int64(0), 90);
  EXPECT_EQ(s.column_int64(1), 10);
  EXPECT_EQ(s.column_int64(2), 505);
  EXPECT_NEAR(s.column_int64(3), 500, 5);   // rank floor(0.5 * 99) = 49 -> 500
  EXPECT_NEAR(s.column_int64(4), 990, 10);  // rank floor(0.99 * 99) = 98 -> 990
  EXPECT_EQ(s.column_int64(5), 4);
}

// Runs `f`, expecting it to throw StoreError(kCorrupt): retrying cannot help.
template <typename F>
void expect_corrupt(F&& f) {
  try {
    f();
    ADD_FAILURE() << "no StoreError";
  } catch (const StoreError& error) {
    EXPECT_EQ(error.failure(), StoreFailure::kCorrupt) << error.what();
    EXPECT_FALSE(error.retryable());
  }
}

TEST(SqliteStoreTest, StoredSketchThatDoesNotDecodeIsCorruptNotUnavailable) {
  TempDir dir;
  SqliteStore store(dir.path(), SqliteStoreOptions{.rollup_cache_bytes = 0});
  std::vector<uint8_t> inserted;
  store.write(
      std::vector{testing::make_completion(kHour, false, 10, "u1", "sdxl", "oom")}, &inserted);
  {
    SqliteDatabase db(store.path(), false);
    db.exec("UPDATE generation_metrics_hourly SET duration_sketch = x'ff00'");
    db.exec("UPDATE generation_dimension_hourly SET users_hll = x'ff00' "
            "WHERE dimension = 'model_checkpoint'");
  }
  const int64_t end = kHour + kMicrosPerHour;
  expect_corrupt([&] { store.read_rollups(Dimension::kAll, kHour, end, std::nullopt, {}); });
  expect_corrupt([&] {
    store.visit_rollups(Dimension::kModelCheckpoint, kHour, end, std::nullopt, {},
                        [](const RollupRow&) {});
  });
  // A write that must merge into the corrupt row fails whole, and says why.
  expect_corrupt([&] {
    store.write(std::vector{testing::make_completion(kHour, true, 20)},
                                  &inserted);
  });
  EXPECT_EQ(inserted, std::vector<uint8_t>{0});
  EXPECT_EQ(store.count_generation_events(), 1);
  // The parts not asked for are not decoded.
  EXPECT_EQ(store.read_rollups(Dimension::kModelCheckpoint, kHour, end, std::nullopt,
                               RollupColumns{true, false, false}).size(), 1u);
}

TEST(SqliteStoreTest, SampleMessagesThatAreNotAJsonArrayAreCorruptNotUnavailable) {
  TempDir dir;
  SqliteStore store(dir.path());
  std::vector<uint8_t> inserted;
  store.write(
      std::vector{testing::make_completion(kHour, false, 10, "u1", "sdxl", "oom")}, &inserted);
  {
    SqliteDatabase db(store.path(), false);
    db.exec("UPDATE generation_dimension_hourly SET sample_messages = '{\"not\": \"an array\"}' "
            "WHERE dimension = 'error_type'");
  }
  expect_corrupt([&] {
    store.read_rollups(Dimension::kErrorType, kHour, kHour + kMicrosPerHour, std::nullopt,
                       RollupColumns{true, true, true});
  });
}

TEST(SqliteStoreTest, RefusesANewerSchema) {
  TempDir dir;
  std::string path;
  {
    SqliteStore store(dir.path());
    path = store.path();
  }
  {
    SqliteDatabase db(path, false);
    db.exec("PRAGMA user_version = 99");
  }
  EXPECT_THROW(SqliteStore store(dir.path()), StoreError);
}

// The models answer for hour kHour as visit_rollups gives it: model -> successes.
std::map<std::string, int64_t> visited_successes(const Store& store) {
  std::map<std::string, int64_t> out;
  store.visit_rollups(Dimension::kModelCheckpoint, kHour, kHour + 2 * kMicrosPerHour, std::nullopt,
                      RollupColumns{}, [&](const RollupRow& row) {
                        out[row.key.value] += row.bucket.successes;
                      });
  return out;
}

TEST(SqliteStoreTest, RollupCacheServesRepeatedReadsFromMemory) {
  TempDir dir;
  SqliteStore store(dir.path());
  std::vector<uint8_t> inserted;
  store.write(
      std::vector{testing::make_completion(kHour, true, 10, "", "sdxl"),
                  testing::make_completion(kHour + kMicrosPerHour, true, 20, "", "flux")},
      &inserted);
  EXPECT_EQ(visited_successes(store), (std::map<std::string, int64_t>{{"flux", 1}, {"sdxl", 1}}));
  const auto cold = store.rollup_cache_stats();
  EXPECT_EQ(cold.misses, 2u);
  EXPECT_EQ(cold.entries, 2u);
  EXPECT_EQ(visited_successes(store), (std::map<std::string, int64_t>{{"flux", 1}, {"sdxl", 1}}));
  EXPECT_EQ(store.rollup_cache_stats().hits, 2u);
  // A write to the second hour drops that hour only.
  store.write(
      std::vector{testing::make_completion(kHour + kMicrosPerHour, true, 30, "", "flux")}, &inserted);
  EXPECT_EQ(visited_successes(store), (std::map<std::string, int64_t>{{"flux", 2}, {"sdxl", 1}}));
  const auto warm = store.rollup_cache_stats();
  EXPECT_EQ(warm.hits, 3u);
  EXPECT_EQ(warm.misses, 3u);
  EXPECT_EQ(warm.resets, 0u);
}

TEST(SqliteStoreTest, RollupCacheFollowsWritesOfAnotherProcess) {
  // Two stores on one file, each with its own cache: what `genalytics ingest`
  // beside a running server does.
  TempDir dir;
  SqliteStore server(dir.path());
  SqliteStore other(dir.path());
  std::vector<uint8_t> inserted;
  server.write(std::vector{testing::make_completion(kHour, true, 10, "", "sdxl")},
                                 &inserted);
  EXPECT_EQ(visited_successes(server), (std::map<std::string, int64_t>{{"sdxl", 1}}));
  EXPECT_EQ(visited_successes(server), (std::map<std::string, int64_t>{{"sdxl", 1}}));
  other.write(std::vector{testing::make_completion(kHour, true, 10, "", "sdxl")},
                                &inserted);
  EXPECT_EQ(visited_successes(server), (std::map<std::string, int64_t>{{"sdxl", 2}}));
  EXPECT_EQ(server.rollup_cache_stats().resets, 1u);
  // And the server's own writes after that.
  server.write(std::vector{testing::make_completion(kHour, true, 10, "", "sdxl")},
                                 &inserted);
  EXPECT_EQ(visited_successes(server), (std::map<std::string, int64_t>{{"sdxl", 3}}));
  EXPECT_EQ(visited_successes(other), (std::map<std::string, int64_t>{{"sdxl", 3}}));
}

TEST(SqliteStoreTest, RollupCacheCanBeTurnedOff) {
  TempDir dir;
  SqliteStore store(dir.path(), SqliteStoreOptions{.rollup_cache_bytes = 0});
  std::vector<uint8_t> inserted;
  store.write(std::vector{testing::make_completion(kHour, true, 10, "", "sdxl")},
                                &inserted);
  EXPECT_EQ(visited_successes(store), (std::map<std::string, int64_t>{{"sdxl", 1}}));
  EXPECT_EQ(visited_successes(store), (std::map<std::string, int64_t>{{"sdxl", 1}}));
  EXPECT_EQ(store.rollup_cache_stats().entries, 0u);
}

TEST(SqliteStoreTest, CheckpointsTheWalOffTheWritersThread) {
  TempDir dir;
  std::vector<GenerationEvent> all;
  {
    SqliteStore store(dir.path(), SqliteStoreOptions{.checkpoint_pages = 8});
    std::vector<uint8_t> inserted;
    for (int batch = 0; batch < 20; ++batch) {
      std::vector<GenerationEvent> events;
      for (int i = 0; i < 200; ++i) {
        events.push_back(testing::make_completion(kHour + batch * kMicrosPerHour, true, i));
      }
      store.write(events, &inserted);
      all.insert(all.end(), events.begin(), events.end());
    }
    for (int i = 0; i < 400 && store.wal_checkpoints() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_GT(store.wal_checkpoints(), 0u);
  }
  // Everything is there after reopening.
  SqliteStore reopened(dir.path());
  EXPECT_EQ(reopened.count_generation_events(), 4000);
  auto rows = reopened.read_rollups(Dimension::kAll, kHour, kHour + 20 * kMicrosPerHour,
                                    std::nullopt, {});
  ASSERT_EQ(rows.size(), 20u);
  for (const RollupRow& row : rows) EXPECT_EQ(row.bucket.successes, 200);
}

}  // namespace
}  // namespace genalytics
