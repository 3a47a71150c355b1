// genalytics serve, in one object: the embedded engine (SQLite store, group
// commit) or the production one (ingest to the Redis streams, queries from
// PostgreSQL, optionally a pipeline worker per stream and the real-time
// hash), behind the same HTTP API.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "event/decode_limits.h"
#include "event/time.h"
#include "live/live_metrics.h"
#include "live/pipeline_monitor.h"
#include "pipeline/batch_writer.h"
#include "pipeline/event_sink.h"
#include "pipeline/retention.h"
#include "pipeline/stream_publisher.h"
#include "pipeline/stream_worker.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/http_server.h"
#include "store/sqlite_store.h"
#include "store/store.h"

namespace genalytics {

class PostgresStore;

struct ProductionOptions {
  std::string redis_url;
  std::string postgres_url;
  std::string ns = std::string(kDefaultStreamNamespace);
  bool run_worker = true;  // one StreamWorker per stream (generation, route) in this process
  int retention_days = kDefaultRetentionDays;
  StreamWorker::Options worker;  // for both streams; AppServer sets kind, ns, limits, normalization
};

struct AppServerOptions {
  std::string data_dir = "./genalytics-data";    // embedded store
  // Its checkpoints; the two fields below win over its own (see sqlite_store_options).
  SqliteStoreOptions sqlite;
  // Decoded rollup rows kept in memory, by either store (store/rollup_cache.h).
  size_t rollup_cache_bytes = SqliteStoreOptions().rollup_cache_bytes;
  // Values an attribute dimension keeps per hour, in either store (rollup/dimension_cap.h).
  size_t max_values_per_dimension_hour = SqliteStoreOptions().max_values_per_dimension_hour;
  std::optional<ProductionOptions> production;  // set: Redis + PostgreSQL instead
  HttpServerOptions http;
  BatchWriter::Options writer;
  DecodeLimits limits;
  RouteApiOptions routes;
  ModelAnalyticsConfig models;  // config "model_analytics"
  // Keys the API asks for (server/auth.h); empty: every request is let through.
  ApiKeys api_keys;
  // Without keys, listening on an address other machines can reach is
  // refused unless this is set.
  bool insecure_no_auth = false;
  // The API's "now" (server/api.h); tests fix it.
  TimeSource clock = now_us;
};

// The embedded store's options as `options` configure them: `sqlite` with
// rollup_cache_bytes and max_values_per_dimension_hour applied.
SqliteStoreOptions sqlite_store_options(const AppServerOptions& options);

// PostgreSQL at `url` as `options` configure it (rollup_cache_bytes,
// max_values_per_dimension_hour): AppServer and every command open it here,
// so no process writes with other rollup settings. Throws StoreError.
std::unique_ptr<PostgresStore> open_postgres_store(const std::string& url,
                                                   const AppServerOptions& options);

class AppServer {
 public:
  // Opens the store (StoreError), binds the port (std::runtime_error) and
  // serves from the return on. Throws std::invalid_argument, before opening
  // anything, when no API key is configured, http.host is not a loopback
  // address and insecure_no_auth is not set. In production, Redis being down does not
  // prevent start-up: ingest answers 503 until it is back.
  explicit AppServer(const AppServerOptions& options);
  // Calls stop().
  ~AppServer();
  AppServer(const AppServer&) = delete;
  AppServer& operator=(const AppServer&) = delete;

  // Stops accepting connections, answers in-flight requests (their events
  // durable first), drains the ingest queue, stops the workers. Idempotent.
  void stop();

  uint16_t port() const { return http_->port(); }
  Store& store() { return *store_; }

 private:
  std::unique_ptr<Store> store_;
  std::unique_ptr<StreamPublisher> publisher_;
  std::unique_ptr<EventSink> sink_;
  std::unique_ptr<StreamWorkerThreads> workers_;
  std::unique_ptr<LiveMetricsPublisher> live_;
  std::unique_ptr<RetentionScheduler> retention_;
  std::unique_ptr<PipelineMonitor> monitor_;
  std::unique_ptr<ApiService> api_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<HttpServer> http_;
  bool stopped_ = false;
};

}  // namespace genalytics
