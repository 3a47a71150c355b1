// The REST API: routes requests to ingest (pipeline/) and to analytics
// (analytics/). It parses parameters and formats answers; every decision
// about data lives in the layers below.
#pragma once

#include "analytics/generation_analytics.h"
#include "event/generation_decoder.h"
#include "live/pipeline_monitor.h"
#include "pipeline/event_sink.h"
#include "server/http_server.h"

namespace genalytics {

class ApiService {
 public:
  // The arguments must outlive this object. Without a monitor,
  // /api/v1/analytics/pipeline answers 404.
  ApiService(const GenerationAnalytics& analytics, EventSink& sink, const PipelineMonitor* monitor,
             DecodeLimits limits);

  // The HttpHandler: answers every request exactly once. Thread-safe.
  void handle(HttpRequest& request, Responder respond) const;

 private:
  void ingest_generation(HttpRequest& request, Responder respond) const;

  const GenerationAnalytics& analytics_;
  EventSink& sink_;
  const PipelineMonitor* monitor_;
  DecodeLimits limits_;
};

}  // namespace genalytics
