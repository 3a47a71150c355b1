// Over 400 lines: the frozen SQL of every schema version, each shipped text
// kept as it was (a change is a new version), in the one place that applies them.
#include "store/postgres_migrations.h"

#include <fmt/format.h>

#include <cstdint>
#include <iterator>

#include "store/postgres.h"

namespace genalytics {
namespace {

// The advisory lock that serializes schema changes (migrations, partition
// creation and drops) across every process using the database.
constexpr int64_t kSchemaLockKey = 0x67656e616c797478;  // "genalytx"

// Version 1: seed 000's tables and indexes, so the seeds' SQL runs verbatim,
// with these deliberate differences:
// - user_id has no foreign key (there is no users table).
// - generation_events is partitioned by month on timestamp (retention drops
//   whole partitions; PostgresStore creates them). A partitioned table's
//   unique keys must contain the partition key, so the primary key is
//   (id, timestamp) and idempotency is UNIQUE (event_id, timestamp): a
//   replayed event carries its original timestamp, so it still collides.
// - generation_type is TEXT, not VARCHAR(20): ingest accepts longer values,
//   and one that failed here would fail its whole batch forever.
// - The hourly table's counts are BIGINT (sums of INTEGER inputs, such as
//   batch_size, can exceed INTEGER; so can a p99 within 1% of the largest
//   INTEGER duration).
// The extras: event_id, costs, tokens, params, attributes, retry_count,
// gpu_memory_mb, queue_length on raw events; the mergeable rollup state
// (counts, sums, DDSketch, HyperLogLog, sample messages) on the hourly rows;
// generation_dimension_hourly for the per model / error type / generation
// type rollups.
constexpr std::string_view kInitSql = R"sql(
CREATE TABLE generation_events (
    id BIGSERIAL,
    event_type VARCHAR(20) NOT NULL,
    generation_id UUID NOT NULL,
    user_id UUID,
    timestamp TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    generation_type TEXT,
    duration_ms INTEGER,
    success BOOLEAN,
    error_type TEXT,
    error_message TEXT,
    queue_wait_time_ms INTEGER,
    generation_time_ms INTEGER,
    model_checkpoint TEXT,
    image_dimensions JSONB,
    batch_size INTEGER,
    prompt_tokens INTEGER,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    event_id UUID NOT NULL,
    costs JSONB,
    tokens JSONB,
    params JSONB,
    attributes JSONB,
    retry_count INTEGER,
    gpu_memory_mb INTEGER,
    queue_length INTEGER,
    PRIMARY KEY (id, timestamp),
    CONSTRAINT generation_events_event_id_key UNIQUE (event_id, timestamp)
) PARTITION BY RANGE (timestamp);

CREATE INDEX idx_gen_events_timestamp ON generation_events(timestamp DESC);
CREATE INDEX idx_gen_events_user_time ON generation_events(user_id, timestamp DESC);
CREATE INDEX idx_gen_events_generation_id ON generation_events(generation_id);
CREATE INDEX idx_gen_events_event_type ON generation_events(event_type);
CREATE INDEX idx_gen_events_success ON generation_events(success) WHERE event_type = 'completion';
CREATE INDEX idx_gen_events_error_type ON generation_events(error_type) WHERE error_type IS NOT NULL;
CREATE INDEX idx_gen_events_model ON generation_events(model_checkpoint, timestamp DESC);

-- Each row holds its own hour's figures: the seed's columns are derived from
-- the mergeable state beside them whenever the state changes.
CREATE TABLE generation_metrics_hourly (
    id BIGSERIAL PRIMARY KEY,
    timestamp TIMESTAMPTZ NOT NULL,
    total_requests BIGINT NOT NULL DEFAULT 0,
    successful_generations BIGINT NOT NULL DEFAULT 0,
    failed_generations BIGINT NOT NULL DEFAULT 0,
    cancelled_generations BIGINT NOT NULL DEFAULT 0,
    avg_duration_ms BIGINT,
    p50_duration_ms BIGINT,
    p95_duration_ms BIGINT,
    p99_duration_ms BIGINT,
    unique_users BIGINT,
    avg_queue_length FLOAT,
    max_queue_length BIGINT NOT NULL DEFAULT 0,
    total_images_generated BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    start_events BIGINT NOT NULL DEFAULT 0,
    event_count BIGINT NOT NULL DEFAULT 0,
    duration_count BIGINT NOT NULL DEFAULT 0,
    duration_sum BIGINT NOT NULL DEFAULT 0,
    duration_sketch BYTEA NOT NULL,
    queue_wait_count BIGINT NOT NULL DEFAULT 0,
    queue_wait_sum BIGINT NOT NULL DEFAULT 0,
    generation_time_count BIGINT NOT NULL DEFAULT 0,
    generation_time_sum BIGINT NOT NULL DEFAULT 0,
    queue_length_count BIGINT NOT NULL DEFAULT 0,
    queue_length_sum BIGINT NOT NULL DEFAULT 0,
    users_hll BYTEA NOT NULL,
    sample_messages JSONB NOT NULL DEFAULT '[]',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE(timestamp)
);

CREATE INDEX idx_gen_metrics_timestamp ON generation_metrics_hourly(timestamp DESC);

CREATE TABLE generation_dimension_hourly (
    dimension TEXT NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    value TEXT NOT NULL,
    total_requests BIGINT NOT NULL DEFAULT 0,
    successful_generations BIGINT NOT NULL DEFAULT 0,
    failed_generations BIGINT NOT NULL DEFAULT 0,
    cancelled_generations BIGINT NOT NULL DEFAULT 0,
    max_queue_length BIGINT NOT NULL DEFAULT 0,
    total_images_generated BIGINT NOT NULL DEFAULT 0,
    start_events BIGINT NOT NULL DEFAULT 0,
    event_count BIGINT NOT NULL DEFAULT 0,
    duration_count BIGINT NOT NULL DEFAULT 0,
    duration_sum BIGINT NOT NULL DEFAULT 0,
    duration_sketch BYTEA NOT NULL,
    queue_wait_count BIGINT NOT NULL DEFAULT 0,
    queue_wait_sum BIGINT NOT NULL DEFAULT 0,
    generation_time_count BIGINT NOT NULL DEFAULT 0,
    generation_time_sum BIGINT NOT NULL DEFAULT 0,
    queue_length_count BIGINT NOT NULL DEFAULT 0,
    queue_length_sum BIGINT NOT NULL DEFAULT 0,
    users_hll BYTEA NOT NULL,
    sample_messages JSONB NOT NULL DEFAULT '[]',
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (dimension, timestamp, value)
);
)sql";

// Version 2: seed 002's tables, indexes and UNIQUE constraint, so its SQL
// runs verbatim, with the same kind of deliberate differences as version 1:
// - user_id has no foreign key.
// - route_analytics is partitioned by month on timestamp like
//   generation_events (route hits are the largest table; retention drops
//   whole partitions, created by PostgresStore as route_analytics_pYYYY_MM):
//   the primary key is (id, timestamp), idempotency UNIQUE (event_id,
//   timestamp).
// - method and cache_status are TEXT, not VARCHAR(10): a longer value that
//   ingest accepted would otherwise fail its whole batch forever.
// - query_params_normalized of the hourly table is NOT NULL (writes store
//   '{}' for none): NULLs are distinct, so the UNIQUE constraint would not
//   hold for them.
// - The hourly table's counts, durations and sizes are BIGINT (as version 1).
// The extras: event_id and route_full on raw events; updated_at and the
// mergeable state (redirects, sums and counts for the averages, DDSketch,
// HyperLogLog) on the hourly rows.
constexpr std::string_view kRouteAnalyticsSql = R"sql(
CREATE TABLE route_analytics (
    id BIGSERIAL,
    route TEXT NOT NULL,
    method TEXT NOT NULL,
    user_id UUID,
    timestamp TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    duration_ms INTEGER NOT NULL,
    status_code SMALLINT NOT NULL,
    query_params JSONB,
    query_params_normalized JSONB,
    request_size_bytes INTEGER,
    response_size_bytes INTEGER,
    error_type TEXT,
    db_query_count INTEGER,
    cache_status TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    event_id UUID NOT NULL,
    route_full TEXT NOT NULL,
    PRIMARY KEY (id, timestamp),
    CONSTRAINT route_analytics_event_id_key UNIQUE (event_id, timestamp)
) PARTITION BY RANGE (timestamp);

CREATE INDEX idx_route_analytics_timestamp ON route_analytics(timestamp DESC);
CREATE INDEX idx_route_analytics_route_time ON route_analytics(route, timestamp DESC);
CREATE INDEX idx_route_analytics_user_time ON route_analytics(user_id, timestamp DESC);
CREATE INDEX idx_route_analytics_duration ON route_analytics(duration_ms DESC);

-- Each row holds its own hour's figures: the seed's columns are derived from
-- the mergeable state beside them whenever the state changes.
CREATE TABLE route_analytics_hourly (
    id BIGSERIAL PRIMARY KEY,
    timestamp TIMESTAMPTZ NOT NULL,
    route TEXT NOT NULL,
    method TEXT NOT NULL,
    query_params_normalized JSONB NOT NULL,
    total_requests BIGINT NOT NULL DEFAULT 0,
    successful_requests BIGINT NOT NULL DEFAULT 0,
    client_errors BIGINT NOT NULL DEFAULT 0,
    server_errors BIGINT NOT NULL DEFAULT 0,
    avg_duration_ms BIGINT,
    p50_duration_ms BIGINT,
    p95_duration_ms BIGINT,
    p99_duration_ms BIGINT,
    unique_users BIGINT,
    avg_request_size_bytes BIGINT,
    avg_response_size_bytes BIGINT,
    avg_db_query_count FLOAT,
    cache_hits BIGINT NOT NULL DEFAULT 0,
    cache_misses BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    redirects BIGINT NOT NULL DEFAULT 0,
    duration_sum BIGINT NOT NULL DEFAULT 0,
    request_size_count BIGINT NOT NULL DEFAULT 0,
    request_size_sum BIGINT NOT NULL DEFAULT 0,
    response_size_count BIGINT NOT NULL DEFAULT 0,
    response_size_sum BIGINT NOT NULL DEFAULT 0,
    db_query_requests BIGINT NOT NULL DEFAULT 0,
    db_query_sum BIGINT NOT NULL DEFAULT 0,
    duration_sketch BYTEA NOT NULL,
    users_hll BYTEA NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE(timestamp, route, method, query_params_normalized)
);

CREATE INDEX idx_route_metrics_timestamp ON route_analytics_hourly(timestamp DESC);
CREATE INDEX idx_route_metrics_route_time ON route_analytics_hourly(route, timestamp DESC);
CREATE INDEX idx_route_metrics_total_requests ON route_analytics_hourly(total_requests DESC);
CREATE INDEX idx_route_metrics_duration ON route_analytics_hourly(avg_duration_ms DESC);
)sql";

// Version 3: the rollup change log that keeps readers' caches of decoded
// rollup rows fresh (store/rollup_cache.h). Every transaction that changes
// generation rollup rows increments rollup_sequence.seq -- its row lock,
// held to the commit, makes the numbers follow commit order -- and records
// the (dimension, hour) keys it changed under that number. Retention prunes
// the log after a day; a reader that finds numbers missing starts afresh.
constexpr std::string_view kRollupChangesSql = R"sql(
CREATE TABLE rollup_sequence (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO rollup_sequence (id, seq) VALUES (1, 0);

CREATE TABLE rollup_changes (
    seq BIGINT NOT NULL,
    dimension TEXT NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_rollup_changes_seq ON rollup_changes(seq);
CREATE INDEX idx_rollup_changes_changed_at ON rollup_changes(changed_at);
)sql";

// Version 4: model lifecycle events and the model rollups (seed 003, issue
// 10; the semantics are store/store.h's "Models" part and
// rollup/model_rollup.h's):
// - model_usage_events, the raw model events, partitioned by month like the
//   other raw tables (created and dropped with them), idempotent on UNIQUE
//   (event_id, timestamp). Integers are BIGINT: ingest accepts any
//   non-negative size_bytes or duration_ms.
// - model_usage_hourly and model_param_hourly, written from generation
//   events; model_lifecycle_hourly, from model events. Each row is its key
//   and the mergeable state of its bucket (store/model_rollup_columns.h);
//   the figures are computed from merged windows, so no per-hour columns.
// - model_inventory: one row per model known from any event, registration
//   or scan. described_at is the time of the model event or registration
//   its descriptive fields come from, so an older one arriving later does
//   not replace them.
// - model_worker_state: per (model, worker) the latest load or unload
//   (worker_id '' for events that named none).
constexpr std::string_view kModelUsageSql = R"sql(
CREATE TABLE model_usage_events (
    id BIGSERIAL,
    event_id UUID NOT NULL,
    event_type TEXT NOT NULL,
    model_id TEXT NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    duration_ms BIGINT,
    success BOOLEAN,
    error_type TEXT,
    error_message TEXT,
    size_bytes BIGINT,
    gpu_memory_mb BIGINT,
    model_kind TEXT,
    base_model TEXT,
    reason TEXT,
    worker_id TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (id, timestamp),
    CONSTRAINT model_usage_events_event_id_key UNIQUE (event_id, timestamp)
) PARTITION BY RANGE (timestamp);

CREATE INDEX idx_model_events_timestamp ON model_usage_events(timestamp DESC);
CREATE INDEX idx_model_events_model_time ON model_usage_events(model_id, timestamp DESC);

CREATE TABLE model_usage_hourly (
    timestamp TIMESTAMPTZ NOT NULL,
    model_id TEXT NOT NULL,
    uses BIGINT NOT NULL DEFAULT 0,
    completions BIGINT NOT NULL DEFAULT 0,
    successes BIGINT NOT NULL DEFAULT 0,
    generation_time_count BIGINT NOT NULL DEFAULT 0,
    generation_time_sum BIGINT NOT NULL DEFAULT 0,
    generation_time_sketch BYTEA NOT NULL,
    gpu_memory_sketch BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (timestamp, model_id)
);
CREATE INDEX idx_model_usage_model_time ON model_usage_hourly(model_id, timestamp);

CREATE TABLE model_param_hourly (
    timestamp TIMESTAMPTZ NOT NULL,
    model_id TEXT NOT NULL,
    param_key TEXT NOT NULL,
    param_value TEXT NOT NULL,
    uses BIGINT NOT NULL DEFAULT 0,
    timed BIGINT NOT NULL DEFAULT 0,
    generation_time_sum BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (timestamp, model_id, param_key, param_value)
);
CREATE INDEX idx_model_params_model_time ON model_param_hourly(model_id, timestamp);

CREATE TABLE model_lifecycle_hourly (
    timestamp TIMESTAMPTZ NOT NULL,
    model_id TEXT NOT NULL,
    loads BIGINT NOT NULL DEFAULT 0,
    load_failures BIGINT NOT NULL DEFAULT 0,
    load_time_count BIGINT NOT NULL DEFAULT 0,
    load_time_sum BIGINT NOT NULL DEFAULT 0,
    unloads BIGINT NOT NULL DEFAULT 0,
    unloads_idle BIGINT NOT NULL DEFAULT 0,
    unloads_evicted BIGINT NOT NULL DEFAULT 0,
    unloads_manual BIGINT NOT NULL DEFAULT 0,
    unloads_error BIGINT NOT NULL DEFAULT 0,
    downloads BIGINT NOT NULL DEFAULT 0,
    download_failures BIGINT NOT NULL DEFAULT 0,
    download_time_sum BIGINT NOT NULL DEFAULT 0,
    health_checks BIGINT NOT NULL DEFAULT 0,
    health_check_failures BIGINT NOT NULL DEFAULT 0,
    max_size_bytes BIGINT NOT NULL DEFAULT 0,
    load_time_sketch BYTEA NOT NULL,
    loaded_gpu_memory_sketch BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (timestamp, model_id)
);
CREATE INDEX idx_model_lifecycle_model_time ON model_lifecycle_hourly(model_id, timestamp);

CREATE TABLE model_inventory (
    model_id TEXT PRIMARY KEY,
    model_kind TEXT,
    base_model TEXT,
    path TEXT,
    size_bytes BIGINT,
    first_seen_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    last_event_at TIMESTAMPTZ,
    registered_at TIMESTAMPTZ,
    described_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE model_worker_state (
    model_id TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    loaded BOOLEAN NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    gpu_memory_mb BIGINT,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (model_id, worker_id)
);
)sql";

constexpr PostgresMigration kMigrations[] = {
    {1, kInitSql},
    {2, kRouteAnalyticsSql},
    {3, kRollupChangesSql},
    {4, kModelUsageSql},
};

}  // namespace

std::span<const PostgresMigration> postgres_migrations() { return kMigrations; }

int postgres_schema_version() { return kMigrations[std::size(kMigrations) - 1].version; }

void apply_postgres_migrations(PgConnection& c) {
  c.exec(fmt::format("SELECT pg_advisory_lock({})", kSchemaLockKey));
  struct Unlock {
    PgConnection& c;
    ~Unlock() {
      if (c.broken()) return;  // the server released the lock with the session
      try {
        c.exec(fmt::format("SELECT pg_advisory_unlock({})", kSchemaLockKey));
      } catch (const PostgresError&) {
        // As above: the lock ends with the session at the latest.
      }
    }
  } unlock{c};
  c.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
      "applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())");
  const int64_t current =
      c.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").int64(0, 0);
  if (current > postgres_schema_version()) {
    // kInvalid, not kUnavailable: waiting does not help, only a newer build
    // (or another database) does. Nor kCorrupt: the data is fine.
    throw StoreError(fmt::format("the database has schema version {}, newer than this build's {}",
                                 current, postgres_schema_version()),
                     StoreFailure::kInvalid);
  }
  for (const PostgresMigration& migration : kMigrations) {
    if (migration.version <= current) continue;
    PgTransaction transaction(c);
    c.exec(migration.sql);
    c.exec("INSERT INTO schema_migrations (version) VALUES ($1::int4)",
           PgParams().int64(migration.version));
    transaction.commit();
  }
}

void lock_postgres_schema(PgConnection& c) {
  c.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kSchemaLockKey));
}

}  // namespace genalytics
