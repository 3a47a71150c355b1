#include "store/sqlite_store.h"

#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <memory>
#include <tuple>
#include <type_traits>
#include <variant>

#include "event/model_kind.h"
#include "store/sqlite_connections.h"
#include "store/sqlite_generation_tables.h"
#include "store/sqlite_migrations.h"
#include "store/sqlite_model_tables.h"
#include "store/sqlite_route_tables.h"

namespace genalytics {
namespace {

// An event kind (event/event_batch.h) as this store writes it: `Tables`
// holds its tables, built from the store's SqliteConnections (and its
// RollupCache when it takes one), with write(std::span<const Event>,
// inserted) as Store::write promises.
template <typename Kind, typename Tables>
struct SqliteKind {
  using Event = typename Kind::Event;
  using TablesType = Tables;

  static std::unique_ptr<Tables> make(SqliteConnections& connections, RollupCache& cache) {
    if constexpr (std::is_constructible_v<Tables, SqliteConnections&, RollupCache&>) {
      return std::make_unique<Tables>(connections, cache);
    } else {
      return std::make_unique<Tables>(connections);
    }
  }
};

template <typename... Kinds>
class SqliteKindList {
 public:
  SqliteKindList(SqliteConnections& connections, RollupCache& cache)
      : tables_(Kinds::make(connections, cache)...) {}

  // The tables of the kind whose tables class is `Tables`.
  template <typename Tables>
  Tables& get() const {
    return *std::get<std::unique_ptr<Tables>>(tables_);
  }

  // Hands `events` to the tables of their kind.
  void write(EventSpan events, std::vector<uint8_t>* inserted) const {
    std::visit(
        [&](auto span) {
          using Event = typename decltype(span)::value_type;
          get<typename KindOf<Event>::TablesType>().write(span, inserted);
        },
        events);
  }

 private:
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

  std::tuple<std::unique_ptr<typename Kinds::TablesType>...> tables_;
};

// The event kinds this store writes, one entry each, in EventKinds' order:
// a new kind adds its entry here.
using SqliteKinds = SqliteKindList<SqliteKind<GenerationKind, SqliteGenerationTables>,
                                   SqliteKind<RouteKind, SqliteRouteTables>,
                                   SqliteKind<ModelKind, SqliteModelTables>>;

}  // namespace

struct SqliteStore::KindTables : SqliteKinds {
  using SqliteKinds::SqliteKinds;
};

SqliteStore::SqliteStore(const std::string& data_dir, const SqliteStoreOptions& options)
    : rollup_cache_(std::make_unique<RollupCache>(options.rollup_cache_bytes)) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    throw StoreError(fmt::format("cannot create data directory {}: {}", data_dir, ec.message()));
  }
  connections_ = std::make_unique<SqliteConnections>(
      (std::filesystem::path(data_dir) / "genalytics.db").string());
  migrate();
  checkpointer_ = std::make_unique<SqliteCheckpointer>(connections_->writer(), connections_->path(),
                                                       options.checkpoint_pages);
  tables_ = std::make_unique<KindTables>(*connections_, *rollup_cache_);
  generation().set_max_values_per_dimension_hour(options.max_values_per_dimension_hour);
}

SqliteStore::~SqliteStore() = default;

SqliteGenerationTables& SqliteStore::generation() const {
  return tables_->get<SqliteGenerationTables>();
}
SqliteRouteTables& SqliteStore::routes() const { return tables_->get<SqliteRouteTables>(); }
SqliteModelTables& SqliteStore::models() const { return tables_->get<SqliteModelTables>(); }

const std::string& SqliteStore::path() const { return connections_->path(); }

void SqliteStore::migrate() {
  const auto migrations = sqlite_migrations();
  SqliteDatabase& writer = connections_->writer();
  auto schema_version = [&] {
    SqliteStatement version(writer.handle(), "PRAGMA user_version");
    version.step();
    return version.column_int64(0);
  };
  if (schema_version() == kSchemaVersion) return;
  SqliteTransaction transaction(writer, SqliteTransaction::Mode::kWrite);
  // Read again under the write lock: another process may have migrated the
  // file meanwhile.
  const int64_t current = schema_version();
  if (current < 0 || current > kSchemaVersion) {
    throw StoreError(fmt::format("{} has schema version {}, this build knows 0 to {}", path(),
                                 current, kSchemaVersion));
  }
  for (const SqliteMigration& migration : migrations) {
    if (migration.version > current) writer.exec(migration.sql);
  }
  writer.exec(fmt::format("PRAGMA user_version={}", kSchemaVersion));
  transaction.commit();
}

void SqliteStore::write(EventSpan events, std::vector<uint8_t>* inserted) {
  tables_->write(events, inserted);
}

std::vector<RollupRow> SqliteStore::read_rollups(Dimension dimension, int64_t start_us,
                                                 int64_t end_us,
                                                 const std::optional<std::string>& value,
                                                 const RollupColumns& columns) const {
  return generation().read_rollups(dimension, start_us, end_us, value, columns);
}

void SqliteStore::visit_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                                const std::optional<std::string>& value,
                                const RollupColumns& columns,
                                const std::function<void(const RollupRow&)>& visit) const {
  generation().visit_rollups(dimension, start_us, end_us, value, columns, visit);
}

void SqliteStore::scan_user_events(const std::string& user_id, int64_t start_us, int64_t end_us,
                                   const std::function<void(const GenerationEvent&)>& visit) const {
  generation().scan_user_events(user_id, start_us, end_us, visit);
}

void SqliteStore::scan_events(int64_t start_us, int64_t end_us,
                              const std::function<void(const GenerationEvent&)>& visit) const {
  generation().scan_events(start_us, end_us, visit);
}

int64_t SqliteStore::count_generation_events() const { return generation().count(); }

StoreStatus SqliteStore::status() const { return generation().status(); }

std::vector<RouteRollupRow> SqliteStore::read_route_rollups(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& route) const {
  return routes().read_rollups(start_us, end_us, route);
}

std::vector<Store::UrlCount> SqliteStore::most_requested_urls(
    const std::string& route, const std::string& method,
    const std::string& query_params_normalized_json, int64_t start_us, int64_t end_us,
    size_t limit) const {
  return routes().most_requested_urls(route, method, query_params_normalized_json, start_us,
                                      end_us, limit);
}

void SqliteStore::scan_route_events(int64_t start_us, int64_t end_us,
                                    const std::function<void(const RouteEvent&)>& visit) const {
  routes().scan(start_us, end_us, visit);
}

std::vector<ModelUsageRow> SqliteStore::read_model_usage(int64_t start_us, int64_t end_us,
                                                         const std::optional<std::string>& model,
                                                         bool sketches) const {
  return generation().model_usage().read_usage(start_us, end_us, model, sketches);
}

ModelSpans SqliteStore::read_model_spans(int64_t start_us, int64_t end_us,
                                         std::span<const int64_t> cuts) const {
  return generation().read_model_spans(start_us, end_us, cuts);
}

std::vector<ModelParamRow> SqliteStore::read_model_params(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& model) const {
  return generation().model_usage().read_params(start_us, end_us, model);
}

void SqliteStore::scan_model_uses(
    int64_t start_us, int64_t end_us,
    const std::function<void(int64_t timestamp_us, std::span<const ModelUse> uses)>& visit) const {
  generation().model_usage().scan_uses(start_us, end_us, visit);
}

std::vector<ModelLifecycleRow> SqliteStore::read_model_lifecycle(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& model) const {
  return models().read_lifecycle(start_us, end_us, model);
}

std::vector<ModelRecord> SqliteStore::read_models() const { return models().read_models(); }

std::vector<ModelWorkerState> SqliteStore::read_model_worker_states() const {
  return models().read_worker_states();
}

void SqliteStore::register_models(std::span<const ModelRecord> records) {
  models().register_models(records);
}

void SqliteStore::scan_model_events(int64_t start_us, int64_t end_us,
                                    const std::function<void(const ModelEvent&)>& visit) const {
  models().scan(start_us, end_us, visit);
}

RollupCache::Stats SqliteStore::rollup_cache_stats() const { return rollup_cache_->stats(); }

ModelSpanCache::Stats SqliteStore::model_span_cache_stats() const {
  return generation().model_span_cache_stats();
}

}  // namespace genalytics
