// Model usage analytics (issue 10): every statistic against an exact
// computation over the generated events it came from, and the
// recommendations' rules (what cleanup must never name, the budget the
// schedule keeps) on a real embedded store.
#include "analytics/model_analytics.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "analytics/errors.h"
#include "event/time.h"
#include "event/uuid.h"
#include "store/sqlite_store.h"
#include "testing/events.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::make_event;
using testing::TempDir;

// 2026-03-02 00:00 UTC, a Monday: windows below start on whole days.
constexpr int64_t kMonday = 1'772'409'600'000'000;
static_assert(kMonday % kMicrosPerDay == 0);

double exact_quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  // DDSketch's rank convention: the value of rank floor(q * (n - 1)).
  return values[static_cast<size_t>(q * static_cast<double>(values.size() - 1))];
}

// A request and, most of the time, its completion.
struct Generated {
  std::vector<GenerationEvent> events;
};

Generated generate(int days, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  const char* checkpoints[] = {"sdxl", "sd15", "flux"};
  const char* loras[] = {"detail", "anime", "pixel"};
  const char* samplers[] = {"euler", "dpmpp_2m", "ddim"};
  Generated g;
  for (int i = 0; i < days * 60; ++i) {
    const int64_t t = kMonday + static_cast<int64_t>(unit(rng) * days * kMicrosPerDay);
    const int model = static_cast<int>(unit(rng) * 3);
    GenerationEvent request = make_event(GenerationEventType::kRequest, t);
    request.model_checkpoint = checkpoints[model];
    std::string params =
        fmt::format(R"({{"sampler":"{}","steps":{})", samplers[i % 3], 20 + (i % 4) * 5);
    if (i % 3 == 0) params += fmt::format(R"(,"lora":"{}")", loras[i % 2]);
    if (i % 7 == 0) params += R"(,"loras":["pixel","detail"])";
    params += "}";
    request.params_json = params;
    g.events.push_back(request);
    if (unit(rng) < 0.8) {
      GenerationEvent completion = make_event(GenerationEventType::kCompletion, t + 5'000'000);
      completion.generation_id = request.generation_id;
      completion.model_checkpoint = request.model_checkpoint;
      completion.params_json = request.params_json;
      completion.success = unit(rng) < 0.9 - 0.2 * model;
      completion.generation_time_ms = static_cast<int64_t>(1000 + unit(rng) * 9000 * (model + 1));
      completion.gpu_memory_mb = 4000 + model * 3000 + static_cast<int64_t>(unit(rng) * 500);
      g.events.push_back(completion);
    }
  }
  std::sort(g.events.begin(), g.events.end(),
            [](const GenerationEvent& a, const GenerationEvent& b) {
              return a.timestamp_us < b.timestamp_us;
            });
  return g;
}

TEST(ModelStatsTest, EveryStatisticMatchesAnExactComputation) {
  const int days = 28;
  const Generated g = generate(days, 7);
  ModelUsageDelta delta;
  for (const GenerationEvent& e : g.events) delta.add(e);
  std::vector<ModelUsageRow> usage;
  for (const auto& [key, bucket] : delta.usage()) usage.push_back({key, bucket});
  std::vector<ModelParamRow> params;
  for (const auto& [key, bucket] : delta.params()) params.push_back({key, bucket});
  const TimeWindow window{kMonday, kMonday + days * kMicrosPerDay};
  const ModelAnalyticsConfig config;

  for (const std::string model : {"sdxl", "flux", "detail", "pixel"}) {
    SCOPED_TRACE(model);
    // Exact, from the events.
    int64_t uses = 0, completions = 0, successes = 0;
    std::vector<int64_t> daily(days, 0);
    std::array<int64_t, kHoursPerWeek> week{};
    std::vector<double> times, memory;
    std::map<std::string, std::map<std::string, int64_t>> values;
    for (const GenerationEvent& e : g.events) {
      bool named = false;
      for (const ModelUse& use : models_used(e)) named |= use.model_id == model;
      if (!named) continue;
      if (e.event_type == GenerationEventType::kRequest) {
        ++uses;
        ++daily[static_cast<size_t>((e.timestamp_us - kMonday) / kMicrosPerDay)];
        ++week[static_cast<size_t>(((e.timestamp_us - kMonday) / kMicrosPerHour) % kHoursPerWeek)];
        for_each_param(*e.params_json, [&](std::string_view key, std::string_view value) {
          ++values[std::string(key)][std::string(value)];
        });
      } else {
        ++completions;
        successes += *e.success ? 1 : 0;
        times.push_back(static_cast<double>(*e.generation_time_ms));
        memory.push_back(static_cast<double>(*e.gpu_memory_mb));
      }
    }
    std::vector<ModelUsageRow> model_usage;
    std::copy_if(usage.begin(), usage.end(), std::back_inserter(model_usage),
                 [&](const ModelUsageRow& r) { return r.key.model_id == model; });
    std::vector<ModelParamRow> model_params;
    std::copy_if(params.begin(), params.end(), std::back_inserter(model_params),
                 [&](const ModelParamRow& r) { return r.key.model_id == model; });
    const ModelUsageStats s =
        ModelAnalytics::compute_stats(window, model, model_usage, model_params, {}, config);

    ASSERT_GT(uses, 0);
    EXPECT_EQ(s.uses, uses);
    EXPECT_DOUBLE_EQ(s.uses_per_day, static_cast<double>(uses) / days);
    EXPECT_EQ(s.daily_uses, daily);
    EXPECT_EQ(s.hour_of_week_uses, week);  // kMonday is hour of week 0
    EXPECT_EQ(s.completions, completions);
    EXPECT_EQ(s.successes, successes);
    ASSERT_TRUE(s.success_rate);
    EXPECT_DOUBLE_EQ(*s.success_rate,
                     static_cast<double>(successes) / static_cast<double>(completions));
    const Interval wilson = wilson_interval(successes, completions);
    EXPECT_DOUBLE_EQ(s.success_interval->lower, wilson.lower);
    EXPECT_DOUBLE_EQ(s.success_interval->upper, wilson.upper);
    double sum = 0;
    for (double t : times) sum += t;
    EXPECT_DOUBLE_EQ(*s.avg_generation_time_ms, sum / static_cast<double>(times.size()));
    // Quantiles merged from hourly sketches: within DDSketch's 1%.
    EXPECT_NEAR(*s.p50_generation_time_ms, exact_quantile(times, 0.5),
                exact_quantile(times, 0.5) * 0.011);
    EXPECT_NEAR(*s.p95_generation_time_ms, exact_quantile(times, 0.95),
                exact_quantile(times, 0.95) * 0.011);
    EXPECT_NEAR(*s.p95_gpu_memory_mb, exact_quantile(memory, 0.95),
                exact_quantile(memory, 0.95) * 0.011);
    // Peak hours: the hours of day with the most uses, most first.
    std::array<int64_t, 24> by_hour{};
    for (int h = 0; h < kHoursPerWeek; ++h)
      by_hour[static_cast<size_t>(h % 24)] += week[static_cast<size_t>(h)];
    ASSERT_FALSE(s.peak_hours.empty());
    EXPECT_EQ(by_hour[static_cast<size_t>(s.peak_hours[0])],
              *std::max_element(by_hour.begin(), by_hour.end()));
    // Common params: counts and shares per key, top values first.
    for (const auto& [key, counts] : values) {
      SCOPED_TRACE(key);
      ASSERT_TRUE(s.common_params.contains(key));
      int64_t total = 0;
      for (const auto& [value, n] : counts) total += n;
      for (const ParamValueStats& v : s.common_params.at(key)) {
        EXPECT_EQ(v.count, counts.at(v.value));
        EXPECT_DOUBLE_EQ(v.share, static_cast<double>(v.count) / static_cast<double>(total));
      }
      EXPECT_EQ(s.common_params.at(key).size(), std::min<size_t>(counts.size(), 5));
    }
  }
}

// A window starting at 13:00: its days run 13:00 to 13:00, across the
// week, day and quarter-day pieces the spans are merged over.
TEST(ModelStatsTest, DailyAndHourOfWeekUsesOfAWindowStartingMidDay) {
  const int days = 21;
  const Generated g = generate(28, 7);
  ModelUsageDelta delta;
  for (const GenerationEvent& e : g.events) delta.add(e);
  std::vector<ModelUsageRow> usage;
  for (const auto& [key, bucket] : delta.usage()) usage.push_back({key, bucket});
  const TimeWindow window{kMonday + 13 * kMicrosPerHour,
                          kMonday + 13 * kMicrosPerHour + days * kMicrosPerDay};
  for (const std::string model : {"sdxl", "flux", "detail", "pixel"}) {
    SCOPED_TRACE(model);
    std::vector<int64_t> daily(days, 0);
    std::array<int64_t, kHoursPerWeek> week{};
    for (const GenerationEvent& e : g.events) {
      if (e.event_type != GenerationEventType::kRequest || e.timestamp_us < window.start_us ||
          e.timestamp_us >= window.end_us) {
        continue;
      }
      bool named = false;
      for (const ModelUse& use : models_used(e)) named |= use.model_id == model;
      if (!named) continue;
      ++daily[static_cast<size_t>((e.timestamp_us - window.start_us) / kMicrosPerDay)];
      ++week[static_cast<size_t>(((e.timestamp_us - kMonday) / kMicrosPerHour) % kHoursPerWeek)];
    }
    std::vector<ModelUsageRow> model_usage;
    std::copy_if(usage.begin(), usage.end(), std::back_inserter(model_usage),
                 [&](const ModelUsageRow& r) { return r.key.model_id == model; });
    const ModelUsageStats s =
        ModelAnalytics::compute_stats(window, model, model_usage, {}, {}, ModelAnalyticsConfig{});
    EXPECT_EQ(s.daily_uses, daily);
    EXPECT_EQ(s.hour_of_week_uses, week);
  }
}

TEST(ModelStatsTest, ATrendIsFoundInDailyUsesAndAbsentWhenFlat) {
  const TimeWindow window{kMonday, kMonday + 28 * kMicrosPerDay};
  std::vector<ModelUsageRow> rising, flat;
  for (int day = 0; day < 28; ++day) {
    ModelUsageRow r;
    r.key = {kMonday + day * kMicrosPerDay + 12 * kMicrosPerHour, "m"};
    r.bucket.uses = 10 + day * 3;
    rising.push_back(r);
    r.bucket.uses = 20 + (day % 3) - 1;
    flat.push_back(r);
  }
  const ModelAnalyticsConfig config;
  const ModelUsageStats up = ModelAnalytics::compute_stats(window, "m", rising, {}, {}, config);
  EXPECT_EQ(up.trend.direction, TrendDirection::kIncreasing);
  EXPECT_LT(up.trend.p_value, 0.05);
  EXPECT_DOUBLE_EQ(up.trend.theil_sen_slope, 3);
  const ModelUsageStats level = ModelAnalytics::compute_stats(window, "m", flat, {}, {}, config);
  EXPECT_EQ(level.trend.direction, TrendDirection::kStable);
  const ModelUsageStats none = ModelAnalytics::compute_stats(window, "m", {}, {}, {}, config);
  EXPECT_EQ(none.trend.direction, TrendDirection::kStable);
  EXPECT_EQ(none.uses, 0);
  EXPECT_EQ(none.daily_uses, std::vector<int64_t>(28, 0));
  EXPECT_FALSE(none.success_rate);
}

TEST(ModelStatsTest, ARegressionComparesTheLastDaysWithTheOnesBefore) {
  const TimeWindow window{kMonday, kMonday + 30 * kMicrosPerDay};
  std::vector<ModelUsageRow> rows;
  for (int day = 0; day < 30; ++day) {
    ModelUsageRow r;
    r.key = {kMonday + day * kMicrosPerDay, "m"};
    for (int i = 0; i < 10; ++i) {
      const double ms = (day >= 23 ? 2000.0 : 1000.0) + i * 10;
      r.bucket.generation_times.add(ms);
      ++r.bucket.generation_time_count;
      r.bucket.generation_time_sum += static_cast<int64_t>(ms);
    }
    rows.push_back(r);
  }
  const ModelUsageStats s =
      ModelAnalytics::compute_stats(window, "m", rows, {}, {}, ModelAnalyticsConfig{});
  EXPECT_EQ(s.recent_timed, 70);
  EXPECT_EQ(s.earlier_timed, 230);
  // Exact p95s: 2090 ms of days 23-29, 1090 ms before; each within DDSketch's 1%.
  EXPECT_NEAR(*s.recent_p95_generation_time_ms, 2090, 2090 * 0.01);
  EXPECT_NEAR(*s.earlier_p95_generation_time_ms, 1090, 1090 * 0.01);
}

// The recommendations on a real store: a fleet with one model of each case.
class ModelRecommendationsTest : public ::testing::Test {
 protected:
  static constexpr int64_t kNow = kMonday + 35 * kMicrosPerDay;

  void SetUp() override {
    std::vector<GenerationEvent> events;
    auto use = [&](int64_t t, const std::string& checkpoint, const std::string& params,
                   bool success) {
      GenerationEvent request = make_event(GenerationEventType::kRequest, t);
      request.model_checkpoint = checkpoint;
      request.params_json = params;
      events.push_back(request);
      GenerationEvent completion = make_event(GenerationEventType::kCompletion, t + 1'000'000);
      completion.generation_id = request.generation_id;
      completion.model_checkpoint = checkpoint;
      completion.success = success;
      completion.generation_time_ms = 4000;
      completion.gpu_memory_mb = 8000;
      events.push_back(completion);
    };
    const int64_t start = kNow - 30 * kMicrosPerDay;
    for (int day = 0; day < 30; ++day) {
      const int64_t midnight = start + day * kMicrosPerDay;
      // "busy": 6 uses every afternoon, always successful, with the LoRA "styler".
      for (int i = 0; i < 6; ++i) {
        use(midnight + 14 * kMicrosPerHour + i * 60'000'000, "busy", R"({"lora":"styler"})", true);
      }
      // "broken": 2 uses a day, 1 success in 10.
      for (int i = 0; i < 2; ++i)
        use(midnight + 9 * kMicrosPerHour + i, "broken", "{}", (day * 2 + i) % 10 == 0);
    }
    // "shaky": 2 failures of 3: no evidence of a low success rate.
    for (int i = 0; i < 3; ++i) use(kNow - kMicrosPerDay + i, "shaky", "{}", i == 0);
    // "stale": used 40 days ago, not since.
    use(kNow - 40 * kMicrosPerDay, "stale", "{}", true);
    std::vector<uint8_t> inserted;
    store_.write(events, &inserted);

    std::vector<ModelRecord> records(4);
    records[0].model_id = "on_disk";  // never used, 7 GB
    records[0].model_kind = "checkpoint";
    records[0].size_bytes = int64_t{7} << 30;
    records[0].first_seen_us = kNow - 60 * kMicrosPerDay;
    records[1].model_id = "styler";  // the LoRA "busy" uses, whose base is "xl_base"
    records[1].model_kind = "lora";
    records[1].base_model = "xl_base";
    records[2].model_id = "xl_base";  // never used itself, but a LoRA in use needs it
    records[2].model_kind = "checkpoint";
    records[2].size_bytes = int64_t{6} << 30;
    records[2].first_seen_us = kNow - 60 * kMicrosPerDay;
    records[3].model_id = "resident";  // never used, but loaded now
    records[3].first_seen_us = kNow - 60 * kMicrosPerDay;
    for (ModelRecord& r : records) r.registered_us = kNow - 60 * kMicrosPerDay;
    store_.register_models(records);

    ModelEvent load;
    load.event_id = random_uuid();
    load.event_type = ModelEventType::kLoad;
    load.model_id = "resident";
    load.timestamp_us = kNow - kMicrosPerDay;
    load.duration_ms = 3000;
    load.gpu_memory_mb = 5000;
    load.worker_id = "gpu-0";
    std::vector<ModelEvent> model_events = {load};
    store_.write(model_events, &inserted);
  }

  TempDir dir_;
  SqliteStore store_{dir_.path()};
  ModelAnalytics analytics_{store_, ModelAnalyticsConfig{}};
  const TimeWindow window_{kNow - 30 * kMicrosPerDay, kNow};
};

TEST_F(ModelRecommendationsTest, CleanupNamesTheUnusedButNeverALoadedModelOrANeededBase) {
  const ModelRecommendations r =
      analytics_.recommendations(window_, RecommendationKind::kCleanup, std::nullopt, kNow);
  std::map<std::string, const CleanupRecommendation*> named;
  for (const CleanupRecommendation& c : r.cleanup) named[c.model_id] = &c;
  EXPECT_TRUE(named.contains("on_disk"));
  EXPECT_TRUE(named.contains("stale"));
  EXPECT_TRUE(named.contains("broken"));  // 6 of 60: the upper bound is far under 50%
  EXPECT_FALSE(named.contains("resident")) << "loaded on gpu-0";
  EXPECT_FALSE(named.contains("xl_base")) << "the base of the LoRA styler, in use";
  EXPECT_FALSE(named.contains("busy"));
  EXPECT_FALSE(named.contains("styler"));
  EXPECT_FALSE(named.contains("shaky")) << "2 failures of 3 is not evidence";
  EXPECT_FALSE(r.schedule);
  EXPECT_TRUE(r.preload.empty() && r.performance.empty());

  const CleanupRecommendation& disk = *named.at("on_disk");
  EXPECT_EQ(disk.space_saved_bytes, int64_t{7} << 30);
  // Never used in 30 days of exposure, P(no use in the next 30) under the
  // fleet's Gamma-Poisson: about one half, more for a spread-out fleet.
  EXPECT_GT(disk.confidence, 0.5);
  EXPECT_LE(disk.confidence, 1.0);
  EXPECT_EQ(disk.priority, disk.confidence >= 0.8 ? "high" : "medium");  // 7 GB
  EXPECT_NE(disk.reasons.at(0).find("never used"), std::string::npos);
  int64_t total = 0;
  for (const CleanupRecommendation& c : r.cleanup) {
    total += c.space_saved_bytes;
    EXPECT_GE(c.confidence, 0.0);
    EXPECT_LE(c.confidence, 1.0);
    EXPECT_FALSE(c.reasons.empty());
  }
  EXPECT_EQ(r.reclaimable_bytes, total);
  // "broken" is used every day: named for its success rate alone, with the
  // probability that its true rate is under 50% (6 of 60: nearly certain).
  ASSERT_EQ(named.at("broken")->reasons.size(), 1u);
  EXPECT_NE(named.at("broken")->reasons[0].find("success rate"), std::string::npos);
  EXPECT_GT(named.at("broken")->confidence, 0.99);
}

TEST_F(ModelRecommendationsTest,
       PreloadNamesTheBusySuccessfulModelWithItsHoursAndABudgetedSchedule) {
  const ModelRecommendations r =
      analytics_.recommendations(window_, RecommendationKind::kPreload, 16.0, kNow);
  ASSERT_FALSE(r.preload.empty());
  EXPECT_EQ(r.preload[0].model_id, "busy");
  for (const PreloadRecommendation& p : r.preload) {
    EXPECT_NE(p.model_id, "broken");  // success under 90%
  }
  const PreloadRecommendation& busy = r.preload[0];
  ASSERT_EQ(busy.peak_hours.size(), 1u);
  EXPECT_EQ(busy.peak_hours[0], 14);
  ASSERT_TRUE(busy.next_use);
  EXPECT_EQ((busy.next_use->median_us / kMicrosPerHour) % 24, 14) << "next use in the 14:00 hour";
  EXPECT_GE(busy.next_use->median_us, kNow);
  EXPECT_FALSE(busy.keep_loaded_hours.empty());
  ASSERT_TRUE(r.schedule);
  EXPECT_DOUBLE_EQ(r.schedule->budget_mb, 16.0 * 1024);
  ASSERT_EQ(r.schedule->hours.size(), static_cast<size_t>(kHoursPerWeek));
  for (const PreloadSchedule::Hour& h : r.schedule->hours) EXPECT_LE(h.vram_mb, 16.0 * 1024);
  EXPECT_TRUE(r.cleanup.empty());
}

TEST_F(ModelRecommendationsTest, PerformanceFindsTheLowSuccessModelAndTiesItToTheFile) {
  const ModelRecommendations r =
      analytics_.recommendations(window_, RecommendationKind::kPerformance, std::nullopt, kNow);
  // "broken" (6 of 60) and "shaky" (1 of 3: the Wilson upper bound, 79%, is
  // under 80%); nothing else: every time is 4 s.
  ASSERT_EQ(r.performance.size(), 2u);
  EXPECT_EQ(r.performance[0].model_id, "broken");
  EXPECT_EQ(r.performance[1].model_id, "shaky");
  for (const PerformanceRecommendation& p : r.performance) {
    EXPECT_EQ(p.issue, "low_success");
    EXPECT_NE(p.suggestion.find("model file"), std::string::npos);
  }
}

TEST_F(ModelRecommendationsTest, UsageKnowsTheInventoryAndAnUnknownModelIsNotFound) {
  const ModelUsageReport report = analytics_.usage(window_);
  std::set<std::string> ids;
  for (const ModelUsageStats& s : report.models) ids.insert(s.model_id);
  for (const char* id :
       {"busy", "styler", "broken", "shaky", "stale", "on_disk", "xl_base", "resident"}) {
    EXPECT_TRUE(ids.contains(id)) << id;
  }
  EXPECT_EQ(report.models.front().model_id, "busy");  // most uses first
  const ModelUsageStats resident = analytics_.usage(window_, "resident");
  EXPECT_EQ(resident.loaded_on, std::vector<std::string>{"gpu-0"});
  EXPECT_EQ(resident.loads, 1);
  EXPECT_NEAR(*resident.p50_load_time_ms, 3000, 30);  // DDSketch: 1%
  const ModelUsageStats styler = analytics_.usage(window_, "styler");
  EXPECT_EQ(styler.uses, 180);
  EXPECT_EQ(styler.model_kind, "lora");  // registered
  EXPECT_THROW(analytics_.usage(window_, "nothing"), NotFound);
}

TEST_F(ModelRecommendationsTest, SimulateReplaysEveryRequestUnderEveryPolicy) {
  const ModelSimulationReport s = analytics_.simulate(window_, 16.0);
  EXPECT_EQ(s.requests, 30 * 8 + 3);  // "stale" is before the window
  std::set<std::string> policies;
  for (const PolicyResult& p : s.result.policies) {
    policies.insert(p.policy);
    EXPECT_EQ(p.warm_hits + p.cold_starts, p.uses) << p.policy;
  }
  for (const char* name : {"ours", "lru", "lfu", "keep_alive_5m", "belady", "actual"}) {
    EXPECT_TRUE(policies.contains(name)) << name;
  }
}

}  // namespace
}  // namespace genalytics
