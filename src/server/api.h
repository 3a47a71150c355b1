// The REST API: a table of routes to ingest (pipeline/) and to analytics
// (analytics/). Ingest has one route per event kind (event/event_batch.h's
// EventKinds), at the kind's kIngestPath, all served by one handler. It
// parses parameters and turns results into JSON (server/analytics_json.h);
// every decision about data lives in the layers below.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "analytics/cache_planning.h"
#include "analytics/generation_analytics.h"
#include "analytics/model_analytics.h"
#include "analytics/route_analytics.h"
#include "event/decode_limits.h"
#include "event/time.h"
#include "event/event_kind.h"
#include "event/route_decoder.h"
#include "live/pipeline_monitor.h"
#include "pipeline/event_sink.h"
#include "server/auth.h"
#include "server/http_server.h"

namespace genalytics {

// Route analytics settings (config "route-analytics" and "cache-planning").
struct RouteApiOptions {
  RouteNormalization normalization;
  CachePlanOptions planning;
};

class ApiService {
 public:
  // What a handler of a GET route is given.
  struct Call {
    const std::string& path;     // decoded
    const QueryParams& params;   // decoded; a name given twice has its last value
    std::string_view argument;   // the path's {name} segment, or what a prefix route's "*" matched
    int64_t now_us;
  };
  using JsonHandler = boost::json::value (ApiService::*)(const Call&) const;
  // A GET whose answer is not always JSON (a CSV report).
  using ResponseHandler = HttpResponse (ApiService::*)(const Call&, unsigned version,
                                                       bool keep_alive) const;
  // A POST or PUT that reads the body; `argument` as in Call.
  using BodyHandler = void (ApiService::*)(HttpRequest&, std::string_view argument,
                                           Responder) const;

  // One row of the route table.
  struct Route {
    // kGet routes answer GET and HEAD, kPost routes POST, kPut routes PUT;
    // any other method gets 405 with Allow.
    enum class Method : uint8_t { kGet, kPost, kPut };
    Method method;
    // An exact path; or one ending in "/{name}", which matches one non-empty
    // segment without '/'; or one ending in "/*", which matches anything
    // below the prefix, nothing included. The first row that matches decides.
    std::string_view pattern;
    // The role an API key needs (server/auth.h; nullopt: open to anyone).
    std::optional<ApiRole> role;
    std::variant<JsonHandler, ResponseHandler, BodyHandler> handler;
  };

  // `store`, `sink` and `monitor` must outlive this object. Without a
  // monitor, /api/v1/analytics/pipeline answers 404. The store is written
  // only by model registrations (PUT /api/v1/models/{model_id}); events go
  // through `sink`. `clock` is "now": the end of a window given in days, the
  // time of an event sent without one, a registration's time.
  ApiService(Store& store, EventSink& sink, const PipelineMonitor* monitor, DecodeLimits limits,
             RouteApiOptions routes, ModelAnalyticsConfig models = {}, TimeSource clock = now_us);

  // The HttpHandler: answers every request exactly once. Thread-safe.
  void handle(HttpRequest& request, Responder respond) const;

  // The route table, in matching order.
  const std::vector<Route>& routes() const { return table_; }

 private:
  // POST of a body of Kind's events: 415 for a body that cannot be events,
  // 503 when the sink is full, else decodes it with Kind::decode_body and
  // answers once the valid events are durable (api.cc, submit_and_answer).
  template <typename Kind>
  void ingest(HttpRequest& request, std::string_view argument, Responder respond) const;
  // PUT /api/v1/models/{model_id}: registers or describes a model from a
  // JSON object (size_bytes, model_kind, base_model, path); answers the
  // model as GET /api/v1/models lists it.
  void register_model(HttpRequest& request, std::string_view model_id, Responder respond) const;

  // GET handlers: each throws InvalidArgument or NotFound for the request's
  // fault. Every analytics handler reads the window first.
  boost::json::value health(const Call& call) const;
  boost::json::value pipeline(const Call& call) const;
  boost::json::value generation_overview(const Call& call) const;
  boost::json::value generation_trends(const Call& call) const;
  boost::json::value generation_models(const Call& call) const;
  boost::json::value generation_failures(const Call& call) const;
  boost::json::value generation_peak_hours(const Call& call) const;
  boost::json::value generation_user(const Call& call) const;
  boost::json::value unknown_generation_analytics(const Call& call) const;
  boost::json::value cache_priorities(const Call& call) const;
  boost::json::value route_overview(const Call& call) const;
  boost::json::value route_peak_hours(const Call& call) const;
  boost::json::value route_patterns(const Call& call) const;
  boost::json::value unknown_route_analytics(const Call& call) const;
  boost::json::value models(const Call& call) const;
  boost::json::value model(const Call& call) const;
  boost::json::value model_usage(const Call& call) const;
  boost::json::value model_usage_one(const Call& call) const;
  boost::json::value model_recommendations(const Call& call) const;
  HttpResponse model_report(const Call& call, unsigned version, bool keep_alive) const;
  boost::json::value model_simulate(const Call& call) const;
  boost::json::value unknown_model_analytics(const Call& call) const;

  Store& store_;
  EventSink& sink_;
  const PipelineMonitor* monitor_;
  RouteApiOptions routes_;
  EventDecodeOptions decode_options_;  // every kind's, from the limits and routes_
  // Built once; each is thread-safe.
  GenerationAnalytics generation_;
  RouteAnalytics route_analytics_;
  CachePlanner planner_;
  ModelAnalytics models_;
  TimeSource clock_;
  std::vector<Route> table_;
};

}  // namespace genalytics
