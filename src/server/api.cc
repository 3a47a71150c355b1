#include "server/api.h"

#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <string>

#include "analytics/model_inventory.h"
#include "event/event_batch.h"
#include "event/rejected_event.h"
#include "event/time.h"
#include "server/analytics_json.h"
#include "server/model_analytics_json.h"
#include "server/responses.h"

namespace genalytics {
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kAcceptedMediaTypes = "application/json, application/x-ndjson";

std::optional<std::string> get(const QueryParams& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

TimeWindow window_of(const ApiService::Call& call) {
  return resolve_window(WindowParams{get(call.params, "days"), get(call.params, "start"),
                                     get(call.params, "end")},
                        call.now_us);
}

// `limit` of the route analytics endpoints (default 20).
int route_limit(const QueryParams& params) {
  return parse_int_parameter("limit", get(params, "limit").value_or("20"), 1, 10'000);
}

// Whether `path` matches a route pattern (ApiService::Route::pattern); sets
// `argument` to what "{name}" or "*" matched.
bool matches(std::string_view pattern, std::string_view path, std::string_view* argument) {
  if (pattern.ends_with("/*")) {
    const std::string_view prefix = pattern.substr(0, pattern.size() - 1);
    if (!path.starts_with(prefix)) return false;
    *argument = path.substr(prefix.size());
    return true;
  }
  if (pattern.ends_with('}')) {
    const std::string_view prefix = pattern.substr(0, pattern.rfind('{'));
    if (!path.starts_with(prefix)) return false;
    const std::string_view segment = path.substr(prefix.size());
    if (segment.empty() || segment.find('/') != std::string_view::npos) return false;
    *argument = segment;
    return true;
  }
  *argument = {};
  return path == pattern;
}

std::string_view method_name(ApiService::Route::Method method) {
  using enum ApiService::Route::Method;
  switch (method) {
    case kGet:
      return "GET";
    case kPost:
      return "POST";
    case kPut:
      return "PUT";
  }
  return "GET";
}

bool allows(ApiService::Route::Method method, http::verb verb) {
  using enum ApiService::Route::Method;
  switch (method) {
    case kGet:
      return verb == http::verb::get || verb == http::verb::head;
    case kPost:
      return verb == http::verb::post;
    case kPut:
      return verb == http::verb::put;
  }
  return false;
}

}  // namespace

ApiService::ApiService(Store& store, EventSink& sink, const PipelineMonitor* monitor,
                       DecodeLimits limits, RouteApiOptions routes, ModelAnalyticsConfig models,
                       TimeSource clock)
    : store_(store),
      sink_(sink),
      monitor_(monitor),
      routes_(std::move(routes)),
      decode_options_{limits, routes_.normalization},
      generation_(store),
      route_analytics_(store, routes_.normalization),
      planner_(store),
      models_(store, std::move(models)),
      clock_(std::move(clock)) {
  using enum Route::Method;
  constexpr std::optional<ApiRole> kOpen = std::nullopt;
  table_ = {
      {kGet, "/health", kOpen, &ApiService::health},
      {kGet, "/api/v1/health", kOpen, &ApiService::health},
  };
  // One ingest route per event kind, in the order of EventKinds.
  for (EventKind kind : kEventKinds) {
    EventKinds::visit(kind, [this](auto tag) {
      using Kind = typename decltype(tag)::type;
      table_.push_back({kPost, Kind::kIngestPath, ApiRole::kIngest, &ApiService::ingest<Kind>});
    });
  }
  table_.insert(table_.end(), {
      {kGet, "/api/v1/analytics/generation/overview", ApiRole::kRead, &ApiService::generation_overview},
      {kGet, "/api/v1/analytics/generation/trends", ApiRole::kRead, &ApiService::generation_trends},
      {kGet, "/api/v1/analytics/generation/models", ApiRole::kRead, &ApiService::generation_models},
      {kGet, "/api/v1/analytics/generation/failures", ApiRole::kRead, &ApiService::generation_failures},
      {kGet, "/api/v1/analytics/generation/peak-hours", ApiRole::kRead, &ApiService::generation_peak_hours},
      {kGet, "/api/v1/analytics/generation/users/{user_id}", ApiRole::kRead, &ApiService::generation_user},
      {kGet, "/api/v1/analytics/generation/*", ApiRole::kRead, &ApiService::unknown_generation_analytics},
      {kGet, "/api/v1/analytics/routes/cache-priorities", ApiRole::kRead, &ApiService::cache_priorities},
      {kGet, "/api/v1/analytics/routes/overview", ApiRole::kRead, &ApiService::route_overview},
      {kGet, "/api/v1/analytics/routes/peak-hours", ApiRole::kRead, &ApiService::route_peak_hours},
      {kGet, "/api/v1/analytics/routes/patterns", ApiRole::kRead, &ApiService::route_patterns},
      {kGet, "/api/v1/analytics/routes/*", ApiRole::kRead, &ApiService::unknown_route_analytics},
      {kGet, "/api/v1/analytics/models/usage", ApiRole::kRead, &ApiService::model_usage},
      {kGet, "/api/v1/analytics/models/usage/{model_id}", ApiRole::kRead, &ApiService::model_usage_one},
      {kGet, "/api/v1/analytics/models/recommendations", ApiRole::kRead, &ApiService::model_recommendations},
      {kGet, "/api/v1/analytics/models/report", ApiRole::kRead, &ApiService::model_report},
      {kGet, "/api/v1/analytics/models/simulate", ApiRole::kRead, &ApiService::model_simulate},
      {kGet, "/api/v1/analytics/models/*", ApiRole::kRead, &ApiService::unknown_model_analytics},
      {kGet, "/api/v1/models", ApiRole::kRead, &ApiService::models},
      {kGet, "/api/v1/models/{model_id}", ApiRole::kRead, &ApiService::model},
      {kPut, "/api/v1/models/{model_id}", ApiRole::kIngest, &ApiService::register_model},
  });
  if (monitor_ != nullptr) {
    table_.push_back({kGet, "/api/v1/analytics/pipeline", ApiRole::kRead, &ApiService::pipeline});
  }
}

void ApiService::handle(HttpRequest& request, Responder respond) const {
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  try {
    auto url = boost::urls::parse_origin_form(request.target());
    if (!url) {
      return respond(error_response(http::status::bad_request, "bad_request",
                                    "malformed request target", version, keep_alive));
    }
    const std::string path = url->path();
    std::string_view argument;
    const auto first = std::find_if(table_.begin(), table_.end(), [&](const Route& r) {
      return matches(r.pattern, path, &argument);
    });
    // The first pattern that matches decides; of its rows (one per method),
    // the one of the request's method answers.
    auto route = table_.end();
    std::string allowed;
    for (auto r = first; r != table_.end(); ++r) {
      if (r->pattern != first->pattern) continue;
      if (allows(r->method, request.method())) {
        route = r;
        break;
      }
      allowed += (allowed.empty() ? "" : ", ") + std::string(method_name(r->method));
    }
    if (route == table_.end()) {
      if (first == table_.end()) {
        return respond(error_response(http::status::not_found, "not_found",
                                      "no such endpoint: " + path, version, keep_alive));
      }
      HttpResponse response =
          error_response(http::status::method_not_allowed, "method_not_allowed",
                         allowed.find(',') == std::string::npos ? "use " + allowed
                                                                 : "use one of: " + allowed,
                         version, keep_alive);
      response.set(http::field::allow, allowed);
      return respond(std::move(response));
    }
    if (const auto* body = std::get_if<BodyHandler>(&route->handler)) {
      return (this->**body)(request, argument, std::move(respond));
    }
    QueryParams params;
    for (auto param : url->params()) params[param.key] = param.value;
    const Call call{path, params, argument, clock_()};
    if (const auto* raw = std::get_if<ResponseHandler>(&route->handler)) {
      return respond((this->**raw)(call, version, keep_alive));
    }
    const boost::json::value body = (this->*std::get<JsonHandler>(route->handler))(call);
    return respond(json_response(http::status::ok, body, version, keep_alive));
  } catch (...) {
    respond(current_exception_response(version, keep_alive));
  }
}

boost::json::value ApiService::health(const Call& call) const {
  return boost::json::object{{"status", "ok"},
                             {"queued_events", sink_.queued_events()},
                             {"time", format_rfc3339_seconds(call.now_us)}};
}

boost::json::value ApiService::pipeline(const Call& call) const { return monitor_->status(call.now_us); }

boost::json::value ApiService::generation_overview(const Call& call) const {
  return to_json(generation_.overview(window_of(call)));
}

boost::json::value ApiService::generation_trends(const Call& call) const {
  const TimeWindow window = window_of(call);
  return to_json(generation_.trends(window, parse_trend_interval(get(call.params, "interval").value_or("hourly"))));
}

boost::json::value ApiService::generation_models(const Call& call) const {
  return to_json(generation_.models(window_of(call)));
}

boost::json::value ApiService::generation_failures(const Call& call) const {
  return to_json(generation_.failures(window_of(call)));
}

boost::json::value ApiService::generation_peak_hours(const Call& call) const {
  return to_json(generation_.peak_hours(window_of(call)));
}

boost::json::value ApiService::generation_user(const Call& call) const {
  const TimeWindow window = window_of(call);
  return to_json(generation_.user(std::string(call.argument), window));
}

boost::json::value ApiService::unknown_generation_analytics(const Call& call) const {
  window_of(call);  // a bad window is reported first, as on every analytics endpoint
  throw NotFound("no such analytics endpoint: " + call.path);
}

boost::json::value ApiService::cache_priorities(const Call& call) const {
  const TimeWindow window = window_of(call);
  CachePlanOptions options = routes_.planning;
  if (auto n = get(call.params, "n")) options.top_n = parse_int_parameter("n", *n, 1, 10'000);
  if (auto mode = get(call.params, "mode")) {
    if (*mode == "absolute") {
      options.mode = CachePlanMode::kAbsolute;
    } else if (*mode == "relative") {
      options.mode = CachePlanMode::kRelative;
    } else {
      throw InvalidArgument("mode", "mode must be absolute or relative");
    }
  }
  if (auto v = get(call.params, "min_requests")) options.min_requests = parse_number_parameter("min_requests", *v);
  if (auto v = get(call.params, "min_latency")) options.min_latency_ms = parse_number_parameter("min_latency", *v);
  return cache_plan_json(window, planner_.plan(window, options), options.mode);
}

boost::json::value ApiService::route_overview(const Call& call) const {
  const TimeWindow window = window_of(call);
  const int limit = route_limit(call.params);
  const RouteOrder order = parse_route_order(get(call.params, "order").value_or("requests"));
  return to_json(route_analytics_.overview(window, order, limit));
}

boost::json::value ApiService::route_peak_hours(const Call& call) const {
  const TimeWindow window = window_of(call);
  route_limit(call.params);  // validated as on every route analytics endpoint, though unused
  return to_json(route_analytics_.peak_hours(window, get(call.params, "route")));
}

boost::json::value ApiService::route_patterns(const Call& call) const {
  const TimeWindow window = window_of(call);
  const int limit = route_limit(call.params);
  auto route = get(call.params, "route");
  if (!route) throw InvalidArgument("route", "route is required");
  return to_json(route_analytics_.patterns(window, *route, limit));
}

boost::json::value ApiService::unknown_route_analytics(const Call& call) const {
  window_of(call);  // parameters are reported before the path, as on the known endpoints
  route_limit(call.params);
  throw NotFound("no such route analytics endpoint: " + std::string(call.argument));
}

namespace {

// The window of the model endpoints: `days` defaults to 30 there.
TimeWindow model_window(const ApiService::Call& call) {
  auto days = get(call.params, "days");
  auto start = get(call.params, "start");
  auto end = get(call.params, "end");
  if (!days && !start && !end) days = std::to_string(kDefaultModelWindowDays);
  return resolve_window(WindowParams{days, start, end}, call.now_us);
}

// `vram_budget_gb`, when given: a number in [0, 100000].
std::optional<double> vram_budget(const QueryParams& params) {
  auto text = get(params, "vram_budget_gb");
  if (!text) return std::nullopt;
  const double gb = parse_number_parameter("vram_budget_gb", *text);
  if (gb > 100'000) throw InvalidArgument("vram_budget_gb", "vram_budget_gb must be at most 100000");
  return gb;
}

}  // namespace

boost::json::value ApiService::models(const Call& /*call*/) const {
  return to_json(models_.list_models());
}

boost::json::value ApiService::model(const Call& call) const {
  return to_json(models_.find_model(std::string(call.argument)));
}

boost::json::value ApiService::model_usage(const Call& call) const {
  return to_json(models_.usage(model_window(call)));
}

boost::json::value ApiService::model_usage_one(const Call& call) const {
  const TimeWindow window = model_window(call);
  return to_json(models_.usage(window, std::string(call.argument)));
}

boost::json::value ApiService::model_recommendations(const Call& call) const {
  const TimeWindow window = model_window(call);
  std::optional<RecommendationKind> kind;
  if (auto k = get(call.params, "kind")) kind = parse_recommendation_kind(*k);
  return to_json(models_.recommendations(window, kind, vram_budget(call.params), call.now_us));
}

HttpResponse ApiService::model_report(const Call& call, unsigned version, bool keep_alive) const {
  const TimeWindow window = model_window(call);
  const std::string format = get(call.params, "format").value_or("json");
  if (format != "json" && format != "csv") throw InvalidArgument("format", "format must be json or csv");
  const std::optional<double> budget = vram_budget(call.params);
  const ModelUsageReport usage = models_.usage(window);
  const ModelRecommendations recommendations =
      models_.recommendations(window, std::nullopt, budget, call.now_us);
  if (format == "json") {
    return json_response(http::status::ok, model_report_json(usage, recommendations, call.now_us),
                         version, keep_alive);
  }
  HttpResponse response(http::status::ok, version);
  response.set(http::field::content_type, "text/csv; charset=utf-8");
  response.set(http::field::content_disposition,
               "attachment; filename=\"model-report-" +
                   format_date(call.now_us) + ".csv\"");
  response.keep_alive(keep_alive);
  response.body() = model_report_csv(usage, recommendations);
  response.prepare_payload();
  return response;
}

boost::json::value ApiService::model_simulate(const Call& call) const {
  const TimeWindow window = model_window(call);
  return to_json(models_.simulate(window, vram_budget(call.params)));
}

boost::json::value ApiService::unknown_model_analytics(const Call& call) const {
  model_window(call);  // parameters are reported before the path, as on the known endpoints
  throw NotFound("no such model analytics endpoint: " + std::string(call.argument));
}

void ApiService::register_model(HttpRequest& request, std::string_view model_id,
                                Responder respond) const {
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  boost::system::error_code ec;
  const boost::json::value body = boost::json::parse(request.body(), ec);
  if (ec || !body.is_object()) {
    return respond(error_response(http::status::bad_request, "invalid_body",
                                  "the body must be a JSON object of size_bytes, model_kind, "
                                  "base_model and path",
                                  version, keep_alive));
  }
  // The handler owns `respond` now: it answers what it throws itself.
  try {
    const boost::json::object& fields = body.get_object();
    ModelRegistration registration;
    auto text = [&](const char* name, std::optional<std::string>* out) {
      const boost::json::value* v = fields.if_contains(name);
      if (v == nullptr || v->is_null()) return;
      if (!v->is_string()) throw InvalidArgument(name, std::string(name) + " must be a string");
      *out = std::string(v->get_string());
    };
    text("model_kind", &registration.model_kind);
    text("base_model", &registration.base_model);
    text("path", &registration.path);
    if (const boost::json::value* v = fields.if_contains("size_bytes"); v && !v->is_null()) {
      if (v->is_int64()) {
        registration.size_bytes = v->get_int64();
      } else if (v->is_uint64()) {
        throw InvalidArgument("size_bytes", "size_bytes is too large");
      } else {
        throw InvalidArgument("size_bytes", "size_bytes must be a non-negative integer");
      }
    }
    const ModelRecord record = registration_record(model_id, registration, clock_());
    store_.register_models(std::span(&record, 1));
    respond(json_response(http::status::ok, to_json(models_.find_model(record.model_id)), version,
                          keep_alive));
  } catch (...) {
    respond(current_exception_response(version, keep_alive));
  }
}

namespace {

// Hands a decoded body's events to the sink and answers once they are
// durable: {"accepted", "duplicates", "rejected", "rejected_count"}, where
// "rejected" lists the first rejections (DecodeLimits::max_rejected_listed)
// and "rejected_count" counts them all; 200 when anything was accepted or the
// whole body was already stored, 400 when nothing could be accepted, 503 when
// the sink is full or failing.
void submit_and_answer(EventSink& sink, EventBatch events, Rejections rejected_events,
                       unsigned version, bool keep_alive, Responder respond) {
  auto answer = [version, keep_alive](size_t accepted, size_t duplicates,
                                      const Rejections& rejected) {
    boost::json::array rejected_json;
    rejected_json.reserve(rejected.listed.size());
    for (const RejectedEvent& r : rejected.listed) {
      boost::json::array errors;
      for (const FieldError& e : r.errors) errors.push_back({{"field", e.field}, {"message", e.message}});
      rejected_json.push_back({{"index", r.index}, {"errors", std::move(errors)}});
    }
    const bool ok = accepted > 0 || (duplicates > 0 && rejected.empty());
    return json_response(ok ? http::status::ok : http::status::bad_request,
                         boost::json::object{{"accepted", accepted},
                                             {"duplicates", duplicates},
                                             {"rejected", std::move(rejected_json)},
                                             {"rejected_count", rejected.count}},
                         version, keep_alive);
  };
  if (event_count(events) == 0) {
    if (rejected_events.empty()) {
      return respond(error_response(http::status::bad_request, "no_events",
                                    "the body holds no events", version, keep_alive));
    }
    return respond(answer(0, 0, rejected_events));
  }
  auto rejected = std::make_shared<Rejections>(std::move(rejected_events));
  const SubmitStatus status =
      sink.submit(std::move(events), [respond, rejected, answer, version, keep_alive](WriteResult result) {
        if (!result.ok) {
          return respond(error_response(http::status::service_unavailable, "ingest_unavailable",
                                        "events were not stored: " + result.error, version,
                                        keep_alive));
        }
        respond(answer(result.accepted, result.duplicates, *rejected));
      });
  if (status == SubmitStatus::kQueueFull) {
    return respond(error_response(http::status::service_unavailable, "queue_full",
                                  "the ingest queue is full; retry after a moment", version,
                                  keep_alive));
  }
  if (status == SubmitStatus::kShuttingDown) {
    return respond(error_response(http::status::service_unavailable, "shutting_down",
                                  "the server is shutting down", version, keep_alive));
  }
}

// A full queue refuses a body before it is decoded: a flood then costs
// little more than reading the bodies it cannot take.
std::optional<HttpResponse> refuse_when_full(const EventSink& sink, const HttpRequest& request) {
  if (!sink.full()) return std::nullopt;
  return error_response(http::status::service_unavailable, "queue_full",
                        "the ingest queue is full; retry after a moment", request.version(),
                        request.keep_alive());
}

// The media type of a Content-Type value, lower case, without parameters.
std::string media_type(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  const size_t first = content_type.find_first_not_of(" \t");
  if (first == std::string_view::npos) return "";
  const size_t last = content_type.find_last_not_of(" \t");
  std::string type(content_type.substr(first, last - first + 1));
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type;
}

bool is_ndjson(const HttpRequest& request) {
  return media_type(request[http::field::content_type]) == "application/x-ndjson";
}

// Whether an ingest body of this content type can be events. JSON types are;
// no type, and the types clients send by default for a string body (curl -d:
// form data; fetch: text/plain; octet-stream), are when the body starts as
// JSON does; every other type (XML, multipart, HTML, CSV, ...) is not.
bool is_acceptable_body(std::string_view content_type, std::string_view body) {
  const std::string type = media_type(content_type);
  if (type == "application/json" || type == "application/x-ndjson" ||
      (type.starts_with("application/") && type.ends_with("+json"))) {
    return true;
  }
  if (type.empty()) return true;
  if (type != "application/x-www-form-urlencoded" && type != "text/plain" &&
      type != "application/octet-stream") {
    return false;
  }
  const size_t first = body.find_first_not_of(" \t\r\n");
  return first == std::string_view::npos || body[first] == '{' || body[first] == '[';
}

// 415 for a body that cannot be events (is_acceptable_body), naming the
// accepted types; nullopt otherwise.
std::optional<HttpResponse> refuse_media_type(const HttpRequest& request) {
  const std::string_view content_type = request[http::field::content_type];
  if (is_acceptable_body(content_type, request.body())) return std::nullopt;
  HttpResponse response = error_response(
      http::status::unsupported_media_type, "unsupported_media_type",
      "Content-Type " + std::string(content_type) +
          " is not accepted: send application/json or application/x-ndjson",
      request.version(), request.keep_alive());
  response.set("Accept-Post", kAcceptedMediaTypes);
  return response;
}

}  // namespace

template <typename Kind>
void ApiService::ingest(HttpRequest& request, std::string_view /*argument*/,
                        Responder respond) const {
  if (auto refused = refuse_media_type(request)) return respond(std::move(*refused));
  if (auto refused = refuse_when_full(sink_, request)) return respond(std::move(*refused));
  auto decoded = Kind::decode_body(request.body(), is_ndjson(request), clock_(), decode_options_);
  submit_and_answer(sink_, std::move(decoded.events), std::move(decoded.rejected), request.version(),
                    request.keep_alive(), std::move(respond));
}

}  // namespace genalytics
