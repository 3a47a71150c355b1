// model_bench: model recommendations (issue 10) for a fleet of 500 models
// over 90 days of 10M generation events, answered from the hourly model
// rollups (p50/p99 of ModelAnalytics::recommendations on the shared task
// pool, with two callers at once, and on one thread), beside the time of
// computing the same per-model figures from the raw generation_events table,
// with a cross-check of every model's uses. See bench/README.md.
#include <fmt/format.h>
#include <sqlite3.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "analytics/model_analytics.h"
#include "analytics/window.h"
#include "event/time.h"
#include "event/uuid.h"
#include "harness.h"
#include "store/sqlite_store.h"

namespace genalytics::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kP99GoalMs = 50;
// 2026-01-01 00:00 UTC: the window ends here, whatever today is.
constexpr int64_t kEnd = 1'767'225'600'000'000;

struct Flags {
  int64_t events = 10'000'000;
  int models = 500;
  int days = 90;
  std::string data_dir;  // kept and reused when given; a scratch dir otherwise
  int iterations = 30;
  int raw_runs = 2;
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string model_name(int i, int checkpoints) {
  return i < checkpoints ? fmt::format("checkpoint_{:03d}", i)
                         : fmt::format("lora_{:03d}", i - checkpoints);
}

// Generations (a request and a completion each) over the window, in time
// order, with a daily rhythm, Zipf popularity over the checkpoints and a LoRA
// on one request in four; written through the store in batches.
void load(SqliteStore& store, const Flags& flags) {
  const int checkpoints = flags.models * 4 / 5;
  const int loras = flags.models - checkpoints;
  std::vector<double> weights(static_cast<size_t>(checkpoints));
  for (int i = 0; i < checkpoints; ++i) weights[static_cast<size_t>(i)] = 1.0 / (i + 1);
  std::discrete_distribution<int> pick_checkpoint(weights.begin(), weights.end());
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0, 1);
  // Nights keep 40% of their candidates (below): (15 + 9 x 0.4) / 24 of all.
  constexpr double kKeptShare = (15 + 9 * 0.4) / 24;
  const auto generations = static_cast<int64_t>(static_cast<double>(flags.events) / 2 / kKeptShare);
  int64_t emitted = 0;
  const int64_t start = kEnd - static_cast<int64_t>(flags.days) * kMicrosPerDay;
  const double step = static_cast<double>(kEnd - start) / static_cast<double>(generations);
  std::vector<GenerationEvent> batch;
  std::vector<uint8_t> inserted;
  const auto started = Clock::now();
  for (int64_t g = 0; g < generations && emitted < flags.events; ++g) {
    const int64_t t = start + static_cast<int64_t>(static_cast<double>(g) * step);
    // Night hours keep a third of the day's traffic: skip two in three there.
    const int hour = static_cast<int>((t / kMicrosPerHour) % 24);
    const int checkpoint = pick_checkpoint(rng);
    if ((hour < 7 || hour > 21) && unit(rng) < 0.6) continue;
    GenerationEvent request;
    request.event_id = random_uuid();
    request.generation_id = random_uuid();
    request.event_type = GenerationEventType::kRequest;
    request.timestamp_us = t;
    request.model_checkpoint = model_name(checkpoint, checkpoints);
    std::string params = fmt::format(R"({{"sampler":"{}","steps":{})",
                                     unit(rng) < 0.5 ? "euler" : "dpmpp_2m", 20 + 5 * (g % 4));
    if (unit(rng) < 0.25) {
      params +=
          fmt::format(R"(,"lora":"{}")",
                      model_name(checkpoints + static_cast<int>(unit(rng) * loras), checkpoints));
    }
    request.params_json = params + "}";
    GenerationEvent completion = request;
    completion.event_id = random_uuid();
    completion.event_type = GenerationEventType::kCompletion;
    completion.timestamp_us = t + 1;
    completion.success = unit(rng) < 0.95;
    completion.generation_time_ms =
        static_cast<int64_t>(2000 * std::exp(unit(rng)) * (1 + checkpoint % 7));
    completion.gpu_memory_mb = 4000 + (checkpoint % 5) * 1000;
    batch.push_back(std::move(request));
    batch.push_back(std::move(completion));
    emitted += 2;
    if (batch.size() >= 50'000) {
      store.write(batch, &inserted);
      batch.clear();
    }
  }
  if (!batch.empty()) store.write(batch, &inserted);
  fmt::print(stderr, "loaded {} events in {:.1f} s\n", store.count_generation_events(),
             ms_since(started) / 1000);
}

// Per model, from the raw table: uses, completions, successes and exact
// generation-time percentiles: what recommendations need of each model.
struct RawFigures {
  int64_t uses = 0;
  int64_t completions = 0;
  int64_t successes = 0;
  std::vector<double> times;
  std::array<int64_t, kHoursPerWeek> week{};
};

std::map<std::string, RawFigures> from_raw(const std::string& path, const TimeWindow& window) {
  SqliteHandle db = open_sqlite(path, SQLITE_OPEN_READONLY);
  SqliteStmt select = prepare_sqlite(
      db.get(),
      "SELECT timestamp, event_type, model_checkpoint, params, success, generation_time_ms "
      "FROM generation_events WHERE timestamp >= ? AND timestamp < ?");
  const std::string from = format_rfc3339_micros(window.start_us);
  const std::string to = format_rfc3339_micros(window.end_us);
  sqlite3_bind_text(select.get(), 1, from.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(select.get(), 2, to.c_str(), -1, SQLITE_TRANSIENT);
  std::map<std::string, RawFigures> figures;
  auto text = [&](int column) -> std::optional<std::string> {
    const unsigned char* value = sqlite3_column_text(select.get(), column);
    if (value == nullptr) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(value));
  };
  while (sqlite3_step(select.get()) == SQLITE_ROW) {
    const std::string type = *text(1);
    const int64_t t = *parse_rfc3339(*text(0));
    for (const ModelUse& use : models_used(text(2), text(3))) {
      RawFigures& f = figures[use.model_id];
      if (type == "request") {
        ++f.uses;
        ++f.week[static_cast<size_t>(hour_of_week(t))];
      } else if (type == "completion") {
        ++f.completions;
        f.successes += sqlite3_column_int(select.get(), 4);
        if (sqlite3_column_type(select.get(), 5) != SQLITE_NULL) {
          f.times.push_back(static_cast<double>(sqlite3_column_int64(select.get(), 5)));
        }
      }
    }
  }
  for (auto& [model, f] : figures) {
    if (f.times.empty()) continue;
    auto at = [&](double q) {
      auto nth = f.times.begin() +
                 static_cast<std::ptrdiff_t>(q * static_cast<double>(f.times.size() - 1));
      std::nth_element(f.times.begin(), nth, f.times.end());
      return *nth;
    };
    at(0.5);
    at(0.95);
  }
  return figures;
}

// Recommendations (all lists) over one window: the first run, then p50/p99
// of `iterations` after two warm-ups.
struct Timing {
  double cold_ms = 0;
  double p50 = 0;
  double p99 = 0;
  double max = 0;
  size_t runs = 0;
  size_t scheduled_models = 0;
  std::string text() const {
    return fmt::format("p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms over {} runs", p50, p99, max,
                       runs);
  }
};

Timing time_recommendations(const ModelAnalytics& analytics, const TimeWindow& window,
                            int64_t now_us, int iterations) {
  Timing timing;
  std::vector<double> times;
  for (int i = 0; i < iterations + 2; ++i) {
    const auto started = Clock::now();
    const ModelRecommendations r =
        analytics.recommendations(window, std::nullopt, std::nullopt, now_us);
    const double ms = ms_since(started);
    if (i == 0) timing.cold_ms = ms;
    if (i >= 2) times.push_back(ms);  // two warm-ups
    timing.scheduled_models = r.schedule ? r.schedule->keep_alive.size() : 0;
  }
  timing.runs = times.size();
  timing.max = times.empty() ? 0 : *std::max_element(times.begin(), times.end());
  timing.p50 = percentile(times, 0.50);
  timing.p99 = percentile(times, 0.99);
  return timing;
}

int run(const Flags& flags) {
  std::unique_ptr<ScratchDir> scratch;
  std::string dir = flags.data_dir;
  if (dir.empty()) {
    scratch = std::make_unique<ScratchDir>();
    dir = scratch->path();
  }
  SqliteStore store(dir);
  if (store.count_generation_events() == 0) load(store, flags);
  const TimeWindow window{kEnd - static_cast<int64_t>(flags.days) * kMicrosPerDay, kEnd};
  const ModelAnalytics analytics(store, ModelAnalyticsConfig{});

  // The window "days=90" asks for at midnight, then at 13:30: that one ends
  // at 14:00, so its edges and its "last 7 days" cut fall inside days and
  // are read as quarter days and hours. The first run of each reads and
  // decodes the rows it lacks into the store's model span cache; the next
  // ones merge the cached spans.
  const Timing midnight = time_recommendations(analytics, window, kEnd, flags.iterations);
  const int64_t afternoon = kEnd - 10 * kMicrosPerHour - 30 * 60 * kMicrosPerSecond;
  const TimeWindow afternoon_window = resolve_window(
      WindowParams{std::to_string(flags.days), std::nullopt, std::nullopt}, afternoon);
  const Timing mid_day =
      time_recommendations(analytics, afternoon_window, afternoon, flags.iterations);
  // An hour later: the window moved by an hour, its new edge pieces read.
  const TimeWindow next_window{afternoon_window.start_us + kMicrosPerHour,
                               afternoon_window.end_us + kMicrosPerHour};
  auto started = Clock::now();
  analytics.recommendations(next_window, std::nullopt, std::nullopt, afternoon + kMicrosPerHour);
  const double next_hour_ms = ms_since(started);
  const ModelSpanCache::Stats cache = store.model_span_cache_stats();
  // Two callers at once, each asking for the midnight window: what each
  // request takes when the pool's helpers are busy with the other's.
  std::vector<double> concurrent_times[2];
  {
    std::vector<std::thread> callers;
    for (std::vector<double>& times : concurrent_times) {
      callers.emplace_back([&] {
        for (int i = 0; i < flags.iterations; ++i) {
          const auto begun = Clock::now();
          analytics.recommendations(window, std::nullopt, std::nullopt, kEnd);
          times.push_back(ms_since(begun));
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
  }
  std::vector<double> concurrent = concurrent_times[0];
  concurrent.insert(concurrent.end(), concurrent_times[1].begin(), concurrent_times[1].end());
  // The same two windows with every step on the calling thread.
  TaskPool no_helpers(0);
  const ModelAnalytics one_thread(store, ModelAnalyticsConfig{}, no_helpers);
  const Timing midnight_one = time_recommendations(one_thread, window, kEnd, flags.iterations);
  const Timing mid_day_one =
      time_recommendations(one_thread, afternoon_window, afternoon, flags.iterations);

  // Each list alone (the fleet is read and its statistics computed for each).
  std::string per_kind;
  for (RecommendationKind kind : {RecommendationKind::kCleanup, RecommendationKind::kPreload,
                                  RecommendationKind::kPerformance}) {
    std::vector<double> kind_times;
    for (int i = 0; i < std::max(3, flags.iterations / 5); ++i) {
      started = Clock::now();
      analytics.recommendations(window, kind, std::nullopt, kEnd);
      kind_times.push_back(ms_since(started));
    }
    per_kind += fmt::format("{}{} {:.1f} ms", per_kind.empty() ? "" : ", ", to_string(kind),
                            median(kind_times));
  }
  const ModelUsageReport usage = analytics.usage(window);
  std::vector<double> raw_times;
  std::map<std::string, RawFigures> raw;
  for (int i = 0; i < flags.raw_runs; ++i) {
    const auto started = Clock::now();
    raw = from_raw(store.path(), window);
    raw_times.push_back(ms_since(started));
  }
  // Cross-check: every model's uses, from the rollups and from the raw table.
  size_t mismatches = 0;
  for (const ModelUsageStats& s : usage.models) {
    if (raw_times.empty()) break;
    auto it = raw.find(s.model_id);
    const int64_t expected = it == raw.end() ? 0 : it->second.uses;
    if (s.uses != expected) ++mismatches;
  }
  const double p99 = std::max(midnight.p99, mid_day.p99);
  fmt::print("model recommendations, {} models over {} days, {} generation events:\n",
             usage.models.size(), flags.days, store.count_generation_events());
  fmt::print("  on {} threads (the caller and {} helper(s) of the shared pool):\n",
             1 + TaskPool::shared().helpers(), TaskPool::shared().helpers());
  fmt::print("    window ending at midnight: {}\n", midnight.text());
  fmt::print("    window ending at 14:00:    {}\n", mid_day.text());
  fmt::print(
      "    two callers at once, midnight window: p50 {:.1f} ms, p99 {:.1f} ms over {} requests\n",
      percentile(concurrent, 0.50), percentile(concurrent, 0.99), concurrent.size());
  fmt::print("  on one thread:\n");
  fmt::print("    window ending at midnight: {}\n", midnight_one.text());
  fmt::print("    window ending at 14:00:    {}\n", mid_day_one.text());
  fmt::print("  goal p99 < {:.0f} ms (on {} threads): {}\n", kP99GoalMs,
             1 + TaskPool::shared().helpers(), p99 < kP99GoalMs ? "met" : "MISSED");
  fmt::print("  one list alone (p50, {} threads): {}\n", 1 + TaskPool::shared().helpers(),
             per_kind);
  fmt::print(
      "  first run, cache cold (every row read and decoded): {:.0f} ms; the 14:00 window's first "
      "{:.0f} ms; an hour later {:.1f} ms; cache {} pieces, {:.0f} MB\n",
      midnight.cold_ms, mid_day.cold_ms, next_hour_ms, cache.entries,
      static_cast<double>(cache.bytes) / (1 << 20));
  if (!raw_times.empty()) {
    const double raw_median = median(raw_times);
    fmt::print("  from raw table: {:.0f} ms (median of {}), {:.1f}x the rollups' p50\n", raw_median,
               raw_times.size(), raw_median / midnight.p50);
  }
  fmt::print("  cross-check: uses of {} models, {} mismatches; {} models in the preload schedule\n",
             usage.models.size(), mismatches, midnight.scheduled_models);
  return mismatches == 0 ? 0 : 1;
}

}  // namespace
}  // namespace genalytics::bench

int main(int argc, char** argv) {
  genalytics::bench::Flags flags;
  CLI::App app{"model_bench: model recommendations from rollups beside the raw table"};
  app.add_option("--events", flags.events, "generation events to load (default 10M)");
  app.add_option("--models", flags.models, "models in the fleet (default 500)");
  app.add_option("--days", flags.days, "days of history (default 90)");
  app.add_option("--data-dir", flags.data_dir, "keep the store here and reuse it");
  app.add_option("--iterations", flags.iterations, "timed recommendation runs (default 30)");
  app.add_option("--raw-runs", flags.raw_runs,
                 "runs of the raw-table computation and cross-check (default 2; 0 skips both)");
  CLI11_PARSE(app, argc, argv);
  return genalytics::bench::run(flags);
}
