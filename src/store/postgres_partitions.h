// The monthly partitions of PostgresStore's raw-event tables, one per UTC
// month and table, named by partition_name() ("generation_events_p2026_02";
// the calendar arithmetic is store/partition_months.h). There is no DEFAULT
// partition: the store keeps the coming months ready, and a write first
// creates the partition of any month its events fall into (old and
// backfilled events included). A DEFAULT partition would make every later
// partition creation scan it, and fail once it held rows of that month.
// Retention drops whole months. Creations and drops take the schema lock
// (store/postgres_migrations.h), so any number of processes may do both.
#pragma once

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "store/postgres.h"
#include "store/postgres_connection_pool.h"

namespace genalytics {

// Thread-safe.
class PostgresPartitions {
 public:
  // The partitions of `tables` (partitioned by month on timestamp) in the
  // database of `pool`, which must outlive this.
  PostgresPartitions(PostgresConnectionPool& pool, std::vector<std::string_view> tables);

  // Creates the missing partitions of every table for the month of `now_us`
  // and `months_ahead` calendar months after it. Throws StoreError.
  // REQUIRES: months_ahead >= 0.
  void ensure_ahead(int64_t now_us, int months_ahead) EXCLUDES(mutex_);

  // Creates the partitions of `table` for `months` ("YYYY-MM") that are not
  // known to exist. Throws StoreError. REQUIRES: `table` is one of tables.
  void ensure(std::string_view table, const std::set<std::string>& months) EXCLUDES(mutex_);

  // Runs `write` once the partitions of `table` for `months` exist; once
  // more, after learning the partitions again, when a row found none because
  // another process's retention dropped its month meanwhile. On failure sets
  // every (*inserted)[i] to 0 and rethrows.
  template <typename Write>
  void write_partitioned(std::string_view table, const std::set<std::string>& months,
                         std::vector<uint8_t>* inserted, Write&& write) EXCLUDES(mutex_);

  // Retention: drops the partitions (of every table) whose whole month ended
  // more than `days` days before `now_us`, in one transaction. Returns the
  // number dropped. Each drop briefly locks its table exclusively. Throws
  // StoreError. REQUIRES: days >= 0.
  int64_t drop_older_than(int64_t now_us, int days) EXCLUDES(mutex_);

 private:
  // Forgets which partitions exist, after another process may have dropped some.
  void forget() EXCLUDES(mutex_);

  PostgresConnectionPool& pool_;
  const std::vector<std::string_view> tables_;
  // Held across ensure()'s round trip, so that concurrent writers of a new
  // month wait for one creation instead of each creating it.
  Mutex mutex_;
  std::set<std::string> known_ GUARDED_BY(mutex_);  // partition names known to exist
  bool loaded_ GUARDED_BY(mutex_) = false;          // known_ read from the database
};

template <typename Write>
void PostgresPartitions::write_partitioned(std::string_view table,
                                           const std::set<std::string>& months,
                                           std::vector<uint8_t>* inserted, Write&& write) {
  try {
    ensure(table, months);
    try {
      write();
    } catch (const PostgresError& error) {
      // 23514: no partition for a row. Another process's retention dropped
      // a month this one believed existed; learn the partitions again, once.
      if (error.sqlstate() != "23514") throw;
      forget();
      ensure(table, months);
      write();
    }
  } catch (...) {
    std::fill(inserted->begin(), inserted->end(), 0);
    throw;
  }
}

}  // namespace genalytics
