// The JSON edge of analytics (server/analytics_json.h): field names and
// order, rounding in one place, every ratio as a fraction and a percentage,
// no number in exponent form. Analytics' figures themselves are tested in
// tests/analytics/.
#include "server/analytics_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cctype>

#include "demo/traffic_generator.h"
#include "event/json_writer.h"
#include "event/route_normalizer.h"
#include "event/time.h"
#include "event/uuid.h"
#include "store/sqlite_store.h"
#include "testing/fixed_times.h"
#include "testing/route_events.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::kNowUs;

TEST(AnalyticsJsonTest, RatesRoundToFourDecimalsAndPercentagesToTwo) {
  EXPECT_EQ(rounded_rate(0.913249), 0.9132);
  EXPECT_EQ(rounded_pct(0.913249), 91.32);
  EXPECT_EQ(rounded_rate(2.0 / 3.0), 0.6667);
  EXPECT_EQ(rounded_pct(2.0 / 3.0), 66.67);
  EXPECT_FALSE(rounded_rate(std::nullopt).has_value());
  EXPECT_FALSE(rounded_pct(std::nullopt).has_value());
}

TEST(AnalyticsJsonTest, OverviewPrintsTheSeedFieldsInOrderRoundedWithTheWindowLast) {
  GenerationOverview overview;
  overview.window = TimeWindow{kNowUs / kMicrosPerHour * kMicrosPerHour - 2 * kMicrosPerHour,
                               kNowUs / kMicrosPerHour * kMicrosPerHour};
  GenerationSummary& s = overview.summary;
  s.total_requests = 10;
  s.successful_generations = 7;
  s.failed_generations = 2;
  s.cancelled_generations = 1;
  s.success_rate = 7.0 / 9.0;
  s.avg_duration_ms = 1234.5;
  s.p50_duration_ms = 999.4;
  s.p95_duration_ms = 2000.6;
  s.unique_users = 3;
  s.total_images_generated = 8;
  EXPECT_EQ(serialize_json(to_json(overview)),
            R"({"total_requests":10,"successful_generations":7,"failed_generations":2,)"
            R"("cancelled_generations":1,"success_rate_pct":77.78,"success_rate":0.7778,)"
            R"("avg_duration_ms":1235,"p50_duration_ms":999,"p95_duration_ms":2001,)"
            R"("p99_duration_ms":null,"avg_queue_wait_ms":null,"avg_generation_time_ms":null,)"
            R"("unique_users":3,"total_images_generated":8,)"
            R"("window":{"start":"2025-01-31T10:00:00Z","end":"2025-01-31T12:00:00Z","hours":2}})");
}

TEST(AnalyticsJsonTest, PeakHoursRoundAveragesToFourDecimalsAndNameTheDays) {
  PeakHours peak;
  peak.window = TimeWindow{0, 3 * kMicrosPerDay};
  peak.peak_hour = 5;
  peak.hours[5].avg_requests = 10.0 / 3.0;
  peak.weekly_avg_requests[4][5] = 2.0 / 3.0;
  const boost::json::object got = to_json(peak);
  EXPECT_EQ(got.at("days").as_double(), 3.0);
  EXPECT_EQ(got.at("peak_hour").as_int64(), 5);
  const auto& hour = got.at("peak_hours").as_array()[5].as_object();
  EXPECT_EQ(hour.at("avg_requests").as_double(), 3.3333);
  EXPECT_TRUE(got.at("peak_hours").as_array()[4].as_object().at("avg_requests").is_null());
  const auto& thursday = got.at("day_of_week_matrix").as_array()[4].as_object();
  EXPECT_EQ(thursday.at("day_name").as_string(), "Thursday");
  EXPECT_EQ(thursday.at("avg_requests").as_array()[5].as_double(), 0.6667);
}

// Stored parameters that do not parse print as an empty object, as before.
TEST(AnalyticsJsonTest, PatternParametersPrintAsTheirObject) {
  RoutePatterns patterns{TimeWindow{0, kMicrosPerHour}, "/a", {}};
  patterns.patterns.push_back({"GET", R"({"sort":"new"})", 3, 10.5, 12.4, 2});
  patterns.patterns.push_back({"GET", "not json", 1, std::nullopt, std::nullopt, 0});
  const std::string text = serialize_json(to_json(patterns));
  EXPECT_NE(text.find(R"({"method":"GET","query_params_normalized":{"sort":"new"},"total_requests":3,)"
                      R"("avg_duration_ms":10.5,"p95_duration_ms":12,"unique_users":2})"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"("query_params_normalized":{},"total_requests":1,"avg_duration_ms":null)"),
            std::string::npos)
      << text;
}

TEST(AnalyticsJsonTest, SimulationOfAHandComputedTraceRoundsItsRates) {
  testing::TempDir dir;
  SqliteStore store(dir.path());
  const int64_t t0 = kNowUs / kMicrosPerHour * kMicrosPerHour - 3 * kMicrosPerHour;
  const int64_t s = kMicrosPerSecond;
  std::vector<RouteEvent> trace = {
      testing::make_route_event(t0, "/a", 200, 100),            // miss: fills /a
      testing::make_route_event(t0 + 100 * s, "/a", 200, 110),  // hit: saves 110
      testing::make_route_event(t0 + 400 * s, "/a", 200, 120),  // miss: refills
      testing::make_route_event(t0 + 500 * s, "/a", 200, 130),  // hit: saves 130
      testing::make_route_event(t0 + 20 * s, "/b", 200, 2500),  // not in the plan
  };
  std::vector<uint8_t> inserted;
  store.write(trace, &inserted);
  RouteGroupStats a;
  a.route = "/a";
  a.method = "GET";
  a.query_params_normalized_json = "{}";
  const TimeWindow window{t0 - kMicrosPerHour, t0 + 2 * kMicrosPerHour};
  const boost::json::object got = to_json(CachePlanner(store).simulate(window, {a}, CachePlanOptions{}, 300));
  // 240 of 2960 ms: 8.11%; the window without its hours.
  EXPECT_EQ(serialize_json(got.at("total")),
            R"({"requests":5,"hits":2,"hit_rate":0.4,"hit_rate_pct":40,"latency_saved_ms":240,)"
            R"("latency_saved_rate":0.0811,"latency_saved_pct":8.11,"request_time_ms":2960})");
  EXPECT_EQ(got.at("window").as_object().size(), 2u);
  EXPECT_EQ(serialize_json(got.at("routes")),
            R"([{"route":"/a","method":"GET","query_params_normalized":{},"cacheable_requests":4,)"
            R"("cacheable":true,"hits":2,"hit_rate":0.5,"hit_rate_pct":50,"latency_saved_ms":240,)"
            R"("latency_saved_rate":0.0811,"latency_saved_pct":8.11}])");
}

// ---- On a week of demo traffic ----

class AnalyticsJsonDemoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>();
    store_ = std::make_unique<SqliteStore>(dir_->path());
    DemoOptions options;
    options.days = 7;
    options.end_us = kNowUs;
    std::vector<uint8_t> inserted;
    generate_demo_route_traffic(options, 20'000, [&](std::vector<RouteEvent>&& batch) {
      for (RouteEvent& event : batch) normalize_route_event(&event, RouteNormalization{});
      store_->write(batch, &inserted);
    });
    generate_demo_traffic(options, 20'000, [&](std::vector<GenerationEvent>&& batch) {
      store_->write(batch, &inserted);
    });
  }
  static void TearDownTestSuite() {
    store_.reset();
    dir_.reset();
  }
  static const Store& store() { return *store_; }
  static TimeWindow window() { return resolve_window(WindowParams{"7", {}, {}}, kNowUs); }

 private:
  inline static std::unique_ptr<testing::TempDir> dir_;
  inline static std::unique_ptr<SqliteStore> store_;
};

TEST_F(AnalyticsJsonDemoTest, CachePlanCarriesTheSeedFieldsOfEachSystem) {
  CachePlanOptions options;
  const CachePlanner planner(store());
  auto absolute = cache_plan_json(window(), planner.plan(window(), options), options.mode);
  EXPECT_EQ(absolute.at("mode").as_string(), "absolute");
  EXPECT_EQ(absolute.at("window").as_object().at("hours").as_int64(), 168);
  ASSERT_FALSE(absolute.at("routes").as_array().empty());
  for (const auto& r : absolute.at("routes").as_array()) {
    for (const char* f : {"route", "method", "query_params_normalized", "avg_hourly_requests",
                          "avg_p95_latency_ms", "avg_unique_users", "cache_priority_score",
                          "success_rate", "total_requests", "cacheable", "cache_keys"}) {
      EXPECT_TRUE(r.as_object().contains(f)) << f;
    }
    EXPECT_FALSE(r.as_object().contains("priority_score"));
  }
  options.mode = CachePlanMode::kRelative;
  auto relative = cache_plan_json(window(), planner.plan(window(), options), options.mode);
  EXPECT_EQ(relative.at("mode").as_string(), "relative");
  ASSERT_FALSE(relative.at("routes").as_array().empty());
  for (const auto& r : relative.at("routes").as_array()) {
    for (const char* f : {"priority_score", "popularity_percentile", "latency_percentile",
                          "user_percentile", "success_rate", "total_requests"}) {
      EXPECT_TRUE(r.as_object().contains(f)) << f;
    }
    EXPECT_FALSE(r.as_object().contains("cache_priority_score"));
  }
  // The CLI's bare array is the API's routes.
  EXPECT_EQ(boost::json::value(cache_plan_rows_json(planner.plan(window(), options), options.mode)),
            relative.at("routes"));
}

// For every `x_pct` there is its fraction (`x` when x ends in "_rate", else
// `x_rate`) and for every `x_rate` its percentage (`x_rate_pct` or `x_pct`),
// and pct = 100 x rate.
void expect_rate_twins(const boost::json::value& value, const std::string& where) {
  if (value.is_array()) {
    for (const auto& element : value.as_array()) expect_rate_twins(element, where);
    return;
  }
  if (!value.is_object()) return;
  const auto& o = value.as_object();
  for (const auto& member : o) {
    const std::string key(member.key());
    std::string pct, rate;
    if (key.ends_with("_pct")) {
      pct = key;
      const std::string stem = key.substr(0, key.size() - 4);
      rate = stem.ends_with("_rate") ? stem : stem + "_rate";
    } else if (key.ends_with("_rate")) {
      rate = key;  // success_rate -> success_rate_pct, latency_saved_rate -> latency_saved_pct
      pct = o.contains(key + "_pct") ? key + "_pct" : key.substr(0, key.size() - 5) + "_pct";
    }
    if (!pct.empty()) {
      SCOPED_TRACE(where + ": " + key);
      ASSERT_TRUE(o.contains(pct) && o.contains(rate)) << serialize_json(o);
      ASSERT_EQ(o.at(pct).is_null(), o.at(rate).is_null());
      if (!o.at(pct).is_null()) {
        EXPECT_NEAR(o.at(pct).to_number<double>(), 100 * o.at(rate).to_number<double>(), 0.01);
      }
    }
    expect_rate_twins(member.value(), where);
  }
}

// A number in exponent form ("9.132E1"), which Boost.JSON's serializer writes.
bool has_exponent_number(const std::string& json) {
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if ((c == 'e' || c == 'E') && i > 0 &&
               std::isdigit(static_cast<unsigned char>(json[i - 1]))) {
      return true;
    }
  }
  return false;
}

TEST_F(AnalyticsJsonDemoTest, EveryRatioHasItsFractionAndPercentageAndNoNumberAnExponent) {
  const TimeWindow w = window();
  GenerationAnalytics generation(store());
  RouteAnalytics routes(store());
  CachePlanner planner(store());
  CachePlanOptions absolute;
  CachePlanOptions relative;
  relative.mode = CachePlanMode::kRelative;
  const std::vector<std::pair<std::string, boost::json::object>> answers = {
      {"overview", to_json(generation.overview(w))},
      {"trends", to_json(generation.trends(w, TrendInterval::kDaily))},
      {"users", to_json(generation.user(std::string(kDemoUserId), w))},
      {"models", to_json(generation.models(w))},
      {"failures", to_json(generation.failures(w))},
      {"peak-hours", to_json(generation.peak_hours(w))},
      {"routes/overview", to_json(routes.overview(w, RouteOrder::kRequests, 50))},
      {"routes/peak-hours", to_json(routes.peak_hours(w, std::nullopt))},
      {"routes/patterns", to_json(routes.patterns(w, "/api/v1/content/unified", 20))},
      {"cache-priorities absolute", cache_plan_json(w, planner.plan(w, absolute), absolute.mode)},
      {"cache-priorities relative", cache_plan_json(w, planner.plan(w, relative), relative.mode)},
      {"simulate", to_json(planner.simulate(w, planner.plan(w, relative), relative, 300))},
  };
  for (const auto& [name, answer] : answers) {
    expect_rate_twins(answer, name);
    const std::string text = serialize_json(answer);
    EXPECT_FALSE(has_exponent_number(text)) << name << ": " << text.substr(0, 400);
    // Decimals did appear: the check above had something to look at.
    EXPECT_NE(text.find('.'), std::string::npos) << name;
  }
  // The models endpoint had only success_rate_pct.
  const auto models = to_json(generation.models(w)).at("models").as_array();
  ASSERT_FALSE(models.empty());
  EXPECT_TRUE(models.front().as_object().contains("success_rate"));
}

}  // namespace
}  // namespace genalytics
