// genalytics cache-analysis: seed 002's cache planning as tables or JSON.
#include <fmt/format.h>

#include <boost/json.hpp>

#include <cstdio>

#include "analytics/cache_planning.h"
#include "cli/commands.h"
#include "cli/grid_table.h"
#include "event/json_writer.h"
#include "event/time.h"
#include "server/analytics_json.h"

namespace genalytics {

namespace {

// 24559.4 -> "24,559.4"
std::string with_thousands(double value, int decimals) {
  const std::string text = fmt::format("{:.{}f}", std::abs(value), decimals);
  const size_t digits = std::min(text.find('.'), text.size());
  std::string out = value < 0 ? "-" : "";
  for (size_t i = 0; i < digits; ++i) {
    if (i > 0 && (digits - i) % 3 == 0) out += ',';
    out += text[i];
  }
  out.append(text, digits, std::string::npos);
  return out;
}

std::string shorten(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  return text.substr(0, max - 3) + "...";
}

std::string params_cell(const std::string& json) { return shorten(json == "{}" ? "{}" : json, 26); }

// Stored parameters as the simulation's JSON gives them.
std::string simulated_params_cell(const std::string& stored) {
  boost::system::error_code ec;
  boost::json::value params = boost::json::parse(stored, ec);
  if (ec) params = boost::json::object();
  return params_cell(serialize_json(params));
}

}  // namespace

int run_cache_analysis(const GenalyticsConfig& config, const CacheAnalysisFlags& flags) {
  const std::unique_ptr<Store> store =
      open_configured_store(config, StoreOpening::kExisting,
                            "check --data-dir; genalytics serve, proxy and demo create one");
  CachePlanOptions options = config.server.routes.planning;
  options.mode = flags.relative ? CachePlanMode::kRelative : CachePlanMode::kAbsolute;
  options.min_requests = flags.min_requests;
  options.min_latency_ms = flags.min_latency_ms;
  const TimeWindow window =
      resolve_window(WindowParams{std::to_string(flags.days), std::nullopt, std::nullopt}, now_us());
  const bool json = flags.format == "json";

  fmt::print(stderr, "Analyzing routes with {} (last {} days)...\n",
             flags.relative ? "RELATIVE ranking" : "absolute thresholds", flags.days);
  CachePlanner planner(*store);
  const std::vector<RouteGroupStats> plan = planner.plan(window, options);

  if (flags.simulate) {
    const CacheSimulation result = planner.simulate(window, plan, options, flags.ttl_seconds);
    if (json) {
      fmt::print("{}\n", serialize_json(to_json(result)));
      return 0;
    }
    // Rates as the JSON gives them, then to one decimal.
    auto percent = [](const std::optional<double>& pct) {
      return pct ? fmt::format("{:.1f}%", *pct) : std::string("-");
    };
    auto saved_pct = [&](const CacheReplayTally& t) { return percent(rounded_pct(result.latency_saved_rate(t))); };
    auto hit_pct = [&](const CacheReplayTally& t) {
      const std::optional<double> rate = rounded_rate(t.hit_rate());
      return percent(rate ? std::optional<double>(100 * *rate) : std::nullopt);
    };
    std::vector<std::vector<std::string>> rows;
    for (const CacheGroupReplay& r : result.routes) {
      rows.push_back({r.method, r.route, simulated_params_cell(r.query_params_normalized_json),
                      with_thousands(static_cast<double>(r.tally.requests), 0),
                      with_thousands(static_cast<double>(r.tally.hits), 0), hit_pct(r.tally),
                      with_thousands(r.tally.latency_saved_ms, 0) + "ms", saved_pct(r.tally)});
    }
    fmt::print(stderr, "Replaying the window against the top {} routes (TTL {} s):\n\n", plan.size(),
               flags.ttl_seconds);
    fmt::print("{}", render_grid({{"Method"}, {"Route"}, {"Params"}, {"Cacheable", true}, {"Hits", true},
                                  {"Hit Rate", true}, {"Latency Saved", true}, {"Saved %", true}},
                                 rows));
    const CacheReplayTally& total = result.total;
    fmt::print("\nTotal: {} requests, {} hits ({}), {}ms saved ({} of all request time)\n",
               with_thousands(static_cast<double>(total.requests), 0),
               with_thousands(static_cast<double>(total.hits), 0), hit_pct(total),
               with_thousands(total.latency_saved_ms, 0), saved_pct(total));
    return 0;
  }

  if (json) {
    // Seed 002 prints the bare list of rows; the API's {mode, window, routes}
    // wraps the same rows.
    fmt::print("{}\n", serialize_json(cache_plan_rows_json(plan, options.mode)));
    return 0;
  }
  if (plan.empty()) {
    fmt::print(stderr, "No routes found{}.\n", flags.relative ? " with traffic" : " above the thresholds");
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  int rank = 0;
  for (const RouteGroupStats& s : plan) {
    ++rank;
    if (flags.relative) {
      rows.push_back({std::to_string(rank), s.method, shorten(s.route, 40), params_cell(s.query_params_normalized_json),
                      fmt::format("{:.1f}", s.avg_hourly_requests), fmt::format("{:.0f}ms", s.avg_p95_latency_ms),
                      fmt::format("{:.1f}", s.priority_score), fmt::format("P{:.0f}", s.popularity_percentile),
                      fmt::format("L{:.0f}", s.latency_percentile), fmt::format("U{:.0f}", s.user_percentile)});
    } else {
      rows.push_back({std::to_string(rank), s.method, shorten(s.route, 40), params_cell(s.query_params_normalized_json),
                      with_thousands(s.avg_hourly_requests, 1), fmt::format("{:.0f}ms", s.avg_p95_latency_ms),
                      with_thousands(s.avg_unique_users, 1), with_thousands(s.cache_priority_score, 1),
                      fmt::format("{:.1f}%", 100 * s.success_rate)});
    }
  }
  if (flags.relative) {
    fmt::print(stderr, "Top {} routes by relative importance:\n\n", plan.size());
    fmt::print("{}", render_grid({{"Rank", true}, {"Method"}, {"Route"}, {"Params"}, {"Req/Hr", true},
                                  {"P95", true}, {"Score", true}, {"Pop%"}, {"Lat%"}, {"User%"}},
                                 rows));
    fmt::print(stderr, "\nColumns: Pop% (popularity), Lat% (latency), User% (user diversity)\n"
                       "Higher percentile = more important relative to other routes\n");
  } else {
    fmt::print(stderr, "Top {} routes recommended for caching:\n\n", plan.size());
    fmt::print("{}", render_grid({{"Rank", true}, {"Method"}, {"Route"}, {"Normalized Params"},
                                  {"Avg Req/Hr", true}, {"P95 Latency", true}, {"Unique Users", true},
                                  {"Priority Score", true}, {"Success Rate", true}},
                                 rows));
  }
  fmt::print(stderr, "Cache keys (first {} page(s) of each pattern): use --format json\n",
             options.pages_to_cache_per_route);
  return 0;
}

}  // namespace genalytics
