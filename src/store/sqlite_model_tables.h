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
#include "rollup/model_rollup.h"
#include "store/sqlite_connections.h"
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
  void merge_lifecycle(const ModelHourKey& key, const ModelLifecycleBucket& delta,
                       const std::string& now_text);

  SqliteConnections& connections_;
};

// Where a batch's sightings come from, which says how much they may change.
enum class ModelSightingSource : uint8_t {
  // Generation events: they imply a kind from the role that names a model,
  // so their descriptive fields (model_kind, base_model, size_bytes) only
  // fill ones the inventory lacks.
  kGeneration,
  // Model events: their descriptive fields replace the stored ones when not
  // older than the event or registration those came from (described_at),
  // and otherwise fill only ones the inventory lacks.
  kModelEvent,
};

// Merges `sightings` into model_inventory on `writer`: a new model is added;
// for a known one first_seen_at keeps the earliest, last_used_at and
// last_event_at the latest, and the descriptive fields change as `source`
// says. REQUIRES: a write transaction open on `writer`.
void merge_model_sightings(SqliteDatabase& writer,
                           const std::map<std::string, ModelSighting>& sightings,
                           ModelSightingSource source, const std::string& now_text);

// The time a stored timestamp of `table` holds. Throws StoreError(kCorrupt)
// naming `table` when `text` is not RFC 3339.
int64_t stored_time(std::string_view text, std::string_view table);

}  // namespace genalytics
