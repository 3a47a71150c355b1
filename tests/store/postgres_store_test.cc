// Over 400 lines: PostgreSQL-only behaviour (partitions, COPY batches,
// concurrent writers, migrations, the change log) on one shared server.
#include "store/postgres_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <latch>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "event/time.h"
#include "event/uuid.h"
#include "store/postgres.h"
#include "store/store_suite.h"
#include "testing/events.h"
#include "testing/postgres_server.h"
#include "testing/store_failure.h"

namespace genalytics {
namespace {

using testing::failure_of;
using testing::PostgresServer;
using testing::StoreFactory;
using testing::StoreSuite;
using testing::user_id;

// The suite opens a directory; each directory gets its own database.
std::unique_ptr<Store> open_postgres_store(const std::string& dir) {
  static std::mutex mutex;
  static std::map<std::string, std::string> urls;
  std::string url;
  {
    std::lock_guard lock(mutex);
    auto it = urls.find(dir);
    if (it == urls.end()) it = urls.emplace(dir, PostgresServer::shared().create_database()).first;
    url = it->second;
  }
  return std::make_unique<PostgresStore>(url);
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreSuite,
                         ::testing::Values(StoreFactory{"postgres", open_postgres_store}),
                         [](const auto& info) { return info.param.name; });

// Copied verbatim from the seeds: 000 "7. Analytics Queries"; 001 "Direct SQL
// Queries", "Common Analysis Patterns" (its SQL) and "Monitoring the Pipeline".
struct SeedSql {
  const char* source;
  const char* sql;
};
constexpr SeedSql kSeedSql[] = {
    {"seed 000 7. Analytics Queries",
     R"sql(-- User generation patterns
SELECT
    user_id,
    COUNT(*) as total_generations,
    AVG(duration_ms) as avg_duration,
    SUM(CASE WHEN success THEN 1 ELSE 0 END)::FLOAT / COUNT(*) as success_rate
FROM generation_events
WHERE event_type = 'completion'
    AND timestamp > NOW() - INTERVAL '30 days'
GROUP BY user_id
ORDER BY total_generations DESC;

-- Peak usage times
SELECT
    EXTRACT(HOUR FROM timestamp) as hour_of_day,
    EXTRACT(DOW FROM timestamp) as day_of_week,
    AVG(total_requests) as avg_requests
FROM generation_metrics_hourly
WHERE timestamp > NOW() - INTERVAL '90 days'
GROUP BY hour_of_day, day_of_week
ORDER BY avg_requests DESC;

-- Failure pattern analysis
SELECT
    error_type,
    COUNT(*) as occurrences,
    AVG(duration_ms) as avg_duration_before_failure,
    COUNT(DISTINCT user_id) as affected_users
FROM generation_events
WHERE event_type = 'completion'
    AND success = false
    AND timestamp > NOW() - INTERVAL '7 days'
GROUP BY error_type
ORDER BY occurrences DESC;

-- Model performance comparison
SELECT
    model_checkpoint,
    COUNT(*) as uses,
    AVG(generation_time_ms) as avg_generation_time,
    SUM(CASE WHEN success THEN 1 ELSE 0 END)::FLOAT / COUNT(*) as success_rate
FROM generation_events
WHERE event_type = 'completion'
    AND timestamp > NOW() - INTERVAL '30 days'
GROUP BY model_checkpoint
ORDER BY uses DESC;
)sql"},
    {"seed 001 Query Raw Generation Events",
     R"sql(-- Last 100 generation events
SELECT
    id,
    event_type,
    generation_id,
    user_id,
    timestamp,
    duration_ms,
    success,
    error_type,
    model_checkpoint
FROM generation_events
ORDER BY timestamp DESC
LIMIT 100;
)sql"},
    {"seed 001 Find Slow Generations",
     R"sql(-- Slow generations (> 10 seconds)
SELECT
    generation_id,
    user_id,
    timestamp,
    duration_ms,
    model_checkpoint,
    success,
    error_type
FROM generation_events
WHERE event_type = 'completion'
    AND duration_ms > 10000
ORDER BY duration_ms DESC
LIMIT 50;
)sql"},
    {"seed 001 User Activity Summary",
     R"sql(-- User generation summary (last 30 days)
SELECT
    user_id,
    COUNT(*) FILTER (WHERE event_type = 'request') as total_requests,
    COUNT(*) FILTER (WHERE event_type = 'completion' AND success = true) as successful,
    COUNT(*) FILTER (WHERE event_type = 'completion' AND success = false) as failed,
    AVG(duration_ms) FILTER (WHERE event_type = 'completion')::INTEGER as avg_duration_ms,
    MAX(timestamp) as last_generation_at
FROM generation_events
WHERE timestamp >= NOW() - INTERVAL '30 days'
GROUP BY user_id
ORDER BY total_requests DESC
LIMIT 20;
)sql"},
    {"seed 001 Hourly Metrics",
     R"sql(-- Hourly metrics for last 7 days
SELECT
    timestamp,
    total_requests,
    successful_generations,
    failed_generations,
    cancelled_generations,
    p95_duration_ms,
    unique_users,
    avg_queue_length,
    total_images_generated
FROM generation_metrics_hourly
WHERE timestamp >= NOW() - INTERVAL '7 days'
ORDER BY timestamp DESC;
)sql"},
    {"seed 001 Model Performance Analysis",
     R"sql(-- Model performance comparison (last 30 days)
SELECT
    model_checkpoint,
    COUNT(*) FILTER (WHERE event_type = 'completion') as total_generations,
    COUNT(*) FILTER (WHERE event_type = 'completion' AND success = true) as successful,
    COUNT(*) FILTER (WHERE event_type = 'completion' AND success = false) as failed,
    (COUNT(*) FILTER (WHERE event_type = 'completion' AND success = true)::FLOAT /
     NULLIF(COUNT(*) FILTER (WHERE event_type = 'completion'), 0) * 100)::NUMERIC(5,2) as success_rate_pct,
    PERCENTILE_CONT(0.50) WITHIN GROUP (ORDER BY duration_ms)::INTEGER as p50_duration_ms,
    PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY duration_ms)::INTEGER as p95_duration_ms,
    AVG(duration_ms)::INTEGER as avg_duration_ms
FROM generation_events
WHERE timestamp >= NOW() - INTERVAL '30 days'
    AND model_checkpoint IS NOT NULL
GROUP BY model_checkpoint
ORDER BY total_generations DESC;
)sql"},
    {"seed 001 Error Analysis",
     R"sql(-- Daily error breakdown (last 14 days)
SELECT
    DATE(timestamp) as day,
    error_type,
    COUNT(*) as error_count,
    AVG(duration_ms)::INTEGER as avg_duration_ms,
    array_agg(DISTINCT error_message) as sample_messages
FROM generation_events
WHERE timestamp >= NOW() - INTERVAL '14 days'
    AND event_type = 'completion'
    AND success = false
GROUP BY DATE(timestamp), error_type
ORDER BY day DESC, error_count DESC;
)sql"},
    {"seed 001 Peak Hour Analysis",
     R"sql(-- Peak hours by day of week (last 30 days)
SELECT
    EXTRACT(DOW FROM timestamp)::INTEGER as day_of_week,
    EXTRACT(HOUR FROM timestamp)::INTEGER as hour_of_day,
    AVG(total_requests) as avg_requests,
    AVG(p95_duration_ms) as avg_p95_duration,
    COUNT(*) as data_points
FROM generation_metrics_hourly
WHERE timestamp >= NOW() - INTERVAL '30 days'
GROUP BY EXTRACT(DOW FROM timestamp), EXTRACT(HOUR FROM timestamp)
ORDER BY avg_requests DESC
LIMIT 20;
)sql"},
    {"seed 001 Pattern 2: User Cohort Analysis",
     R"sql(-- New users vs experienced users (last 30 days)
WITH user_first_gen AS (
    SELECT
        user_id,
        MIN(timestamp) as first_generation_at
    FROM generation_events
    WHERE event_type = 'request'
    GROUP BY user_id
),
recent_activity AS (
    SELECT
        e.user_id,
        CASE
            WHEN u.first_generation_at >= NOW() - INTERVAL '7 days' THEN 'new'
            ELSE 'experienced'
        END as user_type,
        COUNT(*) FILTER (WHERE e.event_type = 'completion') as generations,
        AVG(e.duration_ms) FILTER (WHERE e.event_type = 'completion')::INTEGER as avg_duration,
        COUNT(*) FILTER (WHERE e.event_type = 'completion' AND e.success = true)::FLOAT /
            NULLIF(COUNT(*) FILTER (WHERE e.event_type = 'completion'), 0) as success_rate
    FROM generation_events e
    JOIN user_first_gen u ON e.user_id = u.user_id
    WHERE e.timestamp >= NOW() - INTERVAL '30 days'
    GROUP BY e.user_id, user_type
)
SELECT
    user_type,
    COUNT(DISTINCT user_id) as user_count,
    AVG(generations)::INTEGER as avg_generations_per_user,
    AVG(avg_duration)::INTEGER as avg_duration_ms,
    AVG(success_rate)::NUMERIC(4,3) as avg_success_rate
FROM recent_activity
GROUP BY user_type;
)sql"},
    {"seed 001 Monitoring the Pipeline",
     R"sql(-- Check if Redis transfer is working (events should be recent)
SELECT
    MAX(created_at) as latest_event,
    COUNT(*) as total_events,
    NOW() - MAX(created_at) as time_since_last_event
FROM generation_events;

-- Check if hourly aggregation is working
SELECT
    MAX(timestamp) as latest_hourly_metric,
    COUNT(*) as total_hours,
    NOW() - MAX(timestamp) as time_since_last_aggregation
FROM generation_metrics_hourly;

-- Verify data completeness (should have hourly rows for recent period)
SELECT
    DATE(timestamp) as day,
    COUNT(*) as hours_with_data
FROM generation_metrics_hourly
WHERE timestamp >= NOW() - INTERVAL '7 days'
GROUP BY DATE(timestamp)
ORDER BY day DESC;
)sql"},
};

const char* seed_sql(std::string_view source) {
  for (const SeedSql& s : kSeedSql) {
    if (s.source == source) return s.sql;
  }
  throw std::logic_error("no seed query " + std::string(source));
}

// Runs `sql` (one or more statements) as a simple query, as psql would;
// returns each statement's row count. Throws with the server's message.
std::vector<int> run_script(PgConnection& db, const char* sql) {
  if (PQsendQuery(db.handle(), sql) != 1) throw std::runtime_error(PQerrorMessage(db.handle()));
  std::vector<int> rows;
  std::string error;
  while (PGresult* result = PQgetResult(db.handle())) {
    PgResult owned(result);
    if (PQresultStatus(result) == PGRES_TUPLES_OK) {
      rows.push_back(owned.rows());
    } else if (error.empty()) {
      error = PQresultErrorMessage(result);
    }
  }
  if (!error.empty()) throw std::runtime_error(error);
  return rows;
}

// Generation jobs spread over the `days` days before `now`: request, start,
// then a completion (some failed, with error types and messages) or a
// cancellation, as the seeds' producers emit them.
std::vector<GenerationEvent> recent_traffic(int64_t now, int days, int jobs) {
  std::mt19937_64 rng(7);
  const char* models[] = {"illustriousXL_v01", "sdxl_base", "flux_dev"};
  const char* types[] = {"standard", "batch", "priority"};
  const std::pair<const char*, const char*> errors[] = {
      {"oom", "CUDA out of memory"},
      {"timeout", "generation timed out after 120s"},
      {"nsfw", "blocked"}};
  std::vector<GenerationEvent> events;
  for (int job = 0; job < jobs; ++job) {
    const int64_t t = now - kMicrosPerHour -
                      static_cast<int64_t>(rng() % static_cast<uint64_t>(days * kMicrosPerDay));
    const std::string user = user_id(static_cast<int>(rng() % 40));
    const std::string generation_id = random_uuid();
    const int model = static_cast<int>(rng() % 3);
    const int64_t queue_length = static_cast<int64_t>(rng() % 12);
    auto base = [&](GenerationEventType type, int64_t at) {
      GenerationEvent e = testing::make_event(type, at, user);
      e.generation_id = generation_id;
      e.model_checkpoint = models[model];
      e.generation_type = types[job % 3];
      e.queue_length = queue_length;
      return e;
    };
    events.push_back(base(GenerationEventType::kRequest, t));
    const int64_t wait = static_cast<int64_t>(rng() % 5000);
    events.push_back(base(GenerationEventType::kStart, t + wait * 1000));
    const int outcome = static_cast<int>(rng() % 100);
    const int64_t run = 2000 + static_cast<int64_t>(rng() % 20000) * (model + 1);
    if (outcome < 5) {
      events.push_back(base(GenerationEventType::kCancellation, t + (wait + 100) * 1000));
      continue;
    }
    GenerationEvent done = base(GenerationEventType::kCompletion, t + (wait + run) * 1000);
    done.success = outcome >= 5 + 3 * (model + 1);
    done.duration_ms = wait + run;
    done.queue_wait_time_ms = wait;
    done.generation_time_ms = run;
    done.batch_size = 1 + job % 4;
    done.prompt_tokens = 20 + job % 50;
    done.image_dimensions_json = R"({"width":832,"height":1216})";
    if (!*done.success) {
      const auto& [type, message] = errors[rng() % 3];
      done.error_type = type;
      done.error_message = message;
    }
    events.push_back(done);
  }
  return events;
}

// All rollup rows of `dimension` in [start, end), merged per value.
std::map<std::string, RollupBucket> merged_rollups(const Store& store, Dimension dimension,
                                                   int64_t start, int64_t end) {
  std::map<std::string, RollupBucket> merged;
  for (const RollupRow& row :
       store.read_rollups(dimension, start, end, std::nullopt, RollupColumns{true, true, true})) {
    merged[row.key.value].merge(row.bucket);
  }
  return merged;
}

class PostgresStoreTest : public ::testing::Test {
 protected:
  // The wall clock, read once: the seeds' queries select by PostgreSQL's NOW().
  static inline const int64_t kNow = now_us();
  // An hour start two hours before kNow's.
  static inline const int64_t kHour = floor_hour(kNow) - 2 * kMicrosPerHour;

  // The models rollup for the two hours from kHour as visit_rollups gives it:
  // model -> successes.
  static std::map<std::string, int64_t> visited_successes(const Store& store) {
    std::map<std::string, int64_t> out;
    store.visit_rollups(Dimension::kModelCheckpoint, kHour, kHour + 2 * kMicrosPerHour,
                        std::nullopt, RollupColumns{},
                        [&](const RollupRow& row) { out[row.key.value] += row.bucket.successes; });
    return out;
  }

  PostgresServer& server_ = PostgresServer::shared();
  const std::string url_ = server_.create_database();
};

TEST_F(PostgresStoreTest, SeedQueriesRunVerbatimOnAPopulatedStore) {
  PostgresStore store(url_);
  std::vector<uint8_t> inserted;
  store.write(recent_traffic(kNow, 10, 600), &inserted);
  PgConnection db(url_);
  for (const SeedSql& seed : kSeedSql) {
    SCOPED_TRACE(seed.source);
    try {
      std::vector<int> rows = run_script(db, seed.sql);
      ASSERT_FALSE(rows.empty());
      for (int n : rows) EXPECT_GT(n, 0);
    } catch (const std::runtime_error& e) {
      ADD_FAILURE() << e.what();
    }
  }
}

TEST_F(PostgresStoreTest, SeedModelComparisonAgreesWithTheRollups) {
  PostgresStore store(url_);
  const auto events = recent_traffic(kNow, 10, 800);
  std::vector<uint8_t> inserted;
  for (size_t i = 0; i < events.size(); i += 250) {
    store.write(
        std::span(events).subspan(i, std::min<size_t>(250, events.size() - i)), &inserted);
  }
  const int64_t start = floor_hour(kNow) - 30 * kMicrosPerDay;
  const int64_t end = floor_hour(kNow) + kMicrosPerHour;
  const auto models = merged_rollups(store, Dimension::kModelCheckpoint, start, end);
  ASSERT_EQ(models.size(), 3u);
  PgConnection db(url_);

  PgResult seed001 = db.exec(seed_sql("seed 001 Model Performance Analysis"));
  ASSERT_EQ(seed001.rows(), 3);
  for (int r = 0; r < seed001.rows(); ++r) {
    const RollupBucket& rollup = models.at(std::string(seed001.text(r, 0)));
    SCOPED_TRACE(seed001.text(r, 0));
    EXPECT_EQ(seed001.int64(r, 1), rollup.completions());
    EXPECT_EQ(seed001.int64(r, 2), rollup.successes);
    EXPECT_EQ(seed001.int64(r, 3), rollup.failures);
    EXPECT_NEAR(static_cast<double>(seed001.int64(r, 7)), *rollup.avg_duration_ms(), 1.0);
  }

  // Seed 000's model query is the fourth of its "Analytics Queries".
  const std::string seed000 = seed_sql("seed 000 7. Analytics Queries");
  PgResult uses = db.exec(seed000.substr(seed000.find("-- Model performance comparison")));
  ASSERT_EQ(uses.rows(), 3);
  for (int r = 0; r < uses.rows(); ++r) {
    EXPECT_EQ(uses.int64(r, 1), models.at(std::string(uses.text(r, 0))).completions());
  }

  // The hourly table's seed columns sum to the raw events' counts.
  PgResult totals = db.exec(
      "SELECT (SELECT SUM(total_requests) FROM generation_metrics_hourly), "
      "(SELECT SUM(successful_generations) FROM generation_metrics_hourly), "
      "(SELECT COUNT(*) FROM generation_events WHERE event_type = 'request'), "
      "(SELECT COUNT(*) FROM generation_events WHERE event_type = 'completion' AND success)");
  EXPECT_EQ(totals.int64(0, 0), totals.int64(0, 2));
  EXPECT_EQ(totals.int64(0, 1), totals.int64(0, 3));
}

TEST_F(PostgresStoreTest, SeedColumnsOfTheHourlyTableHoldEachHoursValues) {
  PostgresStore store(url_);
  std::vector<GenerationEvent> events;
  for (int i = 1; i <= 100; ++i) {
    events.push_back(testing::make_completion(kHour, i <= 90, i * 10, user_id(i % 4)));
    events.back().queue_length = i % 10;
  }
  std::vector<uint8_t> inserted;
  store.write(events, &inserted);
  PgConnection db(url_);
  PgResult r = db.exec(
      "SELECT successful_generations, failed_generations, avg_duration_ms, p50_duration_ms, "
      "p99_duration_ms, unique_users, avg_queue_length, max_queue_length, total_images_generated "
      "FROM generation_metrics_hourly");
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(r.int64(0, 0), 90);
  EXPECT_EQ(r.int64(0, 1), 10);
  EXPECT_EQ(r.int64(0, 2), 505);
  EXPECT_NEAR(r.int64(0, 3), 500, 5);   // rank floor(0.5 * 99) = 49 -> 500
  EXPECT_NEAR(r.int64(0, 4), 990, 10);  // rank floor(0.99 * 99) = 98 -> 990
  EXPECT_EQ(r.int64(0, 5), 4);
  EXPECT_EQ(r.text(0, 6), "4.5");
  EXPECT_EQ(r.int64(0, 7), 9);
  EXPECT_EQ(r.int64(0, 8), 90);
}

TEST_F(PostgresStoreTest, TextWithCopyEscapesRoundTrips) {
  PostgresStore store(url_);
  const std::string message = "tab\there\nnew line\\N back\\slash \"quoted\" \r ünïcödé 🙂";
  GenerationEvent e = testing::make_completion(kHour, false, 12, user_id(1), "m\tx\\", "e\nrr");
  e.error_message = message;
  e.attributes_json = R"({"style":"a\\tb \"c\"\n"})";
  std::vector<uint8_t> inserted;
  store.write(std::vector{e}, &inserted);
  std::vector<GenerationEvent> seen;
  store.scan_user_events(user_id(1), kHour, kHour + kMicrosPerHour,
                         [&](const GenerationEvent& got) { seen.push_back(got); });
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].error_message, message);
  EXPECT_EQ(seen[0].model_checkpoint, "m\tx\\");
  EXPECT_EQ(seen[0].error_type, "e\nrr");
  EXPECT_EQ(seen[0].timestamp_us, kHour);
  auto errors = store.read_rollups(Dimension::kErrorType, kHour, kHour + kMicrosPerHour,
                                   std::string("e\nrr"), RollupColumns{true, true, true});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].bucket.sample_messages, std::vector<std::string>{message});
  PgConnection db(url_);
  EXPECT_EQ(db.exec("SELECT attributes->>'style' FROM generation_events").text(0, 0),
            "a\\tb \"c\"\n");
}

TEST_F(PostgresStoreTest, RollupCacheFollowsEveryProcesssWritesThroughTheChangeLog) {
  // A server reading and a worker writing: two stores, two caches, one database.
  PostgresStore server(url_);
  PostgresStore worker(url_);
  std::vector<uint8_t> inserted;
  auto write = [&](PostgresStore& store, int64_t hour, const char* model) {
    store.write(std::vector{testing::make_completion(hour, true, 10, "", model)},
                                  &inserted);
  };
  write(worker, kHour, "sdxl");
  write(worker, kHour + kMicrosPerHour, "flux");
  using Counts = std::map<std::string, int64_t>;
  EXPECT_EQ(visited_successes(server), (Counts{{"flux", 1}, {"sdxl", 1}}));
  EXPECT_EQ(visited_successes(server), (Counts{{"flux", 1}, {"sdxl", 1}}));
  EXPECT_EQ(server.rollup_cache_stats().hits, 2u);
  EXPECT_EQ(server.rollup_cache_stats().misses, 2u);

  // The worker's write to the second hour drops that hour only, with no reset.
  write(worker, kHour + kMicrosPerHour, "flux");
  EXPECT_EQ(visited_successes(server), (Counts{{"flux", 2}, {"sdxl", 1}}));
  auto stats = server.rollup_cache_stats();
  EXPECT_EQ(stats.hits, 3u);
  EXPECT_EQ(stats.misses, 3u);
  EXPECT_EQ(stats.resets, 0u);
  // The server's own writes go through the same log.
  write(server, kHour, "sdxl");
  EXPECT_EQ(visited_successes(server), (Counts{{"flux", 2}, {"sdxl", 2}}));
  EXPECT_EQ(visited_successes(worker), (Counts{{"flux", 2}, {"sdxl", 2}}));
  EXPECT_EQ(server.rollup_cache_stats().resets, 0u);

  // Once retention has pruned log entries the server has not read, it starts afresh.
  write(worker, kHour, "sdxl");
  PgConnection(url_).exec("DELETE FROM rollup_changes");
  EXPECT_EQ(visited_successes(server), (Counts{{"flux", 2}, {"sdxl", 3}}));
  EXPECT_EQ(server.rollup_cache_stats().resets, 1u);
}

TEST_F(PostgresStoreTest, RetentionPrunesTheRollupChangeLog) {
  PostgresStore store(url_);
  std::vector<uint8_t> inserted;
  store.write(std::vector{testing::make_completion(kHour, true, 10)}, &inserted);
  PgConnection db(url_);
  db.exec("INSERT INTO rollup_changes (seq, dimension, timestamp, changed_at) "
          "VALUES (0, 'all', NOW(), NOW() - INTERVAL '2 days')");
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM rollup_changes").int64(0, 0), 2);
  store.drop_partitions_older_than(90);
  // The day-old entry is gone, the fresh one (the write above) stays.
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM rollup_changes").int64(0, 0), 1);
}

// A stream worker retries only unavailable failures: a row that cannot be
// read back must say corrupt, or one bad row would stall its stream forever.
TEST_F(PostgresStoreTest, AStoredSketchThatDoesNotDecodeIsCorruptNotUnavailable) {
  PostgresStore store(url_);
  std::vector<uint8_t> inserted;
  store.write(std::vector{testing::make_completion(kHour, true, 10, "", "sdxl")},
                                &inserted);
  PgConnection db(url_);
  db.exec("UPDATE generation_dimension_hourly SET duration_sketch = '\\xff'::bytea "
          "WHERE dimension = 'model_checkpoint'");
  db.exec("UPDATE generation_metrics_hourly SET users_hll = '\\xff'::bytea");
  const int64_t end = kHour + kMicrosPerHour;
  const RollupColumns every{true, true, true};
  EXPECT_EQ(failure_of([&] {
              store.read_rollups(Dimension::kModelCheckpoint, kHour, end, std::nullopt, every);
            }),
            StoreFailure::kCorrupt);
  EXPECT_EQ(failure_of([&] {
              store.read_rollups(Dimension::kAll, kHour, end, std::nullopt, every);
            }),
            StoreFailure::kCorrupt);
  // Through the rollup cache, which reads the missing hours itself.
  EXPECT_EQ(failure_of([&] {
              store.visit_rollups(Dimension::kModelCheckpoint, kHour, end, std::nullopt, every,
                                  [](const RollupRow&) {});
            }),
            StoreFailure::kCorrupt);
  // A write that must merge into the corrupt rows fails whole, as corrupt.
  EXPECT_EQ(failure_of([&] {
              store.write(
                  std::vector{testing::make_completion(kHour, true, 20, "", "sdxl")}, &inserted);
            }),
            StoreFailure::kCorrupt);
  EXPECT_EQ(inserted, std::vector<uint8_t>{0});
  EXPECT_EQ(store.count_generation_events(), 1);
}

TEST_F(PostgresStoreTest, SampleMessagesThatAreNotAnArrayAreCorrupt) {
  PostgresStore store(url_);
  std::vector<uint8_t> inserted;
  store.write(
      std::vector{testing::make_completion(kHour, false, 10, "", "sdxl", "oom")}, &inserted);
  PgConnection(url_).exec(
      "UPDATE generation_dimension_hourly SET sample_messages = '{\"a\": 1}'::jsonb "
      "WHERE dimension = 'error_type'");
  EXPECT_EQ(failure_of([&] {
              store.read_rollups(Dimension::kErrorType, kHour, kHour + kMicrosPerHour,
                                 std::nullopt, RollupColumns{true, true, true});
            }),
            StoreFailure::kCorrupt);
  // A reader that does not ask for the messages does not read them.
  EXPECT_EQ(store
                .read_rollups(Dimension::kErrorType, kHour, kHour + kMicrosPerHour, std::nullopt,
                              RollupColumns{true, true, false})
                .size(),
            1u);
}

TEST_F(PostgresStoreTest, MigrationsAreRecordedOnceAndRerunHarmlessly) {
  { PostgresStore store(url_); }
  PostgresStore::migrate(url_);
  PostgresStore store(url_);
  PgConnection db(url_);
  PgResult versions = db.exec("SELECT version FROM schema_migrations ORDER BY version");
  ASSERT_EQ(versions.rows(), PostgresStore::schema_version());
  for (int r = 0; r < versions.rows(); ++r) EXPECT_EQ(versions.int64(r, 0), r + 1);
}

TEST_F(PostgresStoreTest, FourStoresStartingAtOnceMigrateOnce) {
  constexpr int kStarters = 4;
  std::latch go(kStarters);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kStarters; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      try {
        if (i % 2) {
          PostgresStore::migrate(url_);
        } else {
          PostgresStore store(url_);
        }
      } catch (const StoreError& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  PgConnection db(url_);
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM schema_migrations").int64(0, 0),
            PostgresStore::schema_version());
}

// A newer schema is kInvalid: no wait makes this build able to use it, so
// a caller that retries kUnavailable must not retry it.
TEST_F(PostgresStoreTest, RefusesANewerSchema) {
  { PostgresStore store(url_); }
  PgConnection(url_).exec("INSERT INTO schema_migrations (version) VALUES (99)");
  for (const auto& open : std::vector<std::function<void()>>{
           [&] { PostgresStore store(url_); }, [&] { PostgresStore::migrate(url_); }}) {
    try {
      open();
      ADD_FAILURE() << "a newer schema was accepted";
    } catch (const StoreError& error) {
      EXPECT_EQ(error.failure(), StoreFailure::kInvalid) << to_string(error.failure());
      EXPECT_FALSE(error.retryable());
      EXPECT_EQ(std::string(error.what()),
                fmt::format("the database has schema version 99, newer than this build's {}",
                            PostgresStore::schema_version()));
    }
  }
}

std::set<std::string> partitions(const std::string& url) {
  PgConnection db(url);
  PgResult r = db.exec(
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
      "WHERE i.inhparent = 'generation_events'::regclass");
  std::set<std::string> names;
  for (int i = 0; i < r.rows(); ++i) names.emplace(r.text(i, 0));
  return names;
}

std::string partition_of(int64_t us) {
  std::string month = format_date(us).substr(0, 7);
  month[4] = '_';
  return "generation_events_p" + month;
}

// Regression: this test once stepped 31 days at a time from today, so on
// the 29th to 31st of a month it expected a partition two months ahead and
// failed. The clock is an input now, set to month ends, a leap day and a
// year's last microsecond.
TEST_F(PostgresStoreTest, PartitionsCoverTheComingCalendarMonthsFromAnyDay) {
  struct Case {
    const char* now;
    std::set<std::string> months;
  };
  const Case cases[] = {
      {"2026-11-30T23:59:59Z", {"2026_11", "2026_12", "2027_01", "2027_02"}},
      {"2027-01-31T12:00:00Z", {"2027_01", "2027_02", "2027_03", "2027_04"}},
      {"2028-02-29T00:00:00Z", {"2028_02", "2028_03", "2028_04", "2028_05"}},
      {"2027-12-31T23:59:59.999999Z", {"2027_12", "2028_01", "2028_02", "2028_03"}},
      {"2028-01-01T00:00:00Z", {"2028_01", "2028_02", "2028_03", "2028_04"}},
  };
  static_assert(PostgresStore::kDefaultMonthsAhead == 3);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.now);
    const std::string url = server_.create_database();
    const int64_t now = *parse_rfc3339(c.now);
    PostgresStore store(url, PostgresStore::kDefaultPoolSize, 0, [now] { return now; });
    std::set<std::string> expected;
    for (const std::string& month : c.months) expected.insert("generation_events_p" + month);
    EXPECT_EQ(partitions(url), expected);
  }
}

TEST_F(PostgresStoreTest, PartitionsCoverEveryMonthWrittenTo) {
  PostgresStore store(url_, PostgresStore::kDefaultPoolSize, 0, [] { return kNow; });
  auto names = partitions(url_);
  const int64_t backfilled = *parse_rfc3339("2019-03-31T23:59:59.999999Z");
  const int64_t ahead = kNow + 300 * kMicrosPerDay;
  const int64_t year_zero = *parse_rfc3339("0000-06-15T12:00:00Z");
  std::vector<uint8_t> inserted;
  store.write(std::vector{testing::make_completion(backfilled, true, 10),
                                            testing::make_completion(ahead, true, 20),
                                            testing::make_completion(year_zero, true, 30)},
                                &inserted);
  EXPECT_EQ(inserted, (std::vector<uint8_t>{1, 1, 1}));
  names = partitions(url_);
  EXPECT_TRUE(names.contains("generation_events_p2019_03"));
  EXPECT_TRUE(names.contains(partition_of(ahead)));
  EXPECT_TRUE(names.contains("generation_events_p0000_06"));
  EXPECT_EQ(store.count_generation_events(), 3);
  auto rows = store.read_rollups(Dimension::kAll, floor_hour(backfilled),
                                 floor_hour(backfilled) + kMicrosPerHour, std::nullopt, {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bucket.duration_sum, 10);
  rows = store.read_rollups(Dimension::kAll, INT64_MIN, floor_hour(year_zero) + kMicrosPerHour,
                            std::nullopt, {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].key.hour_us, floor_hour(year_zero));
  // The backfilled event sits in March, not in April's partition.
  PgConnection db(url_);
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM generation_events_p2019_03").int64(0, 0), 1);
}

TEST_F(PostgresStoreTest, RetentionDropsOldPartitionsAndKeepsRollups) {
  PostgresStore store(url_);
  const int64_t two_years_ago = kNow - 730 * kMicrosPerDay;
  const int64_t months_ago = kNow - 200 * kMicrosPerDay;
  std::vector<uint8_t> inserted;
  store.write(std::vector{testing::make_completion(two_years_ago, true, 10),
                                            testing::make_completion(months_ago, false, 20),
                                            testing::make_completion(kHour, true, 30)},
                                &inserted);
  EXPECT_EQ(store.drop_partitions_older_than(90), 2);
  EXPECT_EQ(store.drop_partitions_older_than(90), 0);
  EXPECT_EQ(store.count_generation_events(), 1);
  EXPECT_FALSE(partitions(url_).contains(partition_of(two_years_ago)));
  auto rows =
      store.read_rollups(Dimension::kAll, two_years_ago - kMicrosPerDay, kNow, std::nullopt, {});
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].bucket.duration_sum, 10);
  EXPECT_EQ(rows[1].bucket.failures, 1);
  // Old events may still arrive: their month comes back.
  store.write(std::vector{testing::make_completion(two_years_ago, true, 5)},
                                &inserted);
  EXPECT_EQ(inserted, std::vector<uint8_t>{1});
  EXPECT_EQ(store.count_generation_events(), 2);
}

TEST_F(PostgresStoreTest, WritesSurviveRetentionRunByAnotherProcess) {
  PostgresStore writer(url_);
  PostgresStore janitor(url_);
  const int64_t old = kNow - 400 * kMicrosPerDay;
  std::vector<uint8_t> inserted;
  writer.write(std::vector{testing::make_completion(old, true, 10)}, &inserted);
  EXPECT_EQ(janitor.drop_partitions_older_than(90), 1);
  // `writer` still believes the month's partition exists.
  writer.write(std::vector{testing::make_completion(old, true, 20)}, &inserted);
  EXPECT_EQ(inserted, std::vector<uint8_t>{1});
  EXPECT_EQ(writer.count_generation_events(), 1);
  auto rows = writer.read_rollups(Dimension::kAll, floor_hour(old),
                                  floor_hour(old) + kMicrosPerHour, std::nullopt, {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bucket.duration_sum, 30);
}

TEST_F(PostgresStoreTest, DuplicatesFromConcurrentWritersAreCountedOnce) {
  const auto events = recent_traffic(kNow, 2, 1000);
  PostgresStore first(url_);
  PostgresStore second(url_);
  std::vector<std::vector<uint8_t>> inserted(2, std::vector<uint8_t>(events.size()));
  auto write_all = [&](PostgresStore& store, int writer) {
    // Each writer sends everything, in its own order and batches.
    std::vector<size_t> order(events.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(writer));
    constexpr size_t kBatch = 300;
    for (size_t i = 0; i < order.size(); i += kBatch) {
      std::vector<GenerationEvent> batch;
      for (size_t j = i; j < std::min(order.size(), i + kBatch); ++j)
        batch.push_back(events[order[j]]);
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
  EXPECT_EQ(first.count_generation_events(), static_cast<int64_t>(events.size()));
  RollupDelta exact;
  for (const auto& e : events) exact.add(e);
  for (Dimension d : {Dimension::kAll, Dimension::kModelCheckpoint, Dimension::kErrorType,
                      Dimension::kGenerationType}) {
    auto rows = first.read_rollups(d, kNow - 3 * kMicrosPerDay, kNow, std::nullopt,
                                   RollupColumns{true, true, true});
    size_t expected_rows = 0;
    for (const auto& [key, bucket] : exact.buckets()) expected_rows += key.dimension == d;
    ASSERT_EQ(rows.size(), expected_rows);
    for (const RollupRow& row : rows) {
      const RollupBucket& want = exact.buckets().at(row.key);
      EXPECT_EQ(row.bucket.event_count, want.event_count);
      EXPECT_EQ(row.bucket.successes, want.successes);
      EXPECT_EQ(row.bucket.duration_sum, want.duration_sum);
      EXPECT_TRUE(row.bucket.durations == want.durations);
      EXPECT_EQ(row.bucket.users.estimate(), want.users.estimate());
    }
  }
}

TEST_F(PostgresStoreTest, FailedTransactionLeavesNothingBehind) {
  PostgresStore store(url_);
  std::vector<uint8_t> inserted;
  store.write(std::vector{testing::make_completion(kHour, true, 10)}, &inserted);
  PgConnection(url_).exec(R"sql(
    CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.generation_type = 'boom' THEN RAISE EXCEPTION 'injected failure'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER boom BEFORE INSERT ON generation_events FOR EACH ROW EXECUTE FUNCTION boom();
  )sql");
  std::vector<GenerationEvent> batch = {testing::make_completion(kHour, true, 20),
                                        testing::make_completion(kHour, false, 30)};
  batch[1].generation_type = "boom";
  try {
    store.write(batch, &inserted);
    ADD_FAILURE() << "no error";
  } catch (const PostgresError& e) {
    EXPECT_EQ(e.sqlstate(), "P0001");
    EXPECT_NE(std::string(e.what()).find("injected failure"), std::string::npos) << e.what();
  }
  EXPECT_EQ(inserted, (std::vector<uint8_t>{0, 0}));
  EXPECT_EQ(store.count_generation_events(), 1);
  auto rows = store.read_rollups(Dimension::kAll, kHour, kHour + kMicrosPerHour, std::nullopt, {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bucket.successes, 1);
  EXPECT_EQ(rows[0].bucket.duration_sum, 10);
  // The store stays usable after the failure.
  batch[1].generation_type.reset();
  store.write(batch, &inserted);
  EXPECT_EQ(inserted, (std::vector<uint8_t>{1, 1}));
  EXPECT_EQ(store.count_generation_events(), 3);
}

TEST_F(PostgresStoreTest, KeepsWorkingAcrossAServerRestart) {
  PostgresStore store(url_);
  std::vector<uint8_t> inserted;
  store.write(std::vector{testing::make_completion(kHour, true, 10)}, &inserted);
  EXPECT_EQ(store.count_generation_events(), 1);  // leaves a pooled connection
  server_.restart();
  EXPECT_EQ(store.count_generation_events(), 1);
  store.write(std::vector{testing::make_completion(kHour, true, 20)}, &inserted);
  EXPECT_EQ(inserted, std::vector<uint8_t>{1});
  EXPECT_EQ(store.count_generation_events(), 2);
}

TEST_F(PostgresStoreTest, ErrorsCarryTheServersMessageAndSqlstate) {
  PgConnection db(url_);
  try {
    db.exec("SELECT * FROM no_such_table");
    ADD_FAILURE() << "no error";
  } catch (const PostgresError& e) {
    EXPECT_EQ(e.sqlstate(), "42P01");
    EXPECT_NE(std::string(e.what()).find("no_such_table"), std::string::npos) << e.what();
  }
  EXPECT_THROW(PgConnection("postgresql://postgres@127.0.0.1:1/none"), PostgresError);
}

}  // namespace
}  // namespace genalytics
