// The storage interface: raw events of every kind (event/event_batch.h) plus
// their hourly rollups. Implementations: SqliteStore (embedded) and
// PostgresStore (production), both in this folder. Both must pass
// tests/store/store_suite and route_store_suite.
//
// Writes are generic: write() is the one write, for a batch of any kind;
// each store dispatches it to that kind's tables through its own list of
// kinds. Reads are typed per kind (read_rollups, scan_events for generation
// events; read_route_rollups, scan_route_events for route events): they are
// each kind's own query API, and their callers (analytics) are per kind.
//
// Adding an event kind to this layer takes:
//   - in SqliteStore: its tables in files of their own
//     (sqlite_<kind>_tables.{h,cc}, a write(std::span<const Event>, inserted)
//     with write()'s contract, and its reads), its migration (one entry in
//     sqlite_migrations), one entry in SqliteKinds (sqlite_store.cc);
//   - in PostgresStore: its postgres_<kind>_rollups.{h,cc} (a kind struct as
//     postgres_copy_batch.h describes, and its reads), its migration, one
//     entry in PostgresKinds (postgres_store.cc);
//   - its read methods, when it has any: here, and in each store a one-line
//     hand-over to its tables.
// A store whose list lacks a kind of EventKinds does not compile.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "event/event_batch.h"
#include "event/generation_event.h"
#include "event/model_event.h"
#include "event/model_uses.h"
#include "event/route_event.h"
#include "rollup/model_rollup.h"
#include "rollup/rollup_bucket.h"
#include "rollup/route_rollup.h"

namespace genalytics {

// Why a store operation failed, which decides what its caller does next.
enum class StoreFailure : uint8_t {
  // The engine cannot be used now (lost connection, disk full, busy, server
  // shutting down): the same work may succeed later, so retry with backoff.
  kUnavailable,
  // Stored data cannot be read back (a sketch that does not decode, a
  // malformed row): retrying the same work fails the same way.
  kCorrupt,
  // The work itself cannot be stored (a value the engine refuses): retrying
  // it fails the same way.
  kInvalid,
};

// "unavailable", "corrupt", "invalid".
const char* to_string(StoreFailure failure);
// Writes to_string(failure): how gtest and logs print it.
std::ostream& operator<<(std::ostream& out, StoreFailure failure);

// A failure of the storage engine. Ends the request: the server maps
// kUnavailable to 503 and the others to 500; a stream worker retries only
// kUnavailable (pipeline/stream_worker.h).
class StoreError : public std::runtime_error {
 public:
  explicit StoreError(const std::string& message, StoreFailure failure = StoreFailure::kUnavailable)
      : std::runtime_error(message), failure_(failure) {}
  StoreFailure failure() const { return failure_; }
  bool retryable() const { return failure_ == StoreFailure::kUnavailable; }

 private:
  StoreFailure failure_;
};

struct RollupRow {
  RollupKey key;
  RollupBucket bucket;
};

// Which expensive parts of rollup rows a reader needs.
struct RollupColumns {
  bool durations = true;  // the DDSketch
  bool users = true;      // the HyperLogLog
  bool sample_messages = false;
};

// One row of route_analytics_hourly.
struct RouteRollupRow {
  RouteKey key;
  RouteBucket bucket;
};

// One row of model_usage_hourly, model_param_hourly, model_lifecycle_hourly.
struct ModelUsageRow {
  ModelHourKey key;
  ModelUsageBucket bucket;
};
struct ModelParamRow {
  ModelParamKey key;
  ModelParamBucket bucket;
};
struct ModelLifecycleRow {
  ModelHourKey key;
  ModelLifecycleBucket bucket;
};

// One parameter value of a model merged over a span's hours.
struct ModelParamTotal {
  std::string key;
  std::string value;
  ModelParamBucket bucket;
  bool operator==(const ModelParamTotal&) const = default;
};

// A model's usage and parameter rollups merged over `hours` consecutive
// hours from `start_us`: a piece of a window (Store::read_model_spans).
struct ModelSpan {
  int64_t start_us = 0;
  int hours = 0;
  std::string model_id;
  ModelUsageBucket usage;            // merged over the hours
  std::vector<int64_t> hourly_uses;  // `hours` entries: [i], uses in hour start_us + i hours
  std::vector<ModelParamTotal> params;    // merged over the hours, by (key, value)
  bool operator==(const ModelSpan&) const = default;
};

// The spans of a window, each element one piece of it (every model's span
// of those hours, by model_id), pieces in time order. Immutable, and shared
// with the store's cache: holding it costs no copy.
using ModelSpans = std::vector<std::shared_ptr<const std::vector<ModelSpan>>>;

// One model of the inventory (model_inventory): known from any event naming
// it, from a registration (PUT /api/v1/models/{id}) or from a folder scan.
struct ModelRecord {
  std::string model_id;
  std::optional<std::string> model_kind;  // one of kModelKinds (event/model_event.h)
  std::optional<std::string> base_model;
  std::optional<std::string> path;  // registrations and scans only
  std::optional<int64_t> size_bytes;
  std::optional<int64_t> first_seen_us;  // earliest event, registration or file mtime
  std::optional<int64_t> last_used_us;   // latest generation request naming it
  std::optional<int64_t> last_event_us;  // latest model event naming it
  std::optional<int64_t> registered_us;  // latest registration or scan
  bool operator==(const ModelRecord&) const = default;
};

// Whether a model is loaded on a worker, as its latest load or unload said.
struct ModelWorkerState {
  std::string model_id;
  std::string worker_id;  // "" for events that named no worker
  bool loaded = false;
  int64_t changed_us = 0;  // timestamp of that load or unload
  std::optional<int64_t> gpu_memory_mb;
  bool operator==(const ModelWorkerState&) const = default;
};

// What a store holds, for pipeline monitoring.
struct StoreStatus {
  int64_t events = 0;                             // rows in generation_events
  bool events_exact = true;                       // false: a statistics-based estimate
  std::optional<int64_t> last_event_us;           // newest event timestamp
  std::optional<int64_t> last_rollup_update_us;   // newest write to the hourly rollup
  std::optional<int64_t> last_hour_rolled_up_us;  // newest hour with a rollup row
  int64_t hourly_rows = 0;                        // rows in generation_metrics_hourly
};

class Store {
 public:
  virtual ~Store() = default;

  // Stores `events` (of any kind) and applies the rollup deltas of the ones
  // actually inserted, in one durable transaction: on return everything is
  // committed, on StoreError nothing is. An event whose event_id is already
  // stored (or appears earlier in `events`) is a duplicate and changes
  // nothing. Sets (*inserted)[i] to 1 when event i was inserted, 0 when a
  // duplicate. `events` may view part of a batch; a vector or span of a
  // kind's events converts to EventSpan. REQUIRES: events validated by their
  // kind's decoder (route events: query params in the route decoder's
  // canonical form, compact JSON with keys sorted; reads give them back in
  // that form). Callers serialize writes (one writer at a time); reads may
  // run concurrently.
  virtual void write(EventSpan events, std::vector<uint8_t>* inserted) = 0;
  // The same for a whole batch. A template so that a vector of events picks
  // the EventSpan overload instead of being ambiguous between the two.
  template <std::same_as<EventBatch> Batch>
  void write(const Batch& events, std::vector<uint8_t>* inserted) {
    write(as_span(events), inserted);
  }

  // The rollup rows of `dimension` for hours in [start_us, end_us), ordered by
  // hour then value; only rows of `value` when given. Thread-safe.
  virtual std::vector<RollupRow> read_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                                              const std::optional<std::string>& value,
                                              const RollupColumns& columns) const = 0;

  // Calls `visit` for each row read_rollups would return, in the same order,
  // without copying where the store can avoid it. A row may carry columns
  // beyond `columns`; it is valid during the call only. Thread-safe.
  virtual void visit_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                             const std::optional<std::string>& value, const RollupColumns& columns,
                             const std::function<void(const RollupRow&)>& visit) const {
    for (const RollupRow& row : read_rollups(dimension, start_us, end_us, value, columns)) {
      visit(row);
    }
  }

  // Calls `visit` for every event of `user_id` with timestamp in
  // [start_us, end_us), in timestamp order. Nested JSON fields are not loaded.
  // Thread-safe.
  virtual void scan_user_events(const std::string& user_id, int64_t start_us, int64_t end_us,
                                const std::function<void(const GenerationEvent&)>& visit) const = 0;

  // Calls `visit` for every event with timestamp in [start_us, end_us), in
  // timestamp order. Nested JSON fields are not loaded. Thread-safe.
  virtual void scan_events(int64_t start_us, int64_t end_us,
                           const std::function<void(const GenerationEvent&)>& visit) const = 0;

  // Route events (seed 002), route_analytics_hourly rows keyed by (hour,
  // route, method, query_params_normalized).

  // The route rollup rows for hours in [start_us, end_us), ordered by hour,
  // route, method, query params (byte order); only those of `route` when
  // given. Thread-safe.
  virtual std::vector<RouteRollupRow> read_route_rollups(
      int64_t start_us, int64_t end_us, const std::optional<std::string>& route) const = 0;

  // Calls `visit` for every route event with timestamp in [start_us, end_us),
  // in timestamp order, with all its fields. Thread-safe.
  virtual void scan_route_events(int64_t start_us, int64_t end_us,
                                 const std::function<void(const RouteEvent&)>& visit) const = 0;

  struct UrlCount {
    std::string url;
    int64_t requests = 0;
    bool operator==(const UrlCount&) const = default;
  };
  // The `limit` URLs as called (route_full) most requested among the route
  // events of (`route`, `method`, `query_params_normalized_json`) with
  // timestamp in [start_us, end_us): most requests first, ties in byte order
  // of the URL. The stores answer from the raw table's (route, timestamp)
  // index; this default scans the window. Thread-safe.
  virtual std::vector<UrlCount> most_requested_urls(const std::string& route,
                                                    const std::string& method,
                                                    const std::string& query_params_normalized_json,
                                                    int64_t start_us, int64_t end_us,
                                                    size_t limit) const;

  // Models (issue 10, seed 003). Usage rows come from generation events
  // (every model a generation uses: event/model_uses.h), lifecycle rows from
  // model events; both are written by write() in the batch's transaction.

  // The model_usage_hourly rows for hours in [start_us, end_us), ordered by
  // hour then model_id; only `model`'s when given. Without `sketches` the
  // two DDSketches are left empty (cheaper). Thread-safe.
  virtual std::vector<ModelUsageRow> read_model_usage(int64_t start_us, int64_t end_us,
                                                      const std::optional<std::string>& model,
                                                      bool sketches) const = 0;
  // The model_param_hourly rows, ordered by hour, model_id, key, value.
  // Thread-safe.
  virtual std::vector<ModelParamRow> read_model_params(
      int64_t start_us, int64_t end_us, const std::optional<std::string>& model) const = 0;
  // The model usage and param rollups of the hours in [start_us, end_us),
  // merged per model over pieces of the window that never cross a time in
  // `cuts`: whole UTC weeks (Monday first), days and quarter days where
  // they fit, single hours elsewhere (model_span_keys in
  // store/model_span_cache.h), so that a window moving by the hour shares
  // all but its edges with the last one. The stores answer from a cache of decoded
  // spans kept as fresh as the rollup cache (store/model_span_cache.h);
  // this default reads and merges the rows. Thread-safe.
  virtual ModelSpans read_model_spans(int64_t start_us, int64_t end_us,
                                      std::span<const int64_t> cuts) const;
  // The model_lifecycle_hourly rows, ordered by hour then model_id.
  // Thread-safe.
  virtual std::vector<ModelLifecycleRow> read_model_lifecycle(
      int64_t start_us, int64_t end_us, const std::optional<std::string>& model) const = 0;
  // The inventory, ordered by model_id. Thread-safe.
  virtual std::vector<ModelRecord> read_models() const = 0;
  // Every (model, worker) loaded state, ordered by model_id then worker_id.
  // Thread-safe.
  virtual std::vector<ModelWorkerState> read_model_worker_states() const = 0;
  // Registers or describes models, in one transaction: a new model_id is
  // added; for a known one each field given replaces the stored one, except
  // first_seen_us, which keeps the earlier. last_used_us and last_event_us
  // of `records` are ignored (events set them). REQUIRES: records validated
  // (ids and kinds as a model event's). Thread-safe, and may run while
  // another thread is in write(): the API server registers models while its
  // batch writer writes events (SqliteStore: on a connection of its own,
  // waiting on SQLite's write lock).
  virtual void register_models(std::span<const ModelRecord> records) = 0;
  // Calls `visit` for every model event with timestamp in [start_us, end_us),
  // in timestamp order. Thread-safe.
  virtual void scan_model_events(int64_t start_us, int64_t end_us,
                                 const std::function<void(const ModelEvent&)>& visit) const = 0;
  // Calls `visit(timestamp_us, uses)` for every generation request with
  // timestamp in [start_us, end_us), in timestamp order, with the models it
  // uses (event/model_uses.h; requests naming none are skipped), reading
  // only the columns that takes. Thread-safe.
  virtual void scan_model_uses(
      int64_t start_us, int64_t end_us,
      const std::function<void(int64_t timestamp_us, std::span<const ModelUse> uses)>& visit)
      const = 0;

  // Number of stored generation events. Thread-safe.
  virtual int64_t count_generation_events() const = 0;

  // Monitoring figures, cheap enough to poll. Thread-safe. The default
  // knows only the event count; both stores override it.
  virtual StoreStatus status() const {
    StoreStatus status;
    status.events = count_generation_events();
    return status;
  }
};

}  // namespace genalytics
