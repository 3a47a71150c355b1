// The embedded engine in one object: SQLite store, group-commit writer,
// analytics and the HTTP API, started and stopped together.
#pragma once

#include <memory>
#include <string>

#include "analytics/generation_analytics.h"
#include "event/generation_decoder.h"
#include "pipeline/batch_writer.h"
#include "server/api.h"
#include "server/http_server.h"
#include "store/sqlite_store.h"

namespace genalytics {

struct EmbeddedServerOptions {
  std::string data_dir = "./genalytics-data";
  HttpServerOptions http;
  BatchWriter::Options writer;
  DecodeLimits limits;
};

class EmbeddedServer {
 public:
  // Opens the store (throws StoreError) and binds the port (throws
  // std::runtime_error); serves from the return on.
  explicit EmbeddedServer(const EmbeddedServerOptions& options);
  // Calls stop().
  ~EmbeddedServer();
  EmbeddedServer(const EmbeddedServer&) = delete;
  EmbeddedServer& operator=(const EmbeddedServer&) = delete;

  // Stops accepting connections, answers in-flight requests (their events
  // are committed first), commits everything queued. Idempotent.
  void stop();

  uint16_t port() const { return http_->port(); }
  Store& store() { return *store_; }

 private:
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<BatchWriter> writer_;
  std::unique_ptr<GenerationAnalytics> analytics_;
  std::unique_ptr<ApiService> api_;
  std::unique_ptr<HttpServer> http_;
  bool stopped_ = false;
};

}  // namespace genalytics
