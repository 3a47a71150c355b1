#include "server/api.h"

#include <boost/url/parse.hpp>
#include <cctype>
#include <map>
#include <memory>
#include <string>

#include "analytics/route_analytics.h"
#include "event/time.h"
#include "server/responses.h"

namespace genalytics {
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kGenerationAnalyticsPrefix = "/api/v1/analytics/generation/";
constexpr std::string_view kRouteAnalyticsPrefix = "/api/v1/analytics/routes/";
constexpr std::string_view kAcceptedMediaTypes = "application/json, application/x-ndjson";

std::optional<std::string> get(const QueryParams& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

WindowParams window_params(const QueryParams& params) {
  return WindowParams{get(params, "days"), get(params, "start"), get(params, "end")};
}

}  // namespace

ApiService::ApiService(const Store& store, const GenerationAnalytics& analytics, EventSink& sink,
                       const PipelineMonitor* monitor, DecodeLimits limits, RouteApiOptions routes)
    : store_(store),
      analytics_(analytics),
      sink_(sink),
      monitor_(monitor),
      limits_(limits),
      routes_(std::move(routes)) {}

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
    QueryParams params;
    for (auto param : url->params()) params[param.key] = param.value;

    if (path == "/api/v1/events/generation") {
      if (request.method() != http::verb::post) {
        HttpResponse response = error_response(http::status::method_not_allowed,
                                               "method_not_allowed", "use POST", version, keep_alive);
        response.set(http::field::allow, "POST");
        return respond(std::move(response));
      }
      return ingest_generation(request, std::move(respond));
    }

    const bool is_get = request.method() == http::verb::get || request.method() == http::verb::head;
    if (path == "/health" || path == "/api/v1/health") {
      if (!is_get) {
        return respond(error_response(http::status::method_not_allowed, "method_not_allowed",
                                      "use GET", version, keep_alive));
      }
      boost::json::object body{{"status", "ok"},
                               {"queued_events", sink_.queued_events()},
                               {"time", format_rfc3339_seconds(now_us())}};
      return respond(json_response(http::status::ok, body, version, keep_alive));
    }

    if (path == "/api/v1/analytics/pipeline" && monitor_ != nullptr) {
      if (!is_get) {
        return respond(error_response(http::status::method_not_allowed, "method_not_allowed",
                                      "use GET", version, keep_alive));
      }
      return respond(json_response(http::status::ok, monitor_->status(now_us()), version, keep_alive));
    }

    if (path == "/api/v1/events/route") {
      if (request.method() != http::verb::post) {
        HttpResponse response = error_response(http::status::method_not_allowed,
                                               "method_not_allowed", "use POST", version, keep_alive);
        response.set(http::field::allow, "POST");
        return respond(std::move(response));
      }
      return ingest_routes(request, std::move(respond));
    }

    if (path.starts_with(kRouteAnalyticsPrefix)) {
      if (!is_get) {
        return respond(error_response(http::status::method_not_allowed, "method_not_allowed",
                                      "use GET", version, keep_alive));
      }
      const std::string_view name = std::string_view(path).substr(kRouteAnalyticsPrefix.size());
      return respond(json_response(http::status::ok, route_analytics(name, params), version, keep_alive));
    }

    if (path.starts_with(kGenerationAnalyticsPrefix)) {
      if (!is_get) {
        HttpResponse response = error_response(http::status::method_not_allowed,
                                               "method_not_allowed", "use GET", version, keep_alive);
        response.set(http::field::allow, "GET");
        return respond(std::move(response));
      }
      const std::string_view name = std::string_view(path).substr(kGenerationAnalyticsPrefix.size());
      const TimeWindow window = resolve_window(window_params(params), now_us());
      boost::json::object body;
      if (name == "overview") {
        body = analytics_.overview(window);
      } else if (name == "trends") {
        body = analytics_.trends(window, parse_trend_interval(get(params, "interval").value_or("hourly")));
      } else if (name == "models") {
        body = analytics_.models(window);
      } else if (name == "failures") {
        body = analytics_.failures(window);
      } else if (name == "peak-hours") {
        body = analytics_.peak_hours(window);
      } else if (name.starts_with("users/") && name.size() > 6 &&
                 name.find('/', 6) == std::string_view::npos) {
        body = analytics_.user(std::string(name.substr(6)), window);
      } else {
        return respond(error_response(http::status::not_found, "not_found",
                                      "no such analytics endpoint: " + path, version, keep_alive));
      }
      return respond(json_response(http::status::ok, body, version, keep_alive));
    }
    return respond(error_response(http::status::not_found, "not_found", "no such endpoint: " + path,
                                  version, keep_alive));
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
template <typename Event, typename Submit>
void submit_and_answer(std::vector<Event> events, Rejections rejected_events, unsigned version,
                       bool keep_alive, Responder respond, Submit&& submit) {
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
  if (events.empty()) {
    if (rejected_events.empty()) {
      return respond(error_response(http::status::bad_request, "no_events",
                                    "the body holds no events", version, keep_alive));
    }
    return respond(answer(0, 0, rejected_events));
  }
  auto rejected = std::make_shared<Rejections>(std::move(rejected_events));
  const SubmitStatus status =
      submit(std::move(events), [respond, rejected, answer, version, keep_alive](WriteResult result) {
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

void ApiService::ingest_generation(HttpRequest& request, Responder respond) const {
  if (auto refused = refuse_media_type(request)) return respond(std::move(*refused));
  if (auto refused = refuse_when_full(sink_, request)) return respond(std::move(*refused));
  DecodedBatch batch = decode_generation_body(request.body(), is_ndjson(request), now_us(), limits_);
  submit_and_answer(std::move(batch.events), std::move(batch.rejected), request.version(),
                    request.keep_alive(), std::move(respond), [this](auto events, auto done) {
                      return sink_.submit(std::move(events), std::move(done));
                    });
}

void ApiService::ingest_routes(HttpRequest& request, Responder respond) const {
  if (auto refused = refuse_media_type(request)) return respond(std::move(*refused));
  if (auto refused = refuse_when_full(sink_, request)) return respond(std::move(*refused));
  DecodedRouteBatch batch =
      decode_route_body(request.body(), is_ndjson(request), now_us(), limits_, routes_.normalization);
  submit_and_answer(std::move(batch.events), std::move(batch.rejected), request.version(),
                    request.keep_alive(), std::move(respond), [this](auto events, auto done) {
                      return sink_.submit_routes(std::move(events), std::move(done));
                    });
}

boost::json::object ApiService::route_analytics(std::string_view name, const QueryParams& params) const {
  const TimeWindow window = resolve_window(window_params(params), now_us());
  if (name == "cache-priorities") {
    CachePlanOptions options = routes_.planning;
    if (auto n = get(params, "n")) options.top_n = parse_int_parameter("n", *n, 1, 10'000);
    if (auto mode = get(params, "mode")) {
      if (*mode == "absolute") {
        options.mode = CachePlanMode::kAbsolute;
      } else if (*mode == "relative") {
        options.mode = CachePlanMode::kRelative;
      } else {
        throw InvalidArgument("mode", "mode must be absolute or relative");
      }
    }
    if (auto v = get(params, "min_requests")) options.min_requests = parse_number_parameter("min_requests", *v);
    if (auto v = get(params, "min_latency")) options.min_latency_ms = parse_number_parameter("min_latency", *v);
    return CachePlanner(store_).plan_json(window, options);
  }
  const int limit = parse_int_parameter("limit", get(params, "limit").value_or("20"), 1, 10'000);
  RouteAnalytics analytics(store_, routes_.normalization);
  if (name == "overview") return analytics.overview(window, get(params, "order").value_or("requests"), limit);
  if (name == "peak-hours") return analytics.peak_hours(window, get(params, "route"));
  if (name == "patterns") {
    auto route = get(params, "route");
    if (!route) throw InvalidArgument("route", "route is required");
    return analytics.patterns(window, *route, limit);
  }
  throw NotFound("no such route analytics endpoint: " + std::string(name));
}

}  // namespace genalytics
