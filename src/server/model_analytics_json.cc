#include "server/model_analytics_json.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cmath>

#include "event/time.h"
#include "server/analytics_json.h"
#include "server/analytics_json.h"

namespace genalytics {
namespace json = boost::json;

namespace {

constexpr const char* kDayNamesFromMonday[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                     "Friday", "Saturday", "Sunday"};

json::value rate_or_null(const std::optional<double>& fraction) {
  if (auto r = rounded_rate(fraction)) return *r;
  return nullptr;
}

json::value time_or_null(const std::optional<int64_t>& us) {
  if (!us) return nullptr;
  return json::value(format_rfc3339_seconds(*us));
}

template <typename T>
json::value optional_or_null(const std::optional<T>& value) {
  if (!value) return nullptr;
  return json::value_from(*value);
}

// Two decimals: per-day and per-week figures.
double two_decimals(double value) { return std::round(value * 100) / 100; }

// "Monday 14:00".
std::string hour_of_week_name(int hour) {
  return fmt::format("{} {:02d}:00", kDayNamesFromMonday[hour / 24], hour % 24);
}

json::array hour_ranges_json(const std::vector<std::pair<int, int>>& ranges) {
  json::array out;
  for (const auto& [start, end] : ranges) {
    out.push_back({{"start_hour_of_week", start},
                   {"end_hour_of_week", end},
                   {"from", hour_of_week_name(start)},
                   {"until", hour_of_week_name(end % kHoursPerWeek)}});
  }
  return out;
}

json::object trend_json(const Trend& trend) {
  json::object out;
  out.emplace("direction", to_string(trend.direction));
  out.emplace("percent_per_week",
              trend.percent_per_week ? json::value(two_decimals(*trend.percent_per_week))
                                     : json::value(nullptr));
  out.emplace("slope_per_day", std::round(trend.theil_sen_slope * 1e4) / 1e4);
  out.emplace("p_value", std::round(trend.p_value * 1e6) / 1e6);
  out.emplace("test", "mann-kendall");
  return out;
}

json::array strings_json(const std::vector<std::string>& strings) {
  json::array out;
  for (const std::string& s : strings) out.push_back(json::value(s));
  return out;
}

}  // namespace

json::object to_json(const ModelUsageStats& s) {
  json::object out;
  out.emplace("model_id", s.model_id);
  out.emplace("model_kind", optional_or_null(s.model_kind));
  out.emplace("base_model", optional_or_null(s.base_model));
  out.emplace("size_bytes", optional_or_null(s.size_bytes));
  out.emplace("uses", s.uses);
  out.emplace("uses_per_day", two_decimals(s.uses_per_day));
  json::array daily;
  for (size_t i = 0; i < s.daily_uses.size(); ++i) {
    daily.push_back({{"date", format_rfc3339_seconds(s.first_day_us +
                                                     static_cast<int64_t>(i) * kMicrosPerDay)},
                     {"uses", s.daily_uses[i]}});
  }
  out.emplace("daily_uses", std::move(daily));
  out.emplace("trend", trend_json(s.trend));
  json::array profile;
  for (int day = 0; day < 7; ++day) {
    json::array hours;
    for (int h = 0; h < 24; ++h) hours.push_back(s.hour_of_week_uses[static_cast<size_t>(day * 24 + h)]);
    profile.push_back(std::move(hours));
  }
  out.emplace("peak_hours", json::object{{"top_hours_utc", json::value_from(s.peak_hours)},
                                         {"days", json::value_from(std::vector<std::string>(
                                                      std::begin(kDayNamesFromMonday), std::end(kDayNamesFromMonday)))},
                                         {"hour_of_week", std::move(profile)}});
  json::object params;
  for (const auto& [key, values] : s.common_params) {
    json::array list;
    for (const ParamValueStats& v : values) {
      list.push_back({{"value", v.value},
                      {"count", v.count},
                      {"share", rate_or_null(v.share)},
                      {"avg_generation_time_ms", ms_or_null(v.avg_generation_time_ms)}});
    }
    params.emplace(key, std::move(list));
  }
  out.emplace("common_params", std::move(params));
  out.emplace("completions", s.completions);
  out.emplace("successes", s.successes);
  out.emplace("success_rate", rate_or_null(s.success_rate));
  out.emplace("success_rate_interval",
              s.success_interval
                  ? json::value(json::object{{"lower", *rounded_rate(s.success_interval->lower)},
                                             {"upper", *rounded_rate(s.success_interval->upper)},
                                             {"confidence", 0.95},
                                             {"method", "wilson"}})
                  : json::value(nullptr));
  out.emplace("avg_generation_time_ms", ms_or_null(s.avg_generation_time_ms));
  out.emplace("p50_generation_time_ms", ms_or_null(s.p50_generation_time_ms));
  out.emplace("p95_generation_time_ms", ms_or_null(s.p95_generation_time_ms));
  out.emplace("p95_gpu_memory_mb", ms_or_null(s.p95_gpu_memory_mb));
  out.emplace("loads", s.loads);
  out.emplace("load_failures", s.load_failures);
  out.emplace("p50_load_time_ms", ms_or_null(s.p50_load_time_ms));
  out.emplace("p95_load_time_ms", ms_or_null(s.p95_load_time_ms));
  out.emplace("unloads", s.unloads);
  out.emplace("downloads", s.downloads);
  out.emplace("health_checks", s.health_checks);
  out.emplace("health_check_failures", s.health_check_failures);
  out.emplace("first_seen_at", time_or_null(s.first_seen_us));
  out.emplace("last_used_at", time_or_null(s.last_used_us));
  out.emplace("loaded_on", strings_json(s.loaded_on));
  return out;
}

json::object to_json(const ModelUsageReport& report) {
  json::array models;
  for (const ModelUsageStats& s : report.models) models.push_back(to_json(s));
  return {{"window", to_json(report.window)}, {"models", std::move(models)}};
}

json::object to_json(const ModelRecommendations& r) {
  json::object out;
  out.emplace("window", to_json(r.window));
  const auto wants = [&](RecommendationKind k) { return !r.kind || *r.kind == k; };
  if (wants(RecommendationKind::kCleanup)) {
    json::array cleanup;
    for (const CleanupRecommendation& c : r.cleanup) {
      cleanup.push_back({{"model_id", c.model_id},
                         {"model_kind", optional_or_null(c.model_kind)},
                         {"confidence", std::round(c.confidence * 1e4) / 1e4},
                         {"priority", c.priority},
                         {"space_saved_bytes", c.space_saved_bytes},
                         {"reasons", strings_json(c.reasons)},
                         {"uses", c.uses},
                         {"uses_per_day", two_decimals(c.uses_per_day)},
                         {"last_used_at", time_or_null(c.last_used_us)}});
    }
    out.emplace("cleanup", std::move(cleanup));
    out.emplace("reclaimable_bytes", r.reclaimable_bytes);
  }
  if (wants(RecommendationKind::kPreload)) {
    json::array preload;
    for (const PreloadRecommendation& p : r.preload) {
      json::object item{{"model_id", p.model_id},
                        {"uses_per_day", two_decimals(p.uses_per_day)},
                        {"success_rate", rate_or_null(p.success_rate)},
                        {"trend", trend_json(p.trend)},
                        {"peak_hours", json::value_from(p.peak_hours)},
                        {"keep_loaded", hour_ranges_json(p.keep_loaded_hours)},
                        {"reasons", strings_json(p.reasons)}};
      item.emplace("predicted_next_use_at",
                   p.next_use ? json::value(format_rfc3339_seconds(p.next_use->median_us))
                              : json::value(nullptr));
      item.emplace("next_use_interval_90",
                   p.next_use ? json::value(json::object{
                                    {"from", format_rfc3339_seconds(p.next_use->lower_us)},
                                    {"to", time_or_null(p.next_use->upper_us)}})
                              : json::value(nullptr));
      preload.push_back(std::move(item));
    }
    out.emplace("preload", std::move(preload));
  }
  if (wants(RecommendationKind::kPerformance)) {
    json::array performance;
    for (const PerformanceRecommendation& p : r.performance) {
      json::object evidence;
      for (const auto& [name, value] : p.evidence) evidence.emplace(name, std::round(value * 1e4) / 1e4);
      performance.push_back({{"model_id", p.model_id},
                             {"issue", p.issue},
                             {"evidence", std::move(evidence)},
                             {"slow_params", strings_json(p.slow_params)},
                             {"suggestion", p.suggestion}});
    }
    out.emplace("performance", std::move(performance));
  }
  if (r.schedule) {
    const PreloadSchedule& s = *r.schedule;
    json::array hours;
    for (const PreloadSchedule::Hour& h : s.hours) {
      hours.push_back({{"hour_of_week", h.hour_of_week},
                       {"label", hour_of_week_name(h.hour_of_week)},
                       {"models", strings_json(h.models)},
                       {"vram_mb", std::llround(h.vram_mb)},
                       {"expected_load_ms_saved", std::llround(h.expected_saved_ms)}});
    }
    json::array keep_alive;
    for (const PreloadSchedule::KeepAlive& k : s.keep_alive) {
      keep_alive.push_back({{"model_id", k.model_id}, {"windows", hour_ranges_json(k.hours)}});
    }
    out.emplace("schedule", json::object{{"vram_budget_mb", std::llround(s.budget_mb)},
                                         {"hours", std::move(hours)},
                                         {"keep_alive", std::move(keep_alive)}});
  }
  return out;
}

json::object to_json(const ModelSimulationReport& simulation) {
  json::array policies;
  const PolicyResult* lru = nullptr;
  const PolicyResult* keep_alive = nullptr;
  for (const PolicyResult& p : simulation.result.policies) {
    if (p.policy == "lru") lru = &p;
    if (p.policy == "keep_alive_5m") keep_alive = &p;
  }
  for (const PolicyResult& p : simulation.result.policies) {
    policies.push_back({{"policy", p.policy},
                        {"uses", p.uses},
                        {"warm_hits", p.warm_hits},
                        {"cold_starts", p.cold_starts},
                        {"warm_hit_ratio", *rounded_rate(p.warm_hit_ratio())},
                        {"load_seconds", std::round(p.load_seconds * 10) / 10},
                        {"hour_start_loads", p.hour_start_loads}});
  }
  json::object out{{"window", to_json(simulation.window)},
                   {"vram_budget_mb", std::llround(simulation.budget_mb)},
                   {"requests", simulation.requests},
                   {"models", simulation.models},
                   {"policies", std::move(policies)}};
  // How ours compares with the fixed rules: fewer cold starts, in percent.
  for (const PolicyResult& p : simulation.result.policies) {
    if (p.policy != "ours") continue;
    auto saved = [&](const PolicyResult* other) -> json::value {
      if (other == nullptr || other->cold_starts == 0) return nullptr;
      return std::round((1 - static_cast<double>(p.cold_starts) /
                                 static_cast<double>(other->cold_starts)) * 1e4) / 1e2;
    };
    out.emplace("cold_starts_saved_vs_lru_pct", saved(lru));
    out.emplace("cold_starts_saved_vs_keep_alive_pct", saved(keep_alive));
  }
  return out;
}

json::object to_json(const ModelListEntry& m) {
  json::array workers;
  for (const ModelWorkerState& w : m.workers) {
    workers.push_back({{"worker_id", w.worker_id},
                       {"loaded", w.loaded},
                       {"since", format_rfc3339_seconds(w.changed_us)},
                       {"gpu_memory_mb", optional_or_null(w.gpu_memory_mb)}});
  }
  const ModelRecord& r = m.record;
  return {{"model_id", r.model_id},
          {"model_kind", optional_or_null(r.model_kind)},
          {"base_model", optional_or_null(r.base_model)},
          {"size_bytes", optional_or_null(r.size_bytes)},
          {"path", optional_or_null(r.path)},
          {"first_seen_at", time_or_null(r.first_seen_us)},
          {"last_used_at", time_or_null(r.last_used_us)},
          {"last_event_at", time_or_null(r.last_event_us)},
          {"registered_at", time_or_null(r.registered_us)},
          {"loaded", m.loaded()},
          {"workers", std::move(workers)}};
}

json::object to_json(const std::vector<ModelListEntry>& models) {
  json::array list;
  for (const ModelListEntry& m : models) list.push_back(to_json(m));
  return {{"count", models.size()}, {"models", std::move(list)}};
}

json::object model_report_json(const ModelUsageReport& usage,
                               const ModelRecommendations& recommendations, int64_t now_us) {
  int64_t uses = 0;
  int64_t never_used = 0;
  for (const ModelUsageStats& s : usage.models) {
    uses += s.uses;
    if (!s.last_used_us) ++never_used;
  }
  json::object summary{{"models", usage.models.size()},
                       {"uses", uses},
                       {"models_never_used", never_used},
                       {"cleanup_candidates", recommendations.cleanup.size()},
                       {"preload_candidates", recommendations.preload.size()},
                       {"performance_issues", recommendations.performance.size()},
                       {"reclaimable_bytes", recommendations.reclaimable_bytes}};
  json::object recs = to_json(recommendations);
  recs.erase("window");
  return {{"generated_at", format_rfc3339_seconds(now_us)},
          {"window", to_json(usage.window)},
          {"summary", std::move(summary)},
          {"models", to_json(usage).at("models")},
          {"recommendations", std::move(recs)}};
}

namespace {

// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_optional(const std::optional<std::string>& value) {
  return value ? csv_field(*value) : std::string();
}

std::string csv_optional(const std::optional<int64_t>& value) {
  return value ? std::to_string(*value) : std::string();
}

std::string csv_ms(const std::optional<double>& ms) {
  return ms ? std::to_string(std::llround(*ms)) : std::string();
}

std::string csv_rate(const std::optional<double>& rate) {
  auto r = rounded_rate(rate);
  return r ? fmt::format("{}", *r) : std::string();
}

}  // namespace

std::string model_report_csv(const ModelUsageReport& usage,
                             const ModelRecommendations& recommendations) {
  std::map<std::string, std::vector<std::string>> notes;
  for (const CleanupRecommendation& c : recommendations.cleanup) {
    notes[c.model_id].push_back(fmt::format("cleanup:{}", c.priority));
  }
  for (const PreloadRecommendation& p : recommendations.preload) notes[p.model_id].push_back("preload");
  for (const PerformanceRecommendation& p : recommendations.performance) {
    notes[p.model_id].push_back(fmt::format("performance:{}", p.issue));
  }
  std::string out =
      "model_id,model_kind,base_model,size_bytes,uses,uses_per_day,trend,trend_pct_per_week,"
      "trend_p_value,success_rate,success_rate_lower,success_rate_upper,avg_generation_time_ms,"
      "p50_generation_time_ms,p95_generation_time_ms,p95_gpu_memory_mb,loads,load_failures,"
      "p50_load_time_ms,p95_load_time_ms,health_check_failures,first_seen_at,last_used_at,"
      "loaded_on,recommendations\r\n";
  auto join = [](const std::vector<std::string>& parts) {
    std::string text;
    for (const std::string& p : parts) text += (text.empty() ? "" : ";") + p;
    return csv_field(text);
  };
  for (const ModelUsageStats& s : usage.models) {
    std::optional<double> lower, upper;
    if (s.success_interval) {
      lower = s.success_interval->lower;
      upper = s.success_interval->upper;
    }
    out += fmt::format(
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
        csv_field(s.model_id), csv_optional(s.model_kind), csv_optional(s.base_model),
        csv_optional(s.size_bytes), s.uses, two_decimals(s.uses_per_day),
        to_string(s.trend.direction),
        s.trend.percent_per_week ? fmt::format("{}", two_decimals(*s.trend.percent_per_week)) : "",
        fmt::format("{}", std::round(s.trend.p_value * 1e6) / 1e6), csv_rate(s.success_rate),
        csv_rate(lower), csv_rate(upper), csv_ms(s.avg_generation_time_ms),
        csv_ms(s.p50_generation_time_ms), csv_ms(s.p95_generation_time_ms),
        csv_ms(s.p95_gpu_memory_mb), s.loads, s.load_failures, csv_ms(s.p50_load_time_ms),
        csv_ms(s.p95_load_time_ms), s.health_check_failures,
        s.first_seen_us ? format_rfc3339_seconds(*s.first_seen_us) : "",
        s.last_used_us ? format_rfc3339_seconds(*s.last_used_us) : "", join(s.loaded_on),
        join(notes[s.model_id]));
  }
  return out;
}

}  // namespace genalytics
