// The embedded store: one SQLite file (WAL mode, synchronous=FULL) holding
// the seeds' tables (generation_events, generation_metrics_hourly,
// route_analytics, route_analytics_hourly) plus the dimension rollups
// (generation_dimension_hourly). Timestamps are RFC 3339 text with
// microseconds (fixed width, so text order is time order).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/rollup_cache.h"
#include "store/sqlite_checkpointer.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace genalytics {

struct SqliteStoreOptions {
  // Memory for decoded rollup rows (store/rollup_cache.h); 0 disables it.
  size_t rollup_cache_bytes = size_t{256} << 20;
  // WAL pages (4 KiB) that start a checkpoint, run on a thread of its own
  // (store/sqlite_checkpointer.h).
  int checkpoint_pages = 4096;
};

class SqliteStore final : public Store {
 public:
  // Opens or creates `<data_dir>/genalytics.db`, creating `data_dir` when
  // missing, and applies pending schema migrations. Throws StoreError.
  explicit SqliteStore(const std::string& data_dir, const SqliteStoreOptions& options = {});
  ~SqliteStore() override;

  void write_generation_events(std::span<const GenerationEvent> events,
                               std::vector<uint8_t>* inserted) override;
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
  void write_route_events(std::span<const RouteEvent> events,
                          std::vector<uint8_t>* inserted) override;
  std::vector<RouteRollupRow> read_route_rollups(
      int64_t start_us, int64_t end_us, const std::optional<std::string>& route) const override;
  void scan_route_events(int64_t start_us, int64_t end_us,
                         const std::function<void(const RouteEvent&)>& visit) const override;
  std::vector<UrlCount> most_requested_urls(const std::string& route, const std::string& method,
                                            const std::string& query_params_normalized_json,
                                            int64_t start_us, int64_t end_us,
                                            size_t limit) const override;
  int64_t count_generation_events() const override;
  StoreStatus status() const override;

  const std::string& path() const { return path_; }
  RollupCache::Stats rollup_cache_stats() const;
  uint64_t wal_checkpoints() const { return checkpointer_->checkpoints(); }

  // The schema version this build writes (PRAGMA user_version): 1 the
  // generation tables, 2 the route tables, 3 the rollup write sequence.
  static constexpr int kSchemaVersion = 3;

 private:
  class ReaderLease;

  void migrate();
  static std::vector<RollupRow> read_rollups_on(SqliteDatabase& db, Dimension dimension,
                                                int64_t start_us, int64_t end_us,
                                                const std::optional<std::string>& value,
                                                const RollupColumns& columns);
  void merge_rollup(const RollupKey& key, const RollupBucket& delta, const std::string& now_text);
  void merge_route_rollup(const RouteKey& key, const RouteBucket& delta,
                          const std::string& now_text);
  std::unique_ptr<SqliteDatabase> acquire_reader() const;
  // Runs `sql` (the columns of kScanColumns, then `bind` binds the
  // parameters) and visits each row as an event.
  void scan(const std::string& sql, const std::function<void(SqliteStatement&)>& bind,
            const std::function<void(const GenerationEvent&)>& visit) const;
  void release_reader(std::unique_ptr<SqliteDatabase> reader) const;

  std::string path_;
  std::unique_ptr<RollupCache> rollup_cache_;
  std::unique_ptr<SqliteDatabase> writer_;  // used by one writer at a time (see Store)
  std::unique_ptr<SqliteCheckpointer> checkpointer_;  // destroyed before writer_
  mutable std::mutex readers_mutex_;
  mutable std::vector<std::unique_ptr<SqliteDatabase>> idle_readers_;  // GUARDED_BY(readers_mutex_)
};

}  // namespace genalytics
