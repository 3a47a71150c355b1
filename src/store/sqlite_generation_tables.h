// Generation events in the embedded store: generation_events and its
// rollups, generation_metrics_hourly (every event, one row per hour, with
// the seed's derived figures) and generation_dimension_hourly (one row per
// dimension, hour and value), whose columns store/generation_rollup_columns.h
// describes; each write also merges the models the events use into the
// model usage tables (store/sqlite_model_usage_tables.h), in the same
// transaction. SqliteStore implements the generation part of Store with it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "event/generation_event.h"
#include "rollup/dimension_cap.h"
#include "store/rollup_cache.h"
#include "store/model_span_cache.h"
#include "store/sqlite_connections.h"
#include "store/sqlite_model_usage_tables.h"
#include "store/store.h"

namespace genalytics {

class SqliteGenerationTables {
 public:
  // Uses `connections` and keeps `cache` fresh; both must outlive this.
  SqliteGenerationTables(SqliteConnections& connections, RollupCache& cache)
      : connections_(connections),
        cache_(cache),
        model_usage_(connections),
        model_spans_(cache.capacity_bytes(), cache) {}

  // An hour keeps at most `cap` values of each attribute dimension (and of
  // each model's params key) in rows of their own (rollup/dimension_cap.h);
  // kDefaultMaxValuesPerDimensionHour until set. REQUIRES: no write()
  // running (the store sets it when it opens).
  void set_max_values_per_dimension_hour(size_t cap) { max_values_per_dimension_hour_ = cap; }

  // Store::write_generation_events: folds each attribute dimension's values
  // of an hour over the cap into "(other)", knowing the values the hour
  // already has; also increments rollup_sequence and, after the commit,
  // reports the written (dimension, hour) keys to the cache.
  void write(std::span<const GenerationEvent> events, std::vector<uint8_t>* inserted);
  // Store::read_rollups.
  std::vector<RollupRow> read_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                                      const std::optional<std::string>& value,
                                      const RollupColumns& columns) const;
  // Store::visit_rollups, through the cache (RollupCache::visit_window).
  void visit_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                     const std::optional<std::string>& value, const RollupColumns& columns,
                     const std::function<void(const RollupRow&)>& visit) const;
  // Store::scan_user_events and Store::scan_events.
  void scan_user_events(const std::string& user_id, int64_t start_us, int64_t end_us,
                        const std::function<void(const GenerationEvent&)>& visit) const;
  void scan_events(int64_t start_us, int64_t end_us,
                   const std::function<void(const GenerationEvent&)>& visit) const;
  // Store::count_generation_events and Store::status.
  int64_t count() const;
  StoreStatus status() const;
  // The model usage rollups this class's writes keep, for their reads.
  const SqliteModelUsageTables& model_usage() const { return model_usage_; }
  // Store::read_model_spans, through a ModelSpanCache as large as the rollup
  // cache and kept fresh by it.
  ModelSpans read_model_spans(int64_t start_us, int64_t end_us,
                              std::span<const int64_t> cuts) const;
  ModelSpanCache::Stats model_span_cache_stats() const { return model_spans_.stats(); }

 private:
  void merge_rollup(const RollupKey& key, const RollupBucket& delta, const std::string& now_text);
  static std::vector<RollupRow> read_rollups_on(SqliteDatabase& db, Dimension dimension,
                                                int64_t start_us, int64_t end_us,
                                                const std::optional<std::string>& value,
                                                const RollupColumns& columns);
  // Opens a read snapshot on a reader and calls `body(db, seq)` inside it,
  // `seq` the rollup write sequence number the snapshot sees.
  void in_snapshot(const std::function<void(SqliteDatabase& db, uint64_t seq)>& body) const;
  // Runs `sql` (the scan columns, then `bind` binds the parameters) and
  // visits each row as an event.
  void scan(const std::string& sql, const std::function<void(SqliteStatement&)>& bind,
            const std::function<void(const GenerationEvent&)>& visit) const;

  SqliteConnections& connections_;
  RollupCache& cache_;
  SqliteModelUsageTables model_usage_;
  mutable ModelSpanCache model_spans_;
  size_t max_values_per_dimension_hour_ = kDefaultMaxValuesPerDimensionHour;
};

}  // namespace genalytics
