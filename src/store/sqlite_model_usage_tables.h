// The model usage of generation events in the embedded store (seed 003,
// issue 10): model_usage_hourly and model_param_hourly (columns in
// store/model_rollup_columns.h) and the inventory's sightings, merged from a
// ModelUsageDelta inside the generation write's transaction
// (store/sqlite_generation_tables.h), and read back for Store's model reads.
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
#include "store/sqlite_connections.h"
#include "store/store.h"

namespace genalytics {

class SqliteModelUsageTables {
 public:
  // Uses `connections`, which must outlive this.
  explicit SqliteModelUsageTables(SqliteConnections& connections) : connections_(connections) {}

  // Merges `delta` (of the generation events a write inserted) into the
  // usage and params rows, and its sightings into the inventory
  // (merge_model_sightings: store/sqlite_model_tables.h). Each
  // (hour, model, params key) keeps at most `max_values_per_key_hour` values
  // in rows of their own, the rest folded into "(other)"
  // (ModelUsageDelta::fold_param_values), knowing the values the hour
  // already has; this folds `delta`'s params in place. REQUIRES: a write
  // transaction open on the writer.
  void merge(ModelUsageDelta& delta, size_t max_values_per_key_hour, const std::string& now_text);

  // Store::read_model_usage, read_model_params and scan_model_uses.
  std::vector<ModelUsageRow> read_usage(int64_t start_us, int64_t end_us,
                                        const std::optional<std::string>& model,
                                        bool sketches) const;
  std::vector<ModelParamRow> read_params(int64_t start_us, int64_t end_us,
                                         const std::optional<std::string>& model) const;
  // The same reads on `db` (a reader, in the caller's snapshot).
  static std::vector<ModelUsageRow> read_usage_on(SqliteDatabase& db, int64_t start_us,
                                                  int64_t end_us,
                                                  const std::optional<std::string>& model,
                                                  bool sketches);
  static std::vector<ModelParamRow> read_params_on(SqliteDatabase& db, int64_t start_us,
                                                   int64_t end_us,
                                                   const std::optional<std::string>& model);
  void scan_uses(
      int64_t start_us, int64_t end_us,
      const std::function<void(int64_t timestamp_us, std::span<const ModelUse> uses)>& visit) const;

 private:
  void merge_params(ModelUsageDelta& delta, size_t max_values_per_key_hour,
                    const std::string& now_text);

  SqliteConnections& connections_;
};

}  // namespace genalytics
