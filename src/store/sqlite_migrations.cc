#include "store/sqlite_migrations.h"

namespace genalytics {
namespace {

// Version 1: the seed-000 tables with their indexes (user_id without the
// foreign key: there is no users table), the extras, and the rollup state.
constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE generation_events (
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
);
CREATE UNIQUE INDEX idx_gen_events_event_id ON generation_events(event_id);
CREATE INDEX idx_gen_events_timestamp ON generation_events(timestamp DESC);
CREATE INDEX idx_gen_events_user_time ON generation_events(user_id, timestamp DESC);
CREATE INDEX idx_gen_events_generation_id ON generation_events(generation_id);
CREATE INDEX idx_gen_events_event_type ON generation_events(event_type);
CREATE INDEX idx_gen_events_success ON generation_events(success) WHERE event_type = 'completion';
CREATE INDEX idx_gen_events_error_type ON generation_events(error_type) WHERE error_type IS NOT NULL;
CREATE INDEX idx_gen_events_model ON generation_events(model_checkpoint, timestamp DESC);

CREATE TABLE generation_metrics_hourly (
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
);
CREATE INDEX idx_gen_metrics_timestamp ON generation_metrics_hourly(timestamp DESC);

CREATE TABLE generation_dimension_hourly (
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
) WITHOUT ROWID;
)sql";

// Version 2: seed 002's tables with their indexes and UNIQUE constraint
// (user_id without the foreign key), the extras (event_id, route_full) and
// the rollup state (see store/route_rollup_columns.h).
constexpr std::string_view kSchemaV2 = R"sql(
CREATE TABLE route_analytics (
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
);
CREATE UNIQUE INDEX idx_route_analytics_event_id ON route_analytics(event_id);
CREATE INDEX idx_route_analytics_timestamp ON route_analytics(timestamp DESC);
CREATE INDEX idx_route_analytics_route_time ON route_analytics(route, timestamp DESC);
CREATE INDEX idx_route_analytics_user_time ON route_analytics(user_id, timestamp DESC);
CREATE INDEX idx_route_analytics_duration ON route_analytics(duration_ms DESC);

CREATE TABLE route_analytics_hourly (
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
);
CREATE INDEX idx_route_metrics_timestamp ON route_analytics_hourly(timestamp DESC);
CREATE INDEX idx_route_metrics_route_time ON route_analytics_hourly(route, timestamp DESC);
CREATE INDEX idx_route_metrics_total_requests ON route_analytics_hourly(total_requests DESC);
CREATE INDEX idx_route_metrics_duration ON route_analytics_hourly(avg_duration_ms DESC);
)sql";

// Version 3: the rollup write sequence number (see store/rollup_cache.h),
// incremented by every transaction that changes a generation rollup row.
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE rollup_sequence (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO rollup_sequence (id, seq) VALUES (1, 0);
)sql";

constexpr SqliteMigration kMigrations[] = {{1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}};

}  // namespace

std::span<const SqliteMigration> sqlite_migrations() { return kMigrations; }

}  // namespace genalytics
