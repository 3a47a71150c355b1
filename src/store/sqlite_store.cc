#include "store/sqlite_store.h"

#include <fmt/format.h>

#include <filesystem>

#include "store/sqlite_connections.h"
#include "store/sqlite_generation_tables.h"
#include "store/sqlite_migrations.h"
#include "store/sqlite_route_tables.h"

namespace genalytics {

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
  generation_ = std::make_unique<SqliteGenerationTables>(*connections_, *rollup_cache_);
  routes_ = std::make_unique<SqliteRouteTables>(*connections_);
}

SqliteStore::~SqliteStore() = default;

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

void SqliteStore::write_generation_events(std::span<const GenerationEvent> events,
                                          std::vector<uint8_t>* inserted) {
  generation_->write(events, inserted);
}

std::vector<RollupRow> SqliteStore::read_rollups(Dimension dimension, int64_t start_us,
                                                 int64_t end_us,
                                                 const std::optional<std::string>& value,
                                                 const RollupColumns& columns) const {
  return generation_->read_rollups(dimension, start_us, end_us, value, columns);
}

void SqliteStore::visit_rollups(Dimension dimension, int64_t start_us, int64_t end_us,
                                const std::optional<std::string>& value,
                                const RollupColumns& columns,
                                const std::function<void(const RollupRow&)>& visit) const {
  generation_->visit_rollups(dimension, start_us, end_us, value, columns, visit);
}

void SqliteStore::scan_user_events(const std::string& user_id, int64_t start_us, int64_t end_us,
                                   const std::function<void(const GenerationEvent&)>& visit) const {
  generation_->scan_user_events(user_id, start_us, end_us, visit);
}

void SqliteStore::scan_events(int64_t start_us, int64_t end_us,
                              const std::function<void(const GenerationEvent&)>& visit) const {
  generation_->scan_events(start_us, end_us, visit);
}

int64_t SqliteStore::count_generation_events() const { return generation_->count(); }

StoreStatus SqliteStore::status() const { return generation_->status(); }

void SqliteStore::write_route_events(std::span<const RouteEvent> events,
                                     std::vector<uint8_t>* inserted) {
  routes_->write(events, inserted);
}

std::vector<RouteRollupRow> SqliteStore::read_route_rollups(
    int64_t start_us, int64_t end_us, const std::optional<std::string>& route) const {
  return routes_->read_rollups(start_us, end_us, route);
}

std::vector<Store::UrlCount> SqliteStore::most_requested_urls(
    const std::string& route, const std::string& method,
    const std::string& query_params_normalized_json, int64_t start_us, int64_t end_us,
    size_t limit) const {
  return routes_->most_requested_urls(route, method, query_params_normalized_json, start_us,
                                      end_us, limit);
}

void SqliteStore::scan_route_events(int64_t start_us, int64_t end_us,
                                    const std::function<void(const RouteEvent&)>& visit) const {
  routes_->scan(start_us, end_us, visit);
}

RollupCache::Stats SqliteStore::rollup_cache_stats() const { return rollup_cache_->stats(); }

}  // namespace genalytics
