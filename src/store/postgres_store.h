// The production store: PostgreSQL with the seeds' tables (generation_events,
// route_analytics and model_usage_events, each partitioned by month;
// generation_metrics_hourly and route_analytics_hourly) plus the dimension
// rollups (generation_dimension_hourly) and the model tables (hourly usage,
// params and lifecycle rollups, the inventory, workers' loaded state). Any
// number of processes may write concurrently: each write is one
// transaction, idempotent on (event_id, timestamp), that locks rollup rows
// in one global order.
//
// This class is the shell that implements Store; each concept has its file:
//   postgres_migrations     the schema, versioned, and the schema lock
//   postgres_connection_pool  pooled connections, one retry after a cut
//   postgres_partitions     the monthly partitions: upkeep and retention
//   postgres_copy_batch     a batch of any kind: COPY, insert, merge
//   postgres_rollup_changes the change log behind every process's rollup cache
//   postgres_generation_rollups, postgres_route_rollups, postgres_model_rollups
//                           one per event kind: its raw COPY row, its rollup
//                           merge, its reads
//   postgres_model_usage    the model rollups of generation events, merged
//                           by the generation kind, and their reads
// Adding an event kind: its postgres_<kind>_rollups files (a kind struct as
// postgres_copy_batch.h describes, and its reads), its migration, its entry
// in PostgresKinds (postgres_store.cc), through which write() dispatches, and
// the kind's read methods, each a one-line call. kGenerationEventCopyColumns and
// append_generation_event_copy_row, which tools load the same rows with,
// come with postgres_generation_rollups.h.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "event/time.h"
#include "rollup/dimension_cap.h"
#include "store/model_span_cache.h"
#include "store/postgres.h"
#include "store/postgres_connection_pool.h"
#include "store/postgres_generation_rollups.h"
#include "store/postgres_partitions.h"
#include "store/rollup_cache.h"
#include "store/store.h"

namespace genalytics {

class PostgresStore final : public Store {
 public:
  static constexpr int kDefaultMonthsAhead = 3;
  static constexpr size_t kDefaultPoolSize = 8;
  static constexpr size_t kDefaultRollupCacheBytes = size_t{256} << 20;
  // Returns the current time in microseconds since the Unix epoch; decides
  // which partitions are kept ready and which retention drops.
  using Clock = std::function<int64_t()>;

  // Connects to `url` (a libpq URL such as postgresql://user@127.0.0.1:5432/db),
  // applies pending migrations (see migrate()) and creates the partitions of
  // this month and kDefaultMonthsAhead months ahead. At most `pool_size`
  // connections are open at once; decoded rollup rows take up to
  // `rollup_cache_bytes`, and so do decoded model spans (0: neither is
  // cached). Throws StoreError (kInvalid for a newer
  // schema, as migrate()). REQUIRES: pool_size >= 1.
  explicit PostgresStore(const std::string& url, size_t pool_size = kDefaultPoolSize,
                         size_t rollup_cache_bytes = kDefaultRollupCacheBytes,
                         Clock clock = now_us);
  ~PostgresStore() override;

  // Applies the migrations the database at `url` lacks, each in its own
  // transaction, under an advisory lock: any number of processes may run it
  // at once. Throws StoreError; kInvalid when the database has a newer
  // schema than this build knows.
  static void migrate(const std::string& url);

  // The cap on the values an open dimension (attribute:<key>) keeps per
  // hour, the rest folded into "(other)" (rollup/dimension_cap.h); default
  // kDefaultMaxValuesPerDimensionHour. Applies to later writes. Thread-safe.
  void set_max_values_per_dimension_hour(size_t cap) { max_values_per_dimension_hour_.store(cap); }

  // Thread-safe, and safe against concurrent writers in other processes.
  using Store::write;
  void write(EventSpan events, std::vector<uint8_t>* inserted) override;
  std::vector<RollupRow> read_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                                      const std::optional<std::string>& value,
                                      const RollupColumns& columns) const override;
  // Served from the rollup cache, kept fresh through the change log of
  // migration 3 (every process's writes); hours it lacks are read in the
  // same snapshot as the log.
  void visit_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                     const std::optional<std::string>& value, const RollupColumns& columns,
                     const std::function<void(const RollupRow&)>& visit) const override;
  RollupCache::Stats rollup_cache_stats() const;
  ModelSpanCache::Stats model_span_cache_stats() const;
  void scan_user_events(const std::string& user_id, int64_t start_us, int64_t end_us,
                        const std::function<void(const GenerationEvent&)>& visit) const override;
  void scan_events(int64_t start_us, int64_t end_us,
                   const std::function<void(const GenerationEvent&)>& visit) const override;
  std::vector<RouteRollupRow> read_route_rollups(
      int64_t start_us, int64_t end_us, const std::optional<std::string>& route) const override;
  // Query params come back in the compact, key-sorted form they were written
  // in (PostgreSQL prints JSONB otherwise); likewise the rollup keys.
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
  void scan_model_uses(
      int64_t start_us, int64_t end_us,
      const std::function<void(int64_t timestamp_us, std::span<const ModelUse> uses)>& visit)
      const override;
  int64_t count_generation_events() const override;
  // `events` is the planner's estimate (pg_class.reltuples): an exact
  // COUNT(*) of a large partitioned table is too slow to poll.
  StoreStatus status() const override;

  // Creates the missing partitions of every raw-event table from the clock's
  // month to `months_ahead` calendar months ahead. Thread-safe.
  void ensure_partitions(int months_ahead);

  // Retention: drops the raw-event partitions (of every kind) whose whole
  // month ended more than `days` days before the clock's time (so raw events live `days` to
  // `days` + 31 days). Rollups are kept. Returns the number of partitions
  // dropped. Each drop briefly locks its table exclusively. Then prunes the
  // rollup change log of entries over a day old.
  // REQUIRES: days >= 0.
  int64_t drop_partitions_older_than(int days);

  // The schema version this build writes (the last migration).
  static int schema_version();

 private:
  // Writes `events` of `Kind` (store/postgres_copy_batch.h) as Store::write
  // promises.
  template <typename Kind>
  void write_events(std::span<const typename Kind::Event> events, std::vector<uint8_t>* inserted);

  const Clock clock_;
  std::atomic<size_t> max_values_per_dimension_hour_{kDefaultMaxValuesPerDimensionHour};
  mutable PostgresConnectionPool pool_;
  PostgresPartitions partitions_;  // uses pool_
  std::unique_ptr<RollupCache> rollup_cache_;
  std::unique_ptr<ModelSpanCache> model_span_cache_;  // kept fresh by rollup_cache_
};

}  // namespace genalytics
