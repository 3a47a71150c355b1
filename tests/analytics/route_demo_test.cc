// Route analytics as a newcomer meets them: on the demo's traffic, stored
// through the real normaliser and SqliteStore, every route endpoint and both
// cache-planning systems answer with something meaningful; plus the fixes of
// issue 8 (cacheable methods, concrete cache keys, routes named as called,
// every ratio as a fraction and a percentage, numbers without exponents).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include "analytics/cache_planning.h"
#include "analytics/generation_analytics.h"
#include "analytics/route_analytics.h"
#include "demo/traffic_generator.h"
#include "event/json_writer.h"
#include "event/route_normalizer.h"
#include "event/time.h"
#include "event/uuid.h"
#include "store/sqlite_store.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

// 2025-01-31T12:34:56Z, the moment the demo was loaded; windows end here.
constexpr int64_t kNowUs = 1'738'326'896'000'000;

void load_demo(SqliteStore* store, int days, bool with_generations = false, int64_t end_us = kNowUs,
               uint64_t seed = 42) {
  DemoOptions options;
  options.days = days;
  options.end_us = end_us;
  options.seed = seed;
  std::vector<uint8_t> inserted;
  generate_demo_route_traffic(options, 20'000, [&](std::vector<RouteEvent>&& batch) {
    for (RouteEvent& event : batch) normalize_route_event(&event, RouteNormalization{});
    store->write_route_events(batch, &inserted);
  });
  if (with_generations) {
    generate_demo_traffic(options, 20'000, [&](std::vector<GenerationEvent>&& batch) {
      store->write_generation_events(batch, &inserted);
    });
  }
}

TimeWindow days_window(int days) {
  return resolve_window(WindowParams{std::to_string(days), {}, {}}, kNowUs);
}

const boost::json::object* find_route(const boost::json::array& rows, std::string_view method,
                                      std::string_view route) {
  for (const auto& row : rows) {
    const auto& o = row.as_object();
    if (o.at("method").as_string() == method && o.at("route").as_string() == route) return &o;
  }
  return nullptr;
}

// ---- System 1 with its defaults on a demo of any length ----

// 2026-11-29T03:00:00Z, a Sunday before dawn: a 1-day demo ending here holds
// the quietest day the demo makes.
constexpr int64_t kQuietSundayUs = 1'795'921'200'000'000;

struct DemoCase {
  int days;
  int64_t end_us;
  uint64_t seed;
};

void PrintTo(const DemoCase& c, std::ostream* out) {
  *out << c.days << " days ending " << format_rfc3339_seconds(c.end_us) << ", seed " << c.seed;
}

class DemoLengthTest : public ::testing::TestWithParam<DemoCase> {};

// `genalytics demo` then `genalytics cache-analysis` said "No routes found".
TEST_P(DemoLengthTest, SystemOneWithDefaultThresholdsListsDemoRoutes) {
  const DemoCase demo = GetParam();
  testing::TempDir dir;
  SqliteStore store(dir.path());
  load_demo(&store, demo.days, false, demo.end_us, demo.seed);
  // The CLI's default window (-d 7) and the demo's whole length.
  for (int window_days : {7, demo.days}) {
    SCOPED_TRACE(window_days);
    const TimeWindow window =
        resolve_window(WindowParams{std::to_string(window_days), {}, {}}, demo.end_us);
    const auto plan = CachePlanner(store).plan(window, CachePlanOptions{});
    size_t cacheable = 0;
    for (const auto& group : plan) {
      EXPECT_GE(group.avg_hourly_requests, 10);
      EXPECT_GE(group.avg_p95_latency_ms, 100);
      if (group.cacheable) {
        ++cacheable;
        EXPECT_FALSE(group.cache_keys.empty());
      }
    }
    EXPECT_GE(cacheable, 2u);
  }
}

INSTANTIATE_TEST_SUITE_P(OneDayAndThirty, DemoLengthTest,
                         ::testing::Values(DemoCase{1, kNowUs, 42}, DemoCase{1, kQuietSundayUs, 42},
                                           DemoCase{1, kQuietSundayUs, 1},
                                           DemoCase{1, kQuietSundayUs, 2},
                                           DemoCase{1, kQuietSundayUs, 3},
                                           DemoCase{30, kNowUs, 42}),
                         [](const ::testing::TestParamInfo<DemoCase>& info) {
                           return std::to_string(info.param.days) + "days_" +
                                  (info.param.end_us == kNowUs ? "weekday" : "sunday") + "_seed" +
                                  std::to_string(info.param.seed);
                         });

// ---- One week of demo traffic for the rest ----

class RouteDemoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<testing::TempDir>();
    store_ = std::make_unique<SqliteStore>(dir_->path());
    load_demo(store_.get(), 7, /*with_generations=*/true);
  }
  static void TearDownTestSuite() {
    store_.reset();
    dir_.reset();
  }
  static const Store& store() { return *store_; }

 private:
  inline static std::unique_ptr<testing::TempDir> dir_;
  inline static std::unique_ptr<SqliteStore> store_;
};

TEST_F(RouteDemoTest, SystemTwoRanksCacheableAndUnsafeGroups) {
  CachePlanOptions options;
  options.mode = CachePlanMode::kRelative;
  options.top_n = 10;
  const auto plan = CachePlanner(store()).plan(days_window(7), options);
  ASSERT_EQ(plan.size(), 10u);
  size_t cacheable = 0;
  for (const auto& group : plan) {
    EXPECT_GT(group.priority_score, 0);
    cacheable += group.cacheable;
  }
  EXPECT_GE(cacheable, 5u);
  EXPECT_LT(cacheable, 10u);  // the slow POSTs rank too (seed 002 ranks them)
}

TEST_F(RouteDemoTest, EveryRouteEndpointAnswersSomething) {
  const TimeWindow window = days_window(7);
  RouteAnalytics analytics(store());
  const auto overview = analytics.overview(window, "requests", 50);
  EXPECT_GE(overview.at("routes").as_array().size(), 12u);
  const auto peak = analytics.peak_hours(window, std::string("/api/v1/content/unified"));
  int64_t total = 0;
  for (const auto& hour : peak.at("hours").as_array())
    total += hour.at("total_requests").as_int64();
  EXPECT_GT(total, 10'000);
  const auto patterns = analytics.patterns(window, "/api/v1/content/unified", 20);
  EXPECT_GE(patterns.at("patterns").as_array().size(), 9u);  // 3 sorts x 3 page sizes, tags
}

// routes/patterns?route=/api/v1/content/12345 answered [] while the store
// holds that route as /api/v1/content/{id}.
TEST_F(RouteDemoTest, PatternsOfAConcreteRouteFindItsTemplate) {
  const TimeWindow window = days_window(7);
  RouteAnalytics analytics(store(), RouteNormalization{});
  for (const char* called :
       {"/api/v1/content/12345", "/api/v1/content/12345?page=2&sort=x", "/api/v1/content/{id}"}) {
    SCOPED_TRACE(called);
    const auto patterns = analytics.patterns(window, called, 10);
    EXPECT_EQ(patterns.at("route").as_string(), "/api/v1/content/{id}");
    EXPECT_FALSE(patterns.at("patterns").as_array().empty());
    const auto peak = analytics.peak_hours(window, std::string(called));
    EXPECT_EQ(peak.at("route").as_string(), "/api/v1/content/{id}");
    int64_t total = 0;
    for (const auto& hour : peak.at("hours").as_array())
      total += hour.at("total_requests").as_int64();
    EXPECT_GT(total, 0);
  }
  // The feed with its query string is the feed.
  EXPECT_FALSE(analytics.patterns(window, "/api/v1/content/unified?page=2&page_size=10", 10)
                   .at("patterns")
                   .as_array()
                   .empty());
}

TEST_F(RouteDemoTest, PatternsHonourTheConfiguredNormalization) {
  RouteNormalization untemplated;
  untemplated.template_ids = false;
  EXPECT_EQ(RouteAnalytics(store(), untemplated).lookup_route("/api/v1/content/12345?page=2"),
            "/api/v1/content/12345");
  EXPECT_EQ(RouteAnalytics(store()).lookup_route(
                "/api/v1/users/550e8400-e29b-41d4-a716-446655440000/generations"),
            "/api/v1/users/{id}/generations");
}

// cache_keys listed /api/v1/content/{id}, which nobody can warm.
TEST_F(RouteDemoTest, CacheKeysOfTemplatedRoutesAreConcreteUrls) {
  CachePlanOptions options;
  options.mode = CachePlanMode::kRelative;
  options.top_n = 50;
  options.pages_to_cache_per_route = 3;
  const auto plan = CachePlanner(store()).plan(days_window(7), options);
  bool saw_templated = false;
  for (const auto& group : plan) {
    if (!group.cacheable) continue;
    SCOPED_TRACE(group.method + " " + group.route);
    ASSERT_FALSE(group.cache_keys.empty());
    EXPECT_LE(group.cache_keys.size(), 3u);
    for (const std::string& key : group.cache_keys) {
      EXPECT_EQ(key.find('{'), std::string::npos) << key;
      EXPECT_TRUE(key.starts_with("/")) << key;
    }
    saw_templated = saw_templated || is_templated_route(group.route);
  }
  EXPECT_TRUE(saw_templated);
}

RouteEvent hit(int64_t t, const std::string& method, const std::string& target,
               int64_t duration_ms) {
  RouteEvent e;
  e.event_id = random_uuid();
  e.method = method;
  e.route_full = target;
  e.timestamp_us = t;
  e.duration_ms = duration_ms;
  e.status_code = 200;
  normalize_route_event(&e, RouteNormalization{});
  return e;
}

TEST(CacheKeysTest, TemplatedRouteListsItsMostRequestedUrlsUpToThePages) {
  testing::TempDir dir;
  SqliteStore store(dir.path());
  const int64_t t0 = kNowUs - 2 * kMicrosPerHour;
  std::vector<RouteEvent> events;
  for (int i = 0; i < 3; ++i) events.push_back(hit(t0 + i, "GET", "/api/v1/content/7", 200));
  for (int i = 0; i < 4; ++i) events.push_back(hit(t0 + 10 + i, "GET", "/api/v1/content/5", 200));
  events.push_back(hit(t0 + 20, "GET", "/api/v1/content/9", 200));
  events.push_back(hit(t0 + 21, "GET", "/api/v1/content/3", 200));  // ties with 9: URL order
  for (int i = 0; i < 3; ++i) {
    events.push_back(hit(t0 + 30 + i, "GET", "/api/v1/feed?page=" + std::to_string(i + 1), 200));
  }
  std::vector<uint8_t> inserted;
  store.write_route_events(events, &inserted);
  CachePlanOptions options;
  options.mode = CachePlanMode::kRelative;
  options.pages_to_cache_per_route = 3;
  const auto plan = CachePlanner(store).plan(days_window(1), options);
  ASSERT_EQ(plan.size(), 2u);
  for (const auto& group : plan) {
    if (group.route == "/api/v1/content/{id}") {
      EXPECT_EQ(group.cache_keys,
                (std::vector<std::string>{"/api/v1/content/5", "/api/v1/content/7",
                                          "/api/v1/content/3"}));
    } else {
      EXPECT_EQ(group.cache_keys, (std::vector<std::string>{"/api/v1/feed", "/api/v1/feed?page=2",
                                                            "/api/v1/feed?page=3"}));
    }
  }
}

// --relative --simulate "saved" half of all time by caching
// POST /api/v1/generation/jobs.
TEST(CacheableMethodsTest, UnsafeMethodsAreRankedButNeverCachedOrSimulatedAsHits) {
  testing::TempDir dir;
  SqliteStore store(dir.path());
  const int64_t t0 = kNowUs - 2 * kMicrosPerHour;
  std::vector<RouteEvent> events;
  for (int i = 0; i < 20; ++i) {
    events.push_back(hit(t0 + i * kMicrosPerSecond, "POST", "/api/v1/generation/jobs", 900));
    events.push_back(hit(t0 + i * kMicrosPerSecond + 1, "GET", "/api/v1/models", 100));
    events.push_back(hit(t0 + i * kMicrosPerSecond + 2, "HEAD", "/api/v1/models", 100));
  }
  std::vector<uint8_t> inserted;
  store.write_route_events(events, &inserted);
  CachePlanOptions options;
  options.mode = CachePlanMode::kRelative;
  const TimeWindow window = days_window(1);
  const CachePlanner planner(store);
  const auto plan = planner.plan(window, options);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan.front().method, "POST");  // slowest: ranked first, as the seed does
  EXPECT_FALSE(plan.front().cacheable);
  EXPECT_TRUE(plan.front().cache_keys.empty());
  const auto rows = planner.plan_json(window, options).at("routes").as_array();
  EXPECT_EQ(find_route(rows, "POST", "/api/v1/generation/jobs")->at("cacheable"), false);
  EXPECT_EQ(find_route(rows, "GET", "/api/v1/models")->at("cacheable"), true);
  EXPECT_EQ(find_route(rows, "HEAD", "/api/v1/models")->at("cacheable"), true);

  const auto simulation = planner.simulate(window, plan, options, 300);
  const auto& sim_rows = simulation.at("routes").as_array();
  const auto* post = find_route(sim_rows, "POST", "/api/v1/generation/jobs");
  EXPECT_EQ(post->at("hits").as_int64(), 0);
  EXPECT_EQ(post->at("cacheable_requests").as_int64(), 0);
  EXPECT_EQ(find_route(sim_rows, "GET", "/api/v1/models")->at("hits").as_int64(), 19);
  const auto& total = simulation.at("total").as_object();
  EXPECT_EQ(total.at("hits").as_int64(), 38);
  // 38 x 100 ms of 20 x (900 + 200) ms: 17.27%, not the POSTs' 81.82%.
  EXPECT_DOUBLE_EQ(total.at("latency_saved_pct").as_double(), 17.27);
}

// ---- Ratios and numbers in every answer ----

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

TEST_F(RouteDemoTest, EveryRatioHasItsFractionAndPercentageAndNoNumberAnExponent) {
  const TimeWindow window = days_window(7);
  GenerationAnalytics generation(store());
  RouteAnalytics routes(store());
  CachePlanner planner(store());
  CachePlanOptions absolute;
  CachePlanOptions relative;
  relative.mode = CachePlanMode::kRelative;
  const std::vector<std::pair<std::string, boost::json::object>> answers = {
      {"overview", generation.overview(window)},
      {"trends", generation.trends(window, TrendInterval::kDaily)},
      {"users", generation.user(std::string(kDemoUserId), window)},
      {"models", generation.models(window)},
      {"failures", generation.failures(window)},
      {"peak-hours", generation.peak_hours(window)},
      {"routes/overview", routes.overview(window, "requests", 50)},
      {"routes/peak-hours", routes.peak_hours(window, std::nullopt)},
      {"routes/patterns", routes.patterns(window, "/api/v1/content/unified", 20)},
      {"cache-priorities absolute", planner.plan_json(window, absolute)},
      {"cache-priorities relative", planner.plan_json(window, relative)},
      {"simulate", planner.simulate(window, planner.plan(window, relative), relative, 300)},
  };
  for (const auto& [name, answer] : answers) {
    expect_rate_twins(answer, name);
    const std::string text = serialize_json(answer);
    EXPECT_FALSE(has_exponent_number(text)) << name << ": " << text.substr(0, 400);
    // Decimals did appear: the check above had something to look at.
    EXPECT_NE(text.find('.'), std::string::npos) << name;
  }
  // The models endpoint had only success_rate_pct.
  const auto models = generation.models(window).at("models").as_array();
  ASSERT_FALSE(models.empty());
  EXPECT_TRUE(models.front().as_object().contains("success_rate"));
}

}  // namespace
}  // namespace genalytics
