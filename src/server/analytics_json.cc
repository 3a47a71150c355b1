#include "server/analytics_json.h"

#include <boost/json.hpp>

#include <array>
#include <cmath>

#include "event/time.h"

namespace genalytics {
namespace json = boost::json;

namespace {

constexpr std::array<const char*, 7> kDayNames = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};

json::value number_or_null(const std::optional<double>& value) {
  if (!value) return nullptr;
  return *value;
}

json::value rate_json(const std::optional<double>& fraction) { return number_or_null(rounded_rate(fraction)); }
json::value pct_json(const std::optional<double>& fraction) { return number_or_null(rounded_pct(fraction)); }

// An average of requests per hour slot, to 4 decimals.
json::value average_json(const std::optional<double>& average) {
  if (!average) return nullptr;
  return std::round(*average * 1e4) / 1e4;
}

// Stored parameters as the object they are; text that does not parse (not
// written by this project) as an empty object.
json::value params_json(const std::string& text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) return json::object();
  return value;
}

// {"start", "end"}.
json::object window_bounds_json(const TimeWindow& window) {
  return {{"start", format_rfc3339_seconds(window.start_us)}, {"end", format_rfc3339_seconds(window.end_us)}};
}

// The overview's fields, in the order of seed 001's documents.
void append_summary(const GenerationSummary& s, json::object* out) {
  out->emplace("total_requests", s.total_requests);
  out->emplace("successful_generations", s.successful_generations);
  out->emplace("failed_generations", s.failed_generations);
  out->emplace("cancelled_generations", s.cancelled_generations);
  out->emplace("success_rate_pct", pct_json(s.success_rate));
  out->emplace("success_rate", rate_json(s.success_rate));
  out->emplace("avg_duration_ms", ms_or_null(s.avg_duration_ms));
  out->emplace("p50_duration_ms", ms_or_null(s.p50_duration_ms));
  out->emplace("p95_duration_ms", ms_or_null(s.p95_duration_ms));
  out->emplace("p99_duration_ms", ms_or_null(s.p99_duration_ms));
  out->emplace("avg_queue_wait_ms", ms_or_null(s.avg_queue_wait_ms));
  out->emplace("avg_generation_time_ms", ms_or_null(s.avg_generation_time_ms));
  out->emplace("unique_users", s.unique_users);
  out->emplace("total_images_generated", s.total_images_generated);
}

constexpr size_t kSummaryFields = 14;

json::object summary_json(const GenerationSummary& s, size_t extra_fields) {
  json::object out;
  out.reserve(kSummaryFields + extra_fields);
  append_summary(s, &out);
  return out;
}

json::array counts_json(const std::vector<NamedCount>& counts, std::string_view name_key,
                        std::string_view count_key) {
  json::array out;
  out.reserve(counts.size());
  for (const NamedCount& c : counts) out.push_back({{name_key, c.name}, {count_key, c.count}});
  return out;
}

json::object tally_json(const CacheReplayTally& t, const CacheSimulation& simulation) {
  return {{"requests", t.requests},
          {"hits", t.hits},
          {"hit_rate", rate_json(t.hit_rate())},
          {"hit_rate_pct", pct_json(t.hit_rate())},
          {"latency_saved_ms", t.latency_saved_ms},
          {"latency_saved_rate", rate_json(simulation.latency_saved_rate(t))},
          {"latency_saved_pct", pct_json(simulation.latency_saved_rate(t))},
          {"request_time_ms", t.request_time_ms}};
}

}  // namespace

json::value ms_or_null(const std::optional<double>& ms) {
  if (!ms) return nullptr;
  return std::llround(*ms);
}

std::optional<double> rounded_rate(const std::optional<double>& fraction) {
  if (!fraction) return std::nullopt;
  return std::round(*fraction * 1e4) / 1e4;
}

std::optional<double> rounded_pct(const std::optional<double>& fraction) {
  if (!fraction) return std::nullopt;
  return std::round(*fraction * 1e4) / 1e2;
}

json::object to_json(const TimeWindow& window) {
  json::object out = window_bounds_json(window);
  out.emplace("hours", window.hours());
  return out;
}

// ---- Generations (seed 001) ----

json::object to_json(const GenerationOverview& overview) {
  json::object out = summary_json(overview.summary, 1);
  out.emplace("window", to_json(overview.window));
  return out;
}

json::object to_json(const GenerationTrends& trends) {
  json::array points;
  points.reserve(trends.points.size());
  for (const TrendPoint& p : trends.points) {
    json::object point;
    point.reserve(kSummaryFields + 1);
    point.emplace("timestamp", format_rfc3339_seconds(p.start_us));
    append_summary(p.summary, &point);
    points.push_back(std::move(point));
  }
  return {{"interval", trends.interval == TrendInterval::kDaily ? "daily" : "hourly"},
          {"window", to_json(trends.window)},
          {"data_points", std::move(points)}};
}

json::object to_json(const UserGenerations& user) {
  json::object out = summary_json(user.summary, 5);
  out.emplace("user_id", user.user_id);
  out.emplace("failure_breakdown", counts_json(user.failures_by_error_type, "error_type", "count"));
  out.emplace("models_used", counts_json(user.completions_by_model, "model_checkpoint", "total_generations"));
  out.emplace("last_generation_at", user.last_event_us ? json::value(format_rfc3339_micros(*user.last_event_us))
                                                       : json::value(nullptr));
  out.emplace("window", to_json(user.window));
  return out;
}

json::object to_json(const ModelReport& report) {
  json::array models;
  models.reserve(report.models.size());
  for (const ModelStats& m : report.models) {
    const GenerationSummary& s = m.summary;
    models.push_back({
        {"model_checkpoint", m.model_checkpoint},
        {"total_generations", s.completions()},
        {"successful_generations", s.successful_generations},
        {"failed_generations", s.failed_generations},
        {"cancelled_generations", s.cancelled_generations},
        {"total_requests", s.total_requests},
        {"success_rate_pct", pct_json(s.success_rate)},
        {"success_rate", rate_json(s.success_rate)},
        {"avg_duration_ms", ms_or_null(s.avg_duration_ms)},
        {"p50_duration_ms", ms_or_null(s.p50_duration_ms)},
        {"p95_duration_ms", ms_or_null(s.p95_duration_ms)},
        {"p99_duration_ms", ms_or_null(s.p99_duration_ms)},
        {"avg_generation_time_ms", ms_or_null(s.avg_generation_time_ms)},
        {"avg_queue_wait_ms", ms_or_null(s.avg_queue_wait_ms)},
        {"total_images_generated", s.total_images_generated},
    });
  }
  return {{"window", to_json(report.window)}, {"models", std::move(models)}};
}

json::object to_json(const FailureReport& report) {
  json::array error_types;
  error_types.reserve(report.error_types.size());
  for (const ErrorTypeStats& t : report.error_types) {
    json::array messages;
    messages.reserve(t.sample_messages.size());
    for (const std::string& m : t.sample_messages) messages.emplace_back(m);
    error_types.push_back({{"error_type", t.error_type},
                           {"count", t.count},
                           {"avg_duration_ms", ms_or_null(t.avg_duration_ms)},
                           {"affected_users", t.affected_users},
                           {"sample_messages", std::move(messages)}});
  }
  json::array trends;
  trends.reserve(report.failure_trends.size());
  for (const DailyFailures& d : report.failure_trends) {
    trends.push_back({{"date", format_date(d.day_us)},
                      {"failures", d.failures},
                      {"completions", d.completions},
                      {"failure_rate", rate_json(d.failure_rate)},
                      {"failure_rate_pct", pct_json(d.failure_rate)}});
  }
  return {{"window", to_json(report.window)},
          {"total_failures", report.total_failures},
          {"total_completions", report.total_completions},
          {"failure_rate", rate_json(report.failure_rate)},
          {"failure_rate_pct", pct_json(report.failure_rate)},
          {"error_types", std::move(error_types)},
          {"failure_trends", std::move(trends)}};
}

json::object to_json(const PeakHours& peak) {
  json::array hours;
  hours.reserve(peak.hours.size());
  for (int h = 0; h < 24; ++h) {
    const HourOfDayStats& s = peak.hours[h];
    hours.push_back({{"hour_of_day", h},
                     {"avg_requests", average_json(s.avg_requests)},
                     {"total_requests", s.total_requests},
                     {"p95_duration_ms", ms_or_null(s.p95_duration_ms)},
                     {"success_rate_pct", pct_json(s.success_rate)},
                     {"success_rate", rate_json(s.success_rate)}});
  }
  json::array weekly;
  weekly.reserve(7);
  for (int d = 0; d < 7; ++d) {
    json::array row;
    row.reserve(24);
    for (const auto& average : peak.weekly_avg_requests[d]) row.push_back(average_json(average));
    weekly.push_back({{"day_of_week", d}, {"day_name", kDayNames[d]}, {"avg_requests", std::move(row)}});
  }
  return {{"window", to_json(peak.window)},
          {"days", static_cast<double>(peak.window.hours()) / 24.0},
          {"peak_hour", peak.peak_hour ? json::value(*peak.peak_hour) : json::value(nullptr)},
          {"peak_hours", std::move(hours)},
          {"day_of_week_matrix", std::move(weekly)}};
}

// ---- Routes (seed 002) ----

json::object to_json(const RouteOverview& overview) {
  json::array routes;
  routes.reserve(overview.routes.size());
  for (const RouteStats& s : overview.routes) {
    routes.push_back({{"route", s.route},
                      {"method", s.method},
                      {"total_requests", s.total_requests},
                      {"successful_requests", s.successful_requests},
                      {"redirects", s.redirects},
                      {"client_errors", s.client_errors},
                      {"server_errors", s.server_errors},
                      {"error_rate", rate_json(s.error_rate)},
                      {"error_rate_pct", pct_json(s.error_rate)},
                      {"avg_duration_ms", number_or_null(s.avg_duration_ms)},
                      {"p50_duration_ms", ms_or_null(s.p50_duration_ms)},
                      {"p95_duration_ms", ms_or_null(s.p95_duration_ms)},
                      {"p99_duration_ms", ms_or_null(s.p99_duration_ms)},
                      {"unique_users", s.unique_users},
                      {"avg_request_size_bytes", number_or_null(s.avg_request_size_bytes)},
                      {"avg_response_size_bytes", number_or_null(s.avg_response_size_bytes)},
                      {"avg_db_query_count", number_or_null(s.avg_db_query_count)},
                      {"cache_hits", s.cache_hits},
                      {"cache_misses", s.cache_misses}});
  }
  return {{"window", to_json(overview.window)},
          {"order", route_order_name(overview.order)},
          {"routes", std::move(routes)}};
}

json::object to_json(const RoutePeakHours& peak) {
  json::array hours;
  hours.reserve(peak.hours.size());
  for (int h = 0; h < 24; ++h) {
    const RouteHourStats& s = peak.hours[h];
    hours.push_back({{"hour_of_day", h},
                     {"avg_requests", number_or_null(s.avg_requests)},
                     {"total_requests", s.total_requests},
                     {"p95_duration_ms", ms_or_null(s.p95_duration_ms)}});
  }
  return {{"window", to_json(peak.window)},
          {"hours", std::move(hours)},
          {"route", peak.route ? json::value(*peak.route) : json::value(nullptr)}};
}

json::object to_json(const RoutePatterns& patterns) {
  json::array out;
  out.reserve(patterns.patterns.size());
  for (const RoutePattern& p : patterns.patterns) {
    out.push_back({{"method", p.method},
                   {"query_params_normalized", params_json(p.query_params_normalized_json)},
                   {"total_requests", p.total_requests},
                   {"avg_duration_ms", number_or_null(p.avg_duration_ms)},
                   {"p95_duration_ms", ms_or_null(p.p95_duration_ms)},
                   {"unique_users", p.unique_users}});
  }
  return {{"window", to_json(patterns.window)}, {"route", patterns.route}, {"patterns", std::move(out)}};
}

// ---- Cache planning (seed 002) ----

json::array cache_plan_rows_json(const std::vector<RouteGroupStats>& plan, CachePlanMode mode) {
  json::array rows;
  rows.reserve(plan.size());
  for (const RouteGroupStats& s : plan) {
    json::array keys;
    keys.reserve(s.cache_keys.size());
    for (const auto& k : s.cache_keys) keys.emplace_back(k);
    json::object o{{"route", s.route},
                   {"method", s.method},
                   {"query_params_normalized", params_json(s.query_params_normalized_json)},
                   {"avg_hourly_requests", s.avg_hourly_requests},
                   {"avg_p95_latency_ms", s.avg_p95_latency_ms},
                   {"avg_unique_users", s.avg_unique_users}};
    if (mode == CachePlanMode::kAbsolute) {
      o.emplace("cache_priority_score", s.cache_priority_score);
    } else {
      o.emplace("priority_score", s.priority_score);
      o.emplace("popularity_percentile", s.popularity_percentile);
      o.emplace("latency_percentile", s.latency_percentile);
      o.emplace("user_percentile", s.user_percentile);
    }
    o.emplace("success_rate", s.success_rate);
    o.emplace("success_rate_pct", pct_json(s.success_rate));
    o.emplace("total_requests", s.total_requests);
    o.emplace("cacheable", s.cacheable);
    o.emplace("cache_keys", std::move(keys));
    rows.push_back(std::move(o));
  }
  return rows;
}

json::object cache_plan_json(const TimeWindow& window, const std::vector<RouteGroupStats>& plan,
                             CachePlanMode mode) {
  return {{"mode", mode == CachePlanMode::kAbsolute ? "absolute" : "relative"},
          {"window", to_json(window)},
          {"routes", cache_plan_rows_json(plan, mode)}};
}

json::object to_json(const CacheSimulation& simulation) {
  json::array routes;
  routes.reserve(simulation.routes.size());
  for (const CacheGroupReplay& r : simulation.routes) {
    const CacheReplayTally& t = r.tally;
    routes.push_back({{"route", r.route},
                      {"method", r.method},
                      {"query_params_normalized", params_json(r.query_params_normalized_json)},
                      {"cacheable_requests", t.requests},
                      {"cacheable", r.cacheable},
                      {"hits", t.hits},
                      {"hit_rate", rate_json(t.hit_rate())},
                      {"hit_rate_pct", pct_json(t.hit_rate())},
                      {"latency_saved_ms", t.latency_saved_ms},
                      {"latency_saved_rate", rate_json(simulation.latency_saved_rate(t))},
                      {"latency_saved_pct", pct_json(simulation.latency_saved_rate(t))}});
  }
  return {{"ttl_seconds", simulation.ttl_seconds},
          {"window", window_bounds_json(simulation.window)},
          {"total", tally_json(simulation.total, simulation)},
          {"routes", std::move(routes)}};
}

}  // namespace genalytics
