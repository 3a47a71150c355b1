// Over 400 lines: one service whose four answers (usage, recommendations,
// schedule, simulation) share the fleet it reads and the per-model figures
// derived from it; split, each part would re-read or pass that state around.
#include "analytics/model_analytics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>

#include "analytics/errors.h"
#include "event/time.h"
#include "rollup/dimension_cap.h"
#include "store/model_span_cache.h"

namespace genalytics {
namespace {

constexpr double kBytesPerGiB = 1024.0 * 1024 * 1024;
constexpr double kMbPerGb = 1024;

double window_days(const TimeWindow& window) { return static_cast<double>(window.hours()) / 24.0; }

// The regularized incomplete beta function I_x(a, b): the CDF of Beta(a, b)
// at x (Numerical Recipes' continued fraction, modified Lentz).
double beta_cdf(double x, double a, double b) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  auto continued_fraction = [](double x, double a, double b) {
    constexpr double kTiny = 1e-300;
    double c = 1;
    double d = 1 - (a + b) * x / (a + 1);
    if (std::fabs(d) < kTiny) d = kTiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 300; ++m) {
      const double m2 = 2.0 * m;
      double aa = m * (b - m) * x / ((a - 1 + m2) * (a + m2));
      d = 1 + aa * d;
      if (std::fabs(d) < kTiny) d = kTiny;
      c = 1 + aa / c;
      if (std::fabs(c) < kTiny) c = kTiny;
      d = 1 / d;
      h *= d * c;
      aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1 + m2));
      d = 1 + aa * d;
      if (std::fabs(d) < kTiny) d = kTiny;
      c = 1 + aa / c;
      if (std::fabs(c) < kTiny) c = kTiny;
      d = 1 / d;
      const double delta = d * c;
      h *= delta;
      if (std::fabs(delta - 1) < 1e-14) break;
    }
    return h;
  };
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  if (x < (a + 1) / (a + b + 2)) return front * continued_fraction(x, a, b) / a;
  return 1 - front * continued_fraction(1 - x, b, a) / b;
}

std::string percent(double share) { return fmt::format("{:.1f}%", share * 100); }

// The hour-of-week slots of the window: how many times each occurs.
std::array<int, kHoursPerWeek> hour_of_week_occurrences(const TimeWindow& window) {
  std::array<int, kHoursPerWeek> occurrences{};
  for (int64_t h = window.start_us; h < window.end_us; h += kMicrosPerHour) {
    ++occurrences[hour_of_week(h)];
  }
  return occurrences;
}

}  // namespace

std::string_view to_string(RecommendationKind kind) {
  switch (kind) {
    case RecommendationKind::kCleanup:
      return "cleanup";
    case RecommendationKind::kPreload:
      return "preload";
    case RecommendationKind::kPerformance:
      return "performance";
  }
  return "cleanup";
}

RecommendationKind parse_recommendation_kind(std::string_view text) {
  for (RecommendationKind kind : {RecommendationKind::kCleanup, RecommendationKind::kPreload,
                                  RecommendationKind::kPerformance}) {
    if (text == to_string(kind)) return kind;
  }
  throw InvalidArgument("kind", "kind must be cleanup, preload or performance");
}

bool ModelListEntry::loaded() const {
  return std::any_of(workers.begin(), workers.end(),
                     [](const ModelWorkerState& w) { return w.loaded; });
}

// What the service reads for a window: the model rollups grouped by model,
// the inventory and the loaded state.
struct ModelAnalytics::Fleet {
  ModelSpans spans;                          // the window's pieces, cut at recent_start
  std::vector<ModelLifecycleRow> lifecycle;  // by model, then hour
  std::map<std::string, ModelRecord> inventory;
  std::map<std::string, std::vector<std::string>> loaded_on;  // model -> workers holding it
  // Per model, its spans (in time order) and lifecycle rows.
  struct Rows {
    std::vector<const ModelSpan*> spans;
    std::span<const ModelLifecycleRow> lifecycle;
  };
  std::map<std::string, Rows> rows;  // every model of the window or the inventory
};

namespace {

// Where the window's "last regression_recent_days" start: the spans are cut
// there, so that each lies on one side.
int64_t recent_start(const TimeWindow& window, const ModelAnalyticsConfig& config) {
  return window.end_us - static_cast<int64_t>(config.regression_recent_days) * kMicrosPerDay;
}

// The usage figures of one model from its spans (in time order, cut at
// recent_start).
void add_usage(const TimeWindow& window, std::span<const ModelSpan* const> spans,
               const ModelAnalyticsConfig& config, ModelUsageStats* stats) {
  const int64_t days = std::max<int64_t>(1, (window.hours() + 23) / 24);
  stats->daily_uses.assign(static_cast<size_t>(days), 0);
  stats->first_day_us = window.start_us;
  const int64_t recent = recent_start(window, config);

  ModelUsageBucket recent_usage;
  ModelUsageBucket earlier_usage;
  std::array<int64_t, 24> hour_of_day_uses{};
  for (const ModelSpan* span : spans) {
    (span->start_us >= recent ? recent_usage : earlier_usage).merge(span->usage);
    // A span's hours are consecutive: its first hour's hour of week and
    // hour of day, then one more per hour.
    int week_hour = hour_of_week(span->start_us);
    int day_hour = hour_of_day(span->start_us);
    for (int64_t hour = span->start_us; const int64_t uses : span->hourly_uses) {
      if (uses != 0) {
        const int64_t day = (hour - window.start_us) / kMicrosPerDay;
        if (day >= 0 && day < days) stats->daily_uses[static_cast<size_t>(day)] += uses;
        stats->hour_of_week_uses[static_cast<size_t>(week_hour)] += uses;
        hour_of_day_uses[static_cast<size_t>(day_hour)] += uses;
      }
      hour += kMicrosPerHour;
      if (++week_hour == kHoursPerWeek) week_hour = 0;
      if (++day_hour == 24) day_hour = 0;
    }
  }
  ModelUsageBucket total = recent_usage;
  total.merge(earlier_usage);
  stats->uses = total.uses;
  stats->uses_per_day = static_cast<double>(total.uses) / window_days(window);
  std::vector<double> series(stats->daily_uses.begin(), stats->daily_uses.end());
  stats->trend = mann_kendall_trend(series);

  std::vector<int> hours;
  for (int h = 0; h < 24; ++h) {
    if (hour_of_day_uses[static_cast<size_t>(h)] > 0) hours.push_back(h);
  }
  std::stable_sort(hours.begin(), hours.end(), [&](int a, int b) {
    return hour_of_day_uses[static_cast<size_t>(a)] > hour_of_day_uses[static_cast<size_t>(b)];
  });
  if (hours.size() > 3) hours.resize(3);
  stats->peak_hours = std::move(hours);

  stats->completions = total.completions;
  stats->successes = total.successes;
  if (total.completions > 0) {
    stats->success_rate =
        static_cast<double>(total.successes) / static_cast<double>(total.completions);
    stats->success_interval = wilson_interval(total.successes, total.completions);
  }
  stats->timed_generations = total.generation_time_count;
  if (total.generation_time_count > 0) {
    stats->avg_generation_time_ms = static_cast<double>(total.generation_time_sum) /
                                    static_cast<double>(total.generation_time_count);
  }
  stats->p50_generation_time_ms = total.generation_times.quantile(0.50);
  stats->p95_generation_time_ms = total.generation_times.quantile(0.95);
  stats->p95_gpu_memory_mb = total.gpu_memory.quantile(0.95);
  stats->recent_p95_generation_time_ms = recent_usage.generation_times.quantile(0.95);
  stats->earlier_p95_generation_time_ms = earlier_usage.generation_times.quantile(0.95);
  stats->recent_timed = static_cast<int64_t>(recent_usage.generation_times.count());
  stats->earlier_timed = static_cast<int64_t>(earlier_usage.generation_times.count());
}

// common_params and slow_params from the spans' params, merged over the
// window. REQUIRES: add_usage ran (it needs the model's average).
void add_params(std::span<const ModelSpan* const> spans, const ModelAnalyticsConfig& config,
                ModelUsageStats* stats) {
  std::map<std::string_view, std::map<std::string_view, ModelParamBucket>> by_key;
  for (const ModelSpan* span : spans) {
    for (const ModelParamTotal& param : span->params)
      by_key[param.key][param.value].merge(param.bucket);
  }
  struct Slow {
    std::string text;
    double ratio;
  };
  std::vector<Slow> slow;
  const int64_t min_param_samples = std::max<int64_t>(5, config.min_samples / 4);
  stats->common_params.clear();
  for (auto& [key, values] : by_key) {
    int64_t key_uses = 0;
    std::vector<ParamValueStats> ranked;
    for (const auto& [value, bucket] : values) {
      key_uses += bucket.uses;
      ParamValueStats v{std::string(value), bucket.uses, 0, std::nullopt};
      if (bucket.timed > 0) {
        v.avg_generation_time_ms =
            static_cast<double>(bucket.generation_time_sum) / static_cast<double>(bucket.timed);
        if (stats->avg_generation_time_ms && *stats->avg_generation_time_ms > 0 &&
            bucket.timed >= min_param_samples && value != kOtherValue) {
          const double ratio = *v.avg_generation_time_ms / *stats->avg_generation_time_ms;
          if (ratio >= 1.5) slow.push_back({fmt::format("{}={}", key, value), ratio});
        }
      }
      if (v.count > 0) ranked.push_back(std::move(v));
    }
    for (ParamValueStats& v : ranked) {
      v.share = key_uses > 0 ? static_cast<double>(v.count) / static_cast<double>(key_uses) : 0;
    }
    std::sort(ranked.begin(), ranked.end(), [](const ParamValueStats& a, const ParamValueStats& b) {
      return a.count != b.count ? a.count > b.count : a.value < b.value;
    });
    if (ranked.size() > static_cast<size_t>(std::max(0, config.common_params_top))) {
      ranked.resize(static_cast<size_t>(std::max(0, config.common_params_top)));
    }
    if (!ranked.empty()) stats->common_params.emplace(key, std::move(ranked));
  }
  std::sort(slow.begin(), slow.end(), [](const Slow& a, const Slow& b) {
    return a.ratio != b.ratio ? a.ratio > b.ratio : a.text < b.text;
  });
  stats->slow_params.clear();
  for (Slow& s : slow) stats->slow_params.push_back(std::move(s.text));
}

void add_lifecycle(std::span<const ModelLifecycleRow> lifecycle, ModelUsageStats* stats) {
  ModelLifecycleBucket life;
  for (const ModelLifecycleRow& row : lifecycle) life.merge(row.bucket);
  stats->loads = life.loads;
  stats->load_failures = life.load_failures;
  stats->p50_load_time_ms = life.load_times.quantile(0.50);
  stats->p95_load_time_ms = life.load_times.quantile(0.95);
  stats->p95_loaded_gpu_memory_mb = life.loaded_gpu_memory.quantile(0.95);
  stats->unloads = life.unloads;
  stats->downloads = life.downloads;
  stats->health_checks = life.health_checks;
  stats->health_check_failures = life.health_check_failures;
  if (life.max_size_bytes > 0) stats->size_bytes = life.max_size_bytes;
}

}  // namespace

ModelAnalytics::Fleet ModelAnalytics::load_fleet(const TimeWindow& window,
                                                 const std::optional<std::string>& model) const {
  Fleet fleet;
  const int64_t cuts[] = {recent_start(window, config_)};
  if (model) {
    // One model: its rows alone, merged into spans here.
    fleet.spans =
        build_model_spans(model_span_keys(window.start_us, window.end_us, cuts),
                          store_.read_model_usage(window.start_us, window.end_us, model, true),
                          store_.read_model_params(window.start_us, window.end_us, model));
  } else {
    fleet.spans = store_.read_model_spans(window.start_us, window.end_us, cuts);
  }
  fleet.lifecycle = store_.read_model_lifecycle(window.start_us, window.end_us, model);
  for (ModelRecord& record : store_.read_models()) {
    if (model && record.model_id != *model) continue;
    fleet.rows[record.model_id];
    std::string id = record.model_id;
    fleet.inventory.emplace(std::move(id), std::move(record));
  }
  for (const ModelWorkerState& state : store_.read_model_worker_states()) {
    if (state.loaded && (!model || state.model_id == *model)) {
      fleet.loaded_on[state.model_id].push_back(state.worker_id);
    }
  }
  // Pieces are in time order and each piece's spans by model: appending
  // keeps each model's spans in time order.
  std::unordered_map<std::string_view, Fleet::Rows*> by_model;
  for (const auto& piece : fleet.spans) {
    for (const ModelSpan& span : *piece) {
      auto [it, inserted] = by_model.try_emplace(span.model_id, nullptr);
      if (inserted) it->second = &fleet.rows[span.model_id];
      it->second->spans.push_back(&span);
    }
  }
  std::stable_sort(fleet.lifecycle.begin(), fleet.lifecycle.end(),
                   [](const ModelLifecycleRow& a, const ModelLifecycleRow& b) {
                     return a.key.model_id < b.key.model_id;
                   });
  const std::span<const ModelLifecycleRow> lifecycle(fleet.lifecycle);
  for (size_t first = 0, last = 0; first < lifecycle.size(); first = last) {
    while (last < lifecycle.size() &&
           lifecycle[last].key.model_id == lifecycle[first].key.model_id) {
      ++last;
    }
    fleet.rows[lifecycle[first].key.model_id].lifecycle = lifecycle.subspan(first, last - first);
  }
  return fleet;
}

ModelUsageStats ModelAnalytics::compute_stats(const TimeWindow& window, const std::string& model_id,
                                              std::span<const ModelUsageRow> usage,
                                              std::span<const ModelParamRow> params,
                                              std::span<const ModelLifecycleRow> lifecycle,
                                              const ModelAnalyticsConfig& config) {
  const int64_t cuts[] = {recent_start(window, config)};
  const ModelSpans pieces =
      build_model_spans(model_span_keys(window.start_us, window.end_us, cuts), usage, params);
  std::vector<const ModelSpan*> spans;
  for (const auto& piece : pieces) {
    for (const ModelSpan& span : *piece) {
      if (span.model_id == model_id) spans.push_back(&span);
    }
  }
  ModelUsageStats stats;
  stats.model_id = model_id;
  add_usage(window, spans, config, &stats);
  add_params(spans, config, &stats);
  add_lifecycle(lifecycle, &stats);
  return stats;
}

ModelUsageStats ModelAnalytics::stats_of(const TimeWindow& window, const Fleet& fleet,
                                         const std::string& model_id, bool with_params) const {
  ModelUsageStats stats;
  stats.model_id = model_id;
  const auto rows = fleet.rows.find(model_id);
  const std::span<const ModelSpan* const> spans =
      rows == fleet.rows.end() ? std::span<const ModelSpan* const>() : rows->second.spans;
  add_usage(window, spans, config_, &stats);
  if (with_params) add_params(spans, config_, &stats);
  if (rows != fleet.rows.end()) add_lifecycle(rows->second.lifecycle, &stats);
  // The inventory's description and the loaded state.
  if (auto record = fleet.inventory.find(model_id); record != fleet.inventory.end()) {
    stats.model_kind = record->second.model_kind;
    stats.base_model = record->second.base_model;
    if (record->second.size_bytes) stats.size_bytes = record->second.size_bytes;
    stats.first_seen_us = record->second.first_seen_us;
    stats.last_used_us = record->second.last_used_us;
  }
  if (auto loaded = fleet.loaded_on.find(model_id); loaded != fleet.loaded_on.end()) {
    stats.loaded_on = loaded->second;
  }
  return stats;
}

ModelUsageReport ModelAnalytics::report_of(const TimeWindow& window, const Fleet& fleet,
                                           bool with_params) const {
  ModelUsageReport report;
  report.window = window;
  std::vector<const std::string*> models;
  models.reserve(fleet.rows.size());
  for (const auto& [model_id, rows] : fleet.rows) models.push_back(&model_id);
  report.models.resize(models.size());
  pool_.for_each(models.size(), [&](size_t i) {
    report.models[i] = stats_of(window, fleet, *models[i], with_params);
  });
  std::stable_sort(
      report.models.begin(), report.models.end(),
      [](const ModelUsageStats& a, const ModelUsageStats& b) { return a.uses > b.uses; });
  return report;
}

ModelUsageReport ModelAnalytics::usage(const TimeWindow& window) const {
  return report_of(window, load_fleet(window, std::nullopt), true);
}

ModelUsageStats ModelAnalytics::usage(const TimeWindow& window, const std::string& model_id) const {
  const Fleet fleet = load_fleet(window, model_id);
  if (!fleet.rows.contains(model_id)) throw NotFound("no such model: " + model_id);
  return stats_of(window, fleet, model_id, true);
}

namespace {

// What a cold start of the model costs and what it takes loaded, from what
// was recorded, else from its size, else the configured defaults.
double load_time_ms(const ModelUsageStats& s, const ModelAnalyticsConfig& config) {
  if (s.p50_load_time_ms) return *s.p50_load_time_ms;
  double ms = config.default_load_time_ms;
  if (s.size_bytes && config.load_bytes_per_second > 0) {
    ms += static_cast<double>(*s.size_bytes) / config.load_bytes_per_second * 1000;
  }
  return ms;
}

// A generation's gpu_memory_mb is the whole job's (its checkpoint, add-ons
// and activations): it stands for a checkpoint's VRAM, never a LoRA's.
double vram_mb(const ModelUsageStats& s, const ModelAnalyticsConfig& config) {
  if (s.p95_loaded_gpu_memory_mb) return *s.p95_loaded_gpu_memory_mb;
  const bool checkpoint = !s.model_kind || *s.model_kind == "checkpoint";
  if (checkpoint && s.p95_gpu_memory_mb) return *s.p95_gpu_memory_mb;
  if (s.size_bytes) return static_cast<double>(*s.size_bytes) / (1024.0 * 1024);
  return config.default_vram_mb;
}

// Expected uses of each hour of week: its uses over the times it occurs.
std::array<double, kHoursPerWeek> expected_uses(const ModelUsageStats& s,
                                                const std::array<int, kHoursPerWeek>& occurrences) {
  std::array<double, kHoursPerWeek> expected{};
  for (int h = 0; h < kHoursPerWeek; ++h) {
    const auto i = static_cast<size_t>(h);
    if (occurrences[i] > 0) {
      expected[i] = static_cast<double>(s.hour_of_week_uses[i]) / occurrences[i];
    }
  }
  return expected;
}

std::string_view cleanup_priority(double confidence, int64_t space) {
  const bool large = static_cast<double>(space) >= kBytesPerGiB;
  if (confidence >= 0.8 && large) return "high";
  if (confidence >= 0.8 || (confidence >= 0.5 && large)) return "medium";
  return "low";
}

int priority_rank(std::string_view priority) {
  return priority == "high" ? 0 : priority == "medium" ? 1 : 2;
}

}  // namespace

ModelRecommendations ModelAnalytics::recommendations(const TimeWindow& window,
                                                     std::optional<RecommendationKind> kind,
                                                     std::optional<double> vram_budget_gb,
                                                     int64_t now_us) const {
  // Parameters only for the models a performance issue names: merging them
  // for every model would cost more than everything else here.
  const Fleet fleet = load_fleet(window, std::nullopt);
  ModelUsageReport report = report_of(window, fleet, false);
  ModelRecommendations out;
  out.window = window;
  out.kind = kind;
  const double days = window_days(window);
  auto wants = [&](RecommendationKind k) { return !kind || *kind == k; };

  if (wants(RecommendationKind::kCleanup)) {
    // Base models a LoRA (or VAE, ControlNet) used in the window depends on.
    std::set<std::string> needed_bases;
    std::vector<RateObservation> observations;
    for (const ModelUsageStats& s : report.models) {
      if (s.uses > 0 && s.base_model) needed_bases.insert(*s.base_model);
    }
    auto exposure_days = [&](const ModelUsageStats& s) {
      double exposure = days;
      if (s.first_seen_us) {
        exposure = std::min(exposure, static_cast<double>(now_us - *s.first_seen_us) /
                                          static_cast<double>(kMicrosPerDay));
      }
      return std::max(exposure, 1.0 / 24);
    };
    for (const ModelUsageStats& s : report.models) {
      observations.push_back({static_cast<double>(s.uses), exposure_days(s)});
    }
    const GammaRate prior = fleet_prior(observations);
    for (const ModelUsageStats& s : report.models) {
      if (!s.loaded_on.empty() || needed_bases.contains(s.model_id)) continue;
      CleanupRecommendation r;
      bool usage_reason = false;
      if (s.last_used_us) {
        const double idle_days =
            static_cast<double>(now_us - *s.last_used_us) / static_cast<double>(kMicrosPerDay);
        if (idle_days > config_.cleanup_unused_days) {
          r.reasons.push_back(fmt::format("unused for {:.0f} days (over {:g})", idle_days,
                                          config_.cleanup_unused_days));
          usage_reason = true;
        }
      } else if (s.uses == 0) {
        r.reasons.push_back(s.first_seen_us ? fmt::format("never used since first seen on {}",
                                                          format_date(*s.first_seen_us))
                                            : std::string("never used"));
        usage_reason = true;
      }
      if (s.uses_per_day < config_.cleanup_min_uses_per_day) {
        r.reasons.push_back(fmt::format("{:.3g} uses per day (under {:g})", s.uses_per_day,
                                        config_.cleanup_min_uses_per_day));
        usage_reason = true;
      }
      double confidence = 0;
      if (usage_reason) {
        confidence =
            probability_of_no_use(posterior(prior, static_cast<double>(s.uses), exposure_days(s)),
                                  config_.cleanup_horizon_days);
      }
      if (s.success_interval && s.success_interval->upper < config_.cleanup_min_success_rate) {
        r.reasons.push_back(
            fmt::format("success rate {} of {} completions (95% upper bound {}, "
                        "under {})",
                        percent(*s.success_rate), s.completions, percent(s.success_interval->upper),
                        percent(config_.cleanup_min_success_rate)));
        confidence =
            std::max(confidence, beta_cdf(config_.cleanup_min_success_rate,
                                          1.0 + static_cast<double>(s.successes),
                                          1.0 + static_cast<double>(s.completions - s.successes)));
      }
      if (r.reasons.empty()) continue;
      r.model_id = s.model_id;
      r.model_kind = s.model_kind;
      r.confidence = std::clamp(confidence, 0.0, 1.0);
      r.space_saved_bytes = s.size_bytes.value_or(0);
      r.priority = cleanup_priority(r.confidence, r.space_saved_bytes);
      r.uses = s.uses;
      r.uses_per_day = s.uses_per_day;
      r.last_used_us = s.last_used_us;
      out.reclaimable_bytes += r.space_saved_bytes;
      out.cleanup.push_back(std::move(r));
    }
    std::sort(out.cleanup.begin(), out.cleanup.end(),
              [](const CleanupRecommendation& a, const CleanupRecommendation& b) {
                if (a.priority != b.priority)
                  return priority_rank(a.priority) < priority_rank(b.priority);
                if (a.confidence != b.confidence) return a.confidence > b.confidence;
                if (a.space_saved_bytes != b.space_saved_bytes) {
                  return a.space_saved_bytes > b.space_saved_bytes;
                }
                return a.model_id < b.model_id;
              });
  }

  if (wants(RecommendationKind::kPreload)) {
    const double budget_mb = vram_budget_gb.value_or(config_.vram_budget_gb) * kMbPerGb;
    const auto occurrences = hour_of_week_occurrences(window);
    std::vector<ScheduleCandidate> candidates;
    std::vector<const ModelUsageStats*> candidate_stats;
    for (const ModelUsageStats& s : report.models) {
      if (s.uses == 0) continue;
      ScheduleCandidate c;
      c.model_id = s.model_id;
      const auto expected = expected_uses(s, occurrences);
      for (size_t h = 0; h < expected.size(); ++h)
        c.expected_loads[h] = expected_cold_starts(expected[h]);
      c.load_time_ms = load_time_ms(s, config_);
      c.vram_mb = vram_mb(s, config_);
      candidates.push_back(std::move(c));
      candidate_stats.push_back(&s);
    }
    const std::vector<HourPlan> plan = plan_schedule(candidates, budget_mb, pool_);
    PreloadSchedule schedule;
    schedule.budget_mb = budget_mb;
    for (const HourPlan& hour : plan) {
      PreloadSchedule::Hour h{hour.hour_of_week, {}, hour.expected_saved_ms, hour.vram_mb};
      for (size_t i : hour.models) h.models.push_back(candidates[i].model_id);
      std::sort(h.models.begin(), h.models.end());
      schedule.hours.push_back(std::move(h));
    }
    std::map<std::string, std::vector<std::pair<int, int>>> windows;
    for (KeepAliveWindow& w : keep_alive_windows(plan, candidates.size())) {
      if (w.hours.empty()) continue;
      windows[candidates[w.model].model_id] = w.hours;
      schedule.keep_alive.push_back({candidates[w.model].model_id, std::move(w.hours)});
    }
    std::sort(schedule.keep_alive.begin(), schedule.keep_alive.end(),
              [](const auto& a, const auto& b) { return a.model_id < b.model_id; });

    for (size_t i = 0; i < candidates.size(); ++i) {
      const ModelUsageStats& s = *candidate_stats[i];
      if (!s.success_rate || *s.success_rate <= config_.preload_min_success_rate) continue;
      const bool busy = s.uses_per_day > config_.preload_min_uses_per_day;
      const bool rising = s.trend.direction == TrendDirection::kIncreasing;
      if (!busy && !rising) continue;
      PreloadRecommendation r;
      r.model_id = s.model_id;
      r.uses_per_day = s.uses_per_day;
      r.success_rate = s.success_rate;
      r.trend = s.trend;
      r.peak_hours = s.peak_hours;
      r.next_use = predict_next_use(expected_uses(s, occurrences), now_us);
      if (auto w = windows.find(s.model_id); w != windows.end()) r.keep_loaded_hours = w->second;
      if (busy) {
        r.reasons.push_back(fmt::format("{:.1f} uses per day (over {:g})", s.uses_per_day,
                                        config_.preload_min_uses_per_day));
      }
      if (rising) {
        r.reasons.push_back(s.trend.percent_per_week
                                ? fmt::format("rising {:+.1f}% per week (p = {:.3g})",
                                              *s.trend.percent_per_week, s.trend.p_value)
                                : fmt::format("rising (p = {:.3g})", s.trend.p_value));
      }
      r.reasons.push_back(fmt::format("success rate {}", percent(*s.success_rate)));
      out.preload.push_back(std::move(r));
    }
    std::sort(out.preload.begin(), out.preload.end(),
              [](const PreloadRecommendation& a, const PreloadRecommendation& b) {
                return a.uses_per_day != b.uses_per_day ? a.uses_per_day > b.uses_per_day
                                                        : a.model_id < b.model_id;
              });
    out.schedule = std::move(schedule);
  }

  if (wants(RecommendationKind::kPerformance)) {
    for (ModelUsageStats& s : report.models) {
      bool params_added = false;
      auto add_slow_params = [&] {
        if (params_added) return;
        params_added = true;
        if (auto rows = fleet.rows.find(s.model_id); rows != fleet.rows.end()) {
          add_params(rows->second.spans, config_, &s);
        }
      };
      auto add = [&](std::string_view issue, std::vector<std::pair<std::string, double>> evidence,
                     std::string suggestion) {
        add_slow_params();
        PerformanceRecommendation r{s.model_id, issue, std::move(evidence), s.slow_params,
                                    std::move(suggestion)};
        if (r.slow_params.size() > 3) r.slow_params.resize(3);
        out.performance.push_back(std::move(r));
      };
      auto slow_params_text = [&] {
        add_slow_params();
        if (s.slow_params.empty()) return std::string();
        std::string text = "; slowest parameter values: ";
        for (size_t i = 0; i < std::min<size_t>(3, s.slow_params.size()); ++i) {
          text += (i ? ", " : "") + s.slow_params[i];
        }
        return text;
      };
      if (s.p50_generation_time_ms && *s.p50_generation_time_ms > config_.slow_p50_ms) {
        add("slow",
            {{"p50_generation_time_ms", *s.p50_generation_time_ms},
             {"threshold_ms", config_.slow_p50_ms}},
            "offload it to a larger GPU or use a quantised variant (fp8/int8), or fewer steps" +
                slow_params_text());
      }
      if (s.success_interval && s.success_interval->upper < config_.low_success_rate) {
        std::vector<std::pair<std::string, double>> evidence = {
            {"success_rate", *s.success_rate},
            {"success_rate_upper_95", s.success_interval->upper},
            {"completions", static_cast<double>(s.completions)},
            {"health_check_failures", static_cast<double>(s.health_check_failures)},
            {"load_failures", static_cast<double>(s.load_failures)}};
        add("low_success", std::move(evidence),
            s.health_check_failures > 0 || s.load_failures > 0
                ? fmt::format("check the model file: {} health check(s) and {} load(s) failed; "
                              "re-download it and verify its hash",
                              s.health_check_failures, s.load_failures)
                : std::string("check the model file and its errors: generations fail though it "
                              "loads and passes health checks"));
      }
      if (s.p50_generation_time_ms && s.p95_generation_time_ms && *s.p50_generation_time_ms > 0 &&
          s.timed_generations >= config_.min_samples) {
        const double ratio = *s.p95_generation_time_ms / *s.p50_generation_time_ms;
        if (ratio > config_.variance_ratio) {
          add("high_variance",
              {{"p50_generation_time_ms", *s.p50_generation_time_ms},
               {"p95_generation_time_ms", *s.p95_generation_time_ms},
               {"p95_over_p50", ratio}},
              "generation time varies widely: look at the parameters of its slow requests" +
                  slow_params_text());
        }
      }
      if (s.recent_p95_generation_time_ms && s.earlier_p95_generation_time_ms &&
          s.recent_timed >= config_.min_samples && s.earlier_timed >= config_.min_samples &&
          *s.earlier_p95_generation_time_ms > 0) {
        const double ratio = *s.recent_p95_generation_time_ms / *s.earlier_p95_generation_time_ms;
        if (ratio > config_.regression_ratio) {
          add("regressed",
              {{"recent_p95_generation_time_ms", *s.recent_p95_generation_time_ms},
               {"earlier_p95_generation_time_ms", *s.earlier_p95_generation_time_ms},
               {"ratio", ratio},
               {"recent_samples", static_cast<double>(s.recent_timed)},
               {"earlier_samples", static_cast<double>(s.earlier_timed)}},
              fmt::format("p95 generation time rose {:.0f}% in the last {} days: compare the "
                          "model file, drivers and parameters before and after",
                          (ratio - 1) * 100, config_.regression_recent_days) +
                  slow_params_text());
        }
      }
    }
    std::stable_sort(out.performance.begin(), out.performance.end(),
                     [](const PerformanceRecommendation& a, const PerformanceRecommendation& b) {
                       return a.model_id < b.model_id;
                     });
  }
  return out;
}

ModelSimulationReport ModelAnalytics::simulate(const TimeWindow& window,
                                               std::optional<double> vram_budget_gb) const {
  ModelSimulationReport report;
  report.window = window;
  report.budget_mb = vram_budget_gb.value_or(config_.vram_budget_gb) * kMbPerGb;
  // History to fit on before the first hour: as long as the window, at most
  // four weeks.
  const int64_t history_start =
      window.start_us - std::min<int64_t>(window.end_us - window.start_us, 28 * kMicrosPerDay);
  const TimeWindow fitted{history_start, window.end_us};

  // Each model's load time and VRAM, from the rollups of the whole span.
  const Fleet fleet = load_fleet(fitted, std::nullopt);
  std::unordered_map<std::string, uint32_t> index;
  SimInput input;
  input.start_us = window.start_us;
  input.end_us = window.end_us;
  input.budget_mb = report.budget_mb;
  input.history_start_us = history_start;
  auto model_index = [&](const std::string& id) -> uint32_t {
    auto [it, inserted] = index.try_emplace(id, static_cast<uint32_t>(input.models.size()));
    if (inserted) {
      const ModelUsageStats stats = stats_of(fitted, fleet, id, false);
      input.models.push_back({id, load_time_ms(stats, config_), vram_mb(stats, config_)});
    }
    return it->second;
  };
  store_.scan_model_uses(history_start, window.end_us,
                         [&](int64_t timestamp_us, std::span<const ModelUse> uses) {
                           const bool in_window = timestamp_us >= window.start_us;
                           if (in_window) ++report.requests;
                           for (const ModelUse& use : uses) {
                             (in_window ? input.uses : input.history)
                                 .push_back({timestamp_us, model_index(use.model_id)});
                           }
                         });

  // What really happened: per model, the times any worker held it.
  struct Holding {
    std::map<std::string, bool> workers;
    int loaded = 0;
    int64_t since_us = 0;
  };
  std::unordered_map<std::string, Holding> holdings;
  store_.scan_model_events(history_start, window.end_us, [&](const ModelEvent& e) {
    if (e.event_type != ModelEventType::kLoad && e.event_type != ModelEventType::kUnload) return;
    input.has_actual = true;
    const bool now_loaded = e.event_type == ModelEventType::kLoad && e.succeeded();
    if (e.event_type == ModelEventType::kLoad && e.succeeded() && e.duration_ms &&
        e.timestamp_us >= window.start_us) {
      input.actual_load_ms += static_cast<double>(*e.duration_ms);
    }
    auto index_of = index.find(e.model_id);
    Holding& h = holdings[e.model_id];
    bool& worker = h.workers[e.worker_id.value_or("")];
    if (worker == now_loaded) return;
    worker = now_loaded;
    if (now_loaded && h.loaded++ == 0) h.since_us = e.timestamp_us;
    if (!now_loaded && --h.loaded == 0 && index_of != index.end() &&
        e.timestamp_us > window.start_us) {
      input.actual_loaded.push_back(
          {index_of->second, std::max(h.since_us, window.start_us), e.timestamp_us});
    }
  });
  for (const auto& [id, h] : holdings) {
    auto index_of = index.find(id);
    if (h.loaded > 0 && index_of != index.end()) {
      input.actual_loaded.push_back(
          {index_of->second, std::max(h.since_us, window.start_us), window.end_us});
    }
  }
  std::sort(input.actual_loaded.begin(), input.actual_loaded.end(),
            [](const SimLoadedInterval& a, const SimLoadedInterval& b) {
              return a.start_us != b.start_us ? a.start_us < b.start_us : a.model < b.model;
            });
  report.models = input.models.size();
  report.result = genalytics::simulate(input);
  return report;
}

std::vector<ModelListEntry> ModelAnalytics::list_models() const {
  std::vector<ModelListEntry> entries;
  for (ModelRecord& record : store_.read_models()) entries.push_back({std::move(record), {}});
  const std::vector<ModelWorkerState> states = store_.read_model_worker_states();
  auto entry = entries.begin();
  for (const ModelWorkerState& state : states) {
    while (entry != entries.end() && entry->record.model_id < state.model_id) ++entry;
    if (entry == entries.end()) break;
    if (entry->record.model_id == state.model_id) entry->workers.push_back(state);
  }
  return entries;
}

ModelListEntry ModelAnalytics::find_model(const std::string& model_id) const {
  for (ModelListEntry& entry : list_models()) {
    if (entry.record.model_id == model_id) return std::move(entry);
  }
  throw NotFound("no such model: " + model_id);
}

}  // namespace genalytics
