#include "store/sqlite_store.h"

#include <boost/json.hpp>
#include <algorithm>
#include <filesystem>
#include <fmt/format.h>

#include "event/time.h"
#include "store/sample_messages.h"
#include "store/route_rollup_columns.h"

namespace genalytics {
namespace {

// Version 1: the seed-000 tables with their indexes (user_id without the
// foreign key: there is no users table), the extras, and the rollup state.
constexpr const char* kSchemaV1 = R"sql(
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
constexpr const char* kSchemaV2 = R"sql(
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
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE rollup_sequence (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO rollup_sequence (id, seq) VALUES (1, 0);
)sql";

// Migration i + 1 takes the file from version i to i + 1.
constexpr const char* kMigrations[] = {kSchemaV1, kSchemaV2, kSchemaV3};

// The mergeable state shared by both rollup tables, in bind/read order.
constexpr const char* kStateColumns[] = {
    "total_requests",        "successful_generations", "failed_generations",
    "cancelled_generations", "max_queue_length",       "total_images_generated",
    "start_events",          "event_count",            "duration_count",
    "duration_sum",          "duration_sketch",        "queue_wait_count",
    "queue_wait_sum",        "generation_time_count",  "generation_time_sum",
    "queue_length_count",    "queue_length_sum",       "users_hll",
    "sample_messages"};
constexpr int kStateColumnCount = std::size(kStateColumns);
constexpr int kDurationSketchColumn = 10;
constexpr int kUsersColumn = 17;
constexpr int kSampleMessagesColumn = 18;

constexpr const char* kInsertEventSql =
    "INSERT OR IGNORE INTO generation_events (event_type, generation_id, user_id, timestamp, "
    "generation_type, duration_ms, success, error_type, error_message, queue_wait_time_ms, "
    "generation_time_ms, model_checkpoint, image_dimensions, batch_size, prompt_tokens, "
    "created_at, event_id, costs, tokens, params, attributes, retry_count, gpu_memory_mb, "
    "queue_length) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

std::string state_select_list(const RollupColumns& columns) {
  std::string list;
  for (int i = 0; i < kStateColumnCount; ++i) {
    if (i) list += ", ";
    bool skipped = (i == kDurationSketchColumn && !columns.durations) ||
                   (i == kUsersColumn && !columns.users) ||
                   (i == kSampleMessagesColumn && !columns.sample_messages);
    list += skipped ? "NULL" : kStateColumns[i];
  }
  return list;
}

// Binds the state of `b` to parameters first .. first + kStateColumnCount - 1.
void bind_state(SqliteStatement& s, int first, const RollupBucket& b) {
  const int64_t ints[] = {b.requests,      b.successes,  b.failures,       b.cancellations,
                          b.queue_length_max, b.images,  b.starts,         b.event_count,
                          b.duration_count, b.duration_sum};
  int i = first;
  for (int64_t v : ints) s.bind_int64(i++, v);
  s.bind_blob(i++, b.durations.serialize());
  for (int64_t v : {b.queue_wait_count, b.queue_wait_sum, b.generation_time_count,
                    b.generation_time_sum, b.queue_length_count, b.queue_length_sum}) {
    s.bind_int64(i++, v);
  }
  s.bind_blob(i++, b.users.serialize());
  s.bind_text(i++, encode_sample_messages(b.sample_messages));
}

// Reads the state from columns first .. first + kStateColumnCount - 1;
// NULL sketch columns (not selected) leave the sketches empty.
RollupBucket read_state(const SqliteStatement& s, int first) {
  RollupBucket b;
  int i = first;
  for (int64_t* field : {&b.requests, &b.successes, &b.failures, &b.cancellations,
                         &b.queue_length_max, &b.images, &b.starts, &b.event_count,
                         &b.duration_count, &b.duration_sum}) {
    *field = s.column_int64(i++);
  }
  if (!s.is_null(i)) {
    auto sketch = DDSketch::deserialize(s.column_blob(i));
    if (!sketch) throw StoreError("corrupt duration_sketch in rollup row");
    b.durations = std::move(*sketch);
  }
  ++i;
  for (int64_t* field : {&b.queue_wait_count, &b.queue_wait_sum, &b.generation_time_count,
                         &b.generation_time_sum, &b.queue_length_count, &b.queue_length_sum}) {
    *field = s.column_int64(i++);
  }
  if (!s.is_null(i)) {
    auto users = HyperLogLog::deserialize(s.column_blob(i));
    if (!users) throw StoreError("corrupt users_hll in rollup row");
    b.users = std::move(*users);
  }
  ++i;
  if (!s.is_null(i)) b.sample_messages = decode_sample_messages(s.column_text(i));
  return b;
}

std::string placeholders(int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += i ? ",?" : "?";
  return text;
}

std::string state_column_list() {
  std::string list;
  for (int i = 0; i < kStateColumnCount; ++i) {
    if (i) list += ", ";
    list += kStateColumns[i];
  }
  return list;
}

std::string state_update_list() {
  std::string list;
  for (int i = 0; i < kStateColumnCount; ++i) {
    if (i) list += ", ";
    list += fmt::format("{0} = excluded.{0}", kStateColumns[i]);
  }
  return list;
}

std::optional<int64_t> rounded(const std::optional<double>& value) {
  if (!value) return std::nullopt;
  return static_cast<int64_t>(std::llround(*value));
}

}  // namespace

class SqliteStore::ReaderLease {
 public:
  explicit ReaderLease(const SqliteStore& store) : store_(store), db_(store.acquire_reader()) {}
  ~ReaderLease() { store_.release_reader(std::move(db_)); }
  ReaderLease(const ReaderLease&) = delete;
  ReaderLease& operator=(const ReaderLease&) = delete;
  SqliteDatabase& operator*() const { return *db_; }
  SqliteDatabase* operator->() const { return db_.get(); }

 private:
  const SqliteStore& store_;
  std::unique_ptr<SqliteDatabase> db_;
};

SqliteStore::SqliteStore(const std::string& data_dir, const SqliteStoreOptions& options)
    : rollup_cache_(std::make_unique<RollupCache>(options.rollup_cache_bytes)) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) throw StoreError(fmt::format("cannot create data directory {}: {}", data_dir, ec.message()));
  path_ = (std::filesystem::path(data_dir) / "genalytics.db").string();
  writer_ = std::make_unique<SqliteDatabase>(path_, /*create=*/true);
  // synchronous=FULL: a committed transaction survives power loss, which is
  // what a 2xx on ingest promises. Group commit amortizes the fsync.
  writer_->exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-131072;"
      "PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=4096;");
  migrate();
  checkpointer_ = std::make_unique<SqliteCheckpointer>(*writer_, path_, options.checkpoint_pages);
}

SqliteStore::~SqliteStore() = default;

void SqliteStore::migrate() {
  static_assert(std::size(kMigrations) == kSchemaVersion);
  auto schema_version = [&] {
    SqliteStatement version(writer_->handle(), "PRAGMA user_version");
    version.step();
    return version.column_int64(0);
  };
  if (schema_version() == kSchemaVersion) return;
  SqliteTransaction transaction(*writer_, SqliteTransaction::Mode::kWrite);
  // Read again under the write lock: another process may have migrated the
  // file meanwhile.
  const int64_t current = schema_version();
  if (current < 0 || current > kSchemaVersion) {
    throw StoreError(fmt::format("{} has schema version {}, this build knows 0 to {}", path_,
                                 current, kSchemaVersion));
  }
  for (int64_t next = current + 1; next <= kSchemaVersion; ++next) {
    writer_->exec(kMigrations[next - 1]);
  }
  writer_->exec(fmt::format("PRAGMA user_version={}", kSchemaVersion));
  transaction.commit();
}

void SqliteStore::write_generation_events(std::span<const GenerationEvent> events,
                                          std::vector<uint8_t>* inserted) {
  inserted->assign(events.size(), 0);
  if (events.empty()) return;
  const std::string now_text = format_rfc3339_micros(now_us());
  RollupDelta delta;
  uint64_t seq = 0;
  std::vector<RollupCache::Key> touched;
  try {
    SqliteTransaction transaction(*writer_, SqliteTransaction::Mode::kWrite);
    SqliteStatement& insert = writer_->prepare_cached(kInsertEventSql);
    for (size_t i = 0; i < events.size(); ++i) {
      const GenerationEvent& e = events[i];
      insert.reset();
      insert.bind_text(1, to_string(e.event_type));
      insert.bind_text(2, e.generation_id);
      insert.bind_optional_text(3, e.user_id);
      insert.bind_text(4, format_rfc3339_micros(e.timestamp_us));
      insert.bind_optional_text(5, e.generation_type);
      insert.bind_optional_int64(6, e.duration_ms);
      if (e.success) {
        insert.bind_int64(7, *e.success ? 1 : 0);
      } else {
        insert.bind_null(7);
      }
      insert.bind_optional_text(8, e.error_type);
      insert.bind_optional_text(9, e.error_message);
      insert.bind_optional_int64(10, e.queue_wait_time_ms);
      insert.bind_optional_int64(11, e.generation_time_ms);
      insert.bind_optional_text(12, e.model_checkpoint);
      insert.bind_optional_text(13, e.image_dimensions_json);
      insert.bind_optional_int64(14, e.batch_size);
      insert.bind_optional_int64(15, e.prompt_tokens);
      insert.bind_text(16, now_text);
      insert.bind_text(17, e.event_id);
      insert.bind_optional_text(18, e.costs_json);
      insert.bind_optional_text(19, e.tokens_json);
      insert.bind_optional_text(20, e.params_json);
      insert.bind_optional_text(21, e.attributes_json);
      insert.bind_optional_int64(22, e.retry_count);
      insert.bind_optional_int64(23, e.gpu_memory_mb);
      insert.bind_optional_int64(24, e.queue_length);
      insert.step();
      if (writer_->changes() == 1) {
        (*inserted)[i] = 1;
        delta.add(e);
      }
    }
    for (const auto& [key, bucket] : delta.buckets()) merge_rollup(key, bucket, now_text);
    if (!delta.empty()) {
      SqliteStatement& bump = writer_->prepare_cached(
          "UPDATE rollup_sequence SET seq = seq + 1 WHERE id = 1 RETURNING seq");
      if (!bump.step()) throw StoreError("rollup_sequence has no row");
      seq = static_cast<uint64_t>(bump.column_int64(0));
      bump.reset();
      for (const auto& [key, bucket] : delta.buckets()) {
        if (touched.empty() || touched.back() != RollupCache::Key{key.dimension, key.hour_us}) {
          touched.push_back(RollupCache::Key{key.dimension, key.hour_us});
        }
      }
    }
    transaction.commit();
  } catch (...) {
    inserted->assign(events.size(), 0);
    throw;
  }
  if (seq != 0) rollup_cache_->invalidate(seq, touched);
}

void SqliteStore::merge_rollup(const RollupKey& key, const RollupBucket& delta,
                               const std::string& now_text) {
  static const std::string kSelectAll = fmt::format(
      "SELECT {} FROM generation_metrics_hourly WHERE timestamp = ?",
      state_select_list(RollupColumns{true, true, true}));
  static const std::string kSelectDimension = fmt::format(
      "SELECT {} FROM generation_dimension_hourly WHERE dimension = ? AND timestamp = ? AND "
      "value = ?",
      state_select_list(RollupColumns{true, true, true}));
  // The seed's per-hour columns are derived from the merged state on every write.
  static const std::string kUpsertAll = fmt::format(
      "INSERT INTO generation_metrics_hourly (timestamp, created_at, updated_at, "
      "avg_duration_ms, p50_duration_ms, p95_duration_ms, p99_duration_ms, unique_users, "
      "avg_queue_length, {}) VALUES (?,?,?,?,?,?,?,?,?,{}) ON CONFLICT(timestamp) DO UPDATE SET "
      "updated_at = excluded.updated_at, avg_duration_ms = excluded.avg_duration_ms, "
      "p50_duration_ms = excluded.p50_duration_ms, p95_duration_ms = excluded.p95_duration_ms, "
      "p99_duration_ms = excluded.p99_duration_ms, unique_users = excluded.unique_users, "
      "avg_queue_length = excluded.avg_queue_length, {}",
      state_column_list(), placeholders(kStateColumnCount), state_update_list());
  static const std::string kUpsertDimension = fmt::format(
      "INSERT INTO generation_dimension_hourly (dimension, timestamp, value, created_at, "
      "updated_at, {}) VALUES (?,?,?,?,?,{}) ON CONFLICT(dimension, timestamp, value) DO UPDATE "
      "SET updated_at = excluded.updated_at, {}",
      state_column_list(), placeholders(kStateColumnCount), state_update_list());

  const std::string hour_text = format_rfc3339_micros(key.hour_us);
  const bool all = key.dimension == Dimension::kAll;
  RollupBucket merged;
  SqliteStatement& select = writer_->prepare_cached(all ? kSelectAll : kSelectDimension);
  if (all) {
    select.bind_text(1, hour_text);
  } else {
    select.bind_text(1, to_string(key.dimension));
    select.bind_text(2, hour_text);
    select.bind_text(3, key.value);
  }
  if (select.step()) merged = read_state(select, 0);
  select.reset();
  merged.merge(delta);

  SqliteStatement& upsert = writer_->prepare_cached(all ? kUpsertAll : kUpsertDimension);
  int next;
  if (all) {
    upsert.bind_text(1, hour_text);
    upsert.bind_text(2, now_text);
    upsert.bind_text(3, now_text);
    upsert.bind_optional_int64(4, rounded(merged.avg_duration_ms()));
    upsert.bind_optional_int64(5, rounded(merged.duration_quantile(0.50)));
    upsert.bind_optional_int64(6, rounded(merged.duration_quantile(0.95)));
    upsert.bind_optional_int64(7, rounded(merged.duration_quantile(0.99)));
    upsert.bind_int64(8, static_cast<int64_t>(merged.users.estimate()));
    if (auto q = merged.avg_queue_length()) {
      upsert.bind_double(9, *q);
    } else {
      upsert.bind_null(9);
    }
    next = 10;
  } else {
    upsert.bind_text(1, to_string(key.dimension));
    upsert.bind_text(2, hour_text);
    upsert.bind_text(3, key.value);
    upsert.bind_text(4, now_text);
    upsert.bind_text(5, now_text);
    next = 6;
  }
  bind_state(upsert, next, merged);
  upsert.step();
}

std::unique_ptr<SqliteDatabase> SqliteStore::acquire_reader() const {
  {
    std::lock_guard lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      auto reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return reader;
    }
  }
  auto reader = std::make_unique<SqliteDatabase>(path_, /*create=*/false);
  reader->exec("PRAGMA query_only=1; PRAGMA mmap_size=1073741824; PRAGMA cache_size=-65536;");
  return reader;
}

void SqliteStore::release_reader(std::unique_ptr<SqliteDatabase> reader) const {
  std::lock_guard lock(readers_mutex_);
  idle_readers_.push_back(std::move(reader));
}

std::vector<RollupRow> SqliteStore::read_rollups(Dimension dimension, int64_t start_us,
                                                 int64_t end_us,
                                                 const std::optional<std::string>& value,
                                                 const RollupColumns& columns) const {
  ReaderLease reader(*this);
  return read_rollups_on(*reader, dimension, start_us, end_us, value, columns);
}

std::vector<RollupRow> SqliteStore::read_rollups_on(SqliteDatabase& db, Dimension dimension,
                                                    int64_t start_us, int64_t end_us,
                                                    const std::optional<std::string>& value,
                                                    const RollupColumns& columns) {
  const bool all = dimension == Dimension::kAll;
  std::string sql =
      all ? fmt::format("SELECT timestamp, '', {} FROM generation_metrics_hourly WHERE "
                        "timestamp >= ? AND timestamp < ? ORDER BY timestamp",
                        state_select_list(columns))
          : fmt::format("SELECT timestamp, value, {} FROM generation_dimension_hourly WHERE "
                        "dimension = ? AND timestamp >= ? AND timestamp < ? {} "
                        "ORDER BY timestamp, value",
                        state_select_list(columns), value ? "AND value = ?" : "");
  SqliteStatement& select = db.prepare_cached(sql);
  int i = 1;
  if (!all) select.bind_text(i++, to_string(dimension));
  select.bind_text(i++, format_rfc3339_micros(start_us));
  select.bind_text(i++, format_rfc3339_micros(end_us));
  if (!all && value) select.bind_text(i++, *value);
  std::vector<RollupRow> rows;
  while (select.step()) {
    auto hour = parse_rfc3339(select.column_text(0));
    if (!hour) throw StoreError("corrupt timestamp in rollup row");
    rows.push_back(RollupRow{RollupKey{*hour, dimension, std::string(select.column_text(1))},
                             read_state(select, 2)});
  }
  select.reset();
  return rows;
}

void SqliteStore::visit_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                                const std::optional<std::string>& value,
                                const RollupColumns& columns,
                                const std::function<void(const RollupRow&)>& visit) const {
  const auto [first, last] = RollupCache::hours_of(start_us, end_us);
  if (first >= last) return;
  if (rollup_cache_->capacity_bytes() == 0 ||
      (last - first) / kMicrosPerHour > RollupCache::kMaxHoursPerLookup) {
    for (const RollupRow& row : read_rollups(dimension, start_us, end_us, value, columns)) {
      visit(row);
    }
    return;
  }

  std::vector<RollupCache::Entry> entries;
  {
    ReaderLease reader(*this);
    SqliteTransaction snapshot(*reader, SqliteTransaction::Mode::kRead);
    SqliteStatement& sequence = reader->prepare_cached("SELECT seq FROM rollup_sequence");
    if (!sequence.step()) throw StoreError("rollup_sequence has no row");
    const auto seq = static_cast<uint64_t>(sequence.column_int64(0));
    sequence.reset();
    rollup_cache_->lookup(dimension, first, last, seq, &entries);
    // The missing hours, in the same snapshot as the sequence number.
    rollup_cache_->fill(dimension, first, seq, &entries, [&](int64_t run_start, int64_t run_end) {
      return read_rollups_on(*reader, dimension, run_start, run_end, std::nullopt,
                             RollupColumns{true, true, true});
    });
  }
  RollupCache::visit(entries, value, visit);
}

RollupCache::Stats SqliteStore::rollup_cache_stats() const { return rollup_cache_->stats(); }

namespace {
constexpr const char* kScanColumns =
    "SELECT event_type, generation_id, timestamp, generation_type, duration_ms, success, "
    "error_type, error_message, queue_wait_time_ms, generation_time_ms, model_checkpoint, "
    "batch_size, queue_length, event_id, user_id FROM generation_events ";
}  // namespace

void SqliteStore::scan(const std::string& sql, const std::function<void(SqliteStatement&)>& bind,
                       const std::function<void(const GenerationEvent&)>& visit) const {
  ReaderLease reader(*this);
  SqliteStatement& select = reader->prepare_cached(sql);
  bind(select);
  GenerationEvent e;
  while (select.step()) {
    auto type = parse_generation_event_type(select.column_text(0));
    auto timestamp = parse_rfc3339(select.column_text(2));
    if (!type || !timestamp) throw StoreError("corrupt row in generation_events");
    e.event_type = *type;
    e.generation_id = select.column_text(1);
    e.timestamp_us = *timestamp;
    e.generation_type = select.column_optional_text(3);
    e.duration_ms = select.column_optional_int64(4);
    e.success = select.is_null(5) ? std::nullopt : std::optional<bool>(select.column_int64(5) != 0);
    e.error_type = select.column_optional_text(6);
    e.error_message = select.column_optional_text(7);
    e.queue_wait_time_ms = select.column_optional_int64(8);
    e.generation_time_ms = select.column_optional_int64(9);
    e.model_checkpoint = select.column_optional_text(10);
    e.batch_size = select.column_optional_int64(11);
    e.queue_length = select.column_optional_int64(12);
    e.event_id = select.column_text(13);
    e.user_id = select.column_optional_text(14);
    visit(e);
  }
  select.reset();
}

void SqliteStore::scan_user_events(const std::string& user_id, int64_t start_us, int64_t end_us,
                                   const std::function<void(const GenerationEvent&)>& visit) const {
  static const std::string kSql = std::string(kScanColumns) +
      "WHERE user_id = ? AND timestamp >= ? AND timestamp < ? ORDER BY timestamp";
  scan(kSql, [&](SqliteStatement& s) {
    s.bind_text(1, user_id);
    s.bind_text(2, format_rfc3339_micros(start_us));
    s.bind_text(3, format_rfc3339_micros(end_us));
  }, visit);
}

void SqliteStore::scan_events(int64_t start_us, int64_t end_us,
                              const std::function<void(const GenerationEvent&)>& visit) const {
  static const std::string kSql =
      std::string(kScanColumns) + "WHERE timestamp >= ? AND timestamp < ? ORDER BY timestamp";
  scan(kSql, [&](SqliteStatement& s) {
    s.bind_text(1, format_rfc3339_micros(start_us));
    s.bind_text(2, format_rfc3339_micros(end_us));
  }, visit);
}

namespace {

// The columns of route_analytics an event is stored in, in bind order.
constexpr const char* kRouteEventColumns =
    "event_id, route, route_full, method, user_id, timestamp, duration_ms, status_code, "
    "query_params, query_params_normalized, request_size_bytes, response_size_bytes, "
    "error_type, db_query_count, cache_status";

// The state columns of route_analytics_hourly in read/bind order: the
// counters, then the two sketches.
std::string route_state_columns() {
  std::string list;
  for (const char* column : route_columns::kCounters) list += fmt::format("{}, ", column);
  return list + "duration_sketch, users_hll";
}

// Reads the state from columns first .. first + kCounterCount + 1.
RouteBucket read_route_state(const SqliteStatement& s, int first) {
  RouteBucket b;
  int i = first;
  for (int64_t* field : route_columns::counters(b)) *field = s.column_int64(i++);
  auto sketch = DDSketch::deserialize(s.column_blob(i++));
  auto users = HyperLogLog::deserialize(s.column_blob(i++));
  if (!sketch || !users) throw StoreError("corrupt sketch in route_analytics_hourly");
  b.durations = std::move(*sketch);
  b.users = std::move(*users);
  return b;
}

}  // namespace

void SqliteStore::write_route_events(std::span<const RouteEvent> events,
                                     std::vector<uint8_t>* inserted) {
  static const std::string kInsertSql = fmt::format(
      "INSERT INTO route_analytics ({}, created_at) VALUES ({}) "
      "ON CONFLICT(event_id) DO NOTHING",
      kRouteEventColumns, placeholders(16));
  inserted->assign(events.size(), 0);
  if (events.empty()) return;
  const std::string now_text = format_rfc3339_micros(now_us());
  RouteDelta delta;
  try {
    SqliteTransaction transaction(*writer_, SqliteTransaction::Mode::kWrite);
    SqliteStatement& insert = writer_->prepare_cached(kInsertSql);
    for (size_t i = 0; i < events.size(); ++i) {
      const RouteEvent& e = events[i];
      insert.reset();
      insert.bind_text(1, e.event_id);
      insert.bind_text(2, e.route);
      insert.bind_text(3, e.route_full);
      insert.bind_text(4, e.method);
      insert.bind_optional_text(5, e.user_id);
      insert.bind_text(6, format_rfc3339_micros(e.timestamp_us));
      insert.bind_int64(7, e.duration_ms);
      insert.bind_int64(8, e.status_code);
      insert.bind_text(9, e.query_params_json);
      insert.bind_text(10, e.query_params_normalized_json);
      insert.bind_optional_int64(11, e.request_size_bytes);
      insert.bind_optional_int64(12, e.response_size_bytes);
      insert.bind_optional_text(13, e.error_type);
      insert.bind_optional_int64(14, e.db_query_count);
      insert.bind_optional_text(15, e.cache_status);
      insert.bind_text(16, now_text);
      insert.step();
      if (writer_->changes() == 1) {
        (*inserted)[i] = 1;
        delta.add(e);
      }
    }
    for (const auto& [key, bucket] : delta.buckets()) merge_route_rollup(key, bucket, now_text);
    transaction.commit();
  } catch (...) {
    inserted->assign(events.size(), 0);
    throw;
  }
}

void SqliteStore::merge_route_rollup(const RouteKey& key, const RouteBucket& delta,
                                     const std::string& now_text) {
  static const std::string kSelectSql = fmt::format(
      "SELECT {} FROM route_analytics_hourly WHERE timestamp = ? AND route = ? AND method = ? "
      "AND query_params_normalized = ?",
      route_state_columns());
  // The seed's per-hour columns are derived from the merged state on every write.
  static const std::string kUpsertSql = [] {
    std::string columns = fmt::format("{}, ", fmt::join(route_columns::kDerived, ", "));
    columns += route_state_columns();
    std::string updates = "updated_at = excluded.updated_at";
    for (const char* column : route_columns::kDerived) {
      updates += fmt::format(", {0} = excluded.{0}", column);
    }
    for (const char* column : route_columns::kCounters) {
      updates += fmt::format(", {0} = excluded.{0}", column);
    }
    updates += ", duration_sketch = excluded.duration_sketch, users_hll = excluded.users_hll";
    return fmt::format(
        "INSERT INTO route_analytics_hourly (timestamp, route, method, query_params_normalized, "
        "created_at, updated_at, {}) VALUES ({}) "
        "ON CONFLICT(timestamp, route, method, query_params_normalized) DO UPDATE SET {}",
        columns,
        placeholders(6 + static_cast<int>(std::size(route_columns::kDerived)) +
                     route_columns::kCounterCount + 2),
        updates);
  }();

  const std::string hour_text = format_rfc3339_micros(key.hour_us);
  auto bind_key = [&](SqliteStatement& s) {
    s.bind_text(1, hour_text);
    s.bind_text(2, key.route);
    s.bind_text(3, key.method);
    s.bind_text(4, key.query_params_normalized_json);
  };
  RouteBucket merged;
  SqliteStatement& select = writer_->prepare_cached(kSelectSql);
  bind_key(select);
  if (select.step()) merged = read_route_state(select, 0);
  select.reset();
  merged.merge(delta);

  SqliteStatement& upsert = writer_->prepare_cached(kUpsertSql);
  bind_key(upsert);
  upsert.bind_text(5, now_text);
  upsert.bind_text(6, now_text);
  int i = 7;
  const route_columns::DerivedFigures figures = route_columns::derived_figures(merged);
  for (const std::optional<int64_t>& value : figures.integers) {
    upsert.bind_optional_int64(i++, value);
  }
  if (figures.avg_db_query_count) {
    upsert.bind_double(i++, *figures.avg_db_query_count);
  } else {
    upsert.bind_null(i++);
  }
  for (const int64_t* field : route_columns::counters(merged)) upsert.bind_int64(i++, *field);
  upsert.bind_blob(i++, merged.durations.serialize());
  upsert.bind_blob(i++, merged.users.serialize());
  upsert.step();
}

std::vector<RouteRollupRow> SqliteStore::read_route_rollups(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& route) const {
  static const std::string kSql = fmt::format(
      "SELECT timestamp, route, method, query_params_normalized, {} FROM route_analytics_hourly "
      "WHERE timestamp >= ? AND timestamp < ? ORDER BY timestamp, route, method, "
      "query_params_normalized",
      route_state_columns());
  static const std::string kRouteSql = fmt::format(
      "SELECT timestamp, route, method, query_params_normalized, {} FROM route_analytics_hourly "
      "WHERE route = ? AND timestamp >= ? AND timestamp < ? ORDER BY timestamp, method, "
      "query_params_normalized",
      route_state_columns());
  ReaderLease reader(*this);
  SqliteStatement& select = reader->prepare_cached(route ? kRouteSql : kSql);
  int i = 1;
  if (route) select.bind_text(i++, *route);
  select.bind_text(i++, format_rfc3339_micros(start_us));
  select.bind_text(i++, format_rfc3339_micros(end_us));
  std::vector<RouteRollupRow> rows;
  while (select.step()) {
    auto hour = parse_rfc3339(select.column_text(0));
    if (!hour) throw StoreError("corrupt timestamp in route_analytics_hourly");
    rows.push_back(RouteRollupRow{
        RouteKey{*hour, std::string(select.column_text(1)), std::string(select.column_text(2)),
                 std::string(select.column_text(3))},
        read_route_state(select, 4)});
  }
  select.reset();
  return rows;
}

std::vector<Store::UrlCount> SqliteStore::most_requested_urls(
    const std::string& route, const std::string& method,
    const std::string& query_params_normalized_json, int64_t start_us, int64_t end_us,
    size_t limit) const {
  static const std::string kSql =
      "SELECT route_full, COUNT(*) AS requests FROM route_analytics "
      "WHERE route = ? AND timestamp >= ? AND timestamp < ? AND method = ? "
      "AND COALESCE(query_params_normalized, '{}') = ? "
      "GROUP BY route_full ORDER BY requests DESC, route_full LIMIT ?";
  ReaderLease reader(*this);
  SqliteStatement& select = reader->prepare_cached(kSql);
  select.bind_text(1, route);
  select.bind_text(2, format_rfc3339_micros(start_us));
  select.bind_text(3, format_rfc3339_micros(end_us));
  select.bind_text(4, method);
  select.bind_text(5, query_params_normalized_json);
  select.bind_int64(6, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  std::vector<UrlCount> urls;
  while (select.step()) urls.push_back({std::string(select.column_text(0)), select.column_int64(1)});
  select.reset();
  return urls;
}

void SqliteStore::scan_route_events(int64_t start_us, int64_t end_us,
                                    const std::function<void(const RouteEvent&)>& visit) const {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM route_analytics WHERE timestamp >= ? AND timestamp < ? ORDER BY timestamp",
      kRouteEventColumns);
  ReaderLease reader(*this);
  SqliteStatement& select = reader->prepare_cached(kSql);
  select.bind_text(1, format_rfc3339_micros(start_us));
  select.bind_text(2, format_rfc3339_micros(end_us));
  RouteEvent e;
  while (select.step()) {
    auto timestamp = parse_rfc3339(select.column_text(5));
    if (!timestamp) throw StoreError("corrupt timestamp in route_analytics");
    e.event_id = select.column_text(0);
    e.route = select.column_text(1);
    e.route_full = select.column_text(2);
    e.method = select.column_text(3);
    e.user_id = select.column_optional_text(4);
    e.timestamp_us = *timestamp;
    e.duration_ms = select.column_int64(6);
    e.status_code = static_cast<int>(select.column_int64(7));
    e.query_params_json = select.column_optional_text(8).value_or("{}");
    e.query_params_normalized_json = select.column_optional_text(9).value_or("{}");
    e.request_size_bytes = select.column_optional_int64(10);
    e.response_size_bytes = select.column_optional_int64(11);
    e.error_type = select.column_optional_text(12);
    e.db_query_count = select.column_optional_int64(13);
    e.cache_status = select.column_optional_text(14);
    visit(e);
  }
  select.reset();
}

int64_t SqliteStore::count_generation_events() const {
  ReaderLease reader(*this);
  SqliteStatement& count = reader->prepare_cached("SELECT COUNT(*) FROM generation_events");
  count.step();
  int64_t n = count.column_int64(0);
  count.reset();
  return n;
}

StoreStatus SqliteStore::status() const {
  ReaderLease reader(*this);
  StoreStatus status;
  status.events = count_generation_events();
  auto optional_time = [](const SqliteStatement& s, int column) -> std::optional<int64_t> {
    if (s.is_null(column)) return std::nullopt;
    return parse_rfc3339(s.column_text(column));
  };
  SqliteStatement& last = reader->prepare_cached("SELECT MAX(timestamp) FROM generation_events");
  last.step();
  status.last_event_us = optional_time(last, 0);
  last.reset();
  SqliteStatement& hourly = reader->prepare_cached(
      "SELECT MAX(timestamp), MAX(updated_at), COUNT(*) FROM generation_metrics_hourly");
  hourly.step();
  status.last_hour_rolled_up_us = optional_time(hourly, 0);
  status.last_rollup_update_us = optional_time(hourly, 1);
  status.hourly_rows = hourly.column_int64(2);
  hourly.reset();
  return status;
}

}  // namespace genalytics
