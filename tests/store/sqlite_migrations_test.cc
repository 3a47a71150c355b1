// The embedded store's schema is a versioned list of migrations that are never
// edited: the data directory of an earlier build must open as it is. The
// fixtures below are, verbatim, the schema (sqlite_master) that builds since
// schema version 3 have written, and the objects version 4 added to it.
#include "store/sqlite_migrations.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "event/time.h"
#include "store/sqlite.h"
#include "store/sqlite_store.h"
#include "testing/events.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::TempDir;

struct SchemaObject {
  std::string type;
  std::string name;
  std::string table;
  std::optional<std::string> sql;  // none for SQLite's own indexes
  bool operator==(const SchemaObject&) const = default;
};

std::ostream& operator<<(std::ostream& out, const SchemaObject& o) {
  return out << o.type << " " << o.name << " on " << o.table << ": " << o.sql.value_or("(auto)");
}

// sqlite_master of a file at schema version 3, as the build that introduced
// version 3 wrote it: tables, then indexes, each by name.
const std::vector<SchemaObject>& schema_v3() {
  static const std::vector<SchemaObject> kObjects = {
    {"table", "generation_dimension_hourly", "generation_dimension_hourly", R"fixture(CREATE TABLE generation_dimension_hourly (
    dimension TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    value TEXT NOT NULL,
    total_requests INTEGER NOT NULL,
    successful_generations INTEGER NOT NULL,
    failed_generations INTEGER NOT NULL,
    cancelled_generations INTEGER NOT NULL,
    max_queue_length INTEGER NOT NULL,
    total_images_generated INTEGER NOT NULL,
    start_events INTEGER NOT NULL,
    event_count INTEGER NOT NULL,
    duration_count INTEGER NOT NULL,
    duration_sum INTEGER NOT NULL,
    duration_sketch BLOB NOT NULL,
    queue_wait_count INTEGER NOT NULL,
    queue_wait_sum INTEGER NOT NULL,
    generation_time_count INTEGER NOT NULL,
    generation_time_sum INTEGER NOT NULL,
    queue_length_count INTEGER NOT NULL,
    queue_length_sum INTEGER NOT NULL,
    users_hll BLOB NOT NULL,
    sample_messages TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (dimension, timestamp, value)
) WITHOUT ROWID)fixture"},
    {"table", "generation_events", "generation_events", R"fixture(CREATE TABLE generation_events (
    id INTEGER PRIMARY KEY,
    event_type TEXT NOT NULL,
    generation_id TEXT NOT NULL,
    user_id TEXT,
    timestamp TEXT NOT NULL,
    generation_type TEXT,
    duration_ms INTEGER,
    success INTEGER,
    error_type TEXT,
    error_message TEXT,
    queue_wait_time_ms INTEGER,
    generation_time_ms INTEGER,
    model_checkpoint TEXT,
    image_dimensions TEXT,
    batch_size INTEGER,
    prompt_tokens INTEGER,
    created_at TEXT NOT NULL,
    event_id TEXT NOT NULL,
    costs TEXT,
    tokens TEXT,
    params TEXT,
    attributes TEXT,
    retry_count INTEGER,
    gpu_memory_mb INTEGER,
    queue_length INTEGER
))fixture"},
    {"table", "generation_metrics_hourly", "generation_metrics_hourly", R"fixture(CREATE TABLE generation_metrics_hourly (
    id INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL UNIQUE,
    total_requests INTEGER NOT NULL,
    successful_generations INTEGER NOT NULL,
    failed_generations INTEGER NOT NULL,
    cancelled_generations INTEGER NOT NULL,
    avg_duration_ms INTEGER,
    p50_duration_ms INTEGER,
    p95_duration_ms INTEGER,
    p99_duration_ms INTEGER,
    unique_users INTEGER,
    avg_queue_length REAL,
    max_queue_length INTEGER,
    total_images_generated INTEGER,
    created_at TEXT NOT NULL,
    start_events INTEGER NOT NULL,
    event_count INTEGER NOT NULL,
    duration_count INTEGER NOT NULL,
    duration_sum INTEGER NOT NULL,
    duration_sketch BLOB NOT NULL,
    queue_wait_count INTEGER NOT NULL,
    queue_wait_sum INTEGER NOT NULL,
    generation_time_count INTEGER NOT NULL,
    generation_time_sum INTEGER NOT NULL,
    queue_length_count INTEGER NOT NULL,
    queue_length_sum INTEGER NOT NULL,
    users_hll BLOB NOT NULL,
    sample_messages TEXT NOT NULL,
    updated_at TEXT NOT NULL
))fixture"},
    {"table", "rollup_sequence", "rollup_sequence", R"fixture(CREATE TABLE rollup_sequence (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
))fixture"},
    {"table", "route_analytics", "route_analytics", R"fixture(CREATE TABLE route_analytics (
    id INTEGER PRIMARY KEY,
    route TEXT NOT NULL,
    method TEXT NOT NULL,
    user_id TEXT,
    timestamp TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    query_params TEXT,
    query_params_normalized TEXT,
    request_size_bytes INTEGER,
    response_size_bytes INTEGER,
    error_type TEXT,
    db_query_count INTEGER,
    cache_status TEXT,
    created_at TEXT NOT NULL,
    event_id TEXT NOT NULL,
    route_full TEXT NOT NULL
))fixture"},
    {"table", "route_analytics_hourly", "route_analytics_hourly", R"fixture(CREATE TABLE route_analytics_hourly (
    id INTEGER PRIMARY KEY,
    timestamp TEXT NOT NULL,
    route TEXT NOT NULL,
    method TEXT NOT NULL,
    query_params_normalized TEXT NOT NULL,
    total_requests INTEGER NOT NULL,
    successful_requests INTEGER NOT NULL,
    client_errors INTEGER NOT NULL,
    server_errors INTEGER NOT NULL,
    avg_duration_ms INTEGER,
    p50_duration_ms INTEGER,
    p95_duration_ms INTEGER,
    p99_duration_ms INTEGER,
    unique_users INTEGER,
    avg_request_size_bytes INTEGER,
    avg_response_size_bytes INTEGER,
    avg_db_query_count REAL,
    cache_hits INTEGER NOT NULL DEFAULT 0,
    cache_misses INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    redirects INTEGER NOT NULL,
    duration_sum INTEGER NOT NULL,
    request_size_count INTEGER NOT NULL,
    request_size_sum INTEGER NOT NULL,
    response_size_count INTEGER NOT NULL,
    response_size_sum INTEGER NOT NULL,
    db_query_requests INTEGER NOT NULL,
    db_query_sum INTEGER NOT NULL,
    duration_sketch BLOB NOT NULL,
    users_hll BLOB NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE(timestamp, route, method, query_params_normalized)
))fixture"},
    {"index", "idx_gen_events_error_type", "generation_events", R"fixture(CREATE INDEX idx_gen_events_error_type ON generation_events(error_type) WHERE error_type IS NOT NULL)fixture"},
    {"index", "idx_gen_events_event_id", "generation_events", R"fixture(CREATE UNIQUE INDEX idx_gen_events_event_id ON generation_events(event_id))fixture"},
    {"index", "idx_gen_events_event_type", "generation_events", R"fixture(CREATE INDEX idx_gen_events_event_type ON generation_events(event_type))fixture"},
    {"index", "idx_gen_events_generation_id", "generation_events", R"fixture(CREATE INDEX idx_gen_events_generation_id ON generation_events(generation_id))fixture"},
    {"index", "idx_gen_events_model", "generation_events", R"fixture(CREATE INDEX idx_gen_events_model ON generation_events(model_checkpoint, timestamp DESC))fixture"},
    {"index", "idx_gen_events_success", "generation_events", R"fixture(CREATE INDEX idx_gen_events_success ON generation_events(success) WHERE event_type = 'completion')fixture"},
    {"index", "idx_gen_events_timestamp", "generation_events", R"fixture(CREATE INDEX idx_gen_events_timestamp ON generation_events(timestamp DESC))fixture"},
    {"index", "idx_gen_events_user_time", "generation_events", R"fixture(CREATE INDEX idx_gen_events_user_time ON generation_events(user_id, timestamp DESC))fixture"},
    {"index", "idx_gen_metrics_timestamp", "generation_metrics_hourly", R"fixture(CREATE INDEX idx_gen_metrics_timestamp ON generation_metrics_hourly(timestamp DESC))fixture"},
    {"index", "idx_route_analytics_duration", "route_analytics", R"fixture(CREATE INDEX idx_route_analytics_duration ON route_analytics(duration_ms DESC))fixture"},
    {"index", "idx_route_analytics_event_id", "route_analytics", R"fixture(CREATE UNIQUE INDEX idx_route_analytics_event_id ON route_analytics(event_id))fixture"},
    {"index", "idx_route_analytics_route_time", "route_analytics", R"fixture(CREATE INDEX idx_route_analytics_route_time ON route_analytics(route, timestamp DESC))fixture"},
    {"index", "idx_route_analytics_timestamp", "route_analytics", R"fixture(CREATE INDEX idx_route_analytics_timestamp ON route_analytics(timestamp DESC))fixture"},
    {"index", "idx_route_analytics_user_time", "route_analytics", R"fixture(CREATE INDEX idx_route_analytics_user_time ON route_analytics(user_id, timestamp DESC))fixture"},
    {"index", "idx_route_metrics_duration", "route_analytics_hourly", R"fixture(CREATE INDEX idx_route_metrics_duration ON route_analytics_hourly(avg_duration_ms DESC))fixture"},
    {"index", "idx_route_metrics_route_time", "route_analytics_hourly", R"fixture(CREATE INDEX idx_route_metrics_route_time ON route_analytics_hourly(route, timestamp DESC))fixture"},
    {"index", "idx_route_metrics_timestamp", "route_analytics_hourly", R"fixture(CREATE INDEX idx_route_metrics_timestamp ON route_analytics_hourly(timestamp DESC))fixture"},
    {"index", "idx_route_metrics_total_requests", "route_analytics_hourly", R"fixture(CREATE INDEX idx_route_metrics_total_requests ON route_analytics_hourly(total_requests DESC))fixture"},
    {"index", "sqlite_autoindex_generation_metrics_hourly_1", "generation_metrics_hourly", std::nullopt},
    {"index", "sqlite_autoindex_route_analytics_hourly_1", "route_analytics_hourly", std::nullopt},
  };
  return kObjects;
}

// The objects version 4 added to sqlite_master (the model tables), as the
// build that introduced it wrote them, in schema_of's order.
const std::vector<SchemaObject>& schema_v4_additions() {
  static const std::vector<SchemaObject> kObjects = {
    {"table", "model_inventory", "model_inventory", R"fixture(CREATE TABLE model_inventory (
    model_id TEXT PRIMARY KEY,
    model_kind TEXT,
    base_model TEXT,
    path TEXT,
    size_bytes INTEGER,
    first_seen_at TEXT,
    last_used_at TEXT,
    last_event_at TEXT,
    registered_at TEXT,
    described_at TEXT,
    updated_at TEXT NOT NULL
) WITHOUT ROWID)fixture"},
    {"table", "model_lifecycle_hourly", "model_lifecycle_hourly", R"fixture(CREATE TABLE model_lifecycle_hourly (
    timestamp TEXT NOT NULL,
    model_id TEXT NOT NULL,
    loads INTEGER NOT NULL,
    load_failures INTEGER NOT NULL,
    load_time_count INTEGER NOT NULL,
    load_time_sum INTEGER NOT NULL,
    unloads INTEGER NOT NULL,
    unloads_idle INTEGER NOT NULL,
    unloads_evicted INTEGER NOT NULL,
    unloads_manual INTEGER NOT NULL,
    unloads_error INTEGER NOT NULL,
    downloads INTEGER NOT NULL,
    download_failures INTEGER NOT NULL,
    download_time_sum INTEGER NOT NULL,
    health_checks INTEGER NOT NULL,
    health_check_failures INTEGER NOT NULL,
    max_size_bytes INTEGER NOT NULL,
    load_time_sketch BLOB NOT NULL,
    loaded_gpu_memory_sketch BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (timestamp, model_id)
) WITHOUT ROWID)fixture"},
    {"table", "model_param_hourly", "model_param_hourly", R"fixture(CREATE TABLE model_param_hourly (
    timestamp TEXT NOT NULL,
    model_id TEXT NOT NULL,
    param_key TEXT NOT NULL,
    param_value TEXT NOT NULL,
    uses INTEGER NOT NULL,
    timed INTEGER NOT NULL,
    generation_time_sum INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (timestamp, model_id, param_key, param_value)
) WITHOUT ROWID)fixture"},
    {"table", "model_usage_events", "model_usage_events", R"fixture(CREATE TABLE model_usage_events (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    model_id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    duration_ms INTEGER,
    success INTEGER,
    error_type TEXT,
    error_message TEXT,
    size_bytes INTEGER,
    gpu_memory_mb INTEGER,
    model_kind TEXT,
    base_model TEXT,
    reason TEXT,
    worker_id TEXT,
    created_at TEXT NOT NULL
))fixture"},
    {"table", "model_usage_hourly", "model_usage_hourly", R"fixture(CREATE TABLE model_usage_hourly (
    timestamp TEXT NOT NULL,
    model_id TEXT NOT NULL,
    uses INTEGER NOT NULL,
    completions INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    generation_time_count INTEGER NOT NULL,
    generation_time_sum INTEGER NOT NULL,
    generation_time_sketch BLOB NOT NULL,
    gpu_memory_sketch BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (timestamp, model_id)
) WITHOUT ROWID)fixture"},
    {"table", "model_worker_state", "model_worker_state", R"fixture(CREATE TABLE model_worker_state (
    model_id TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    loaded INTEGER NOT NULL,
    changed_at TEXT NOT NULL,
    gpu_memory_mb INTEGER,
    PRIMARY KEY (model_id, worker_id)
) WITHOUT ROWID)fixture"},
    {"index", "idx_model_events_event_id", "model_usage_events", R"fixture(CREATE UNIQUE INDEX idx_model_events_event_id ON model_usage_events(event_id))fixture"},
    {"index", "idx_model_events_model_time", "model_usage_events", R"fixture(CREATE INDEX idx_model_events_model_time ON model_usage_events(model_id, timestamp))fixture"},
    {"index", "idx_model_events_timestamp", "model_usage_events", R"fixture(CREATE INDEX idx_model_events_timestamp ON model_usage_events(timestamp))fixture"},
    {"index", "idx_model_lifecycle_model_time", "model_lifecycle_hourly", R"fixture(CREATE INDEX idx_model_lifecycle_model_time ON model_lifecycle_hourly(model_id, timestamp))fixture"},
    {"index", "idx_model_param_model_time", "model_param_hourly", R"fixture(CREATE INDEX idx_model_param_model_time ON model_param_hourly(model_id, timestamp))fixture"},
    {"index", "idx_model_usage_model_time", "model_usage_hourly", R"fixture(CREATE INDEX idx_model_usage_model_time ON model_usage_hourly(model_id, timestamp))fixture"},
  };
  return kObjects;
}

// sqlite_master of a file at schema version 4, in schema_of's order.
std::vector<SchemaObject> schema_v4() {
  std::vector<SchemaObject> objects = schema_v3();
  objects.insert(objects.end(), schema_v4_additions().begin(), schema_v4_additions().end());
  std::sort(objects.begin(), objects.end(), [](const SchemaObject& a, const SchemaObject& b) {
    return std::tie(b.type, a.name) < std::tie(a.type, b.name);  // type descending, then name
  });
  return objects;
}

std::vector<SchemaObject> schema_of(const std::string& path) {
  SqliteDatabase db(path, false);
  SqliteStatement s(db.handle(),
                    "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type DESC, name");
  std::vector<SchemaObject> objects;
  while (s.step()) {
    objects.push_back({std::string(s.column_text(0)), std::string(s.column_text(1)),
                       std::string(s.column_text(2)), s.column_optional_text(3)});
  }
  return objects;
}

int64_t user_version(const std::string& path) {
  SqliteDatabase db(path, false);
  SqliteStatement s(db.handle(), "PRAGMA user_version");
  s.step();
  return s.column_int64(0);
}

TEST(SqliteMigrationsTest, VersionsRunFromOneWithoutGapsUpToTheStoresVersion) {
  const auto migrations = sqlite_migrations();
  ASSERT_FALSE(migrations.empty());
  for (size_t i = 0; i < migrations.size(); ++i) {
    EXPECT_EQ(migrations[i].version, static_cast<int>(i) + 1);
    EXPECT_FALSE(migrations[i].sql.empty());
  }
  EXPECT_EQ(migrations.back().version, SqliteStore::kSchemaVersion);
}

TEST(SqliteMigrationsTest, ANewFileHasTheSchemaEarlierBuildsWrote) {
  TempDir dir;
  std::string path;
  {
    SqliteStore store(dir.path());
    path = store.path();
  }
  EXPECT_EQ(user_version(path), 4);
  EXPECT_EQ(schema_of(path), schema_v4());
}

TEST(SqliteMigrationsTest, AVersion3FileOfAnEarlierBuildOpensAndKeepsWorking) {
  TempDir dir;
  const std::string path = dir.path() + "/genalytics.db";
  constexpr int64_t kHour = 1'750'000'000'000'000 / kMicrosPerHour * kMicrosPerHour;
  {
    SqliteDatabase db(path, true);
    for (const SchemaObject& o : schema_v3()) {
      if (o.sql) db.exec(*o.sql);
    }
    db.exec("INSERT INTO rollup_sequence (id, seq) VALUES (1, 0); PRAGMA user_version = 3");
  }
  SqliteStore store(dir.path());
  std::vector<uint8_t> inserted;
  store.write(std::vector{testing::make_completion(kHour, true, 10, "", "sdxl")},
                                &inserted);
  EXPECT_EQ(inserted, std::vector<uint8_t>{1});
  auto rows = store.read_rollups(Dimension::kModelCheckpoint, kHour, kHour + kMicrosPerHour,
                                 std::nullopt, {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].key.value, "sdxl");
  EXPECT_EQ(rows[0].bucket.successes, 1);
  // Migrated to version 4: the completion is a use of its model.
  EXPECT_EQ(user_version(path), 4);
  EXPECT_EQ(schema_of(path), schema_v4());
  const auto usage = store.read_model_usage(kHour, kHour + kMicrosPerHour, std::nullopt, false);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].key.model_id, "sdxl");
  EXPECT_EQ(usage[0].bucket.completions, 1);
}

}  // namespace
}  // namespace genalytics
