#include "store/postgres_copy_batch.h"

#include <fmt/format.h>

#include <utility>

namespace genalytics {

PgBatchSql pg_batch_sql(std::string_view table, std::string_view columns,
                        std::string create_staging, std::string_view staging) {
  // Sorted so that concurrent writers of overlapping batches wait on each
  // other's rows in one order instead of deadlocking.
  return {std::move(create_staging), fmt::format("COPY {} ({}) FROM STDIN", staging, columns),
          fmt::format("INSERT INTO {0} ({1}) SELECT {1} FROM {2} ORDER BY event_id, timestamp "
                      "ON CONFLICT (event_id, timestamp) DO NOTHING RETURNING event_id",
                      table, columns, staging)};
}

}  // namespace genalytics
