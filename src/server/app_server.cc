#include "server/app_server.h"

#include <fmt/format.h>

#include "pipeline/stream_ingest.h"
#include "store/postgres_store.h"
#include "store/sqlite_store.h"

namespace genalytics {

SqliteStoreOptions sqlite_store_options(const AppServerOptions& options) {
  SqliteStoreOptions sqlite = options.sqlite;
  sqlite.rollup_cache_bytes = options.rollup_cache_bytes;
  sqlite.max_values_per_dimension_hour = options.max_values_per_dimension_hour;
  return sqlite;
}

std::unique_ptr<PostgresStore> open_postgres_store(const std::string& url,
                                                   const AppServerOptions& options) {
  auto store =
      std::make_unique<PostgresStore>(url, PostgresStore::kDefaultPoolSize, options.rollup_cache_bytes);
  store->set_max_values_per_dimension_hour(options.max_values_per_dimension_hour);
  return store;
}

AppServer::AppServer(const AppServerOptions& options) {
  if (options.api_keys.empty() && !options.insecure_no_auth && !is_loopback_host(options.http.host)) {
    throw std::invalid_argument(fmt::format(
        "refusing to listen on {} without API keys: anyone who can reach it could read and write "
        "the data. Configure keys (GENALYTICS_API_KEYS, --api-keys-file or server.api_keys), listen "
        "on 127.0.0.1, or pass --insecure-no-auth",
        options.http.host));
  }
  std::optional<RedisOptions> redis;
  std::string ns;
  if (const auto& production = options.production) {
    redis = RedisOptions::from_url(production->redis_url);
    ns = production->ns;
    std::unique_ptr<PostgresStore> store = open_postgres_store(production->postgres_url, options);
    PostgresStore* postgres = store.get();
    store_ = std::move(store);
    StreamPublisher::Options publisher_options;
    publisher_options.ns = ns;
    publisher_ = std::make_unique<StreamPublisher>(*redis, publisher_options);
    sink_ = std::make_unique<StreamIngest>(
        publisher_.get(), StreamIngest::Options{options.writer.max_queued_events, 20'000, 4});
    if (production->run_worker) {
      StreamWorker::Options worker_options = production->worker;
      worker_options.ns = ns;
      worker_options.limits = options.limits;
      worker_options.normalization = options.routes.normalization;
      workers_ = std::make_unique<StreamWorkerThreads>(store_.get(), *redis, worker_options);
      live_ = std::make_unique<LiveMetricsPublisher>(store_.get(), *redis, ns);
      retention_ = std::make_unique<RetentionScheduler>(
          [postgres](int days) { return postgres->drop_partitions_older_than(days); },
          production->retention_days);
    }
  } else {
    store_ = std::make_unique<SqliteStore>(options.data_dir, sqlite_store_options(options));
    sink_ = std::make_unique<BatchWriter>(store_.get(), options.writer);
  }
  const std::string group =
      options.production ? options.production->worker.group : StreamWorker::Options().group;
  monitor_ = std::make_unique<PipelineMonitor>(
      store_.get(), redis, ns, group,
      workers_ ? workers_->workers() : std::vector<const StreamWorker*>{}, sink_.get());
  api_ = std::make_unique<ApiService>(*store_, *sink_, monitor_.get(), options.limits, options.routes,
                                      options.models, options.clock);
  authorizer_ = std::make_unique<Authorizer>(options.api_keys);
  // Keys are checked on the header, before a body is read or reserved.
  http_ = std::make_unique<HttpServer>(
      options.http,
      [this](HttpRequest& request, Responder respond) { api_->handle(request, std::move(respond)); },
      [this](const HttpRequest& request) { return authorizer_->refuse(request); });
  http_->start();
}

AppServer::~AppServer() { stop(); }

void AppServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  // In-flight ingest requests wait on the sink, which keeps working until the
  // HTTP side has drained; then the sink drains its queue.
  if (http_) http_->stop();
  sink_->shutdown();
  if (workers_) workers_->stop();
  live_.reset();
  retention_.reset();
}

}  // namespace genalytics
