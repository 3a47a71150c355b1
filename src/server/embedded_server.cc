#include "server/embedded_server.h"

namespace genalytics {

EmbeddedServer::EmbeddedServer(const EmbeddedServerOptions& options)
    : store_(std::make_unique<SqliteStore>(options.data_dir)),
      writer_(std::make_unique<BatchWriter>(store_.get(), options.writer)),
      analytics_(std::make_unique<GenerationAnalytics>(*store_)),
      api_(std::make_unique<ApiService>(*analytics_, *writer_, nullptr, options.limits)),
      http_(std::make_unique<HttpServer>(options.http, [this](HttpRequest& request, Responder respond) {
        api_->handle(request, std::move(respond));
      })) {
  http_->start();
}

EmbeddedServer::~EmbeddedServer() { stop(); }

void EmbeddedServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  // In-flight ingest requests wait on the writer, which keeps committing
  // until the HTTP side has drained; then the writer drains its queue.
  http_->stop();
  writer_->shutdown();
}

}  // namespace genalytics
