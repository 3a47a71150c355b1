// genalytics models: seed 003's model usage analytics as tables, JSON or CSV,
// and the folder scan that registers models on disk.
#include <fmt/format.h>

#include <boost/json.hpp>

#include <cstdio>
#include <fstream>

#include "analytics/model_analytics.h"
#include "analytics/model_inventory.h"
#include "cli/commands.h"
#include "cli/grid_table.h"
#include "event/json_writer.h"
#include "event/time.h"
#include "server/model_analytics_json.h"

namespace genalytics {
namespace {

std::unique_ptr<Store> open_store(const GenalyticsConfig& config, bool create) {
  return open_configured_store(config, create ? StoreOpening::kCreate : StoreOpening::kExisting,
                               "check --data-dir; genalytics serve, demo and models scan create one");
}

std::string opt_ms(const std::optional<double>& ms) {
  if (!ms) return "-";
  if (*ms >= 10'000) return fmt::format("{:.1f}s", *ms / 1000);
  return fmt::format("{:.0f}ms", *ms);
}

std::string opt_pct(const std::optional<double>& rate) {
  return rate ? fmt::format("{:.1f}%", *rate * 100) : std::string("-");
}

std::string size_text(const std::optional<int64_t>& bytes) {
  if (!bytes) return "-";
  const double b = static_cast<double>(*bytes);
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.1f} GB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.0f} MB", b / (1024.0 * 1024));
  return fmt::format("{:.0f} KB", b / 1024);
}

std::string date_text(const std::optional<int64_t>& us) {
  return us ? format_date(*us) : std::string("never");
}

std::string trend_text(const Trend& trend) {
  if (trend.direction == TrendDirection::kStable) return "stable";
  return trend.percent_per_week
             ? fmt::format("{} {:+.0f}%/wk", to_string(trend.direction), *trend.percent_per_week)
             : std::string(to_string(trend.direction));
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string text;
  for (const std::string& p : parts) text += (text.empty() ? "" : std::string(separator)) + p;
  return text;
}

std::string hours_text(const std::vector<std::pair<int, int>>& ranges) {
  static constexpr const char* kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  std::vector<std::string> parts;
  for (const auto& [start, end] : ranges) {
    parts.push_back(fmt::format("{} {:02d}-{} {:02d}", kDays[start / 24], start % 24,
                                kDays[(end % kHoursPerWeek) / 24], end % 24));
  }
  if (parts.size() > 3) {
    const size_t more = parts.size() - 3;
    parts.resize(3);
    parts.push_back(fmt::format("+{} more", more));
  }
  return parts.empty() ? "-" : join(parts, ", ");
}

TimeWindow window_of(const ModelsFlags& flags) {
  return resolve_window(WindowParams{std::to_string(flags.days), std::nullopt, std::nullopt},
                        now_us());
}

void print_json(const boost::json::value& value) { fmt::print("{}\n", serialize_json(value)); }

int usage_command(const ModelAnalytics& analytics, const ModelsFlags& flags) {
  const TimeWindow window = window_of(flags);
  if (!flags.model_id.empty()) {
    const ModelUsageStats s = analytics.usage(window, flags.model_id);
    if (flags.format == "json") {
      print_json(to_json(s));
      return 0;
    }
    std::vector<std::vector<std::string>> rows = {
        {"kind", s.model_kind.value_or("-")},
        {"base model", s.base_model.value_or("-")},
        {"size", size_text(s.size_bytes)},
        {"uses", fmt::format("{} ({:.2f}/day)", s.uses, s.uses_per_day)},
        {"trend", fmt::format("{} (p = {:.3g})", trend_text(s.trend), s.trend.p_value)},
        {"peak hours (UTC)", s.peak_hours.empty() ? "-" : fmt::format("{}", fmt::join(s.peak_hours, ", "))},
        {"success rate", s.success_interval ? fmt::format("{} (95% {:.1f}-{:.1f}%)", opt_pct(s.success_rate),
                                                          s.success_interval->lower * 100,
                                                          s.success_interval->upper * 100)
                                            : "-"},
        {"generation time", fmt::format("avg {} p50 {} p95 {}", opt_ms(s.avg_generation_time_ms),
                                        opt_ms(s.p50_generation_time_ms), opt_ms(s.p95_generation_time_ms))},
        {"p95 GPU memory", s.p95_gpu_memory_mb ? fmt::format("{:.0f} MB", *s.p95_gpu_memory_mb) : "-"},
        {"loads", fmt::format("{} ({} failed), p50 {} p95 {}", s.loads, s.load_failures,
                              opt_ms(s.p50_load_time_ms), opt_ms(s.p95_load_time_ms))},
        {"health checks", fmt::format("{} ({} failed)", s.health_checks, s.health_check_failures)},
        {"first seen", date_text(s.first_seen_us)},
        {"last used", date_text(s.last_used_us)},
        {"loaded on", s.loaded_on.empty() ? "-" : join(s.loaded_on, ", ")}};
    for (const auto& [key, values] : s.common_params) {
      std::vector<std::string> parts;
      for (const ParamValueStats& v : values) parts.push_back(fmt::format("{} ({:.0f}%)", v.value, v.share * 100));
      rows.push_back({"param " + key, join(parts, ", ")});
    }
    fmt::print(stderr, "Model {} (last {} days):\n\n", s.model_id, flags.days);
    fmt::print("{}", render_grid({{"Figure"}, {"Value"}}, rows));
    return 0;
  }
  const ModelUsageReport report = analytics.usage(window);
  if (flags.format == "json") {
    print_json(to_json(report));
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const ModelUsageStats& s : report.models) {
    rows.push_back({s.model_id, s.model_kind.value_or("-"), std::to_string(s.uses),
                    fmt::format("{:.2f}", s.uses_per_day), trend_text(s.trend), opt_pct(s.success_rate),
                    opt_ms(s.p50_generation_time_ms), opt_ms(s.p95_generation_time_ms),
                    std::to_string(s.loads), opt_ms(s.p50_load_time_ms), size_text(s.size_bytes),
                    date_text(s.last_used_us), s.loaded_on.empty() ? "-" : join(s.loaded_on, ",")});
  }
  fmt::print(stderr, "Model usage over the last {} days ({} models):\n\n", flags.days, rows.size());
  fmt::print("{}", render_grid({{"Model"}, {"Kind"}, {"Uses", true}, {"Uses/Day", true}, {"Trend"},
                                {"Success", true}, {"P50 Gen", true}, {"P95 Gen", true}, {"Loads", true},
                                {"P50 Load", true}, {"Size", true}, {"Last Used"}, {"Loaded On"}},
                               rows));
  return 0;
}

int recommend_command(const ModelAnalytics& analytics, const ModelsFlags& flags) {
  std::optional<RecommendationKind> kind;
  if (!flags.kind.empty()) kind = parse_recommendation_kind(flags.kind);
  const ModelRecommendations r =
      analytics.recommendations(window_of(flags), kind, std::nullopt, now_us());
  if (flags.format == "json") {
    print_json(to_json(r));
    return 0;
  }
  const auto wants = [&](RecommendationKind k) { return !kind || *kind == k; };
  if (wants(RecommendationKind::kCleanup)) {
    std::vector<std::vector<std::string>> rows;
    for (const CleanupRecommendation& c : r.cleanup) {
      rows.push_back({c.model_id, c.model_kind.value_or("-"), std::string(c.priority),
                      fmt::format("{:.2f}", c.confidence),
                      c.space_saved_bytes > 0 ? size_text(c.space_saved_bytes) : "-", join(c.reasons, "; ")});
    }
    fmt::print(stderr, "Cleanup: {} model(s), {} reclaimable\n\n", rows.size(),
               size_text(r.reclaimable_bytes));
    if (!rows.empty()) {
      fmt::print("{}", render_grid({{"Model"}, {"Kind"}, {"Priority"}, {"Confidence", true},
                                    {"Space", true}, {"Reasons"}},
                                   rows));
    }
  }
  if (wants(RecommendationKind::kPreload)) {
    std::vector<std::vector<std::string>> rows;
    for (const PreloadRecommendation& p : r.preload) {
      rows.push_back({p.model_id, fmt::format("{:.1f}", p.uses_per_day), opt_pct(p.success_rate),
                      trend_text(p.trend),
                      p.next_use ? format_rfc3339_seconds(p.next_use->median_us).substr(0, 16) : "-",
                      hours_text(p.keep_loaded_hours)});
    }
    fmt::print(stderr, "\nPreload: {} model(s); schedule for a {:.0f} GB VRAM budget\n\n",
               rows.size(), r.schedule ? r.schedule->budget_mb / 1024 : 0.0);
    if (!rows.empty()) {
      fmt::print("{}", render_grid({{"Model"}, {"Uses/Day", true}, {"Success", true}, {"Trend"},
                                    {"Next Use (UTC)"}, {"Keep Loaded (UTC)"}},
                                   rows));
    }
  }
  if (wants(RecommendationKind::kPerformance)) {
    std::vector<std::vector<std::string>> rows;
    for (const PerformanceRecommendation& p : r.performance) {
      std::vector<std::string> evidence;
      for (const auto& [name, value] : p.evidence) evidence.push_back(fmt::format("{} {:.4g}", name, value));
      rows.push_back({p.model_id, std::string(p.issue), join(evidence, ", "), p.suggestion});
    }
    fmt::print(stderr, "\nPerformance: {} issue(s)\n\n", rows.size());
    if (!rows.empty()) {
      fmt::print("{}", render_grid({{"Model"}, {"Issue"}, {"Evidence"}, {"Suggestion"}}, rows));
    }
  }
  return 0;
}

int report_command(const ModelAnalytics& analytics, const ModelsFlags& flags) {
  const TimeWindow window = window_of(flags);
  const int64_t now = now_us();
  const ModelUsageReport usage = analytics.usage(window);
  const ModelRecommendations recommendations =
      analytics.recommendations(window, std::nullopt, std::nullopt, now);
  const std::string text = flags.format == "csv"
                               ? model_report_csv(usage, recommendations)
                               : serialize_json(model_report_json(usage, recommendations, now)) + "\n";
  if (flags.out.empty()) {
    fmt::print("{}", text);
    return 0;
  }
  std::ofstream out(flags.out, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + flags.out);
  fmt::print(stderr, "wrote the {} report of {} models to {}\n", flags.format, usage.models.size(),
             flags.out);
  return 0;
}

int simulate_command(const ModelAnalytics& analytics, const ModelsFlags& flags) {
  const ModelSimulationReport s = analytics.simulate(window_of(flags), std::nullopt);
  if (flags.format == "json") {
    print_json(to_json(s));
    return 0;
  }
  fmt::print(stderr,
             "Replaying {} generation requests ({} model uses, {} models) of the last {} days "
             "under a {:.0f} GB VRAM budget, walk-forward:\n\n",
             s.requests, s.result.policies.empty() ? 0 : s.result.policies.front().uses, s.models,
             flags.days, s.budget_mb / 1024);
  std::vector<std::vector<std::string>> rows;
  for (const PolicyResult& p : s.result.policies) {
    rows.push_back({p.policy, fmt::format("{:.1f}%", p.warm_hit_ratio() * 100),
                    std::to_string(p.cold_starts), fmt::format("{:.0f}", p.load_seconds),
                    std::to_string(p.hour_start_loads)});
  }
  fmt::print("{}", render_grid({{"Policy"}, {"Warm Hits", true}, {"Cold Starts", true},
                                {"Load Seconds", true}, {"Hour-Start Loads", true}},
                               rows));
  return 0;
}

int scan_command(Store* store, const ModelsFlags& flags) {
  const ModelScan scan = scan_model_folder(flags.dir, now_us());
  for (const std::string& skipped : scan.skipped) fmt::print(stderr, "skipped {}\n", skipped);
  if (store != nullptr && !scan.records.empty()) store->register_models(scan.records);
  if (flags.format == "json") {
    boost::json::array models;
    for (const ModelRecord& r : scan.records) {
      models.push_back({{"model_id", r.model_id},
                        {"model_kind", *r.model_kind},
                        {"size_bytes", r.size_bytes ? boost::json::value(*r.size_bytes) : nullptr},
                        {"path", *r.path},
                        {"first_seen_at", format_rfc3339_seconds(*r.first_seen_us)}});
    }
    print_json(boost::json::object{{"registered", flags.dry_run ? 0 : scan.records.size()},
                                   {"skipped", scan.skipped.size()},
                                   {"models", std::move(models)}});
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const ModelRecord& r : scan.records) {
    rows.push_back({r.model_id, *r.model_kind, size_text(r.size_bytes), date_text(r.first_seen_us), *r.path});
  }
  if (!rows.empty()) {
    fmt::print("{}", render_grid({{"Model"}, {"Kind"}, {"Size", true}, {"File Date"}, {"Path"}}, rows));
  }
  fmt::print(stderr, "{} {} model file(s) from {} folder(s) of {}{}\n",
             flags.dry_run ? "found" : "registered", scan.records.size(), scan.folders, flags.dir,
             scan.skipped.empty() ? "" : fmt::format(", skipped {}", scan.skipped.size()));
  return 0;
}

int list_command(const ModelAnalytics& analytics, const ModelsFlags& flags) {
  const std::vector<ModelListEntry> models = analytics.list_models();
  if (flags.format == "json") {
    print_json(to_json(models));
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const ModelListEntry& m : models) {
    std::vector<std::string> loaded;
    for (const ModelWorkerState& w : m.workers) {
      if (w.loaded) loaded.push_back(w.worker_id.empty() ? "(unnamed)" : w.worker_id);
    }
    rows.push_back({m.record.model_id, m.record.model_kind.value_or("-"), size_text(m.record.size_bytes),
                    date_text(m.record.first_seen_us), date_text(m.record.last_used_us),
                    loaded.empty() ? "-" : join(loaded, ",")});
  }
  fmt::print(stderr, "{} model(s) known:\n\n", rows.size());
  fmt::print("{}", render_grid({{"Model"}, {"Kind"}, {"Size", true}, {"First Seen"}, {"Last Used"},
                                {"Loaded On"}},
                               rows));
  return 0;
}

}  // namespace

int run_models(const GenalyticsConfig& config, const ModelsFlags& flags) {
  if (flags.command == "scan") {
    // A dry run only reads the folder; a scan creates the store it registers into.
    std::unique_ptr<Store> store = flags.dry_run ? nullptr : open_store(config, true);
    return scan_command(store.get(), flags);
  }
  std::unique_ptr<Store> store = open_store(config, false);
  const ModelAnalytics analytics(*store, config.server.models);
  if (flags.command == "usage") return usage_command(analytics, flags);
  if (flags.command == "recommend") return recommend_command(analytics, flags);
  if (flags.command == "report") return report_command(analytics, flags);
  if (flags.command == "simulate") return simulate_command(analytics, flags);
  if (flags.command == "list") return list_command(analytics, flags);
  throw std::invalid_argument("unknown models command " + flags.command);
}

}  // namespace genalytics
