// How PostgresStore writes a batch of raw events of any kind, in one
// transaction: the rows are COPYed into a per-connection staging table,
// inserted from there ON CONFLICT (event_id, timestamp) DO NOTHING in one
// global order (so concurrent writers of overlapping batches wait on each
// other instead of deadlocking), and the kind's rollup deltas of the rows
// actually inserted are merged.
//
// An event kind the store writes is described by a struct (see
// store/postgres_generation_rollups.h, store/postgres_route_rollups.h):
//   using Event;                    // the validated event, with event_id and timestamp_us
//   using Delta;                    // its rollup delta: add(const Event&), empty()
//   static constexpr std::string_view kTable;   // its raw table, partitioned by month
//   static const PgBatchSql& batch_sql();       // see PgBatchSql
//   static void append_copy_row(PgCopyBuffer&, const Event&);  // batch_sql's COPY order
//   static void merge(PgConnection&, const Delta&);  // into the rollup rows, same transaction
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/partition_months.h"
#include "store/postgres.h"

namespace genalytics {

// The statements that load a batch into one raw-event table through its
// per-connection staging table.
struct PgBatchSql {
  std::string create_staging;  // creates the staging tables unless they exist
  std::string copy;            // COPY ... FROM STDIN into the staging table
  std::string insert;          // staging -> table, RETURNING the inserted event_ids
};

// The statements for `table` and its `columns` (the COPY row's order), with
// the staging table `staging` that `create_staging` creates (temporary,
// ON COMMIT DELETE ROWS, with the rollup staging tables the kind's merge uses).
PgBatchSql pg_batch_sql(std::string_view table, std::string_view columns,
                        std::string create_staging, std::string_view staging);

// A batch as sent: the COPY rows of the first occurrence of each event_id
// (the unique key also holds the timestamp, so a later copy with another
// timestamp would insert) and the months the events fall into. Views the
// event_ids of the events it was made from.
struct PgCopyBatch {
  std::unordered_map<std::string_view, size_t> first;  // event_id -> first index in the batch
  std::set<std::string> months;
  PgCopyBuffer rows;
};

template <typename Kind>
PgCopyBatch pg_copy_batch(std::span<const typename Kind::Event> events) {
  PgCopyBatch batch;
  batch.first.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    if (!batch.first.emplace(events[i].event_id, i).second) continue;
    Kind::append_copy_row(batch.rows, events[i]);
    batch.months.insert(month_of(events[i].timestamp_us));
  }
  return batch;
}

// Inserts `batch` (made of `events`) and merges the rollup deltas of the
// events not stored before, in one transaction on `c`. Sets (*inserted)[i]
// to 1 for each event inserted, 0 for a duplicate. Throws StoreError
// (nothing committed then): kInvalid when an event_id is not canonical (the
// database returns it spelled otherwise), kCorrupt when the rollup rows the
// database locks are not those of the batch's keys.
// `max_values_per_dimension_hour` caps the values of an open dimension per
// hour, for kinds whose merge takes it (rollup/dimension_cap.h).
template <typename Kind>
void pg_write_batch(PgConnection& c, std::span<const typename Kind::Event> events,
                    const PgCopyBatch& batch, std::vector<uint8_t>* inserted,
                    size_t max_values_per_dimension_hour) {
  const PgBatchSql& sql = Kind::batch_sql();
  inserted->assign(events.size(), 0);
  PgTransaction transaction(c);
  c.exec(sql.create_staging);
  c.copy_from(sql.copy, batch.rows.data());
  const PgResult ids = c.exec(sql.insert);
  for (int r = 0; r < ids.rows(); ++r) {
    auto it = batch.first.find(ids.text(r, 0));
    if (it == batch.first.end()) {
      // The database spells the id otherwise: an event_id not in canonical
      // form (against the write's REQUIRES). The batch, not the database, is
      // at fault, and the same batch fails again: kInvalid.
      throw StoreError("postgres: inserted an event_id not in the batch (not a canonical UUID?)",
                       StoreFailure::kInvalid);
    }
    (*inserted)[it->second] = 1;
  }
  // In batch order: sample messages keep the events' order.
  typename Kind::Delta delta;
  for (size_t i = 0; i < events.size(); ++i) {
    if ((*inserted)[i]) delta.add(events[i]);
  }
  if (!delta.empty()) {
    if constexpr (requires { Kind::merge(c, delta, max_values_per_dimension_hour); }) {
      Kind::merge(c, delta, max_values_per_dimension_hour);
    } else {
      Kind::merge(c, delta);
    }
  }
  transaction.commit();
}

}  // namespace genalytics
