// The production store: PostgreSQL with the seeds' tables (generation_events
// and route_analytics, each partitioned by month; generation_metrics_hourly
// and route_analytics_hourly) plus the dimension rollups
// (generation_dimension_hourly). Any number of processes may write
// concurrently: each write is one transaction, idempotent on
// (event_id, timestamp), that locks rollup rows in one global order.
//
// Partitions: one per UTC month and raw-event table, named
// generation_events_pYYYY_MM and route_analytics_pYYYY_MM. There is no
// DEFAULT partition: start-up creates the current month and
// kDefaultMonthsAhead months ahead, and a write first creates the partition
// of any month its events fall into (old and backfilled events included).
// A DEFAULT partition would make every later partition creation scan it, and
// fail once it held rows of that month.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "event/time.h"
#include "store/postgres.h"
#include "store/rollup_cache.h"
#include "store/store.h"

namespace genalytics {

// The generation_events columns the store COPYs an event into, and the COPY
// text row of an event in that order: what a write sends, for tools (such as
// bench/pipeline_bench) that must load the same rows.
extern const char* const kGenerationEventCopyColumns;
void append_generation_event_copy_row(PgCopyBuffer& out, const GenerationEvent& event);

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
  // `rollup_cache_bytes` (0: none). Throws StoreError. REQUIRES: pool_size >= 1.
  explicit PostgresStore(const std::string& url, size_t pool_size = kDefaultPoolSize,
                         size_t rollup_cache_bytes = kDefaultRollupCacheBytes,
                         Clock clock = now_us);
  ~PostgresStore() override;

  // Applies the migrations the database at `url` lacks, each in its own
  // transaction, under an advisory lock: any number of processes may run it
  // at once. Throws StoreError, also when the database has a newer schema
  // than this build knows.
  static void migrate(const std::string& url);

  // Thread-safe, and safe against concurrent writers in other processes.
  void write_generation_events(std::span<const GenerationEvent> events,
                               std::vector<uint8_t>* inserted) override;
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
  void scan_user_events(const std::string& user_id, int64_t start_us, int64_t end_us,
                        const std::function<void(const GenerationEvent&)>& visit) const override;
  void scan_events(int64_t start_us, int64_t end_us,
                   const std::function<void(const GenerationEvent&)>& visit) const override;
  // Thread-safe, and safe against concurrent writers in other processes.
  void write_route_events(std::span<const RouteEvent> events,
                          std::vector<uint8_t>* inserted) override;
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
  int64_t count_generation_events() const override;
  // `events` is the planner's estimate (pg_class.reltuples): an exact
  // COUNT(*) of a large partitioned table is too slow to poll.
  StoreStatus status() const override;

  // Creates the missing partitions of every raw-event table from the clock's
  // month to `months_ahead` calendar months ahead. Thread-safe.
  void ensure_partitions(int months_ahead);

  // Retention: drops the raw-event partitions (of both tables) whose whole
  // month ended more than `days` days before the clock's time (so raw events live `days` to
  // `days` + 31 days). Rollups are kept. Returns the number of partitions
  // dropped. Each drop briefly locks its table exclusively.
  // REQUIRES: days >= 0.
  int64_t drop_partitions_older_than(int days);

  // The schema version this build writes (the last migration).
  static int schema_version();

 private:
  // Runs `work` on a pooled connection; once more on a fresh connection when
  // a pooled one turns out to have been cut (e.g. by a server restart).
  template <typename Work>
  auto with_connection(Work&& work) const;

  static std::vector<RollupRow> read_rollups_on(PgConnection& c, Dimension dimension,
                                                int64_t start_us, int64_t end_us,
                                                const std::optional<std::string>& value,
                                                const RollupColumns& columns);
  // A reader further behind than this many writes resets the cache instead
  // of reading the change log.
  static constexpr uint64_t kMaxChangesReplayed = 10'000;

  // Runs `sql` (the columns of kScanColumns; $2 and $3 the window) and
  // visits each row as an event.
  void scan(const std::string& sql, const PgParams& params,
            const std::function<void(const GenerationEvent&)>& visit) const;
  // Creates the partitions of `table` for `months` ("YYYY-MM") that are not
  // known to exist.
  void ensure_months(std::string_view table, const std::set<std::string>& months);
  // Forgets which partitions exist, after another process may have dropped some.
  void forget_partitions();
  // Runs `write` once the partitions of `table` for `months` exist; once
  // more, after learning the partitions again, when a row found none
  // because another process's retention dropped its month meanwhile. On
  // failure sets every (*inserted)[i] to 0 and rethrows.
  template <typename Write>
  void write_partitioned(std::string_view table, const std::set<std::string>& months,
                         std::vector<uint8_t>* inserted, Write&& write);

  const Clock clock_;
  mutable PgPool pool_;
  std::unique_ptr<RollupCache> rollup_cache_;
  std::mutex partitions_mutex_;
  std::set<std::string> partitions_;  // GUARDED_BY(partitions_mutex_): names known to exist
  bool partitions_loaded_ = false;    // GUARDED_BY(partitions_mutex_)
};

}  // namespace genalytics
