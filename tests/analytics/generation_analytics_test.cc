// Every generation endpoint against an exact computation over the raw
// events of generated traffic: counts and sums exactly, percentiles within
// the sketch's 1% (plus rounding to whole milliseconds).
#include "analytics/generation_analytics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "demo/traffic_generator.h"
#include "event/time.h"
#include "pipeline/batch_writer.h"
#include "store/sqlite_store.h"
#include "testing/fixed_times.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::kNowUs;

// Exact statistics of a set of events, computed the slow, obvious way.
struct ExactGenerationStats {
  int64_t requests = 0, successes = 0, failures = 0, cancellations = 0, images = 0;
  std::vector<int64_t> durations;  // completions carrying duration_ms
  int64_t queue_wait_sum = 0, queue_wait_count = 0, generation_time_sum = 0, generation_time_count = 0;
  std::set<std::string> users;

  void add(const GenerationEvent& e) {
    if (e.user_id) users.insert(*e.user_id);
    switch (e.event_type) {
      case GenerationEventType::kRequest: ++requests; break;
      case GenerationEventType::kCancellation: ++cancellations; break;
      case GenerationEventType::kStart: break;
      case GenerationEventType::kCompletion:
        if (*e.success) {
          ++successes;
          images += e.batch_size.value_or(1);
        } else {
          ++failures;
        }
        if (e.duration_ms) durations.push_back(*e.duration_ms);
        if (e.queue_wait_time_ms) {
          queue_wait_sum += *e.queue_wait_time_ms;
          ++queue_wait_count;
        }
        if (e.generation_time_ms) {
          generation_time_sum += *e.generation_time_ms;
          ++generation_time_count;
        }
        break;
    }
  }
  int64_t completions() const { return successes + failures; }
  double quantile(double q) {
    std::sort(durations.begin(), durations.end());
    return static_cast<double>(durations[static_cast<size_t>(q * static_cast<double>(durations.size() - 1))]);
  }
};

// Within the sketch's 1%, plus the rounding to whole milliseconds.
void expect_rounded_quantile(const std::optional<double>& reported, double exact) {
  ASSERT_TRUE(reported.has_value());
  EXPECT_LE(std::abs(*reported - exact), exact * 0.01 + 0.5) << "reported " << *reported << ", exact " << exact;
}

double mean(int64_t sum, int64_t count) { return static_cast<double>(sum) / static_cast<double>(count); }

// Counts, sums and distinct users exactly; ratios and averages to the last
// bit (results are unrounded); percentiles within the sketch's 1%.
void expect_matches(const GenerationSummary& got, ExactGenerationStats exact,
                    const std::string& where) {
  SCOPED_TRACE(where);
  EXPECT_EQ(got.total_requests, exact.requests);
  EXPECT_EQ(got.successful_generations, exact.successes);
  EXPECT_EQ(got.failed_generations, exact.failures);
  EXPECT_EQ(got.cancelled_generations, exact.cancellations);
  EXPECT_EQ(got.completions(), exact.completions());
  EXPECT_EQ(got.total_images_generated, exact.images);
  EXPECT_EQ(got.unique_users, exact.users.size());
  if (exact.completions() == 0) {
    EXPECT_FALSE(got.success_rate.has_value());
  } else {
    ASSERT_TRUE(got.success_rate.has_value());
    EXPECT_DOUBLE_EQ(*got.success_rate, mean(exact.successes, exact.completions()));
  }
  if (exact.durations.empty()) {
    EXPECT_FALSE(got.p95_duration_ms.has_value());
    EXPECT_FALSE(got.avg_duration_ms.has_value());
    return;
  }
  int64_t sum = 0;
  for (int64_t d : exact.durations) sum += d;
  ASSERT_TRUE(got.avg_duration_ms && got.avg_queue_wait_ms && got.avg_generation_time_ms);
  EXPECT_DOUBLE_EQ(*got.avg_duration_ms, mean(sum, static_cast<int64_t>(exact.durations.size())));
  EXPECT_DOUBLE_EQ(*got.avg_queue_wait_ms, mean(exact.queue_wait_sum, exact.queue_wait_count));
  EXPECT_DOUBLE_EQ(*got.avg_generation_time_ms, mean(exact.generation_time_sum, exact.generation_time_count));
  expect_rounded_quantile(got.p50_duration_ms, exact.quantile(0.50));
  expect_rounded_quantile(got.p95_duration_ms, exact.quantile(0.95));
  expect_rounded_quantile(got.p99_duration_ms, exact.quantile(0.99));
}

class GenerationAnalyticsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    store_ = new SqliteStore(dir_->path());
    DemoOptions options;
    options.days = 4;
    options.end_us = kNowUs;
    options.mean_generations_per_hour = 40;
    options.users = 150;
    BatchWriter writer(store_, {});
    events_ = new std::vector<GenerationEvent>();
    generate_demo_traffic(options, 5000, [&](std::vector<GenerationEvent>&& batch) {
      events_->insert(events_->end(), batch.begin(), batch.end());
      ASSERT_TRUE(writer.write(std::move(batch)).ok);
    });
  }
  static void TearDownTestSuite() {
    delete store_;
    delete dir_;
    delete events_;
  }

  template <typename Filter>
  static ExactGenerationStats exact(const TimeWindow& w, Filter&& keep) {
    ExactGenerationStats result;
    for (const auto& e : *events_) {
      if (e.timestamp_us >= w.start_us && e.timestamp_us < w.end_us && keep(e)) result.add(e);
    }
    return result;
  }
  static ExactGenerationStats exact(const TimeWindow& w) {
    return exact(w, [](const GenerationEvent&) { return true; });
  }

  // Starts at 05:00 two days ago, ends at 17:00 yesterday: mid-day at both ends.
  static TimeWindow mid_day_window() {
    const int64_t today = floor_day(kNowUs);
    return TimeWindow{today - 2 * kMicrosPerDay + 5 * kMicrosPerHour,
                      today - kMicrosPerDay + 17 * kMicrosPerHour};
  }

  static testing::TempDir* dir_;
  static SqliteStore* store_;
  static std::vector<GenerationEvent>* events_;
};

testing::TempDir* GenerationAnalyticsTest::dir_ = nullptr;
SqliteStore* GenerationAnalyticsTest::store_ = nullptr;
std::vector<GenerationEvent>* GenerationAnalyticsTest::events_ = nullptr;

TEST_F(GenerationAnalyticsTest, OverviewOfLastDaysMatchesExact) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = resolve_window(WindowParams{"2", {}, {}}, kNowUs);
  GenerationOverview got = analytics.overview(w);
  expect_matches(got.summary, exact(w), "days=2");
  EXPECT_EQ(got.window.start_us, w.start_us);
  EXPECT_EQ(got.window.hours(), 48);
  EXPECT_GT(got.summary.total_requests, 1000);
}

TEST_F(GenerationAnalyticsTest, OverviewOfMidDayWindowMatchesExact) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = mid_day_window();
  expect_matches(analytics.overview(w).summary, exact(w), "mid-day window");
}

TEST_F(GenerationAnalyticsTest, HourlyTrendsMatchExactPerHourWithEmptyHoursAsZeros) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = mid_day_window();
  GenerationTrends got = analytics.trends(w, TrendInterval::kHourly);
  EXPECT_EQ(got.interval, TrendInterval::kHourly);
  ASSERT_EQ(static_cast<int64_t>(got.points.size()), w.hours());
  for (int64_t i = 0; i < w.hours(); ++i) {
    const TimeWindow hour{w.start_us + i * kMicrosPerHour, w.start_us + (i + 1) * kMicrosPerHour};
    EXPECT_EQ(got.points[i].start_us, hour.start_us);
    expect_matches(got.points[i].summary, exact(hour), "hour " + std::to_string(i));
  }
}

TEST_F(GenerationAnalyticsTest, DailyTrendsClipPartialDaysToTheWindow) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = mid_day_window();
  GenerationTrends got = analytics.trends(w, TrendInterval::kDaily);
  ASSERT_EQ(got.points.size(), 2u);
  const int64_t first_day = floor_day(w.start_us);
  expect_matches(got.points[0].summary, exact(TimeWindow{w.start_us, first_day + kMicrosPerDay}), "day 1");
  expect_matches(got.points[1].summary, exact(TimeWindow{first_day + kMicrosPerDay, w.end_us}), "day 2");
  EXPECT_EQ(got.points[0].start_us, first_day);
  EXPECT_EQ(got.points[1].start_us, first_day + kMicrosPerDay);
}

TEST_F(GenerationAnalyticsTest, TrendsOfAnEmptyWindowAreZeros) {
  GenerationAnalytics analytics(*store_);
  const int64_t past = floor_day(kNowUs) - 400 * kMicrosPerDay;
  GenerationTrends got = analytics.trends(TimeWindow{past, past + 3 * kMicrosPerHour}, TrendInterval::kHourly);
  ASSERT_EQ(got.points.size(), 3u);
  for (const TrendPoint& p : got.points) {
    EXPECT_EQ(p.summary.total_requests, 0);
    EXPECT_EQ(p.summary.unique_users, 0u);
    EXPECT_FALSE(p.summary.success_rate.has_value());
    EXPECT_FALSE(p.summary.p50_duration_ms.has_value());
  }
}

TEST_F(GenerationAnalyticsTest, UserMatchesExactWithBreakdownModelsAndLastEvent) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = resolve_window(WindowParams{"4", {}, {}}, kNowUs);
  const std::string user(kDemoUserId);
  auto mine = [&](const GenerationEvent& e) { return e.user_id == user; };
  UserGenerations got = analytics.user(std::string("550E8400-E29B-41D4-A716-446655440000"), w);
  EXPECT_EQ(got.user_id, user);
  ExactGenerationStats want = exact(w, mine);
  ASSERT_GT(want.completions(), 5);
  expect_matches(got.summary, want, "demo user");

  std::map<std::string, int64_t> failures, models;
  int64_t last = 0;
  for (const auto& e : *events_) {
    if (!mine(e) || e.timestamp_us < w.start_us || e.timestamp_us >= w.end_us) continue;
    last = std::max(last, e.timestamp_us);
    if (e.is_failed_completion()) ++failures[e.error_type.value_or("unknown")];
    if (e.is_completion() && e.model_checkpoint) ++models[*e.model_checkpoint];
  }
  // By count desc, ties by name.
  auto sorted = [](const std::map<std::string, int64_t>& counts) {
    std::vector<std::pair<std::string, int64_t>> out(counts.begin(), counts.end());
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    return out;
  };
  auto listed = [](const std::vector<NamedCount>& counts) {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const NamedCount& c : counts) out.emplace_back(c.name, c.count);
    return out;
  };
  EXPECT_EQ(listed(got.failures_by_error_type), sorted(failures));
  EXPECT_EQ(listed(got.completions_by_model), sorted(models));
  EXPECT_EQ(got.last_event_us, last);
}

TEST_F(GenerationAnalyticsTest, UnknownUserGetsZerosAndBadIdIsRejected) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = resolve_window(WindowParams{}, kNowUs);
  UserGenerations got = analytics.user("00000000-0000-4000-8000-000000000000", w);
  EXPECT_EQ(got.summary.total_requests, 0);
  EXPECT_FALSE(got.last_event_us.has_value());
  EXPECT_TRUE(got.failures_by_error_type.empty());
  EXPECT_TRUE(got.completions_by_model.empty());
  EXPECT_THROW(analytics.user("not-a-uuid", w), InvalidArgument);
}

TEST_F(GenerationAnalyticsTest, ModelsMatchExactPerModelOrderedByCompletions) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = mid_day_window();
  ModelReport got = analytics.models(w);
  std::set<std::string> expected_models;
  for (const auto& e : *events_) {
    if (e.model_checkpoint && e.timestamp_us >= w.start_us && e.timestamp_us < w.end_us) {
      expected_models.insert(*e.model_checkpoint);
    }
  }
  ASSERT_EQ(got.models.size(), expected_models.size());
  int64_t previous = INT64_MAX;
  for (const ModelStats& model : got.models) {
    const std::string& name = model.model_checkpoint;
    ExactGenerationStats want =
        exact(w, [&](const GenerationEvent& e) { return e.model_checkpoint == name; });
    want.users.clear();  // read without users
    expect_matches(model.summary, want, name);
    EXPECT_LE(model.summary.completions(), previous);
    previous = model.summary.completions();
  }
}

TEST_F(GenerationAnalyticsTest, FailuresMatchExactPerErrorTypeAndPerDay) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = mid_day_window();
  FailureReport got = analytics.failures(w);
  struct PerType {
    int64_t count = 0, duration_sum = 0;
    std::set<std::string> users, messages;
  };
  std::map<std::string, PerType> want;
  for (const auto& e : *events_) {
    if (!e.is_failed_completion() || e.timestamp_us < w.start_us || e.timestamp_us >= w.end_us) continue;
    PerType& t = want[e.error_type.value_or("unknown")];
    ++t.count;
    t.duration_sum += *e.duration_ms;
    if (e.user_id) t.users.insert(*e.user_id);
    if (e.error_message) t.messages.insert(*e.error_message);
  }
  ASSERT_EQ(got.error_types.size(), want.size());
  int64_t previous = INT64_MAX;
  for (const ErrorTypeStats& type : got.error_types) {
    const PerType& expected = want.at(type.error_type);
    EXPECT_EQ(type.count, expected.count);
    ASSERT_TRUE(type.avg_duration_ms.has_value());
    EXPECT_DOUBLE_EQ(*type.avg_duration_ms, mean(expected.duration_sum, expected.count));
    EXPECT_EQ(type.affected_users, expected.users.size());
    EXPECT_EQ(type.sample_messages.size(), std::min<size_t>(5, expected.messages.size()));
    for (const auto& m : type.sample_messages) EXPECT_TRUE(expected.messages.count(m)) << m;
    EXPECT_LE(type.count, previous);
    previous = type.count;
  }
  ASSERT_EQ(got.failure_trends.size(), 2u);
  const int64_t first_day = floor_day(w.start_us);
  for (int d = 0; d < 2; ++d) {
    const TimeWindow day{std::max(w.start_us, first_day + d * kMicrosPerDay),
                         std::min(w.end_us, first_day + (d + 1) * kMicrosPerDay)};
    ExactGenerationStats e = exact(day);
    const DailyFailures& point = got.failure_trends[d];
    EXPECT_EQ(point.day_us, first_day + d * kMicrosPerDay);
    EXPECT_EQ(point.failures, e.failures);
    EXPECT_EQ(point.completions, e.completions());
    ASSERT_TRUE(point.failure_rate.has_value());
    EXPECT_DOUBLE_EQ(*point.failure_rate, mean(e.failures, e.completions()));
  }
  const ExactGenerationStats all = exact(w);
  EXPECT_EQ(got.total_failures, all.failures);
  EXPECT_EQ(got.total_completions, all.completions());
  ASSERT_TRUE(got.failure_rate.has_value());
  EXPECT_DOUBLE_EQ(*got.failure_rate, mean(all.failures, all.completions()));
}

TEST_F(GenerationAnalyticsTest, PeakHoursAverageOverEveryHourOfTheWindow) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = resolve_window(WindowParams{"3", {}, {}}, kNowUs);
  PeakHours got = analytics.peak_hours(w);
  double best = -1;
  int best_hour = -1;
  for (int h = 0; h < 24; ++h) {
    ExactGenerationStats e =
        exact(w, [&](const GenerationEvent& ev) { return hour_of_day(ev.timestamp_us) == h; });
    const HourOfDayStats& hour = got.hours[h];
    SCOPED_TRACE(h);
    // days=3: every hour of the day occurs exactly 3 times, traffic or not.
    ASSERT_TRUE(hour.avg_requests.has_value());
    EXPECT_DOUBLE_EQ(*hour.avg_requests, static_cast<double>(e.requests) / 3.0);
    EXPECT_EQ(hour.total_requests, e.requests);
    if (!e.durations.empty()) expect_rounded_quantile(hour.p95_duration_ms, e.quantile(0.95));
    if (static_cast<double>(e.requests) / 3.0 > best) {
      best = static_cast<double>(e.requests) / 3.0;
      best_hour = h;
    }
  }
  EXPECT_EQ(got.peak_hour, best_hour);
  for (int d = 0; d < 7; ++d) {
    for (int h = 0; h < 24; ++h) {
      int slots = 0;
      for (int64_t t = w.start_us; t < w.end_us; t += kMicrosPerHour) {
        slots += day_of_week(t) == d && hour_of_day(t) == h;
      }
      const std::optional<double>& average = got.weekly_avg_requests[d][h];
      if (slots == 0) {
        EXPECT_FALSE(average.has_value());
        continue;
      }
      ExactGenerationStats e = exact(w, [&](const GenerationEvent& ev) {
        return day_of_week(ev.timestamp_us) == d && hour_of_day(ev.timestamp_us) == h;
      });
      ASSERT_TRUE(average.has_value());
      EXPECT_DOUBLE_EQ(*average, static_cast<double>(e.requests) / slots);
    }
  }
}

TEST(WindowTest, DaysCoverWholeHoursEndingWithTheCurrentHour) {
  const int64_t now = 1'750'000'000'000'000 + 1234;
  TimeWindow w = resolve_window(WindowParams{"7", {}, {}}, now);
  EXPECT_EQ(w.end_us, floor_hour(now) + kMicrosPerHour);
  EXPECT_EQ(w.hours(), 7 * 24);
  EXPECT_EQ(resolve_window(WindowParams{}, now).hours(), 7 * 24);
}

TEST(WindowTest, StartAndEndMustBeHourAlignedAndOrdered) {
  const int64_t now = 1'750'000'000'000'000;
  TimeWindow w = resolve_window(WindowParams{{}, "2025-01-15T10:00:00Z", "2025-01-16T03:00:00+00:00"}, now);
  EXPECT_EQ(w.hours(), 17);
  auto rejects = [&](WindowParams p, const std::string& parameter) {
    try {
      resolve_window(p, now);
      ADD_FAILURE() << "accepted";
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.parameter(), parameter) << e.what();
    }
  };
  rejects({{}, "2025-01-15T10:30:00Z", "2025-01-16T00:00:00Z"}, "start");
  rejects({{}, "2025-01-15T10:00:00Z", "2025-01-15T10:00:00Z"}, "end");
  rejects({{}, "2025-01-15T10:00:00Z", {}}, "end");
  rejects({{}, "yesterday", "2025-01-16T00:00:00Z"}, "start");
  rejects({"0", {}, {}}, "days");
  rejects({"7x", {}, {}}, "days");
  rejects({"-1", {}, {}}, "days");
  rejects({"3", "2025-01-15T10:00:00Z", "2025-01-16T00:00:00Z"}, "days");
}

}  // namespace
}  // namespace genalytics
