// The REST API: routes requests to ingest (pipeline/) and to analytics
// (analytics/). It parses parameters and formats answers; every decision
// about data lives in the layers below.
#pragma once

#include <map>
#include <string_view>

#include "analytics/cache_planning.h"
#include "analytics/generation_analytics.h"
#include "event/route_decoder.h"
#include "event/generation_decoder.h"
#include "live/pipeline_monitor.h"
#include "pipeline/event_sink.h"
#include "server/http_server.h"

namespace genalytics {

// Route analytics settings (config "route-analytics" and "cache-planning").
struct RouteApiOptions {
  RouteNormalization normalization;
  CachePlanOptions planning;
};

class ApiService {
 public:
  // The arguments must outlive this object. Without a monitor,
  // /api/v1/analytics/pipeline answers 404.
  ApiService(const Store& store, const GenerationAnalytics& analytics, EventSink& sink,
             const PipelineMonitor* monitor, DecodeLimits limits, RouteApiOptions routes);

  // The HttpHandler: answers every request exactly once. Thread-safe.
  void handle(HttpRequest& request, Responder respond) const;

 private:
  void ingest_generation(HttpRequest& request, Responder respond) const;
  void ingest_routes(HttpRequest& request, Responder respond) const;
  // GET /api/v1/analytics/routes/{name}. Throws InvalidArgument, NotFound.
  boost::json::object route_analytics(std::string_view name, const QueryParams& params) const;

  const Store& store_;
  const GenerationAnalytics& analytics_;
  EventSink& sink_;
  const PipelineMonitor* monitor_;
  DecodeLimits limits_;
  RouteApiOptions routes_;
};

}  // namespace genalytics
