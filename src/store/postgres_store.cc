#include "store/postgres_store.h"

#include <array>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "store/postgres_copy_batch.h"
#include "store/postgres_migrations.h"
#include "store/postgres_model_rollups.h"
#include "store/postgres_model_usage.h"
#include "store/postgres_rollup_changes.h"
#include "store/postgres_route_rollups.h"
#include "store/postgres_rows.h"

namespace genalytics {
namespace {

template <typename... Kinds>
struct PostgresKindList {
  // Their raw-event tables, each partitioned by month.
  static std::vector<std::string_view> tables() { return {Kinds::kTable...}; }

  // The kind whose events are `Event`.
  template <typename Event>
  static constexpr size_t index_of() {
    constexpr std::array<bool, sizeof...(Kinds)> matches = {
        std::is_same_v<Event, typename Kinds::Event>...};
    for (size_t i = 0; i < matches.size(); ++i) {
      if (matches[i]) return i;
    }
    return matches.size();  // not a kind of this list: tuple_element_t fails to compile
  }
  template <typename Event>
  using KindOf = std::tuple_element_t<index_of<Event>(), std::tuple<Kinds...>>;
};

// The event kinds this store writes (store/postgres_copy_batch.h), one
// entry each: a new kind adds its entry here.
using PostgresKinds =
    PostgresKindList<PostgresGenerationKind, PostgresRouteKind, PostgresModelKind>;

}  // namespace

PostgresStore::PostgresStore(const std::string& url, size_t pool_size, size_t rollup_cache_bytes,
                             Clock clock)
    : clock_(std::move(clock)),
      pool_(url, pool_size),
      partitions_(pool_, PostgresKinds::tables()),
      rollup_cache_(std::make_unique<RollupCache>(rollup_cache_bytes)),
      model_span_cache_(std::make_unique<ModelSpanCache>(rollup_cache_bytes, *rollup_cache_)) {
  pool_.with_connection([](PgConnection& c) { apply_postgres_migrations(c); });
  ensure_partitions(kDefaultMonthsAhead);
}

PostgresStore::~PostgresStore() = default;

void PostgresStore::migrate(const std::string& url) {
  PgConnection connection(url);
  PostgresConnectionPool::set_up_session(connection);
  apply_postgres_migrations(connection);
}

int PostgresStore::schema_version() { return postgres_schema_version(); }

void PostgresStore::ensure_partitions(int months_ahead) {
  partitions_.ensure_ahead(clock_(), months_ahead);
}

int64_t PostgresStore::drop_partitions_older_than(int days) {
  const int64_t dropped = partitions_.drop_older_than(clock_(), days);
  pool_.with_connection([](PgConnection& c) { prune_rollup_changes(c); });
  return dropped;
}

template <typename Kind>
void PostgresStore::write_events(std::span<const typename Kind::Event> events,
                                 std::vector<uint8_t>* inserted) {
  inserted->assign(events.size(), 0);
  if (events.empty()) return;
  const PgCopyBatch batch = pg_copy_batch<Kind>(events);
  partitions_.write_partitioned(Kind::kTable, batch.months, inserted, [&] {
    pool_.with_connection([&](PgConnection& c) {
      pg_write_batch<Kind>(c, events, batch, inserted, max_values_per_dimension_hour_.load());
    });
  });
}

void PostgresStore::write(EventSpan events, std::vector<uint8_t>* inserted) {
  std::visit(
      [&](auto span) {
        using Event = typename decltype(span)::value_type;
        write_events<PostgresKinds::KindOf<Event>>(span, inserted);
      },
      events);
}

std::vector<RollupRow> PostgresStore::read_rollups(Dimension dimension, int64_t start_us,
                                                   int64_t end_us,
                                                   const std::optional<std::string>& value,
                                                   const RollupColumns& columns) const {
  return pool_.with_connection([&](PgConnection& c) {
    return read_generation_rollups(c, dimension, start_us, end_us, value, columns);
  });
}

void PostgresStore::visit_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                                  const std::optional<std::string>& value,
                                  const RollupColumns& columns,
                                  const std::function<void(const RollupRow&)>& visit) const {
  // The hours the cache lacks are read in the snapshot that replayed the
  // change log, so they are no older than what the log reported.
  auto in_snapshot = [&](const std::function<void(uint64_t, const RollupCache::ReadHours&)>& body) {
    pool_.with_connection([&](PgConnection& c) {
      PgTransaction snapshot(c, PgTransaction::Mode::kReadOnlySnapshot);
      const uint64_t seq = replay_rollup_changes(c, *rollup_cache_);
      body(seq, [&](int64_t run_start_us, int64_t run_end_us) {
        return read_generation_rollups(c, dimension, run_start_us, run_end_us, std::nullopt,
                                       RollupColumns{true, true, true});
      });
    });
  };
  rollup_cache_->visit_window(
      dimension, clamp_to_stored_range(start_us), clamp_to_stored_range(end_us), value, in_snapshot,
      [&] { return read_rollups(dimension, start_us, end_us, value, columns); }, visit);
}

RollupCache::Stats PostgresStore::rollup_cache_stats() const { return rollup_cache_->stats(); }

void PostgresStore::scan_user_events(
    const std::string& user_id, int64_t start_us, int64_t end_us,
    const std::function<void(const GenerationEvent&)>& visit) const {
  scan_generation_events(pool_, user_id, start_us, end_us, visit);
}

void PostgresStore::scan_events(int64_t start_us, int64_t end_us,
                                const std::function<void(const GenerationEvent&)>& visit) const {
  scan_generation_events(pool_, std::nullopt, start_us, end_us, visit);
}

int64_t PostgresStore::count_generation_events() const {
  return genalytics::count_generation_events(pool_);
}

StoreStatus PostgresStore::status() const { return generation_store_status(pool_); }

std::vector<RouteRollupRow> PostgresStore::read_route_rollups(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& route) const {
  return genalytics::read_route_rollups(pool_, start_us, end_us, route);
}

void PostgresStore::scan_route_events(int64_t start_us, int64_t end_us,
                                      const std::function<void(const RouteEvent&)>& visit) const {
  genalytics::scan_route_events(pool_, start_us, end_us, visit);
}

std::vector<Store::UrlCount> PostgresStore::most_requested_urls(
    const std::string& route, const std::string& method,
    const std::string& query_params_normalized_json, int64_t start_us, int64_t end_us,
    size_t limit) const {
  return most_requested_route_urls(pool_, route, method, query_params_normalized_json, start_us,
                                   end_us, limit);
}

std::vector<ModelUsageRow> PostgresStore::read_model_usage(int64_t start_us, int64_t end_us,
                                                           const std::optional<std::string>& model,
                                                           bool sketches) const {
  return pool_.with_connection([&](PgConnection& c) {
    return genalytics::read_model_usage(c, start_us, end_us, model, sketches);
  });
}

std::vector<ModelParamRow> PostgresStore::read_model_params(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& model) const {
  return pool_.with_connection(
      [&](PgConnection& c) { return genalytics::read_model_params(c, start_us, end_us, model); });
}

ModelSpans PostgresStore::read_model_spans(int64_t start_us, int64_t end_us,
                                           std::span<const int64_t> cuts) const {
  // Without a cache, no change log to replay: the rows, read as they are.
  if (model_span_cache_->capacity_bytes() == 0)
    return Store::read_model_spans(start_us, end_us, cuts);
  // As visit_rollups: the pieces the cache lacks are read in the snapshot
  // that replayed the change log.
  return model_span_cache_->read(start_us, end_us, cuts, [&](const auto& body) {
    pool_.with_connection([&](PgConnection& c) {
      PgTransaction snapshot(c, PgTransaction::Mode::kReadOnlySnapshot);
      const uint64_t seq = replay_rollup_changes(c, *rollup_cache_);
      body(seq, [&](int64_t run_start_us, int64_t run_end_us) {
        return ModelSpanCache::Rows{
            genalytics::read_model_usage(c, run_start_us, run_end_us, std::nullopt, true),
            genalytics::read_model_params(c, run_start_us, run_end_us, std::nullopt)};
      });
    });
  });
}

ModelSpanCache::Stats PostgresStore::model_span_cache_stats() const {
  return model_span_cache_->stats();
}

std::vector<ModelLifecycleRow> PostgresStore::read_model_lifecycle(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& model) const {
  return genalytics::read_model_lifecycle(pool_, start_us, end_us, model);
}

std::vector<ModelRecord> PostgresStore::read_models() const {
  return genalytics::read_models(pool_);
}

std::vector<ModelWorkerState> PostgresStore::read_model_worker_states() const {
  return genalytics::read_model_worker_states(pool_);
}

void PostgresStore::register_models(std::span<const ModelRecord> records) {
  genalytics::register_models(pool_, records);
}

void PostgresStore::scan_model_events(int64_t start_us, int64_t end_us,
                                      const std::function<void(const ModelEvent&)>& visit) const {
  genalytics::scan_model_events(pool_, start_us, end_us, visit);
}

void PostgresStore::scan_model_uses(
    int64_t start_us, int64_t end_us,
    const std::function<void(int64_t timestamp_us, std::span<const ModelUse> uses)>& visit) const {
  genalytics::scan_model_uses(pool_, start_us, end_us, visit);
}

}  // namespace genalytics
