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

// Version 4: seed 003's model tables (issue 10). Model lifecycle events and
// their hourly rollup; the hourly usage and params rollups of generation
// events (store/model_rollup_columns.h); the inventory (described_at: the
// time of the model event or registration its descriptive fields come from,
// so that an older one arriving later does not override them) and each
// worker's loaded state.
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE model_usage_events (
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
);
CREATE UNIQUE INDEX idx_model_events_event_id ON model_usage_events(event_id);
CREATE INDEX idx_model_events_timestamp ON model_usage_events(timestamp);
CREATE INDEX idx_model_events_model_time ON model_usage_events(model_id, timestamp);

CREATE TABLE model_lifecycle_hourly (
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
) WITHOUT ROWID;
CREATE INDEX idx_model_lifecycle_model_time ON model_lifecycle_hourly(model_id, timestamp);

CREATE TABLE model_usage_hourly (
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
) WITHOUT ROWID;
CREATE INDEX idx_model_usage_model_time ON model_usage_hourly(model_id, timestamp);

CREATE TABLE model_param_hourly (
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
) WITHOUT ROWID;
CREATE INDEX idx_model_param_model_time ON model_param_hourly(model_id, timestamp);

CREATE TABLE model_inventory (
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
) WITHOUT ROWID;

CREATE TABLE model_worker_state (
    model_id TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    loaded INTEGER NOT NULL,
    changed_at TEXT NOT NULL,
    gpu_memory_mb INTEGER,
    PRIMARY KEY (model_id, worker_id)
) WITHOUT ROWID;
)sql";

constexpr SqliteMigration kMigrations[] = {
    {1, kSchemaV1}, {2, kSchemaV2}, {3, kSchemaV3}, {4, kSchemaV4}};

}  // namespace

std::span<const SqliteMigration> sqlite_migrations() { return kMigrations; }

}  // namespace genalytics
