// The embedded store: one SQLite file (WAL mode, synchronous=FULL) holding
// the seeds' tables (generation_events, generation_metrics_hourly,
// route_analytics, route_analytics_hourly, model_usage_events) plus the
// dimension rollups (generation_dimension_hourly) and the model tables
// (store/sqlite_model_tables.h, sqlite_model_usage_tables.h). Timestamps
// are RFC 3339 text with microseconds (fixed width, so text order is time
// order).
//
// This class is the shell: it opens the file, applies the schema
// (store/sqlite_migrations.h) and hands each event kind's calls to that
// kind's tables (sqlite_generation_tables.h, sqlite_route_tables.h), which
// share its connections (sqlite_connections.h). write() dispatches through
// SqliteKinds (sqlite_store.cc), one entry per kind. A new kind is a
// migration (one line in the list), a tables class in files of its own, its
// entry in SqliteKinds, and here the one-line hand-over of each of its read
// methods (store/store.h says what the whole store layer takes).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "rollup/dimension_cap.h"
#include "store/model_span_cache.h"
#include "store/rollup_cache.h"
#include "store/sqlite.h"
#include "store/sqlite_checkpointer.h"
#include "store/store.h"

namespace genalytics {

class SqliteConnections;
class SqliteGenerationTables;
class SqliteModelTables;
class SqliteRouteTables;

struct SqliteStoreOptions {
  // Memory for decoded rollup rows (store/rollup_cache.h), and as much again
  // for decoded model spans (store/model_span_cache.h); 0 disables both.
  size_t rollup_cache_bytes = size_t{256} << 20;
  // WAL pages (4 KiB) that start a checkpoint, run on a thread of its own
  // (store/sqlite_checkpointer.h).
  int checkpoint_pages = 4096;
  // Values of each attribute dimension an hour keeps in rows of their own;
  // the rest are folded into "(other)" (rollup/dimension_cap.h).
  size_t max_values_per_dimension_hour = kDefaultMaxValuesPerDimensionHour;
};

class SqliteStore final : public Store {
 public:
  // Opens or creates `<data_dir>/genalytics.db`, creating `data_dir` when
  // missing, and applies pending schema migrations. Throws StoreError.
  explicit SqliteStore(const std::string& data_dir, const SqliteStoreOptions& options = {});
  ~SqliteStore() override;

  using Store::write;
  void write(EventSpan events, std::vector<uint8_t>* inserted) override;
  std::vector<RollupRow> read_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                                      const std::optional<std::string>& value,
                                      const RollupColumns& columns) const override;
  // Served from the rollup cache; hours it lacks are read in one snapshot.
  void visit_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                     const std::optional<std::string>& value, const RollupColumns& columns,
                     const std::function<void(const RollupRow&)>& visit) const override;
  void scan_user_events(const std::string& user_id, int64_t start_us, int64_t end_us,
                        const std::function<void(const GenerationEvent&)>& visit) const override;
  void scan_events(int64_t start_us, int64_t end_us,
                   const std::function<void(const GenerationEvent&)>& visit) const override;
  std::vector<RouteRollupRow> read_route_rollups(
      int64_t start_us, int64_t end_us, const std::optional<std::string>& route) const override;
  void scan_route_events(int64_t start_us, int64_t end_us,
                         const std::function<void(const RouteEvent&)>& visit) const override;
  std::vector<UrlCount> most_requested_urls(const std::string& route, const std::string& method,
                                            const std::string& query_params_normalized_json,
                                            int64_t start_us, int64_t end_us,
                                            size_t limit) const override;
  std::vector<ModelUsageRow> read_model_usage(int64_t start_us, int64_t end_us,
                                              const std::optional<std::string>& model,
                                              bool sketches) const override;
  std::vector<ModelParamRow> read_model_params(
      int64_t start_us, int64_t end_us, const std::optional<std::string>& model) const override;
  ModelSpans read_model_spans(int64_t start_us, int64_t end_us,
                              std::span<const int64_t> cuts) const override;
  std::vector<ModelLifecycleRow> read_model_lifecycle(
      int64_t start_us, int64_t end_us, const std::optional<std::string>& model) const override;
  std::vector<ModelRecord> read_models() const override;
  std::vector<ModelWorkerState> read_model_worker_states() const override;
  void register_models(std::span<const ModelRecord> records) override;
  void scan_model_events(int64_t start_us, int64_t end_us,
                         const std::function<void(const ModelEvent&)>& visit) const override;
  void scan_model_uses(int64_t start_us, int64_t end_us,
                       const std::function<void(int64_t timestamp_us,
                                                std::span<const ModelUse> uses)>& visit)
      const override;
  int64_t count_generation_events() const override;
  StoreStatus status() const override;

  const std::string& path() const;
  RollupCache::Stats rollup_cache_stats() const;
  ModelSpanCache::Stats model_span_cache_stats() const;
  uint64_t wal_checkpoints() const { return checkpointer_->checkpoints(); }

  // The schema version this build writes (PRAGMA user_version): 1 the
  // generation tables, 2 the route tables, 3 the rollup write sequence, 4
  // the model tables.
  static constexpr int kSchemaVersion = 4;

 private:
  void migrate();

  // Each kind's tables (SqliteKinds in sqlite_store.cc).
  struct KindTables;
  SqliteGenerationTables& generation() const;
  SqliteRouteTables& routes() const;
  SqliteModelTables& models() const;

  std::unique_ptr<RollupCache> rollup_cache_;
  std::unique_ptr<SqliteConnections> connections_;
  std::unique_ptr<SqliteCheckpointer> checkpointer_;  // destroyed before connections_
  std::unique_ptr<KindTables> tables_;                // destroyed before connections_
};

}  // namespace genalytics
