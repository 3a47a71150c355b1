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
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

namespace json = boost::json;

// Exact statistics of a set of events, computed the slow, obvious way.
struct Exact {
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

double number(const json::value& v) { return v.to_number<double>(); }

void expect_quantile(const json::value& reported, double exact) {
  ASSERT_FALSE(reported.is_null());
  EXPECT_LE(std::abs(number(reported) - exact), exact * 0.01 + 0.5)
      << "reported " << number(reported) << ", exact " << exact;
}

void expect_matches(const json::object& got, Exact exact, const std::string& where) {
  SCOPED_TRACE(where);
  EXPECT_EQ(got.at("total_requests").as_int64(), exact.requests);
  EXPECT_EQ(got.at("successful_generations").as_int64(), exact.successes);
  EXPECT_EQ(got.at("failed_generations").as_int64(), exact.failures);
  EXPECT_EQ(got.at("cancelled_generations").as_int64(), exact.cancellations);
  EXPECT_EQ(got.at("total_images_generated").as_int64(), exact.images);
  EXPECT_EQ(static_cast<size_t>(number(got.at("unique_users"))), exact.users.size());
  if (exact.completions() == 0) {
    EXPECT_TRUE(got.at("success_rate_pct").is_null());
    EXPECT_TRUE(got.at("success_rate").is_null());
  } else {
    const double rate = static_cast<double>(exact.successes) / static_cast<double>(exact.completions());
    EXPECT_NEAR(number(got.at("success_rate_pct")), 100.0 * rate, 0.005);
    EXPECT_NEAR(number(got.at("success_rate")), rate, 0.00005);
  }
  if (exact.durations.empty()) {
    EXPECT_TRUE(got.at("p95_duration_ms").is_null());
    EXPECT_TRUE(got.at("avg_duration_ms").is_null());
    return;
  }
  double sum = 0;
  for (int64_t d : exact.durations) sum += static_cast<double>(d);
  EXPECT_NEAR(number(got.at("avg_duration_ms")), sum / static_cast<double>(exact.durations.size()), 0.5);
  EXPECT_NEAR(number(got.at("avg_queue_wait_ms")),
              static_cast<double>(exact.queue_wait_sum) / static_cast<double>(exact.queue_wait_count), 0.5);
  EXPECT_NEAR(number(got.at("avg_generation_time_ms")),
              static_cast<double>(exact.generation_time_sum) / static_cast<double>(exact.generation_time_count),
              0.5);
  expect_quantile(got.at("p50_duration_ms"), exact.quantile(0.50));
  expect_quantile(got.at("p95_duration_ms"), exact.quantile(0.95));
  expect_quantile(got.at("p99_duration_ms"), exact.quantile(0.99));
}

class GenerationAnalyticsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    store_ = new SqliteStore(dir_->path());
    DemoOptions options;
    options.days = 4;
    options.end_us = now_us();
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
  static Exact exact(const TimeWindow& w, Filter&& keep) {
    Exact result;
    for (const auto& e : *events_) {
      if (e.timestamp_us >= w.start_us && e.timestamp_us < w.end_us && keep(e)) result.add(e);
    }
    return result;
  }
  static Exact exact(const TimeWindow& w) {
    return exact(w, [](const GenerationEvent&) { return true; });
  }

  // Starts at 05:00 two days ago, ends at 17:00 yesterday: mid-day at both ends.
  static TimeWindow mid_day_window() {
    const int64_t today = floor_day(now_us());
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
  const TimeWindow w = resolve_window(WindowParams{"2", {}, {}}, now_us());
  json::object got = analytics.overview(w);
  expect_matches(got, exact(w), "days=2");
  EXPECT_EQ(got.at("window").as_object().at("hours").as_int64(), 48);
  EXPECT_GT(got.at("total_requests").as_int64(), 1000);
}

TEST_F(GenerationAnalyticsTest, OverviewOfMidDayWindowMatchesExact) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = mid_day_window();
  expect_matches(analytics.overview(w), exact(w), "mid-day window");
}

TEST_F(GenerationAnalyticsTest, HourlyTrendsMatchExactPerHourWithEmptyHoursAsZeros) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = mid_day_window();
  json::object got = analytics.trends(w, TrendInterval::kHourly);
  const json::array& points = got.at("data_points").as_array();
  ASSERT_EQ(static_cast<int64_t>(points.size()), w.hours());
  for (int64_t i = 0; i < w.hours(); ++i) {
    const TimeWindow hour{w.start_us + i * kMicrosPerHour, w.start_us + (i + 1) * kMicrosPerHour};
    const json::object& point = points[i].as_object();
    EXPECT_EQ(point.at("timestamp").as_string(), format_rfc3339_seconds(hour.start_us));
    expect_matches(point, exact(hour), "hour " + std::to_string(i));
  }
}

TEST_F(GenerationAnalyticsTest, DailyTrendsClipPartialDaysToTheWindow) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = mid_day_window();
  json::object got = analytics.trends(w, TrendInterval::kDaily);
  const json::array& points = got.at("data_points").as_array();
  ASSERT_EQ(points.size(), 2u);
  const int64_t first_day = floor_day(w.start_us);
  expect_matches(points[0].as_object(), exact(TimeWindow{w.start_us, first_day + kMicrosPerDay}), "day 1");
  expect_matches(points[1].as_object(), exact(TimeWindow{first_day + kMicrosPerDay, w.end_us}), "day 2");
  EXPECT_EQ(points[0].as_object().at("timestamp").as_string(), format_rfc3339_seconds(first_day));
}

TEST_F(GenerationAnalyticsTest, TrendsOfAnEmptyWindowAreZeros) {
  GenerationAnalytics analytics(*store_);
  const int64_t past = floor_day(now_us()) - 400 * kMicrosPerDay;
  json::object got = analytics.trends(TimeWindow{past, past + 3 * kMicrosPerHour}, TrendInterval::kHourly);
  const json::array& points = got.at("data_points").as_array();
  ASSERT_EQ(points.size(), 3u);
  for (const auto& p : points) {
    EXPECT_EQ(p.as_object().at("total_requests").as_int64(), 0);
    EXPECT_TRUE(p.as_object().at("success_rate").is_null());
  }
}

TEST_F(GenerationAnalyticsTest, UserMatchesExactWithBreakdownModelsAndLastEvent) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = resolve_window(WindowParams{"4", {}, {}}, now_us());
  const std::string user(kDemoUserId);
  auto mine = [&](const GenerationEvent& e) { return e.user_id == user; };
  json::object got = analytics.user(std::string("550E8400-E29B-41D4-A716-446655440000"), w);
  Exact want = exact(w, mine);
  ASSERT_GT(want.completions(), 5);
  expect_matches(got, want, "demo user");

  std::map<std::string, int64_t> failures, models;
  int64_t last = 0;
  for (const auto& e : *events_) {
    if (!mine(e) || e.timestamp_us < w.start_us || e.timestamp_us >= w.end_us) continue;
    last = std::max(last, e.timestamp_us);
    if (e.is_failed_completion()) ++failures[e.error_type.value_or("unknown")];
    if (e.is_completion() && e.model_checkpoint) ++models[*e.model_checkpoint];
  }
  std::map<std::string, int64_t> got_failures, got_models;
  for (const auto& f : got.at("failure_breakdown").as_array()) {
    got_failures[std::string(f.as_object().at("error_type").as_string())] = f.as_object().at("count").as_int64();
  }
  for (const auto& m : got.at("models_used").as_array()) {
    got_models[std::string(m.as_object().at("model_checkpoint").as_string())] =
        m.as_object().at("total_generations").as_int64();
  }
  EXPECT_EQ(got_failures, failures);
  EXPECT_EQ(got_models, models);
  EXPECT_EQ(got.at("last_generation_at").as_string(), format_rfc3339_micros(last));
}

TEST_F(GenerationAnalyticsTest, UnknownUserGetsZerosAndBadIdIsRejected) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = resolve_window(WindowParams{}, now_us());
  json::object got = analytics.user("00000000-0000-4000-8000-000000000000", w);
  EXPECT_EQ(got.at("total_requests").as_int64(), 0);
  EXPECT_TRUE(got.at("last_generation_at").is_null());
  EXPECT_TRUE(got.at("failure_breakdown").as_array().empty());
  EXPECT_THROW(analytics.user("not-a-uuid", w), InvalidArgument);
}

TEST_F(GenerationAnalyticsTest, ModelsMatchExactPerModelOrderedByCompletions) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = mid_day_window();
  json::object got = analytics.models(w);
  const json::array& models = got.at("models").as_array();
  std::set<std::string> expected_models;
  for (const auto& e : *events_) {
    if (e.model_checkpoint && e.timestamp_us >= w.start_us && e.timestamp_us < w.end_us) {
      expected_models.insert(*e.model_checkpoint);
    }
  }
  ASSERT_EQ(models.size(), expected_models.size());
  int64_t previous = INT64_MAX;
  for (const auto& m : models) {
    const json::object& model = m.as_object();
    const std::string name(model.at("model_checkpoint").as_string());
    Exact want = exact(w, [&](const GenerationEvent& e) { return e.model_checkpoint == name; });
    SCOPED_TRACE(name);
    EXPECT_EQ(model.at("total_generations").as_int64(), want.completions());
    EXPECT_EQ(model.at("successful_generations").as_int64(), want.successes);
    EXPECT_EQ(model.at("failed_generations").as_int64(), want.failures);
    EXPECT_NEAR(number(model.at("success_rate_pct")),
                100.0 * static_cast<double>(want.successes) / static_cast<double>(want.completions()), 0.005);
    expect_quantile(model.at("p50_duration_ms"), want.quantile(0.5));
    expect_quantile(model.at("p95_duration_ms"), want.quantile(0.95));
    expect_quantile(model.at("p99_duration_ms"), want.quantile(0.99));
    EXPECT_NEAR(number(model.at("avg_generation_time_ms")),
                static_cast<double>(want.generation_time_sum) / static_cast<double>(want.generation_time_count), 0.5);
    EXPECT_LE(model.at("total_generations").as_int64(), previous);
    previous = model.at("total_generations").as_int64();
  }
}

TEST_F(GenerationAnalyticsTest, FailuresMatchExactPerErrorTypeAndPerDay) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = mid_day_window();
  json::object got = analytics.failures(w);
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
  const json::array& types = got.at("error_types").as_array();
  ASSERT_EQ(types.size(), want.size());
  int64_t previous = INT64_MAX;
  for (const auto& t : types) {
    const json::object& type = t.as_object();
    const PerType& expected = want.at(std::string(type.at("error_type").as_string()));
    EXPECT_EQ(type.at("count").as_int64(), expected.count);
    EXPECT_NEAR(number(type.at("avg_duration_ms")),
                static_cast<double>(expected.duration_sum) / static_cast<double>(expected.count), 0.5);
    EXPECT_EQ(static_cast<size_t>(number(type.at("affected_users"))), expected.users.size());
    const json::array& samples = type.at("sample_messages").as_array();
    EXPECT_EQ(samples.size(), std::min<size_t>(5, expected.messages.size()));
    for (const auto& m : samples) EXPECT_TRUE(expected.messages.count(std::string(m.as_string())));
    EXPECT_LE(type.at("count").as_int64(), previous);
    previous = type.at("count").as_int64();
  }
  const json::array& trends = got.at("failure_trends").as_array();
  ASSERT_EQ(trends.size(), 2u);
  const int64_t first_day = floor_day(w.start_us);
  for (int d = 0; d < 2; ++d) {
    const TimeWindow day{std::max(w.start_us, first_day + d * kMicrosPerDay),
                         std::min(w.end_us, first_day + (d + 1) * kMicrosPerDay)};
    Exact e = exact(day);
    const json::object& point = trends[d].as_object();
    EXPECT_EQ(point.at("date").as_string(), format_date(first_day + d * kMicrosPerDay));
    EXPECT_EQ(point.at("failures").as_int64(), e.failures);
    EXPECT_EQ(point.at("completions").as_int64(), e.completions());
    EXPECT_NEAR(number(point.at("failure_rate")),
                static_cast<double>(e.failures) / static_cast<double>(e.completions()), 0.00005);
  }
}

TEST_F(GenerationAnalyticsTest, PeakHoursAverageOverEveryHourOfTheWindow) {
  GenerationAnalytics analytics(*store_);
  const TimeWindow w = resolve_window(WindowParams{"3", {}, {}}, now_us());
  json::object got = analytics.peak_hours(w);
  const json::array& hours = got.at("peak_hours").as_array();
  ASSERT_EQ(hours.size(), 24u);
  double best = -1;
  int best_hour = -1;
  for (int h = 0; h < 24; ++h) {
    Exact e = exact(w, [&](const GenerationEvent& ev) { return hour_of_day(ev.timestamp_us) == h; });
    const json::object& hour = hours[h].as_object();
    EXPECT_EQ(hour.at("hour_of_day").as_int64(), h);
    // days=3: every hour of the day occurs exactly 3 times, traffic or not.
    EXPECT_NEAR(number(hour.at("avg_requests")), static_cast<double>(e.requests) / 3.0, 0.0001);
    if (!e.durations.empty()) expect_quantile(hour.at("p95_duration_ms"), e.quantile(0.95));
    if (static_cast<double>(e.requests) / 3.0 > best) {
      best = static_cast<double>(e.requests) / 3.0;
      best_hour = h;
    }
  }
  EXPECT_EQ(got.at("peak_hour").as_int64(), best_hour);
  const json::array& matrix = got.at("day_of_week_matrix").as_array();
  ASSERT_EQ(matrix.size(), 7u);
  for (int d = 0; d < 7; ++d) {
    const json::array& row = matrix[d].as_object().at("avg_requests").as_array();
    ASSERT_EQ(row.size(), 24u);
    for (int h = 0; h < 24; ++h) {
      int slots = 0;
      for (int64_t t = w.start_us; t < w.end_us; t += kMicrosPerHour) {
        slots += day_of_week(t) == d && hour_of_day(t) == h;
      }
      if (slots == 0) {
        EXPECT_TRUE(row[h].is_null());
        continue;
      }
      Exact e = exact(w, [&](const GenerationEvent& ev) {
        return day_of_week(ev.timestamp_us) == d && hour_of_day(ev.timestamp_us) == h;
      });
      EXPECT_NEAR(number(row[h]), static_cast<double>(e.requests) / slots, 0.0001);
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
