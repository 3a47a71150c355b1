// Route analytics as a newcomer meets them: on the demo's traffic, stored
// through the real normaliser and SqliteStore, every route endpoint and both
// cache-planning systems answer with something meaningful; plus the fixes of
// issue 8 (cacheable methods, concrete cache keys, routes named as called).
// The JSON of these answers is tested in tests/server/analytics_json_test.cc.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "analytics/cache_planning.h"
#include "analytics/route_analytics.h"
#include "demo/traffic_generator.h"
#include "event/route_normalizer.h"
#include "event/time.h"
#include "event/uuid.h"
#include "store/sqlite_store.h"
#include "testing/fixed_times.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::kNowUs;

void load_demo(SqliteStore* store, int days, bool with_generations = false, int64_t end_us = kNowUs,
               uint64_t seed = 42) {
  DemoOptions options;
  options.days = days;
  options.end_us = end_us;
  options.seed = seed;
  std::vector<uint8_t> inserted;
  generate_demo_route_traffic(options, 20'000, [&](std::vector<RouteEvent>&& batch) {
    for (RouteEvent& event : batch) normalize_route_event(&event, RouteNormalization{});
    store->write(batch, &inserted);
  });
  if (with_generations) {
    generate_demo_traffic(options, 20'000, [&](std::vector<GenerationEvent>&& batch) {
      store->write(batch, &inserted);
    });
  }
}

TimeWindow days_window(int days) {
  return resolve_window(WindowParams{std::to_string(days), {}, {}}, kNowUs);
}

template <typename Row>
const Row* find_route(const std::vector<Row>& rows, std::string_view method, std::string_view route) {
  for (const Row& row : rows) {
    if (row.method == method && row.route == route) return &row;
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
  const RouteOverview overview = analytics.overview(window, RouteOrder::kRequests, 50);
  EXPECT_GE(overview.routes.size(), 12u);
  const RoutePeakHours peak = analytics.peak_hours(window, std::string("/api/v1/content/unified"));
  int64_t total = 0;
  for (const RouteHourStats& hour : peak.hours) total += hour.total_requests;
  EXPECT_GT(total, 10'000);
  const RoutePatterns patterns = analytics.patterns(window, "/api/v1/content/unified", 20);
  EXPECT_GE(patterns.patterns.size(), 9u);  // 3 sorts x 3 page sizes, tags
}

// routes/patterns?route=/api/v1/content/12345 answered [] while the store
// holds that route as /api/v1/content/{id}.
TEST_F(RouteDemoTest, PatternsOfAConcreteRouteFindItsTemplate) {
  const TimeWindow window = days_window(7);
  RouteAnalytics analytics(store(), RouteNormalization{});
  for (const char* called :
       {"/api/v1/content/12345", "/api/v1/content/12345?page=2&sort=x", "/api/v1/content/{id}"}) {
    SCOPED_TRACE(called);
    const RoutePatterns patterns = analytics.patterns(window, called, 10);
    EXPECT_EQ(patterns.route, "/api/v1/content/{id}");
    EXPECT_FALSE(patterns.patterns.empty());
    const RoutePeakHours peak = analytics.peak_hours(window, std::string(called));
    EXPECT_EQ(peak.route, "/api/v1/content/{id}");
    int64_t total = 0;
    for (const RouteHourStats& hour : peak.hours) total += hour.total_requests;
    EXPECT_GT(total, 0);
  }
  // The feed with its query string is the feed.
  EXPECT_FALSE(analytics.patterns(window, "/api/v1/content/unified?page=2&page_size=10", 10).patterns.empty());
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

RouteEvent normalized_hit(int64_t t, const std::string& method, const std::string& target,
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
  for (int i = 0; i < 3; ++i)
    events.push_back(normalized_hit(t0 + i, "GET", "/api/v1/content/7", 200));
  for (int i = 0; i < 4; ++i)
    events.push_back(normalized_hit(t0 + 10 + i, "GET", "/api/v1/content/5", 200));
  events.push_back(normalized_hit(t0 + 20, "GET", "/api/v1/content/9", 200));
  events.push_back(
      normalized_hit(t0 + 21, "GET", "/api/v1/content/3", 200));  // ties with 9: URL order
  for (int i = 0; i < 3; ++i) {
    events.push_back(
        normalized_hit(t0 + 30 + i, "GET", "/api/v1/feed?page=" + std::to_string(i + 1), 200));
  }
  std::vector<uint8_t> inserted;
  store.write(events, &inserted);
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
    events.push_back(
        normalized_hit(t0 + i * kMicrosPerSecond, "POST", "/api/v1/generation/jobs", 900));
    events.push_back(normalized_hit(t0 + i * kMicrosPerSecond + 1, "GET", "/api/v1/models", 100));
    events.push_back(normalized_hit(t0 + i * kMicrosPerSecond + 2, "HEAD", "/api/v1/models", 100));
  }
  std::vector<uint8_t> inserted;
  store.write(events, &inserted);
  CachePlanOptions options;
  options.mode = CachePlanMode::kRelative;
  const TimeWindow window = days_window(1);
  const CachePlanner planner(store);
  const auto plan = planner.plan(window, options);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan.front().method, "POST");  // slowest: ranked first, as the seed does
  EXPECT_FALSE(plan.front().cacheable);
  EXPECT_TRUE(plan.front().cache_keys.empty());
  EXPECT_FALSE(find_route(plan, "POST", "/api/v1/generation/jobs")->cacheable);
  EXPECT_TRUE(find_route(plan, "GET", "/api/v1/models")->cacheable);
  EXPECT_TRUE(find_route(plan, "HEAD", "/api/v1/models")->cacheable);

  const CacheSimulation simulation = planner.simulate(window, plan, options, 300);
  const auto* post = find_route(simulation.routes, "POST", "/api/v1/generation/jobs");
  EXPECT_FALSE(post->cacheable);
  EXPECT_EQ(post->tally.hits, 0);
  EXPECT_EQ(post->tally.requests, 0);
  EXPECT_EQ(find_route(simulation.routes, "GET", "/api/v1/models")->tally.hits, 19);
  EXPECT_EQ(simulation.total.hits, 38);
  EXPECT_EQ(simulation.total.requests, 60);
  // 38 x 100 ms of 20 x (900 + 200) ms: 17.27%, not the POSTs' 81.82%.
  EXPECT_DOUBLE_EQ(simulation.total.latency_saved_ms, 3800.0);
  EXPECT_DOUBLE_EQ(simulation.total.request_time_ms, 22'000.0);
  EXPECT_DOUBLE_EQ(*simulation.latency_saved_rate(simulation.total), 3800.0 / 22'000.0);
}

}  // namespace
}  // namespace genalytics
