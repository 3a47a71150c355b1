#include "server/api.h"

#include <boost/url/parse.hpp>
#include <map>

#include "event/time.h"
#include "server/responses.h"

namespace genalytics {
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kGenerationAnalyticsPrefix = "/api/v1/analytics/generation/";

using QueryParams = std::map<std::string, std::string, std::less<>>;

std::optional<std::string> get(const QueryParams& params, std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return it->second;
}

WindowParams window_params(const QueryParams& params) {
  return WindowParams{get(params, "days"), get(params, "start"), get(params, "end")};
}

}  // namespace

ApiService::ApiService(const GenerationAnalytics& analytics, EventSink& sink,
                       const PipelineMonitor* monitor, DecodeLimits limits)
    : analytics_(analytics), sink_(sink), monitor_(monitor), limits_(limits) {}

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

void ApiService::ingest_generation(HttpRequest& request, Responder respond) const {
  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  const bool ndjson = request[http::field::content_type].starts_with("application/x-ndjson");
  DecodedBatch batch = decode_generation_body(request.body(), ndjson, now_us(), limits_);

  auto answer = [version, keep_alive](size_t accepted, size_t duplicates,
                                      const std::vector<RejectedEvent>& rejected) {
    boost::json::array rejected_json;
    for (const RejectedEvent& r : rejected) {
      boost::json::array errors;
      for (const FieldError& e : r.errors) errors.push_back({{"field", e.field}, {"message", e.message}});
      rejected_json.push_back({{"index", r.index}, {"errors", std::move(errors)}});
    }
    // 200 when anything was accepted or the whole body was already stored.
    const bool ok = accepted > 0 || (duplicates > 0 && rejected.empty());
    return json_response(ok ? http::status::ok : http::status::bad_request,
                         boost::json::object{{"accepted", accepted},
                                             {"duplicates", duplicates},
                                             {"rejected", std::move(rejected_json)}},
                         version, keep_alive);
  };

  if (batch.events.empty()) {
    if (batch.rejected.empty()) {
      return respond(error_response(http::status::bad_request, "no_events",
                                    "the body holds no events", version, keep_alive));
    }
    return respond(answer(0, 0, batch.rejected));
  }
  auto rejected = std::make_shared<std::vector<RejectedEvent>>(std::move(batch.rejected));
  const SubmitStatus status = sink_.submit(
      std::move(batch.events), [respond, rejected, answer, version, keep_alive](WriteResult result) {
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

}  // namespace genalytics
