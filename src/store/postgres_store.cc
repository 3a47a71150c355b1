#include "store/postgres_store.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <unordered_map>

#include "event/json_fields.h"
#include "event/time.h"
#include "store/sample_messages.h"
#include "event/uuid.h"
#include "store/partition_months.h"
#include "store/postgres_migrations.h"
#include "store/route_rollup_columns.h"

namespace genalytics {
namespace {

// The advisory lock that serializes schema changes (migrations, partition
// creation and drops) across every process using the database.
constexpr int64_t kSchemaLockKey = 0x67656e616c797478;  // "genalytx"

// The raw-event tables, partitioned by month.
constexpr std::string_view kPartitionedTables[] = {"generation_events", "route_analytics"};

// The mergeable state shared by both rollup tables, in read/copy order.
struct TypedColumn {
  const char* name;
  const char* type;
};
constexpr TypedColumn kTypedColumns[] = {
    {"total_requests", "bigint"},      {"successful_generations", "bigint"},
    {"failed_generations", "bigint"},  {"cancelled_generations", "bigint"},
    {"max_queue_length", "bigint"},    {"total_images_generated", "bigint"},
    {"start_events", "bigint"},        {"event_count", "bigint"},
    {"duration_count", "bigint"},      {"duration_sum", "bigint"},
    {"duration_sketch", "bytea"},      {"queue_wait_count", "bigint"},
    {"queue_wait_sum", "bigint"},      {"generation_time_count", "bigint"},
    {"generation_time_sum", "bigint"}, {"queue_length_count", "bigint"},
    {"queue_length_sum", "bigint"},    {"users_hll", "bytea"},
    {"sample_messages", "jsonb"}};
constexpr int kTypedColumnCount = std::size(kTypedColumns);
constexpr int kDurationSketchColumn = 10;
constexpr int kUsersColumn = 17;
constexpr int kSampleMessagesColumn = 18;

// The seed's per-hour columns of generation_metrics_hourly, derived from the state.
constexpr TypedColumn kDerivedColumns[] = {
    {"avg_duration_ms", "bigint"}, {"p50_duration_ms", "bigint"}, {"p95_duration_ms", "bigint"},
    {"p99_duration_ms", "bigint"}, {"unique_users", "bigint"},    {"avg_queue_length", "float8"}};

// `prefix` + each state column, comma-separated; columns not wanted by
// `columns` read as NULL.
std::string state_select_list(std::string_view prefix, const RollupColumns& columns) {
  std::string list;
  for (int i = 0; i < kTypedColumnCount; ++i) {
    if (i) list += ", ";
    const bool skipped = (i == kDurationSketchColumn && !columns.durations) ||
                         (i == kUsersColumn && !columns.users) ||
                         (i == kSampleMessagesColumn && !columns.sample_messages);
    if (skipped) {
      list += "NULL";
    } else if (i == kSampleMessagesColumn) {
      list +=
          fmt::format("{}{}::text", prefix, kTypedColumns[i].name);  // JSON text in binary results
    } else {
      list += fmt::format("{}{}", prefix, kTypedColumns[i].name);
    }
  }
  return list;
}

std::string state_assignments() {
  std::string list;
  for (const TypedColumn& column : kTypedColumns) list += fmt::format("{0} = s.{0}, ", column.name);
  return list;
}

std::string state_column_names() {
  std::string list;
  for (const TypedColumn& column : kTypedColumns) list += fmt::format(", {}", column.name);
  return list;
}

// Reads (hour_us, dimension, value, state...) rows.
std::vector<RollupRow> read_rollup_rows(const PgResult& result) {
  std::vector<RollupRow> rows;
  rows.reserve(result.rows());
  for (int r = 0; r < result.rows(); ++r) {
    auto dimension = parse_dimension(result.text(r, 1));
    if (!dimension) throw StoreError("corrupt dimension in rollup row");
    RollupRow row{RollupKey{result.int64(r, 0), *dimension, std::string(result.text(r, 2))},
                  RollupBucket()};
    RollupBucket& b = row.bucket;
    int i = 3;
    for (int64_t* field :
         {&b.requests, &b.successes, &b.failures, &b.cancellations, &b.queue_length_max, &b.images,
          &b.starts, &b.event_count, &b.duration_count, &b.duration_sum}) {
      *field = result.int64(r, i++);
    }
    if (!result.is_null(r, i)) {
      auto sketch = DDSketch::deserialize(result.bytes(r, i));
      if (!sketch) throw StoreError("corrupt duration_sketch in rollup row");
      b.durations = std::move(*sketch);
    }
    ++i;
    for (int64_t* field : {&b.queue_wait_count, &b.queue_wait_sum, &b.generation_time_count,
                           &b.generation_time_sum, &b.queue_length_count, &b.queue_length_sum}) {
      *field = result.int64(r, i++);
    }
    if (!result.is_null(r, i)) {
      auto users = HyperLogLog::deserialize(result.bytes(r, i));
      if (!users) throw StoreError("corrupt users_hll in rollup row");
      b.users = std::move(*users);
    }
    ++i;
    if (!result.is_null(r, i)) b.sample_messages = decode_sample_messages(result.text(r, i));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::optional<int64_t> rounded(const std::optional<double>& value) {
  if (!value) return std::nullopt;
  return static_cast<int64_t>(std::llround(*value));
}

// One row of genalytics_rollup_states: key, derived seed columns, state.
void append_rollup(PgCopyBuffer& out, const RollupKey& key, const RollupBucket& b) {
  out.add_text(to_string(key.dimension));
  out.add_text(pg_timestamp(key.hour_us));
  out.add_text(key.value);
  out.add_optional_int64(rounded(b.avg_duration_ms()));
  out.add_optional_int64(rounded(b.duration_quantile(0.50)));
  out.add_optional_int64(rounded(b.duration_quantile(0.95)));
  out.add_optional_int64(rounded(b.duration_quantile(0.99)));
  out.add_int64(static_cast<int64_t>(b.users.estimate()));
  if (auto q = b.avg_queue_length()) {
    out.add_double(*q);
  } else {
    out.add_null();
  }
  for (int64_t v : {b.requests, b.successes, b.failures, b.cancellations, b.queue_length_max,
                    b.images, b.starts, b.event_count, b.duration_count, b.duration_sum}) {
    out.add_int64(v);
  }
  out.add_bytea(b.durations.serialize());
  for (int64_t v : {b.queue_wait_count, b.queue_wait_sum, b.generation_time_count,
                    b.generation_time_sum, b.queue_length_count, b.queue_length_sum}) {
    out.add_int64(v);
  }
  out.add_bytea(b.users.serialize());
  out.add_text(encode_sample_messages(b.sample_messages));
  out.end_row();
}

// Per-connection staging tables, emptied by every commit.
std::string create_staging_sql() {
  std::string states = "dimension text, timestamp timestamptz, value text";
  for (const TypedColumn& column : kDerivedColumns) {
    states += fmt::format(", {} {}", column.name, column.type);
  }
  for (const TypedColumn& column : kTypedColumns) {
    states += fmt::format(", {} {}", column.name, column.type);
  }
  return fmt::format(
      "CREATE TEMP TABLE IF NOT EXISTS genalytics_incoming_events ON COMMIT DELETE ROWS AS "
      "SELECT {} FROM generation_events WITH NO DATA;"
      "CREATE TEMP TABLE IF NOT EXISTS genalytics_rollup_states ({}) ON COMMIT DELETE ROWS",
      kGenerationEventCopyColumns, states);
}

// Merges `delta` into the rollup rows. Every writer locks the rows it
// changes in one order (the hourly table by hour, then dimension rows by
// (dimension, hour, value) in the database's collation), each lock taken by
// creating the row or by updating its updated_at, so concurrent writers
// never deadlock.
void merge_rollups(PgConnection& c, const RollupDelta& delta) {
  static const std::string kLockHourlySql = fmt::format(
      "INSERT INTO generation_metrics_hourly AS t (timestamp, duration_sketch, users_hll) "
      "SELECT k.timestamp, $2::bytea, $3::bytea FROM unnest($1::timestamptz[]) AS k(timestamp) "
      "ORDER BY k.timestamp "
      "ON CONFLICT (timestamp) DO UPDATE SET updated_at = NOW() "
      "RETURNING {}, 'all'::text, ''::text, {}",
      pg_epoch_us("t.timestamp"), state_select_list("t.", RollupColumns{true, true, true}));
  static const std::string kLockDimensionSql = fmt::format(
      "INSERT INTO generation_dimension_hourly AS t (dimension, timestamp, value, duration_sketch, "
      "users_hll) "
      "SELECT k.dimension, k.timestamp, k.value, $4::bytea, $5::bytea "
      "FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS k(dimension, timestamp, value) "
      "ORDER BY k.dimension, k.timestamp, k.value "
      "ON CONFLICT (dimension, timestamp, value) DO UPDATE SET updated_at = NOW() "
      "RETURNING {}, t.dimension, t.value, {}",
      pg_epoch_us("t.timestamp"), state_select_list("t.", RollupColumns{true, true, true}));
  static const std::string kCopyStatesSql = [] {
    std::string columns = "dimension, timestamp, value";
    for (const TypedColumn& column : kDerivedColumns) columns += fmt::format(", {}", column.name);
    return fmt::format("COPY genalytics_rollup_states ({}{}) FROM STDIN", columns,
                       state_column_names());
  }();
  static const std::string kUpdateSql = [] {
    std::string derived;
    for (const TypedColumn& column : kDerivedColumns) {
      derived += fmt::format("{0} = s.{0}, ", column.name);
    }
    return fmt::format(
        "UPDATE generation_metrics_hourly AS t SET {0}{1}updated_at = NOW() "
        "FROM genalytics_rollup_states AS s "
        "WHERE s.dimension = 'all' AND t.timestamp = s.timestamp;"
        "UPDATE generation_dimension_hourly AS t SET {0}updated_at = NOW() "
        "FROM genalytics_rollup_states AS s WHERE s.dimension <> 'all' AND "
        "t.dimension = s.dimension AND t.timestamp = s.timestamp AND t.value = s.value",
        state_assignments(), derived);
  }();

  std::vector<std::string> hours, dimensions, dimension_hours, values;
  for (const auto& [key, bucket] : delta.buckets()) {
    if (key.dimension == Dimension::kAll) {
      hours.push_back(pg_timestamp(key.hour_us));
    } else {
      dimensions.emplace_back(to_string(key.dimension));
      dimension_hours.push_back(pg_timestamp(key.hour_us));
      values.push_back(key.value);
    }
  }
  const std::string empty_sketch = DDSketch().serialize();
  const std::string empty_users = HyperLogLog().serialize();
  std::vector<RollupRow> current;
  if (!hours.empty()) {
    current = read_rollup_rows(
        c.exec(kLockHourlySql,
               PgParams().text(pg_array_literal(hours)).bytea(empty_sketch).bytea(empty_users),
               PgFormat::kBinary));
  }
  if (!dimensions.empty()) {
    std::vector<RollupRow> rows =
        read_rollup_rows(c.exec(kLockDimensionSql,
                                PgParams()
                                    .text(pg_array_literal(dimensions))
                                    .text(pg_array_literal(dimension_hours))
                                    .text(pg_array_literal(values))
                                    .bytea(empty_sketch)
                                    .bytea(empty_users),
                                PgFormat::kBinary));
    std::move(rows.begin(), rows.end(), std::back_inserter(current));
  }
  if (current.size() != delta.buckets().size()) {
    throw StoreError(fmt::format("postgres: locked {} rollup rows for {} keys", current.size(),
                                 delta.buckets().size()));
  }
  PgCopyBuffer states;
  for (RollupRow& row : current) {
    auto it = delta.buckets().find(row.key);
    if (it == delta.buckets().end()) throw StoreError("postgres: locked an unexpected rollup row");
    row.bucket.merge(it->second);
    append_rollup(states, row.key, row.bucket);
  }
  c.copy_from(kCopyStatesSql, states.data());
  c.exec(kUpdateSql);

  // The change log readers' caches follow (migration 3): one number per
  // transaction, in commit order, with the (dimension, hour) keys it changed.
  static const std::string kLogSql =
      "WITH s AS (UPDATE rollup_sequence SET seq = seq + 1 WHERE id = 1 RETURNING seq) "
      "INSERT INTO rollup_changes (seq, dimension, timestamp) "
      "SELECT DISTINCT s.seq, k.dimension, k.timestamp FROM s, "
      "unnest($1::text[], $2::timestamptz[]) AS k(dimension, timestamp)";
  std::vector<std::string> changed_dimensions, changed_hours;
  for (const auto& [key, bucket] : delta.buckets()) {
    changed_dimensions.emplace_back(to_string(key.dimension));
    changed_hours.push_back(pg_timestamp(key.hour_us));
  }
  c.exec(kLogSql, PgParams()
                      .text(pg_array_literal(changed_dimensions))
                      .text(pg_array_literal(changed_hours)));
}

// The columns a route event is copied into, in PgCopyBuffer order (see
// append_route_event).
constexpr const char* kRouteEventColumns =
    "event_id, route, route_full, method, user_id, timestamp, duration_ms, status_code, "
    "query_params, query_params_normalized, request_size_bytes, response_size_bytes, "
    "error_type, db_query_count, cache_status";

// One row of genalytics_incoming_routes, in kRouteEventColumns order.
void append_route_event(PgCopyBuffer& out, const RouteEvent& e) {
  out.add_text(e.event_id);
  out.add_text(e.route);
  out.add_text(e.route_full);
  out.add_text(e.method);
  out.add_optional_text(e.user_id);
  out.add_text(pg_timestamp(e.timestamp_us));
  out.add_int64(e.duration_ms);
  out.add_int64(e.status_code);
  out.add_text(e.query_params_json);
  out.add_text(e.query_params_normalized_json);
  out.add_optional_int64(e.request_size_bytes);
  out.add_optional_int64(e.response_size_bytes);
  out.add_optional_text(e.error_type);
  out.add_optional_int64(e.db_query_count);
  out.add_optional_text(e.cache_status);
  out.end_row();
}

// The state columns of route_analytics_hourly with `prefix`: the counters,
// then the two sketches.
std::string route_state_columns(std::string_view prefix) {
  std::string list;
  for (const char* column : route_columns::kCounters) list += fmt::format("{}{}, ", prefix, column);
  return list + fmt::format("{0}duration_sketch, {0}users_hll", prefix);
}

// Reads the state of row `r` from columns first .. first + kCounterCount + 1.
RouteBucket read_route_state(const PgResult& result, int r, int first) {
  RouteBucket b;
  int i = first;
  for (int64_t* field : route_columns::counters(b)) *field = result.int64(r, i++);
  auto sketch = DDSketch::deserialize(result.bytes(r, i++));
  auto users = HyperLogLog::deserialize(result.bytes(r, i++));
  if (!sketch || !users) throw StoreError("corrupt sketch in route_analytics_hourly");
  b.durations = std::move(*sketch);
  b.users = std::move(*users);
  return b;
}

// `text`, a JSON object as PostgreSQL prints JSONB (with spaces, shorter
// keys first), in the compact, key-sorted form that events carry.
std::string compact_sorted_object(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) {
    throw StoreError("corrupt query params (not a JSON object) in a route table");
  }
  return canonical_json(value);
}

// The staging tables of route writes, per connection and emptied by every
// commit: incoming events, and merged hourly states by row id.
std::string create_route_staging_sql() {
  std::string states = "id bigint";
  const size_t derived_count = std::size(route_columns::kDerived);
  for (size_t i = 0; i < derived_count; ++i) {
    // As route_columns::DerivedFigures: integers, then avg_db_query_count.
    states += fmt::format(", {} {}", route_columns::kDerived[i],
                          i + 1 < derived_count ? "bigint" : "float8");
  }
  for (const char* column : route_columns::kCounters) states += fmt::format(", {} bigint", column);
  states += ", duration_sketch bytea, users_hll bytea";
  return fmt::format(
      "CREATE TEMP TABLE IF NOT EXISTS genalytics_incoming_routes ON COMMIT DELETE ROWS AS "
      "SELECT {} FROM route_analytics WITH NO DATA;"
      "CREATE TEMP TABLE IF NOT EXISTS genalytics_route_states ({}) ON COMMIT DELETE ROWS",
      kRouteEventColumns, states);
}

// One row of genalytics_route_states: row id, derived seed columns, state.
void append_route_state(PgCopyBuffer& out, int64_t id, const RouteBucket& b) {
  out.add_int64(id);
  const route_columns::DerivedFigures figures = route_columns::derived_figures(b);
  for (const std::optional<int64_t>& value : figures.integers) out.add_optional_int64(value);
  if (figures.avg_db_query_count) {
    out.add_double(*figures.avg_db_query_count);
  } else {
    out.add_null();
  }
  for (const int64_t* field : route_columns::counters(b)) out.add_int64(*field);
  out.add_bytea(b.durations.serialize());
  out.add_bytea(b.users.serialize());
  out.end_row();
}

// Merges `delta` into route_analytics_hourly. Every writer locks the rows it
// changes in one order, (hour, route, method, params as JSONB), each lock
// taken by creating the row or by updating its updated_at, so concurrent
// writers never deadlock. Keys whose params are equal as JSONB but spelled
// differently share one row.
void merge_route_rollups(PgConnection& c, const RouteDelta& delta) {
  static const std::string kLockSql = fmt::format(
      "WITH k AS (SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::jsonb[]) "
      "WITH ORDINALITY AS k(timestamp, route, method, params, n)), "
      "locked AS (INSERT INTO route_analytics_hourly AS t (timestamp, route, method, "
      "query_params_normalized, duration_sketch, users_hll) "
      "SELECT DISTINCT k.timestamp, k.route, k.method, k.params, $5::bytea, $6::bytea FROM k "
      "ORDER BY k.timestamp, k.route, k.method, k.params "
      "ON CONFLICT (timestamp, route, method, query_params_normalized) "
      "DO UPDATE SET updated_at = NOW() "
      "RETURNING t.id, t.timestamp, t.route, t.method, t.query_params_normalized, {}) "
      "SELECT k.n, locked.id, {} FROM locked JOIN k ON k.timestamp = locked.timestamp AND "
      "k.route = locked.route AND k.method = locked.method AND "
      "k.params = locked.query_params_normalized",
      route_state_columns("t."), route_state_columns("locked."));
  static const std::string kCopyStatesSql =
      fmt::format("COPY genalytics_route_states (id, {}, {}) FROM STDIN",
                  fmt::join(route_columns::kDerived, ", "), route_state_columns(""));
  static const std::string kUpdateSql = [] {
    std::string assignments;
    for (const char* column : route_columns::kDerived) {
      assignments += fmt::format("{0} = s.{0}, ", column);
    }
    for (const char* column : route_columns::kCounters) {
      assignments += fmt::format("{0} = s.{0}, ", column);
    }
    return fmt::format(
        "UPDATE route_analytics_hourly AS t SET {}duration_sketch = s.duration_sketch, "
        "users_hll = s.users_hll, updated_at = NOW() FROM genalytics_route_states AS s "
        "WHERE t.id = s.id",
        assignments);
  }();

  std::vector<std::string> hours, routes, methods, params;
  std::vector<const RouteBucket*> deltas;
  for (const auto& [key, bucket] : delta.buckets()) {
    hours.push_back(pg_timestamp(key.hour_us));
    routes.push_back(key.route);
    methods.push_back(key.method);
    params.push_back(key.query_params_normalized_json);
    deltas.push_back(&bucket);
  }
  const PgResult locked = c.exec(kLockSql,
                                 PgParams()
                                     .text(pg_array_literal(hours))
                                     .text(pg_array_literal(routes))
                                     .text(pg_array_literal(methods))
                                     .text(pg_array_literal(params))
                                     .bytea(DDSketch().serialize())
                                     .bytea(HyperLogLog().serialize()),
                                 PgFormat::kBinary);
  if (static_cast<size_t>(locked.rows()) != deltas.size()) {
    throw StoreError(fmt::format("postgres: locked route rollup rows for {} of {} keys",
                                 locked.rows(), deltas.size()));
  }
  std::map<int64_t, RouteBucket> merged;  // by row id
  std::vector<uint8_t> seen(deltas.size(), 0);
  for (int r = 0; r < locked.rows(); ++r) {
    const int64_t n = locked.int64(r, 0);  // 1-based key index
    if (n < 1 || static_cast<size_t>(n) > deltas.size() || seen[n - 1]++) {
      throw StoreError("postgres: locked an unexpected route rollup row");
    }
    auto [it, created] = merged.try_emplace(locked.int64(r, 1));
    if (created) it->second = read_route_state(locked, r, 2);
    it->second.merge(*deltas[n - 1]);
  }
  PgCopyBuffer states;
  for (const auto& [id, bucket] : merged) append_route_state(states, id, bucket);
  c.copy_from(kCopyStatesSql, states.data());
  c.exec(kUpdateSql);
}

// The statements that load a batch into one raw-event table through its
// per-connection staging table.
struct BatchSql {
  std::string create_staging;  // creates the staging tables unless they exist
  std::string copy;            // COPY ... FROM STDIN into the staging table
  std::string insert;          // staging -> table, RETURNING the inserted event_ids
};

BatchSql batch_sql(std::string_view table, std::string_view columns, std::string create_staging,
                   std::string_view staging) {
  // Sorted so that concurrent writers of overlapping batches wait on each
  // other's rows in one order instead of deadlocking.
  return {std::move(create_staging), fmt::format("COPY {} ({}) FROM STDIN", staging, columns),
          fmt::format("INSERT INTO {0} ({1}) SELECT {1} FROM {2} ORDER BY event_id, timestamp "
                      "ON CONFLICT (event_id, timestamp) DO NOTHING RETURNING event_id",
                      table, columns, staging)};
}

// A batch as sent: the COPY rows of the first occurrence of each event_id
// (the unique key also holds the timestamp, so a later copy with another
// timestamp would insert) and the months the events fall into.
struct CopyBatch {
  std::unordered_map<std::string_view, size_t> first;  // event_id -> first index in the batch
  std::set<std::string> months;
  PgCopyBuffer rows;
};

template <typename Event, typename Append>
CopyBatch copy_batch(std::span<const Event> events, Append append) {
  CopyBatch batch;
  batch.first.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    if (!batch.first.emplace(events[i].event_id, i).second) continue;
    append(batch.rows, events[i]);
    batch.months.insert(month_of(events[i].timestamp_us));
  }
  return batch;
}

// Inserts `batch` (of `events`) and merges, with `merge(c, delta)`, the
// rollups of the events not stored before, in one transaction.
template <typename Delta, typename Event, typename Merge>
void write_batch(PgConnection& c, const BatchSql& sql, std::span<const Event> events,
                 const CopyBatch& batch, std::vector<uint8_t>* inserted, Merge merge) {
  inserted->assign(events.size(), 0);
  PgTransaction transaction(c);
  c.exec(sql.create_staging);
  c.copy_from(sql.copy, batch.rows.data());
  PgResult ids = c.exec(sql.insert);
  for (int r = 0; r < ids.rows(); ++r) {
    auto it = batch.first.find(ids.text(r, 0));
    if (it == batch.first.end()) {
      throw StoreError("postgres: inserted an event_id not in the batch");
    }
    (*inserted)[it->second] = 1;
  }
  // In batch order: sample messages keep the events' order.
  Delta delta;
  for (size_t i = 0; i < events.size(); ++i) {
    if ((*inserted)[i]) delta.add(events[i]);
  }
  if (!delta.empty()) merge(c, delta);
  transaction.commit();
}

void set_up_session(PgConnection& c) {
  // "relation already exists, skipping" notices are expected, not news.
  c.exec("SET client_min_messages = warning; SET application_name = 'genalytics'");
}

void apply_migrations(PgConnection& c) {
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
  if (current > PostgresStore::schema_version()) {
    throw StoreError(fmt::format("the database has schema version {}, newer than this build's {}",
                                 current, PostgresStore::schema_version()));
  }
  for (const PostgresMigration& migration : postgres_migrations()) {
    if (migration.version <= current) continue;
    PgTransaction transaction(c);
    c.exec(migration.sql);
    c.exec("INSERT INTO schema_migrations (version) VALUES ($1::int4)",
           PgParams().int64(migration.version));
    transaction.commit();
  }
}

// The months of the existing partitions of `table`.
std::set<std::string> existing_partitions(PgConnection& c, std::string_view table) {
  PgResult result = c.exec(
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
      "WHERE i.inhparent = $1::regclass",
      PgParams().text(table));
  std::set<std::string> months;
  for (int r = 0; r < result.rows(); ++r) {
    if (auto month = month_of_partition(table, result.text(r, 0))) months.insert(*month);
  }
  return months;
}

void lock_schema(PgConnection& c) {
  c.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kSchemaLockKey));
}

// Times outside what PostgreSQL and pg_timestamp() accept hold no data.
int64_t clamp_to_stored_range(int64_t us) {
  static const int64_t kMin = *parse_rfc3339("0000-01-01T00:00:00Z");
  static const int64_t kMax = *parse_rfc3339("9999-12-31T23:59:59.999999Z");
  return std::clamp(us, kMin, kMax);
}

}  // namespace

const char* const kGenerationEventCopyColumns =
    "event_id, event_type, generation_id, user_id, timestamp, generation_type, duration_ms, "
    "success, error_type, error_message, queue_wait_time_ms, generation_time_ms, "
    "model_checkpoint, image_dimensions, batch_size, prompt_tokens, costs, tokens, params, "
    "attributes, retry_count, gpu_memory_mb, queue_length";

void append_generation_event_copy_row(PgCopyBuffer& out, const GenerationEvent& e) {
  out.add_text(e.event_id);
  out.add_text(to_string(e.event_type));
  out.add_text(e.generation_id);
  out.add_optional_text(e.user_id);
  out.add_text(pg_timestamp(e.timestamp_us));
  out.add_optional_text(e.generation_type);
  out.add_optional_int64(e.duration_ms);
  if (e.success) {
    out.add_bool(*e.success);
  } else {
    out.add_null();
  }
  out.add_optional_text(e.error_type);
  out.add_optional_text(e.error_message);
  out.add_optional_int64(e.queue_wait_time_ms);
  out.add_optional_int64(e.generation_time_ms);
  out.add_optional_text(e.model_checkpoint);
  out.add_optional_text(e.image_dimensions_json);
  out.add_optional_int64(e.batch_size);
  out.add_optional_int64(e.prompt_tokens);
  out.add_optional_text(e.costs_json);
  out.add_optional_text(e.tokens_json);
  out.add_optional_text(e.params_json);
  out.add_optional_text(e.attributes_json);
  out.add_optional_int64(e.retry_count);
  out.add_optional_int64(e.gpu_memory_mb);
  out.add_optional_int64(e.queue_length);
  out.end_row();
}


template <typename Work>
auto PostgresStore::with_connection(Work&& work) const {
  for (int attempt = 0;; ++attempt) {
    PgPool::Lease lease = pool_.acquire();
    try {
      return work(*lease);
    } catch (const PostgresError&) {
      // Writes are idempotent, so even repeating one whose COMMIT was cut is
      // safe: it then reports its events as duplicates.
      if (attempt > 0 || !lease.reused() || !lease->broken()) throw;
      pool_.discard_idle();
    }
  }
}

PostgresStore::PostgresStore(const std::string& url, size_t pool_size, size_t rollup_cache_bytes,
                             Clock clock)
    : clock_(std::move(clock)),
      pool_(url, pool_size, set_up_session),
      rollup_cache_(std::make_unique<RollupCache>(rollup_cache_bytes)) {
  with_connection([](PgConnection& c) { apply_migrations(c); });
  ensure_partitions(kDefaultMonthsAhead);
}

PostgresStore::~PostgresStore() = default;

void PostgresStore::migrate(const std::string& url) {
  PgConnection connection(url);
  set_up_session(connection);
  apply_migrations(connection);
}

int PostgresStore::schema_version() { return postgres_migrations().back().version; }

void PostgresStore::ensure_partitions(int months_ahead) {
  const std::set<std::string> months = months_ahead_of(clock_(), months_ahead);
  for (std::string_view table : kPartitionedTables) ensure_months(table, months);
}

void PostgresStore::ensure_months(std::string_view table, const std::set<std::string>& months) {
  std::lock_guard lock(partitions_mutex_);
  std::vector<std::string> missing;
  for (const std::string& month : months) {
    if (!partitions_.contains(partition_name(table, month))) missing.push_back(month);
  }
  if (missing.empty()) return;
  with_connection([&](PgConnection& c) {
    PgTransaction transaction(c);
    lock_schema(c);
    if (!partitions_loaded_) {
      for (std::string_view partitioned : kPartitionedTables) {
        for (const std::string& month : existing_partitions(c, partitioned)) {
          partitions_.insert(partition_name(partitioned, month));
        }
      }
      partitions_loaded_ = true;
    }
    for (const std::string& month : missing) {
      const std::string name = partition_name(table, month);
      if (partitions_.contains(name)) continue;
      c.exec(fmt::format(
          "CREATE TABLE IF NOT EXISTS \"{}\" PARTITION OF {} FOR VALUES FROM ('{}') TO ('{}')",
          name, table, month_start_literal(month), month_start_literal(month_plus(month, 1))));
    }
    transaction.commit();
  });
  for (const std::string& month : missing) partitions_.insert(partition_name(table, month));
}

void PostgresStore::forget_partitions() {
  std::lock_guard lock(partitions_mutex_);
  partitions_.clear();
  partitions_loaded_ = false;
}

int64_t PostgresStore::drop_partitions_older_than(int days) {
  const std::string cutoff = first_month_kept(clock_(), days);
  const int64_t dropped = with_connection([&](PgConnection& c) {
    PgTransaction transaction(c);
    lock_schema(c);
    int64_t count = 0;
    for (std::string_view table : kPartitionedTables) {
      for (const std::string& month : existing_partitions(c, table)) {
        if (month >= cutoff) break;
        c.exec(fmt::format("DROP TABLE \"{}\"", partition_name(table, month)));
        ++count;
      }
    }
    // Readers replay the change log since their last query; one idle for a
    // day finds numbers missing and starts its cache afresh.
    c.exec("DELETE FROM rollup_changes WHERE changed_at < NOW() - INTERVAL '1 day'");
    transaction.commit();
    return count;
  });
  forget_partitions();
  return dropped;
}

template <typename Write>
void PostgresStore::write_partitioned(std::string_view table, const std::set<std::string>& months,
                                      std::vector<uint8_t>* inserted, Write&& write) {
  try {
    ensure_months(table, months);
    try {
      write();
    } catch (const PostgresError& error) {
      // 23514: no partition for a row. Another process's retention dropped
      // a month this one believed existed; learn the partitions again, once.
      if (error.sqlstate() != "23514") throw;
      forget_partitions();
      ensure_months(table, months);
      write();
    }
  } catch (...) {
    std::fill(inserted->begin(), inserted->end(), 0);
    throw;
  }
}

void PostgresStore::write_generation_events(std::span<const GenerationEvent> events,
                                            std::vector<uint8_t>* inserted) {
  static const BatchSql kSql = batch_sql("generation_events", kGenerationEventCopyColumns, create_staging_sql(),
                                         "genalytics_incoming_events");
  inserted->assign(events.size(), 0);
  if (events.empty()) return;
  const CopyBatch batch = copy_batch(events, append_generation_event_copy_row);
  write_partitioned("generation_events", batch.months, inserted, [&] {
    with_connection([&](PgConnection& c) {
      write_batch<RollupDelta>(c, kSql, events, batch, inserted, merge_rollups);
    });
  });
}

std::vector<RollupRow> PostgresStore::read_rollups(Dimension dimension, int64_t start_us,
                                                   int64_t end_us,
                                                   const std::optional<std::string>& value,
                                                   const RollupColumns& columns) const {
  return with_connection([&](PgConnection& c) {
    return read_rollups_on(c, dimension, start_us, end_us, value, columns);
  });
}

void PostgresStore::visit_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                                  const std::optional<std::string>& value,
                                  const RollupColumns& columns,
                                  const std::function<void(const RollupRow&)>& visit) const {
  const auto [first, last] =
      RollupCache::hours_of(clamp_to_stored_range(start_us), clamp_to_stored_range(end_us));
  if (first >= last) return;
  if (rollup_cache_->capacity_bytes() == 0 ||
      (last - first) / kMicrosPerHour > RollupCache::kMaxHoursPerLookup) {
    for (const RollupRow& row : read_rollups(dimension, start_us, end_us, value, columns)) {
      visit(row);
    }
    return;
  }

  static const std::string kChangesSql = fmt::format(
      "SELECT seq, dimension, {} FROM rollup_changes WHERE seq > $1::bigint AND seq <= $2::bigint "
      "ORDER BY seq",
      pg_epoch_us("timestamp"));
  std::vector<RollupCache::Entry> entries;
  with_connection([&](PgConnection& c) {
    PgTransaction snapshot(c, PgTransaction::Mode::kReadOnlySnapshot);
    const PgResult sequence = c.exec("SELECT seq FROM rollup_sequence");
    if (sequence.rows() != 1) throw StoreError("postgres: rollup_sequence has no row");
    const auto seq = static_cast<uint64_t>(sequence.int64(0, 0));
    // Replay the writes since the cache last looked, every process's; a
    // long gap is left to lookup, which then starts afresh.
    const uint64_t known = rollup_cache_->known_seq();
    if (seq > known && seq - known <= kMaxChangesReplayed) {
      const PgResult changes =
          c.exec(kChangesSql, PgParams()
                                  .int64(static_cast<int64_t>(known))
                                  .int64(static_cast<int64_t>(seq)));
      std::vector<RollupCache::Key> keys;
      for (int r = 0; r < changes.rows(); ++r) {
        const auto change = static_cast<uint64_t>(changes.int64(r, 0));
        auto changed = parse_dimension(changes.text(r, 1));
        if (!changed) throw StoreError("postgres: unknown dimension in rollup_changes");
        keys.push_back(RollupCache::Key{*changed, changes.int64(r, 2)});
        if (r + 1 == changes.rows() || static_cast<uint64_t>(changes.int64(r + 1, 0)) != change) {
          rollup_cache_->invalidate(change, keys);
          keys.clear();
        }
      }
    }
    rollup_cache_->lookup(dimension, first, last, seq, &entries);
    // The missing hours, in the same snapshot as the log.
    rollup_cache_->fill(dimension, first, seq, &entries, [&](int64_t run_start, int64_t run_end) {
      return read_rollups_on(c, dimension, run_start, run_end, std::nullopt,
                             RollupColumns{true, true, true});
    });
  });
  RollupCache::visit(entries, value, visit);
}

RollupCache::Stats PostgresStore::rollup_cache_stats() const { return rollup_cache_->stats(); }

std::vector<RollupRow> PostgresStore::read_rollups_on(PgConnection& c, Dimension dimension,
                                                      int64_t start_us, int64_t end_us,
                                                      const std::optional<std::string>& value,
                                                      const RollupColumns& columns) {
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return {};
  const bool all = dimension == Dimension::kAll;
  // Values in byte order, as SqliteStore returns them, whatever the collation.
  const std::string sql =
      all ? fmt::format(
                "SELECT {}, 'all'::text, ''::text, {} FROM generation_metrics_hourly "
                "WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz "
                "ORDER BY timestamp",
                pg_epoch_us("timestamp"), state_select_list("", columns))
          : fmt::format(
                "SELECT {}, dimension, value, {} FROM generation_dimension_hourly "
                "WHERE dimension = $1::text AND timestamp >= $2::timestamptz AND "
                "timestamp < $3::timestamptz {} ORDER BY timestamp, value COLLATE \"C\"",
                pg_epoch_us("timestamp"), state_select_list("", columns),
                value ? "AND value = $4::text" : "");
  PgParams params;
  if (!all) params.text(to_string(dimension));
  params.text(pg_timestamp(start_us)).text(pg_timestamp(end_us));
  if (!all && value) params.text(*value);
  return read_rollup_rows(c.exec(sql, params, PgFormat::kBinary));
}

namespace {
std::string scan_columns() {
  return fmt::format(
      "SELECT event_type, generation_id, {}, generation_type, duration_ms, success, error_type, "
      "error_message, queue_wait_time_ms, generation_time_ms, model_checkpoint, batch_size, "
      "queue_length, event_id, user_id FROM generation_events ",
      pg_epoch_us("timestamp"));
}
}  // namespace

void PostgresStore::scan(const std::string& sql, const PgParams& params,
                         const std::function<void(const GenerationEvent&)>& visit) const {
  const PgResult result = with_connection([&](PgConnection& c) { return c.exec(sql, params); });
  GenerationEvent e;
  for (int r = 0; r < result.rows(); ++r) {
    auto type = parse_generation_event_type(result.text(r, 0));
    if (!type) throw StoreError("corrupt event_type in generation_events");
    e.event_type = *type;
    e.generation_id = result.text(r, 1);
    e.timestamp_us = result.int64(r, 2);
    e.generation_type = result.optional_text(r, 3);
    e.duration_ms = result.optional_int64(r, 4);
    e.success = result.is_null(r, 5) ? std::nullopt : std::optional<bool>(result.boolean(r, 5));
    e.error_type = result.optional_text(r, 6);
    e.error_message = result.optional_text(r, 7);
    e.queue_wait_time_ms = result.optional_int64(r, 8);
    e.generation_time_ms = result.optional_int64(r, 9);
    e.model_checkpoint = result.optional_text(r, 10);
    e.batch_size = result.optional_int64(r, 11);
    e.queue_length = result.optional_int64(r, 12);
    e.event_id = result.text(r, 13);
    e.user_id = result.optional_text(r, 14);
    visit(e);
  }
}

void PostgresStore::scan_user_events(
    const std::string& user_id, int64_t start_us, int64_t end_us,
    const std::function<void(const GenerationEvent&)>& visit) const {
  static const std::string kSql =
      scan_columns() +
      "WHERE user_id = $1::uuid AND timestamp >= $2::timestamptz AND timestamp < $3::timestamptz "
      "ORDER BY timestamp";
  // Stored user_ids are UUIDs: any other text matches nothing.
  if (!canonical_uuid(user_id)) return;
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return;
  scan(kSql, PgParams().text(user_id).text(pg_timestamp(start_us)).text(pg_timestamp(end_us)),
       visit);
}

void PostgresStore::scan_events(int64_t start_us, int64_t end_us,
                                const std::function<void(const GenerationEvent&)>& visit) const {
  static const std::string kSql =
      scan_columns() +
      "WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz ORDER BY timestamp";
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return;
  scan(kSql, PgParams().text(pg_timestamp(start_us)).text(pg_timestamp(end_us)), visit);
}

void PostgresStore::write_route_events(std::span<const RouteEvent> events,
                                       std::vector<uint8_t>* inserted) {
  static const BatchSql kSql = batch_sql("route_analytics", kRouteEventColumns,
                                         create_route_staging_sql(), "genalytics_incoming_routes");
  inserted->assign(events.size(), 0);
  if (events.empty()) return;
  const CopyBatch batch = copy_batch(events, append_route_event);
  write_partitioned("route_analytics", batch.months, inserted, [&] {
    with_connection([&](PgConnection& c) {
      write_batch<RouteDelta>(c, kSql, events, batch, inserted, merge_route_rollups);
    });
  });
}

std::vector<RouteRollupRow> PostgresStore::read_route_rollups(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& route) const {
  static const std::string kSql = fmt::format(
      "SELECT {}, route, method, query_params_normalized::text, {} FROM route_analytics_hourly "
      "WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz",
      pg_epoch_us("timestamp"), route_state_columns(""));
  static const std::string kRouteSql = kSql + " AND route = $3::text";
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return {};
  PgParams params;
  params.text(pg_timestamp(start_us)).text(pg_timestamp(end_us));
  if (route) params.text(*route);
  const PgResult result = with_connection(
      [&](PgConnection& c) { return c.exec(route ? kRouteSql : kSql, params, PgFormat::kBinary); });
  std::vector<RouteRollupRow> rows;
  rows.reserve(result.rows());
  for (int r = 0; r < result.rows(); ++r) {
    rows.push_back(RouteRollupRow{
        RouteKey{result.int64(r, 0), std::string(result.text(r, 1)), std::string(result.text(r, 2)),
                 compact_sorted_object(result.text(r, 3))},
        read_route_state(result, r, 4)});
  }
  // In byte order of the keys as events carry them, as SqliteStore returns
  // them: not the order of the database's collation or of JSONB.
  std::sort(rows.begin(), rows.end(),
            [](const RouteRollupRow& a, const RouteRollupRow& b) { return a.key < b.key; });
  return rows;
}

void PostgresStore::scan_route_events(int64_t start_us, int64_t end_us,
                                      const std::function<void(const RouteEvent&)>& visit) const {
  static const std::string kSql = fmt::format(
      "SELECT event_id, route, route_full, method, user_id, {}, duration_ms, status_code, "
      "query_params::text, query_params_normalized::text, request_size_bytes, "
      "response_size_bytes, error_type, db_query_count, cache_status FROM route_analytics "
      "WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz ORDER BY timestamp",
      pg_epoch_us("timestamp"));
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us) return;
  const PgResult result = with_connection([&](PgConnection& c) {
    return c.exec(kSql, PgParams().text(pg_timestamp(start_us)).text(pg_timestamp(end_us)));
  });
  auto params = [&](int r, int column) {
    return result.is_null(r, column) ? std::string("{}")
                                     : compact_sorted_object(result.text(r, column));
  };
  RouteEvent e;
  for (int r = 0; r < result.rows(); ++r) {
    e.event_id = result.text(r, 0);
    e.route = result.text(r, 1);
    e.route_full = result.text(r, 2);
    e.method = result.text(r, 3);
    e.user_id = result.optional_text(r, 4);
    e.timestamp_us = result.int64(r, 5);
    e.duration_ms = result.int64(r, 6);
    e.status_code = static_cast<int>(result.int64(r, 7));
    e.query_params_json = params(r, 8);
    e.query_params_normalized_json = params(r, 9);
    e.request_size_bytes = result.optional_int64(r, 10);
    e.response_size_bytes = result.optional_int64(r, 11);
    e.error_type = result.optional_text(r, 12);
    e.db_query_count = result.optional_int64(r, 13);
    e.cache_status = result.optional_text(r, 14);
    visit(e);
  }
}

std::vector<Store::UrlCount> PostgresStore::most_requested_urls(
    const std::string& route, const std::string& method,
    const std::string& query_params_normalized_json, int64_t start_us, int64_t end_us,
    size_t limit) const {
  // COLLATE "C": ties in byte order, as the other store and the contract say.
  static const std::string kSql =
      "SELECT route_full, COUNT(*) AS requests FROM route_analytics "
      "WHERE route = $1 AND timestamp >= $2::timestamptz AND timestamp < $3::timestamptz "
      "AND method = $4 AND COALESCE(query_params_normalized, '{}'::jsonb) = $5::jsonb "
      "GROUP BY route_full ORDER BY requests DESC, route_full COLLATE \"C\" LIMIT $6";
  start_us = clamp_to_stored_range(start_us);
  end_us = clamp_to_stored_range(end_us);
  if (start_us >= end_us || limit == 0) return {};
  const PgResult result = with_connection([&](PgConnection& c) {
    return c.exec(kSql, PgParams()
                            .text(route)
                            .text(pg_timestamp(start_us))
                            .text(pg_timestamp(end_us))
                            .text(method)
                            .text(query_params_normalized_json)
                            .int64(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX))));
  });
  std::vector<UrlCount> urls;
  urls.reserve(static_cast<size_t>(result.rows()));
  for (int r = 0; r < result.rows(); ++r) urls.push_back({std::string(result.text(r, 0)), result.int64(r, 1)});
  return urls;
}

int64_t PostgresStore::count_generation_events() const {
  return with_connection(
      [](PgConnection& c) { return c.exec("SELECT COUNT(*) FROM generation_events").int64(0, 0); });
}

StoreStatus PostgresStore::status() const {
  static const std::string kSql = fmt::format(
      "SELECT (SELECT COALESCE(SUM(GREATEST(c.reltuples, 0)), 0)::bigint FROM pg_inherits i "
      "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'generation_events'::regclass), "
      "(SELECT {} FROM generation_events ORDER BY timestamp DESC LIMIT 1), "
      "(SELECT {} FROM generation_metrics_hourly ORDER BY timestamp DESC LIMIT 1), "
      "(SELECT {} FROM generation_metrics_hourly ORDER BY updated_at DESC LIMIT 1), "
      "(SELECT COUNT(*) FROM generation_metrics_hourly)",
      pg_epoch_us("timestamp"), pg_epoch_us("timestamp"), pg_epoch_us("updated_at"));
  const PgResult r = with_connection([](PgConnection& c) { return c.exec(kSql); });
  StoreStatus status;
  status.events = r.int64(0, 0);
  status.events_exact = false;
  status.last_event_us = r.optional_int64(0, 1);
  status.last_hour_rolled_up_us = r.optional_int64(0, 2);
  status.last_rollup_update_us = r.optional_int64(0, 3);
  status.hourly_rows = r.int64(0, 4);
  return status;
}

}  // namespace genalytics
