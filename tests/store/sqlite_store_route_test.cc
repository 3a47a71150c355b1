// SqliteStore's route tables beyond the shared suite: the v1 -> v2
// migration, atomicity, corrupt state, and the seed's per-hour columns.
#include <gtest/gtest.h>

#include "event/time.h"
#include "store/sqlite.h"
#include "store/sqlite_store.h"
#include "testing/events.h"
#include "testing/fixed_times.h"
#include "testing/route_events.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::kHour;
using testing::make_route_event;
using testing::TempDir;

int64_t count_rows(const std::string& path, const std::string& table) {
  SqliteDatabase db(path, false);
  SqliteStatement s(db.handle(), "SELECT COUNT(*) FROM " + table);
  s.step();
  return s.column_int64(0);
}

TEST(SqliteStoreRouteTest, MigratesAVersion1File) {
  TempDir dir;
  std::string path;
  std::vector<uint8_t> inserted;
  {
    SqliteStore store(dir.path());
    path = store.path();
    store.write(std::vector{testing::make_completion(kHour, true, 10)},
                                  &inserted);
  }
  {
    // What version 1 left: no route tables, no rollup sequence, no model tables.
    SqliteDatabase db(path, false);
    db.exec(
        "DROP TABLE route_analytics; DROP TABLE route_analytics_hourly; "
        "DROP TABLE rollup_sequence; DROP TABLE model_usage_events; "
        "DROP TABLE model_lifecycle_hourly; DROP TABLE model_usage_hourly; "
        "DROP TABLE model_param_hourly; DROP TABLE model_inventory; "
        "DROP TABLE model_worker_state; PRAGMA user_version = 1");
  }
  SqliteStore store(dir.path());
  {
    SqliteDatabase db(path, false);
    SqliteStatement version(db.handle(), "PRAGMA user_version");
    version.step();
    EXPECT_EQ(version.column_int64(0), SqliteStore::kSchemaVersion);
  }
  EXPECT_EQ(store.count_generation_events(), 1);
  store.write(std::vector{make_route_event(kHour, "/a")}, &inserted);
  EXPECT_EQ(inserted, std::vector<uint8_t>{1});
  ASSERT_EQ(store.read_route_rollups(kHour, kHour + kMicrosPerHour, std::nullopt).size(), 1u);
}

TEST(SqliteStoreRouteTest, FailedRouteTransactionLeavesNothingBehind) {
  TempDir dir;
  SqliteStore store(dir.path());
  std::vector<uint8_t> inserted;
  store.write(std::vector{make_route_event(kHour, "/a", 200, 10)}, &inserted);
  {
    SqliteDatabase db(store.path(), false);
    db.exec(
        "CREATE TRIGGER boom BEFORE INSERT ON route_analytics WHEN NEW.route = '/boom' "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  }
  std::vector<RouteEvent> batch = {make_route_event(kHour, "/a", 200, 20),
                                   make_route_event(kHour, "/boom", 500, 30)};
  EXPECT_THROW(store.write(batch, &inserted), StoreError);
  EXPECT_EQ(inserted, (std::vector<uint8_t>{0, 0}));
  EXPECT_EQ(count_rows(store.path(), "route_analytics"), 1);
  auto rows = store.read_route_rollups(kHour, kHour + kMicrosPerHour, std::nullopt);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bucket.requests, 1);
  EXPECT_EQ(rows[0].bucket.duration_sum, 10);
  // The store stays usable after the failure.
  batch[1].route = "/b";
  store.write(batch, &inserted);
  EXPECT_EQ(inserted, (std::vector<uint8_t>{1, 1}));
  EXPECT_EQ(count_rows(store.path(), "route_analytics"), 3);
}

TEST(SqliteStoreRouteTest, StoredSketchThatDoesNotDecodeIsCorruptNotUnavailable) {
  TempDir dir;
  SqliteStore store(dir.path());
  std::vector<uint8_t> inserted;
  store.write(std::vector{make_route_event(kHour, "/a", 200, 10, "u1")}, &inserted);
  {
    SqliteDatabase db(store.path(), false);
    db.exec("UPDATE route_analytics_hourly SET users_hll = x'ff00'");
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      if (attempt == 0) {
        store.read_route_rollups(kHour, kHour + kMicrosPerHour, std::nullopt);
      } else {
        store.write(std::vector{make_route_event(kHour, "/a", 200, 20, "u2")},
                                 &inserted);
      }
      ADD_FAILURE() << "no StoreError on attempt " << attempt;
    } catch (const StoreError& error) {
      EXPECT_EQ(error.failure(), StoreFailure::kCorrupt) << error.what();
    }
  }
  EXPECT_EQ(count_rows(store.path(), "route_analytics"), 1);
}

TEST(SqliteStoreRouteTest, SeedColumnsOfTheHourlyTableHoldEachHoursValues) {
  TempDir dir;
  SqliteStore store(dir.path());
  std::vector<RouteEvent> events;
  for (int i = 1; i <= 100; ++i) {
    RouteEvent e = make_route_event(kHour + i, "/a", i <= 80 ? 200 : (i <= 90 ? 404 : 500), i * 10,
                                    'u' + std::to_string(i % 4));
    e.request_size_bytes = i;
    if (i % 2 == 0) e.response_size_bytes = 1000;
    if (i <= 10) e.db_query_count = i;
    e.cache_status = i <= 30 ? "hit" : "miss";
    events.push_back(e);
  }
  std::vector<uint8_t> inserted;
  // Two writes: the seed columns follow the merged state, not the last delta.
  store.write(std::span(events).first(50), &inserted);
  store.write(std::span(events).subspan(50), &inserted);
  SqliteDatabase db(store.path(), false);
  SqliteStatement s(db.handle(),
                    "SELECT total_requests, successful_requests, client_errors, server_errors, "
                    "avg_duration_ms, p50_duration_ms, p99_duration_ms, unique_users, "
                    "avg_request_size_bytes, avg_response_size_bytes, avg_db_query_count, "
                    "cache_hits, cache_misses, timestamp, query_params_normalized "
                    "FROM route_analytics_hourly");
  ASSERT_TRUE(s.step());
  EXPECT_EQ(s.column_int64(0), 100);
  EXPECT_EQ(s.column_int64(1), 80);
  EXPECT_EQ(s.column_int64(2), 10);
  EXPECT_EQ(s.column_int64(3), 10);
  EXPECT_EQ(s.column_int64(4), 505);
  EXPECT_NEAR(s.column_int64(5), 500, 5);   // rank floor(0.5 * 99) = 49 -> 500
  EXPECT_NEAR(s.column_int64(6), 990, 10);  // rank floor(0.99 * 99) = 98 -> 990
  EXPECT_EQ(s.column_int64(7), 4);
  EXPECT_EQ(s.column_int64(8), 51);  // 50.5 rounded
  EXPECT_EQ(s.column_int64(9), 1000);
  EXPECT_DOUBLE_EQ(s.column_double(10), 5.5);
  EXPECT_EQ(s.column_int64(11), 30);
  EXPECT_EQ(s.column_int64(12), 70);
  EXPECT_EQ(s.column_text(13), format_rfc3339_micros(kHour));
  EXPECT_EQ(s.column_text(14), "{}");
  EXPECT_FALSE(s.step());
}

}  // namespace
}  // namespace genalytics
