// Model lifecycle events (seed 003, issue 10) on PostgreSQL: the
// model_usage_events row a write COPYs, the merge of a batch's
// ModelLifecycleDelta into model_lifecycle_hourly, model_inventory and
// model_worker_state, and the reads of those and of the raw events. The
// inventory's merge of sightings is shared with the generation side
// (store/postgres_model_usage.h), whose events are uses of models. The
// rollup columns are store/model_rollup_columns.h's.
//
// The inventory, per model (store.h's ModelRecord): first_seen_at keeps the
// earliest sighting or given first-seen time; last_used_at and
// last_event_at the latest. The descriptive fields (model_kind, base_model,
// size_bytes) a model event or registration gives replace the stored ones
// unless those are newer (described_at: the time of the latest model event
// or registration that gave any), and otherwise only fill the missing ones:
// an event arriving late does not undo a newer description. What a
// generation says of a model (the kind its role implies) only fills fields
// nothing else gave.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "event/model_event.h"
#include "rollup/model_rollup.h"
#include "store/postgres.h"
#include "store/postgres_connection_pool.h"
#include "store/postgres_copy_batch.h"
#include "store/postgres_rows.h"
#include "store/store.h"

namespace genalytics {

// Model events as PostgresStore writes them (store/postgres_copy_batch.h).
struct PostgresModelKind {
  using Event = ModelEvent;
  using Delta = ModelLifecycleDelta;
  static constexpr std::string_view kTable = "model_usage_events";
  static const PgBatchSql& batch_sql();
  static void append_copy_row(PgCopyBuffer& out, const ModelEvent& event);
  // Merges `delta` into model_lifecycle_hourly, its sightings into the
  // inventory (merge_model_sightings) and its worker states into
  // model_worker_state, where a state is applied only when not older than
  // the stored one (a load or unload arriving late does not undo a newer
  // one). Every writer locks the rows of each table in one order (lifecycle
  // rows by (hour, model_id), inventory rows by model_id, worker states by
  // (model_id, worker_id)), each lock taken by creating the row or updating
  // it, and the tables in that order, so concurrent writers never deadlock.
  // Throws StoreError (kCorrupt when a stored row does not decode, or the
  // rows locked are not one per key of `delta`). REQUIRES: inside the
  // batch's transaction.
  static void merge(PgConnection& c, const ModelLifecycleDelta& delta);
};

// The read-merge-write of an hourly model table keyed by (timestamp,
// model_id) whose state (store/model_rollup_columns.h) is counters then
// DDSketches: model_lifecycle_hourly here, model_usage_hourly in
// store/postgres_model_usage.cc.
struct PgModelHourTable {
  std::string name;
  // Creates the temporary staging table of merged states.
  std::string create_staging;
  // Creates or touches the rows of $1 hours and $2 model ids in key order
  // (sketches of new rows: $3), RETURNING hour_us, model_id and the state.
  std::string lock;
  // COPY of (timestamp, model_id, state) into the staging table.
  std::string copy;
  // The staged states into the table.
  std::string update;
};

// The statements for `table`, whose state columns are `state_columns`, the
// first `counter_count` of them bigint and the rest sketches, staged in
// `staging`.
PgModelHourTable pg_model_hour_table(std::string_view table,
                                     std::span<const char* const> state_columns, int counter_count,
                                     std::string_view staging);

// Locks the rows of the keys of `delta` in `table` (creating the missing
// ones), merges each with its bucket and writes it back. `read_state(row,
// first)` and `write_state(out, bucket)` are the table's column
// description's. Throws StoreError (kCorrupt when a stored row does not
// decode, or the rows locked are not one per key of `delta`). REQUIRES:
// inside a transaction on `c` whose staging tables include
// table.create_staging's; `delta` not empty.
template <typename Bucket, typename ReadState, typename WriteState>
void merge_model_hour_rows(PgConnection& c, const PgModelHourTable& table,
                           const std::map<ModelHourKey, Bucket>& delta, ReadState&& read_state,
                           WriteState&& write_state);

// The CREATE statements of the temporary staging table merge_model_sightings
// uses, for the create_staging of each kind whose merge calls it.
std::string model_sightings_staging_sql();

// Merges `sightings` (by model_id) into model_inventory as this file's
// header says, locking the rows by model_id. Throws StoreError. REQUIRES:
// inside a transaction on `c` whose staging tables include
// model_sightings_staging_sql()'s.
void merge_model_sightings(PgConnection& c, const std::map<std::string, ModelSighting>& sightings);

// Store::read_model_lifecycle. Throws StoreError (kCorrupt when a row does
// not decode).
std::vector<ModelLifecycleRow> read_model_lifecycle(PostgresConnectionPool& pool, int64_t start_us,
                                                    int64_t end_us,
                                                    const std::optional<std::string>& model);

// Store::read_models, ordered by model_id in byte order.
std::vector<ModelRecord> read_models(PostgresConnectionPool& pool);

// Store::read_model_worker_states, ordered by model_id then worker_id in
// byte order.
std::vector<ModelWorkerState> read_model_worker_states(PostgresConnectionPool& pool);

// Store::register_models, in one transaction; records naming one model
// twice apply in order. A registration describes the model as of its
// registered_us (when given). Throws StoreError.
void register_models(PostgresConnectionPool& pool, std::span<const ModelRecord> records);

// Store::scan_model_events. The rows are read before the first visit, and
// the connection returned. Throws StoreError (kCorrupt when a row does not
// decode).
void scan_model_events(PostgresConnectionPool& pool, int64_t start_us, int64_t end_us,
                       const std::function<void(const ModelEvent&)>& visit);

template <typename Bucket, typename ReadState, typename WriteState>
void merge_model_hour_rows(PgConnection& c, const PgModelHourTable& table,
                           const std::map<ModelHourKey, Bucket>& delta, ReadState&& read_state,
                           WriteState&& write_state) {
  std::vector<std::string> hours, models;
  hours.reserve(delta.size());
  models.reserve(delta.size());
  for (const auto& entry : delta) {
    hours.push_back(pg_timestamp(entry.first.hour_us));
    models.push_back(entry.first.model_id);
  }
  const PgResult locked = c.exec(table.lock,
                                 PgParams()
                                     .text(pg_array_literal(hours))
                                     .text(pg_array_literal(models))
                                     .bytea(DDSketch().serialize()),
                                 PgFormat::kBinary);
  // As for generation rollups: a mismatch means the database is not as this
  // build's migrations left it, and retrying fails the same way: kCorrupt.
  if (static_cast<size_t>(locked.rows()) != delta.size()) {
    throw StoreError(fmt::format("postgres: locked {} rows of {} for {} keys", locked.rows(),
                                 table.name, delta.size()),
                     StoreFailure::kCorrupt);
  }
  PgCopyBuffer states;
  for (int r = 0; r < locked.rows(); ++r) {
    const ModelHourKey key{locked.int64(r, 0), std::string(locked.text(r, 1))};
    auto it = delta.find(key);
    if (it == delta.end()) {
      throw StoreError(fmt::format("postgres: locked an unexpected row of {}", table.name),
                       StoreFailure::kCorrupt);
    }
    Bucket bucket = read_state(PgRow(locked, r), 2);
    bucket.merge(it->second);
    states.add_text(pg_timestamp(key.hour_us));
    states.add_text(key.model_id);
    PgCopyRow row(states);
    write_state(row, bucket);
    states.end_row();
  }
  c.copy_from(table.copy, states.data());
  c.exec(table.update);
}

}  // namespace genalytics
