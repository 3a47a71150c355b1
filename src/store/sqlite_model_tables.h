// Model lifecycle events in the embedded store (seed 003, issue 10):
// model_usage_events (the raw events), model_lifecycle_hourly (their rollup,
// whose columns store/model_rollup_columns.h describes), model_inventory
// (every model any event, registration or scan named) and
// model_worker_state (each worker's loaded state). SqliteStore implements
// the model part of Store with it; the usage side, written from generation
// events, is store/sqlite_model_usage_tables.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "event/model_event.h"
#include "event/time.h"
#include "rollup/model_rollup.h"
#include "store/sqlite.h"
#include "store/sqlite_connections.h"
#include "store/sqlite_rollup_rows.h"
#include "store/store.h"

namespace genalytics {

class SqliteModelTables {
 public:
  // Uses `connections`, which must outlive this.
  explicit SqliteModelTables(SqliteConnections& connections) : connections_(connections) {}

  // Store::write, for model events: the raw rows, then for the ones
  // inserted their lifecycle rows merged, their sightings merged into the
  // inventory (merge_model_sightings) and each worker's latest state
  // applied when not older than the stored one.
  void write(std::span<const ModelEvent> events, std::vector<uint8_t>* inserted);
  // Store::read_model_lifecycle.
  std::vector<ModelLifecycleRow> read_lifecycle(int64_t start_us, int64_t end_us,
                                                const std::optional<std::string>& model) const;
  // Store::read_models.
  std::vector<ModelRecord> read_models() const;
  // Store::read_model_worker_states.
  std::vector<ModelWorkerState> read_worker_states() const;
  // Store::register_models, in one write transaction.
  void register_models(std::span<const ModelRecord> records);
  // Store::scan_model_events: ties in timestamp in the order stored.
  void scan(int64_t start_us, int64_t end_us,
            const std::function<void(const ModelEvent&)>& visit) const;

 private:
  SqliteConnections& connections_;
};

// Merges `sightings` into model_inventory on `writer`: a new model is added;
// for a known one first_seen_at keeps the earliest, last_used_at and
// last_event_at the latest, and described_at the latest. A sighting's
// descriptive fields (model_kind, base_model, size_bytes) replace the stored
// ones when its described_at_us is not older than the stored described_at,
// and otherwise only fill ones the inventory lacks; a sighting with
// described_at_us 0 (a generation's, whose kind its role implies, or a
// model event describing nothing) only fills them. REQUIRES: a write
// transaction open on `writer`.
void merge_model_sightings(SqliteDatabase& writer,
                           const std::map<std::string, ModelSighting>& sightings,
                           const std::string& now_text);

// The stored text of an hour (RFC 3339), formatted again only when the hour
// changes: a delta's rows come in hour order.
class SqliteHourText {
 public:
  const std::string& operator()(int64_t hour_us) {
    if (hour_us_ != hour_us) {
      hour_us_ = hour_us;
      text_ = format_rfc3339_micros(hour_us);
    }
    return text_;
  }

 private:
  std::optional<int64_t> hour_us_;
  std::string text_;
};

// The statements of the read-merge-write of an hourly model table keyed by
// (timestamp, model_id) (store/model_rollup_columns.h):
// model_lifecycle_hourly here, model_usage_hourly in
// store/sqlite_model_usage_tables.cc.
struct SqliteModelHourSql {
  // The state of the row of (?1 timestamp, ?2 model_id), in column order.
  std::string select;
  // Inserts or overwrites the row: timestamp, model_id, created_at,
  // updated_at, then the state in column order.
  std::string upsert;
};

// The statements for `table`, whose state columns are `state_columns`.
SqliteModelHourSql sqlite_model_hour_sql(std::string_view table,
                                         std::span<const char* const> state_columns);

// Merges each bucket of `delta` into its row of the table of `sql` on
// `writer`: reads the stored state (`read_state(row, first)`), merges the
// bucket into it and writes it back (`write_state(binds, bucket)`), a new
// row starting empty. Throws StoreError (kCorrupt when a stored row does
// not decode). REQUIRES: a write transaction open on `writer`.
template <typename Bucket, typename ReadState, typename WriteState>
void merge_model_hour_rows(SqliteDatabase& writer, const SqliteModelHourSql& sql,
                           const std::map<ModelHourKey, Bucket>& delta, const std::string& now_text,
                           ReadState&& read_state, WriteState&& write_state) {
  SqliteStatement& select = writer.prepare_cached(sql.select);
  SqliteStatement& upsert = writer.prepare_cached(sql.upsert);
  SqliteHourText hour_text;
  for (const auto& [key, bucket] : delta) {
    Bucket merged;
    select.bind_text(1, hour_text(key.hour_us));
    select.bind_text(2, key.model_id);
    if (select.step()) merged = read_state(SqliteRow(select), 0);
    select.reset();
    merged.merge(bucket);

    upsert.reset();
    upsert.bind_text(1, hour_text(key.hour_us));
    upsert.bind_text(2, key.model_id);
    upsert.bind_text(3, now_text);
    upsert.bind_text(4, now_text);
    SqliteBinds binds(upsert, 5);
    write_state(binds, merged);
    upsert.step();
  }
}

// The time a stored timestamp of `table` holds. Throws StoreError(kCorrupt)
// naming `table` when `text` is not RFC 3339.
int64_t stored_time(std::string_view text, std::string_view table);

}  // namespace genalytics
