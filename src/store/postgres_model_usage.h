// The model usage rollups on PostgreSQL (issue 10): what generation events
// say about the models they use (event/model_uses.h). The generation kind's
// merge (store/postgres_generation_rollups.h) hands each batch's
// ModelUsageDelta to merge_model_usage, in the batch's transaction: usage
// rows into model_usage_hourly, params rows into model_param_hourly (values
// capped per (hour, model, key) as open dimensions are), sightings into
// model_inventory (store/postgres_model_rollups.h). And the reads of both
// tables and of the uses in the raw generation events. The rollup columns
// are store/model_rollup_columns.h's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "event/model_uses.h"
#include "rollup/model_rollup.h"
#include "store/postgres.h"
#include "store/postgres_connection_pool.h"
#include "store/store.h"

namespace genalytics {

// The CREATE statements of the temporary staging tables merge_model_usage
// uses, for the generation kind's create_staging.
std::string model_usage_staging_sql();

// Merges `delta` into model_usage_hourly, model_param_hourly and the
// inventory. Folds each (hour, model, key)'s params values over
// `max_values_per_dimension_hour` into "(other)"
// (ModelUsageDelta::fold_param_values; one query for the stored values of
// the groups that may be over the cap) under the lock of the (hour, model)
// usage row, so the cap holds with any number of writers. Every writer locks
// the rows of each table in one order (usage rows by (hour, model_id), then
// params rows by (hour, model_id, key, value), then inventory rows by
// model_id), each lock taken by creating the row or updating it, so
// concurrent writers never deadlock. Throws StoreError (kCorrupt when a
// stored usage row does not decode, or the usage rows locked are not one per
// key of `delta`). REQUIRES: inside a transaction on `c` whose staging
// tables include model_usage_staging_sql()'s.
void merge_model_usage(PgConnection& c, ModelUsageDelta& delta,
                       size_t max_values_per_dimension_hour);

// Store::read_model_usage, on `c` (in the caller's transaction, if any).
// Throws StoreError (kCorrupt when a row does not decode).
std::vector<ModelUsageRow> read_model_usage(PgConnection& c, int64_t start_us,
                                            int64_t end_us, const std::optional<std::string>& model,
                                            bool sketches);

// Store::read_model_params, on `c`.
std::vector<ModelParamRow> read_model_params(PgConnection& c, int64_t start_us,
                                             int64_t end_us,
                                             const std::optional<std::string>& model);

// Store::scan_model_uses, reading only the timestamp, model_checkpoint and
// params of the request events in the window. The rows are read before the
// first visit, and the connection returned.
void scan_model_uses(
    PostgresConnectionPool& pool, int64_t start_us, int64_t end_us,
    const std::function<void(int64_t timestamp_us, std::span<const ModelUse> uses)>& visit);

}  // namespace genalytics
