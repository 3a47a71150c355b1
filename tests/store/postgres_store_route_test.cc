// PostgresStore's route tables beyond the shared suite: seed 002's SQL run
// verbatim, the seed columns, JSONB keys, concurrency, atomicity,
// partitions and the migration from version 1.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "event/time.h"
#include "rollup/route_rollup.h"
#include "store/postgres.h"
#include "store/postgres_migrations.h"
#include "store/postgres_store.h"
#include "testing/events.h"
#include "testing/postgres_server.h"
#include "testing/route_events.h"
#include "testing/store_failure.h"

namespace genalytics {
namespace {

using testing::failure_of;
using testing::kUnified;
using testing::make_route_event;
using testing::PostgresServer;
using testing::user_id;

// Copied verbatim from seed 002: "6. Cache Planning Algorithm" (Cache
// Priority Query, Peak Hours Analysis) and "7. Query Parameter Handling
// Strategy" (Cache decision example).
constexpr const char* kCachePriorityQuery =
    R"sql(-- Find routes that should be cached based on frequency + latency
-- Query last 7 days of hourly data for patterns
SELECT
    route,
    method,
    AVG(total_requests) as avg_hourly_requests,
    AVG(p95_duration_ms) as avg_p95_latency,
    AVG(unique_users) as avg_unique_users,
    -- Cache priority score: high frequency * high latency
    (AVG(total_requests) * AVG(p95_duration_ms))::BIGINT as cache_priority_score
FROM route_analytics_hourly
WHERE timestamp > NOW() - INTERVAL '7 days'
GROUP BY route, method
HAVING AVG(total_requests) > 100      -- Frequent enough to cache
    AND AVG(p95_duration_ms) > 200    -- Slow enough to benefit
ORDER BY cache_priority_score DESC
LIMIT 20;
)sql";

constexpr const char* kPeakHoursQuery = R"sql(-- Identify peak traffic hours per route
SELECT
    route,
    EXTRACT(HOUR FROM timestamp) as hour_of_day,
    AVG(total_requests) as avg_requests,
    AVG(p95_duration_ms) as avg_latency
FROM route_analytics_hourly
WHERE timestamp > NOW() - INTERVAL '30 days'
GROUP BY route, hour_of_day
HAVING AVG(total_requests) > 50
ORDER BY route, avg_requests DESC;
)sql";

constexpr const char* kPopularPatternsQuery = R"sql(-- Find popular query patterns for a route
SELECT
    route,
    query_params_normalized,
    SUM(total_requests) as total_requests,
    AVG(avg_duration_ms) as avg_duration
FROM route_analytics_hourly
WHERE route = '/api/v1/content/unified'
    AND timestamp > NOW() - INTERVAL '7 days'
GROUP BY route, query_params_normalized
ORDER BY total_requests DESC
LIMIT 5;
)sql";

// The three hours before the one of `now`: on the unified route two
// parameter patterns with 150 hits an hour each, 150..650 ms; on another
// route 60 quicker hits an hour.
std::vector<RouteEvent> recent_route_traffic(int64_t now) {
  std::mt19937_64 rng(11);
  const char* patterns[] = {R"({"page_size":"10","sort":"created_at"})",
                            R"({"content_types":"image","sort":"title"})"};
  std::vector<RouteEvent> events;
  for (int hour = 1; hour <= 3; ++hour) {
    const int64_t start = floor_hour(now) - hour * kMicrosPerHour;
    for (int i = 0; i < 360; ++i) {
      const int64_t t = start + static_cast<int64_t>(rng() % kMicrosPerHour);
      const bool unified = i < 300;
      RouteEvent e = make_route_event(
          t, unified ? kUnified : "/api/v1/users/{id}", rng() % 20 == 0 ? 500 : 200,
          unified ? 150 + static_cast<int64_t>(rng() % 500) : 20 + static_cast<int64_t>(rng() % 50),
          user_id(static_cast<int>(rng() % 30)));
      if (unified) {
        e.query_params_normalized_json = patterns[i % 2];
        e.query_params_json = e.query_params_normalized_json;
      }
      e.response_size_bytes = 2000 + static_cast<int64_t>(rng() % 1000);
      e.db_query_count = static_cast<int64_t>(rng() % 5);
      e.cache_status = i % 3 == 0 ? "hit" : "miss";
      events.push_back(e);
    }
  }
  return events;
}

class PostgresStoreRouteTest : public ::testing::Test {
 protected:
  // The wall clock, read once: seed 002's queries select by PostgreSQL's NOW().
  static inline const int64_t kNow = now_us();

  PostgresServer& server_ = PostgresServer::shared();
  const std::string url_ = server_.create_database();
};

TEST_F(PostgresStoreRouteTest, SeedRouteQueriesRunVerbatimOnAPopulatedStore) {
  PostgresStore store(url_);
  const auto events = recent_route_traffic(kNow);
  std::vector<uint8_t> inserted;
  store.write(events, &inserted);
  PgConnection db(url_);

  PgResult priority = db.exec(kCachePriorityQuery);
  ASSERT_EQ(priority.rows(), 1);  // only the unified route is frequent and slow enough
  EXPECT_EQ(priority.text(0, 0), kUnified);
  EXPECT_EQ(priority.text(0, 1), "GET");
  EXPECT_EQ(std::stod(std::string(priority.text(0, 2))), 150.0);
  EXPECT_GT(std::stod(std::string(priority.text(0, 3))), 200.0);

  PgResult peak = db.exec(kPeakHoursQuery);
  EXPECT_EQ(peak.rows(), 6);  // both routes in each of the three hours

  // The patterns' totals are the events', and their JSONB is the events' params.
  PgResult patterns = db.exec(kPopularPatternsQuery);
  ASSERT_EQ(patterns.rows(), 2);
  PgResult expected = db.exec(
      "SELECT query_params_normalized, COUNT(*) FROM route_analytics "
      "WHERE route = '/api/v1/content/unified' GROUP BY 1 ORDER BY 2 DESC, 1");
  ASSERT_EQ(expected.rows(), 2);
  std::map<std::string, int64_t> seed_totals, raw_totals;
  for (int r = 0; r < 2; ++r) {
    seed_totals[std::string(patterns.text(r, 1))] = patterns.int64(r, 2);
    raw_totals[std::string(expected.text(r, 0))] = expected.int64(r, 1);
  }
  EXPECT_EQ(seed_totals, raw_totals);
  for (const auto& [params, total] : seed_totals) EXPECT_EQ(total, 450) << params;
}

TEST_F(PostgresStoreRouteTest, SeedColumnsHoldEachHoursFiguresOfTheMergedState) {
  PostgresStore store(url_);
  const auto events = recent_route_traffic(kNow);
  std::vector<uint8_t> inserted;
  for (size_t i = 0; i < events.size(); i += 100) {
    store.write(std::span(events).subspan(i, std::min<size_t>(100, events.size() - i)),
                             &inserted);
  }
  const auto rows = store.read_route_rollups(kNow - kMicrosPerDay, kNow, std::nullopt);
  ASSERT_EQ(rows.size(), 9u);
  PgConnection db(url_);
  for (const RouteRollupRow& row : rows) {
    SCOPED_TRACE(row.key.route + " " + row.key.query_params_normalized_json);
    PgResult seed = db.exec(
        "SELECT total_requests, successful_requests, client_errors, server_errors, "
        "avg_duration_ms, p50_duration_ms, p95_duration_ms, p99_duration_ms, unique_users, "
        "avg_request_size_bytes, avg_response_size_bytes, avg_db_query_count, cache_hits, "
        "cache_misses FROM route_analytics_hourly WHERE timestamp = $1::timestamptz AND "
        "route = $2::text AND method = $3::text AND query_params_normalized = $4::jsonb",
        PgParams()
            .text(pg_timestamp(row.key.hour_us))
            .text(row.key.route)
            .text(row.key.method)
            .text(row.key.query_params_normalized_json));
    ASSERT_EQ(seed.rows(), 1);
    const RouteBucket& b = row.bucket;
    auto rounded = [](std::optional<double> v) { return std::llround(*v); };
    EXPECT_EQ(seed.int64(0, 0), b.requests);
    EXPECT_EQ(seed.int64(0, 1), b.successful);
    EXPECT_EQ(seed.int64(0, 2), b.client_errors);
    EXPECT_EQ(seed.int64(0, 3), b.server_errors);
    EXPECT_EQ(seed.int64(0, 4), rounded(b.avg_duration_ms()));
    EXPECT_EQ(seed.int64(0, 5), rounded(b.durations.quantile(0.5)));
    EXPECT_EQ(seed.int64(0, 6), rounded(b.durations.quantile(0.95)));
    EXPECT_EQ(seed.int64(0, 7), rounded(b.durations.quantile(0.99)));
    EXPECT_EQ(seed.int64(0, 8), static_cast<int64_t>(b.users.estimate()));
    EXPECT_TRUE(seed.is_null(0, 9));  // no event carried request_size_bytes
    EXPECT_EQ(seed.int64(0, 10), rounded(b.avg_response_size_bytes()));
    EXPECT_DOUBLE_EQ(std::stod(std::string(seed.text(0, 11))), *b.avg_db_query_count());
    EXPECT_EQ(seed.int64(0, 12), b.cache_hits);
    EXPECT_EQ(seed.int64(0, 13), b.cache_misses);
  }
}

TEST_F(PostgresStoreRouteTest, ParamsEqualAsJsonbShareOneRow) {
  PostgresStore store(url_);
  const int64_t hour = floor_hour(kNow) - kMicrosPerHour;
  RouteEvent a = make_route_event(hour, kUnified, 200, 10);
  a.query_params_normalized_json = R"({"a":"1","b":"2"})";
  RouteEvent b = make_route_event(hour + 1, kUnified, 200, 20);
  b.query_params_normalized_json = R"({"b": "2", "a": "1"})";  // not canonical
  std::vector<uint8_t> inserted;
  store.write(std::vector{a, b}, &inserted);
  EXPECT_EQ(inserted, (std::vector<uint8_t>{1, 1}));
  auto rows = store.read_route_rollups(hour, hour + kMicrosPerHour, std::nullopt);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].key.query_params_normalized_json, R"({"a":"1","b":"2"})");
  EXPECT_EQ(rows[0].bucket.requests, 2);
  EXPECT_EQ(rows[0].bucket.duration_sum, 30);
}

// A stream worker retries only unavailable failures: a row that cannot be
// read back must say corrupt, or one bad row would stall its stream forever.
TEST_F(PostgresStoreRouteTest, StoredSketchesAndParamsThatDoNotDecodeAreCorruptNotUnavailable) {
  PostgresStore store(url_);
  const int64_t hour = floor_hour(kNow) - 2 * kMicrosPerHour;
  const int64_t next = hour + kMicrosPerHour;
  std::vector<uint8_t> inserted;
  store.write(
      std::vector{make_route_event(hour, kUnified, 200, 10), make_route_event(next, kUnified)},
      &inserted);
  PgConnection db(url_);
  db.exec("UPDATE route_analytics_hourly SET users_hll = '\\xff'::bytea "
          "WHERE timestamp = $1::timestamptz",
          PgParams().text(pg_timestamp(hour)));
  db.exec("UPDATE route_analytics_hourly SET query_params_normalized = '[1]'::jsonb "
          "WHERE timestamp = $1::timestamptz",
          PgParams().text(pg_timestamp(next)));
  db.exec("UPDATE route_analytics SET query_params = '[1]'::jsonb "
          "WHERE timestamp = $1::timestamptz",
          PgParams().text(pg_timestamp(next)));
  EXPECT_EQ(failure_of([&] { store.read_route_rollups(hour, next, std::nullopt); }),
            StoreFailure::kCorrupt);
  EXPECT_EQ(failure_of([&] { store.read_route_rollups(next, next + kMicrosPerHour, kUnified); }),
            StoreFailure::kCorrupt);
  EXPECT_EQ(failure_of([&] {
              store.scan_route_events(next, next + kMicrosPerHour, [](const RouteEvent&) {});
            }),
            StoreFailure::kCorrupt);
  // A write that must merge into the corrupt row fails whole, as corrupt.
  EXPECT_EQ(failure_of([&] {
              store.write(std::vector{make_route_event(hour + 1, kUnified, 200, 10)},
                                       &inserted);
            }),
            StoreFailure::kCorrupt);
  EXPECT_EQ(inserted, std::vector<uint8_t>{0});
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM route_analytics").int64(0, 0), 2);
}

TEST_F(PostgresStoreRouteTest, DuplicatesFromConcurrentWritersAreCountedOnce) {
  const auto events = recent_route_traffic(kNow);
  PostgresStore first(url_);
  PostgresStore second(url_);
  std::vector<std::vector<uint8_t>> inserted(2, std::vector<uint8_t>(events.size()));
  auto write_all = [&](PostgresStore& store, int writer) {
    // Each writer sends everything, in its own order and batches.
    std::vector<size_t> order(events.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(writer));
    constexpr size_t kBatch = 150;
    for (size_t i = 0; i < order.size(); i += kBatch) {
      std::vector<RouteEvent> batch;
      for (size_t j = i; j < std::min(order.size(), i + kBatch); ++j) {
        batch.push_back(events[order[j]]);
      }
      std::vector<uint8_t> flags;
      store.write(batch, &flags);
      for (size_t j = 0; j < flags.size(); ++j) inserted[writer][order[i + j]] = flags[j];
    }
  };
  std::thread a([&] { write_all(first, 0); });
  std::thread b([&] { write_all(second, 1); });
  a.join();
  b.join();
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(inserted[0][i] + inserted[1][i], 1) << "event " << i;
  }
  RouteDelta exact;
  for (const RouteEvent& e : events) exact.add(e);
  const auto rows = first.read_route_rollups(kNow - kMicrosPerDay, kNow, std::nullopt);
  ASSERT_EQ(rows.size(), exact.buckets().size());
  for (const RouteRollupRow& row : rows) {
    const RouteBucket& want = exact.buckets().at(row.key);
    EXPECT_EQ(row.bucket.requests, want.requests);
    EXPECT_EQ(row.bucket.server_errors, want.server_errors);
    EXPECT_EQ(row.bucket.duration_sum, want.duration_sum);
    EXPECT_TRUE(row.bucket.durations == want.durations);
    EXPECT_TRUE(row.bucket.users == want.users);
  }
}

TEST_F(PostgresStoreRouteTest, FailedTransactionLeavesNothingBehind) {
  PostgresStore store(url_);
  const int64_t hour = floor_hour(kNow) - kMicrosPerHour;
  std::vector<uint8_t> inserted;
  store.write(std::vector{make_route_event(hour, "/a", 200, 10)}, &inserted);
  PgConnection(url_).exec(R"sql(
    CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.route = '/boom' THEN RAISE EXCEPTION 'injected failure'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER boom BEFORE INSERT ON route_analytics FOR EACH ROW EXECUTE FUNCTION boom();
  )sql");
  std::vector<RouteEvent> batch = {make_route_event(hour, "/a", 200, 20),
                                   make_route_event(hour, "/boom", 500, 30)};
  try {
    store.write(batch, &inserted);
    ADD_FAILURE() << "no error";
  } catch (const PostgresError& e) {
    EXPECT_EQ(e.sqlstate(), "P0001");
  }
  EXPECT_EQ(inserted, (std::vector<uint8_t>{0, 0}));
  auto rows = store.read_route_rollups(hour, hour + kMicrosPerHour, std::nullopt);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bucket.requests, 1);
  EXPECT_EQ(rows[0].bucket.duration_sum, 10);
  // The store stays usable after the failure.
  batch[1].route = "/b";
  store.write(batch, &inserted);
  EXPECT_EQ(inserted, (std::vector<uint8_t>{1, 1}));
  EXPECT_EQ(PgConnection(url_).exec("SELECT COUNT(*) FROM route_analytics").int64(0, 0), 3);
}

TEST_F(PostgresStoreRouteTest, RetentionDropsRoutePartitionsAndWritesSurviveIt) {
  PostgresStore writer(url_);
  PostgresStore janitor(url_);
  const int64_t old = kNow - 400 * kMicrosPerDay;
  std::vector<uint8_t> inserted;
  writer.write(std::vector{make_route_event(old, "/a", 200, 10)}, &inserted);
  EXPECT_EQ(janitor.drop_partitions_older_than(90), 1);
  // `writer` still believes the month's partition exists.
  writer.write(std::vector{make_route_event(old, "/a", 200, 20)}, &inserted);
  EXPECT_EQ(inserted, std::vector<uint8_t>{1});
  size_t scanned = 0;
  writer.scan_route_events(old - kMicrosPerDay, old + kMicrosPerDay,
                           [&](const RouteEvent&) { ++scanned; });
  EXPECT_EQ(scanned, 1u);
  // Rollups are kept.
  auto rows =
      writer.read_route_rollups(floor_hour(old), floor_hour(old) + kMicrosPerHour, std::nullopt);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bucket.duration_sum, 30);
}

TEST_F(PostgresStoreRouteTest, MigratesAVersion1Database) {
  {
    // What a version-1 build left.
    PgConnection db(url_);
    db.exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
        "applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())");
    db.exec(postgres_migrations()[0].sql);
    db.exec("INSERT INTO schema_migrations (version) VALUES (1)");
  }
  {
    PostgresStore store(url_);
    std::vector<uint8_t> inserted;
    store.write(std::vector{testing::make_completion(floor_hour(kNow), true, 10)},
                                  &inserted);
    store.write(std::vector{make_route_event(floor_hour(kNow), "/a")}, &inserted);
    EXPECT_EQ(inserted, std::vector<uint8_t>{1});
  }
  PgConnection db(url_);
  EXPECT_EQ(db.exec("SELECT MAX(version) FROM schema_migrations").int64(0, 0),
            PostgresStore::schema_version());
  // Both tables got this month's partition and the months ahead.
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM pg_inherits "
                    "WHERE inhparent = 'route_analytics'::regclass")
                .int64(0, 0),
            PostgresStore::kDefaultMonthsAhead + 1);
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM generation_events").int64(0, 0), 1);
}

}  // namespace
}  // namespace genalytics
