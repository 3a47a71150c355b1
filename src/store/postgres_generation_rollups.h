// Generation events on PostgreSQL: the generation_events row a write COPYs,
// the merge of a batch's RollupDelta into generation_metrics_hourly (the
// `all` rows, with the seed's per-hour figures) and
// generation_dimension_hourly, and the reads of both and of the raw events.
// The rollup columns are store/generation_rollup_columns.h's.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event/generation_event.h"
#include "rollup/dimension_cap.h"
#include "rollup/model_rollup.h"
#include "rollup/rollup_bucket.h"
#include "store/postgres.h"
#include "store/postgres_connection_pool.h"
#include "store/postgres_copy_batch.h"
#include "store/store.h"

namespace genalytics {

// The generation_events columns the store COPYs an event into, and the COPY
// text row of an event in that order: what a write sends, for tools (such as
// bench/pipeline_bench) that must load the same rows.
extern const char* const kGenerationEventCopyColumns;
void append_generation_event_copy_row(PgCopyBuffer& out, const GenerationEvent& event);

// Generation events as PostgresStore writes them (store/postgres_copy_batch.h).
struct PostgresGenerationKind {
  using Event = GenerationEvent;
  using Delta = GenerationDeltas;
  static constexpr std::string_view kTable = "generation_events";
  static const PgBatchSql& batch_sql();
  static void append_copy_row(PgCopyBuffer& out, const GenerationEvent& event) {
    append_generation_event_copy_row(out, event);
  }
  // Merges `delta.rollups` into the rollup rows, then `delta.models` into
  // the model rows (merge_model_usage, under the same cap), and logs the
  // change of the generation rollups (store/postgres_rollup_changes.h).
  // First folds each attribute dimension's values of an hour over
  // `max_values_per_dimension_hour` into "(other)"
  // (RollupDelta::fold_attribute_values; one query per (hour, attribute
  // dimension) for the values the hour has), under the lock of the hour's
  // row, so the cap holds with any number of writers. Every writer locks the
  // rows it changes in one order (the hourly table by hour, then dimension
  // rows by (dimension, hour, value) in the database's collation, then the
  // model rows as merge_model_usage does), each lock taken by creating the
  // row or by updating its updated_at, so concurrent writers never
  // deadlock. Throws StoreError (kCorrupt when a stored row does not
  // decode, or the rows locked are not one per key of `delta`). REQUIRES:
  // inside the batch's transaction.
  static void merge(PgConnection& c, GenerationDeltas& delta,
                    size_t max_values_per_dimension_hour = kDefaultMaxValuesPerDimensionHour);
};

// Store::read_rollups on `c`: the rows of `dimension` for hours in
// [start_us, end_us), by hour then value in byte order; only those of
// `value` when given; parts `columns` leaves out are empty. Throws
// StoreError (kCorrupt when a row does not decode).
std::vector<RollupRow> read_generation_rollups(PgConnection& c, Dimension dimension,
                                               int64_t start_us, int64_t end_us,
                                               const std::optional<std::string>& value,
                                               const RollupColumns& columns);

// Store::scan_events (`user_id` nullopt) and Store::scan_user_events:
// visits the generation events with timestamp in [start_us, end_us), in
// timestamp order, without their nested JSON fields. The rows are read
// before the first visit, and the connection returned. Throws StoreError
// (kCorrupt when a row does not decode).
void scan_generation_events(PostgresConnectionPool& pool,
                            const std::optional<std::string>& user_id, int64_t start_us,
                            int64_t end_us,
                            const std::function<void(const GenerationEvent&)>& visit);

// Store::count_generation_events: an exact COUNT(*).
int64_t count_generation_events(PostgresConnectionPool& pool);

// Store::status; `events` is the planner's estimate (pg_class.reltuples):
// an exact COUNT(*) of a large partitioned table is too slow to poll.
StoreStatus generation_store_status(PostgresConnectionPool& pool);

}  // namespace genalytics
