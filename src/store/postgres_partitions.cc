#include "store/postgres_partitions.h"

#include <fmt/format.h>

#include <utility>

#include "store/partition_months.h"
#include "store/postgres_migrations.h"

namespace genalytics {
namespace {

// The months of the existing partitions of `table`, in time order.
std::set<std::string> existing_partitions(PgConnection& c, std::string_view table) {
  PgResult result = c.exec(
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
      "WHERE i.inhparent = $1::regclass",
      PgParams().text(table));
  std::set<std::string> months;
  for (int r = 0; r < result.rows(); ++r) {
    if (auto month = month_of_partition(table, result.text(r, 0))) months.insert(*month);
  }
  return months;
}

}  // namespace

PostgresPartitions::PostgresPartitions(PostgresConnectionPool& pool,
                                       std::vector<std::string_view> tables)
    : pool_(pool), tables_(std::move(tables)) {}

void PostgresPartitions::ensure_ahead(int64_t now_us, int months_ahead) {
  const std::set<std::string> months = months_ahead_of(now_us, months_ahead);
  for (std::string_view table : tables_) ensure(table, months);
}

void PostgresPartitions::ensure(std::string_view table, const std::set<std::string>& months) {
  MutexLock lock(mutex_);
  std::vector<std::string> missing;
  for (const std::string& month : months) {
    if (!known_.contains(partition_name(table, month))) missing.push_back(month);
  }
  if (missing.empty()) return;
  pool_.with_connection([&](PgConnection& c) {
    mutex_.assert_held();  // with_connection runs this here, inside the lock
    PgTransaction transaction(c);
    lock_postgres_schema(c);
    if (!loaded_) {
      for (std::string_view partitioned : tables_) {
        for (const std::string& month : existing_partitions(c, partitioned)) {
          known_.insert(partition_name(partitioned, month));
        }
      }
      loaded_ = true;
    }
    for (const std::string& month : missing) {
      const std::string name = partition_name(table, month);
      if (known_.contains(name)) continue;
      c.exec(fmt::format(
          "CREATE TABLE IF NOT EXISTS \"{}\" PARTITION OF {} FOR VALUES FROM ('{}') TO ('{}')",
          name, table, month_start_literal(month), month_start_literal(month_plus(month, 1))));
    }
    transaction.commit();
  });
  for (const std::string& month : missing) known_.insert(partition_name(table, month));
}

void PostgresPartitions::forget() {
  MutexLock lock(mutex_);
  known_.clear();
  loaded_ = false;
}

int64_t PostgresPartitions::drop_older_than(int64_t now_us, int days) {
  const std::string cutoff = first_month_kept(now_us, days);
  const int64_t dropped = pool_.with_connection([&](PgConnection& c) {
    PgTransaction transaction(c);
    lock_postgres_schema(c);
    int64_t count = 0;
    for (std::string_view table : tables_) {
      for (const std::string& month : existing_partitions(c, table)) {
        if (month >= cutoff) break;
        c.exec(fmt::format("DROP TABLE \"{}\"", partition_name(table, month)));
        ++count;
      }
    }
    transaction.commit();
    return count;
  });
  forget();
  return dropped;
}

}  // namespace genalytics
