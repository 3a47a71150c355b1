// Cache planning against an exact computation on generated route traffic,
// and the simulator against a hand-computed trace.
#include "analytics/cache_planning.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "event/time.h"
#include "event/uuid.h"
#include "store/sqlite_store.h"
#include "testing/events.h"
#include "testing/fixed_times.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::kNowUs;
using testing::user_id;

RouteEvent hit(int64_t t, const std::string& route, const std::string& params_normalized,
               int64_t duration_ms, int status = 200, const std::string& user = "",
               const std::string& params = "") {
  RouteEvent e;
  e.event_id = random_uuid();
  e.route = route;
  e.method = "GET";
  e.timestamp_us = t;
  e.duration_ms = duration_ms;
  e.status_code = status;
  e.query_params_normalized_json = params_normalized;
  e.query_params_json = params.empty() ? params_normalized : params;
  e.route_full = route;
  if (!user.empty()) e.user_id = user;
  return e;
}

// One pattern's traffic: requests per hour, latency range, users, errors.
struct Pattern {
  std::string route;
  std::string params;
  int per_hour;
  int min_ms, max_ms;
  int users;
  double error_share;
};

class CachePlanningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_unique<SqliteStore>(dir_.path());
    window_ = resolve_window(WindowParams{"2", {}, {}}, kNowUs);
    const std::vector<Pattern> patterns = {
        {"/api/v1/content/unified", R"({"page_size":"10","sort":"created_at"})", 30, 150, 400, 40, 0.02},
        {"/api/v1/content/unified", R"({"page_size":"50","sort":"title"})", 12, 300, 900, 15, 0.0},
        {"/api/v1/tags/hierarchy", "{}", 20, 50, 120, 25, 0.05},
        {"/api/v1/generation/jobs", "{}", 1, 4000, 9000, 3, 0.1},   // rare and slow
        {"/api/v1/health", "{}", 60, 1, 5, 2, 0.0},                 // busy and fast
    };
    std::mt19937_64 rng(7);
    std::vector<RouteEvent> events;
    // Traffic in every other hour only, so that empty hours must count as zeros.
    for (int64_t h = window_.start_us; h < window_.end_us; h += 2 * kMicrosPerHour) {
      for (const Pattern& p : patterns) {
        for (int i = 0; i < p.per_hour; ++i) {
          const int64_t t = h + static_cast<int64_t>(rng() % kMicrosPerHour);
          if (t > kNowUs) continue;
          const int64_t d = p.min_ms + static_cast<int64_t>(rng() % (p.max_ms - p.min_ms + 1));
          const bool error = std::uniform_real_distribution<double>(0, 1)(rng) < p.error_share;
          events.push_back(hit(t, p.route, p.params, d, error ? 500 : 200,
                               user_id(static_cast<int>(rng() % p.users))));
        }
      }
      // Two identical patterns on different routes: exact ties.
      for (const char* route : {"/api/v1/tie/a", "/api/v1/tie/b"}) {
        for (int i = 0; i < 15; ++i) {
          const int64_t t = h + i * 60 * kMicrosPerSecond;
          if (t <= kNowUs) events.push_back(hit(t, route, "{}", 200, 200, user_id(i % 5)));
        }
      }
    }
    std::vector<uint8_t> inserted;
    store_->write(events, &inserted);
    events_ = std::move(events);
  }

  struct Expected {
    int64_t total = 0;
    double avg_hourly = 0, p95 = 0, avg_users = 0, success = 0;
  };

  std::map<std::pair<std::string, std::string>, Expected> exact() const {
    std::map<std::pair<std::string, std::string>, std::vector<int64_t>> durations;
    std::map<std::pair<std::string, std::string>, std::map<int64_t, std::set<std::string>>> users;
    std::map<std::pair<std::string, std::string>, int64_t> ok;
    for (const auto& e : events_) {
      auto key = std::make_pair(e.route, e.query_params_normalized_json);
      durations[key].push_back(e.duration_ms);
      users[key][floor_hour(e.timestamp_us)].insert(*e.user_id);
      ok[key] += e.status_code / 100 == 2;
    }
    std::map<std::pair<std::string, std::string>, Expected> result;
    const double hours = static_cast<double>(window_.hours());
    for (auto& [key, d] : durations) {
      std::sort(d.begin(), d.end());
      Expected x;
      x.total = static_cast<int64_t>(d.size());
      x.avg_hourly = static_cast<double>(x.total) / hours;
      x.p95 = static_cast<double>(d[static_cast<size_t>(0.95 * static_cast<double>(d.size() - 1))]);
      double user_sum = 0;
      for (const auto& [hour, set] : users[key]) user_sum += static_cast<double>(set.size());
      x.avg_users = user_sum / hours;
      x.success = static_cast<double>(ok[key]) / static_cast<double>(x.total);
      result[key] = x;
    }
    return result;
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  TimeWindow window_;
  std::vector<RouteEvent> events_;
};

TEST_F(CachePlanningTest, AbsoluteSystemMatchesExactFiguresFiltersAndOrder) {
  CachePlanOptions options;
  options.min_requests = 5;     // per hour, averaged over every hour of the window
  options.min_latency_ms = 100;
  const auto plan = CachePlanner(*store_).plan(window_, options);
  const auto want = exact();
  std::vector<std::pair<double, std::pair<std::string, std::string>>> expected_order;
  for (const auto& [key, x] : want) {
    if (x.avg_hourly < 5 || x.p95 < 100 * 1.01) continue;  // clear of the sketch's 1% at the edge
    expected_order.emplace_back(x.avg_hourly * 10 + x.p95 / 100 + std::min(x.avg_users / 10, 10.0), key);
  }
  std::sort(expected_order.begin(), expected_order.end(), std::greater<>());
  ASSERT_EQ(plan.size(), expected_order.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    const auto& s = plan[i];
    const Expected& x = want.at({s.route, s.query_params_normalized_json});
    SCOPED_TRACE(s.route + " " + s.query_params_normalized_json);
    EXPECT_EQ(s.total_requests, x.total);
    EXPECT_DOUBLE_EQ(s.avg_hourly_requests, x.avg_hourly);
    EXPECT_NEAR(s.avg_p95_latency_ms, x.p95, x.p95 * 0.01);
    EXPECT_DOUBLE_EQ(s.avg_unique_users, x.avg_users);
    EXPECT_DOUBLE_EQ(s.success_rate, x.success);
    EXPECT_NEAR(s.cache_priority_score, expected_order[i].first, x.p95 * 0.01 / 100 + 1e-9);
    if (i > 0) {
      EXPECT_GE(plan[i - 1].cache_priority_score, s.cache_priority_score);
    }
  }
  // The busy-but-fast and the rare-but-slow routes are filtered out.
  for (const auto& s : plan) {
    EXPECT_NE(s.route, "/api/v1/health");
    EXPECT_NE(s.route, "/api/v1/generation/jobs");
  }
}

TEST_F(CachePlanningTest, RelativeSystemRanksEveryRouteByPercentiles) {
  CachePlanOptions options;
  options.mode = CachePlanMode::kRelative;
  options.top_n = 100;
  const auto plan = CachePlanner(*store_).plan(window_, options);
  const auto want = exact();
  ASSERT_EQ(plan.size(), want.size());  // no thresholds: every group with traffic
  auto pct = [&](auto value_of, const Expected& x) {
    int at_most = 0;
    for (const auto& [k, y] : want) at_most += value_of(y) <= value_of(x);
    return 100.0 * at_most / static_cast<double>(want.size());
  };
  for (const auto& s : plan) {
    const Expected& x = want.at({s.route, s.query_params_normalized_json});
    SCOPED_TRACE(s.route);
    EXPECT_DOUBLE_EQ(s.popularity_percentile, pct([](const Expected& e) { return e.avg_hourly; }, x));
    EXPECT_DOUBLE_EQ(s.latency_percentile, pct([](const Expected& e) { return e.p95; }, x));
    EXPECT_DOUBLE_EQ(s.user_percentile, pct([](const Expected& e) { return e.avg_users; }, x));
    EXPECT_DOUBLE_EQ(s.priority_score,
                     0.4 * s.latency_percentile + 0.4 * s.popularity_percentile + 0.2 * s.user_percentile);
  }
  for (size_t i = 1; i < plan.size(); ++i) {
    EXPECT_GE(plan[i - 1].priority_score, plan[i].priority_score);
  }
  // The rare-but-slow route surfaces in System 2 (seed: "surface slow routes even with low traffic").
  auto jobs = std::find_if(plan.begin(), plan.end(), [](const auto& s) { return s.route == "/api/v1/generation/jobs"; });
  ASSERT_NE(jobs, plan.end());
  EXPECT_DOUBLE_EQ(jobs->latency_percentile, 100.0);
  // Identical traffic gets identical scores (ties), listed next to each other.
  auto a = std::find_if(plan.begin(), plan.end(), [](const auto& s) { return s.route == "/api/v1/tie/a"; });
  auto b = std::find_if(plan.begin(), plan.end(), [](const auto& s) { return s.route == "/api/v1/tie/b"; });
  ASSERT_NE(a, plan.end());
  ASSERT_NE(b, plan.end());
  EXPECT_EQ(a->latency_percentile, b->latency_percentile);
  EXPECT_EQ(std::abs(a - b), 1);
}

TEST_F(CachePlanningTest, TopNAndCacheKeys) {
  CachePlanOptions options;
  options.mode = CachePlanMode::kRelative;
  options.top_n = 3;
  options.pages_to_cache_per_route = 2;
  const auto plan = CachePlanner(*store_).plan(window_, options);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(cache_keys_for("/api/v1/content/unified", R"({"sort":"created_at","page_size":"10"})", 2),
            (std::vector<std::string>{"/api/v1/content/unified?page_size=10&sort=created_at",
                                      "/api/v1/content/unified?page=2&page_size=10&sort=created_at"}));
  EXPECT_EQ(cache_keys_for("/search", R"({"q":"a b&c"})", 1), std::vector<std::string>{"/search?q=a+b%26c"});
  for (const auto& s : plan) EXPECT_EQ(s.cache_keys.size(), 2u);
}

TEST(RequestedPageTest, ReadsPageOffsetAndCursor) {
  EXPECT_EQ(requested_page("{}"), 1);
  EXPECT_EQ(requested_page(R"({"page":"3"})"), 3);
  EXPECT_EQ(requested_page(R"({"offset":"40","limit":"20"})"), 3);
  EXPECT_EQ(requested_page(R"({"offset":"0","limit":"20"})"), 1);
  EXPECT_EQ(requested_page(R"({"cursor":"abc"})"), 2);
  EXPECT_EQ(requested_page(R"({"page":"x"})"), 1);
  EXPECT_EQ(requested_page("not json"), 1);
}

TEST(CacheSimulationTest, MatchesAHandComputedTrace) {
  testing::TempDir dir;
  SqliteStore store(dir.path());
  const int64_t t0 = floor_hour(kNowUs) - 3 * kMicrosPerHour;
  const int64_t s = kMicrosPerSecond;
  std::vector<RouteEvent> trace = {
      hit(t0 + 0 * s, "/a", "{}", 100),    // miss: fills /a
      hit(t0 + 100 * s, "/a", "{}", 110),  // hit (100 s < 300 s TTL): saves 110
      hit(t0 + 400 * s, "/a", "{}", 120),  // miss: 400 s since the fill, refills
      hit(t0 + 500 * s, "/a", "{}", 130),  // hit: saves 130
      hit(t0 + 10 * s, "/a", "{}", 500, 200, "", R"({"page":"2"})"),  // page 2: not cached
      hit(t0 + 20 * s, "/b", "{}", 1000),  // not in the plan
      hit(t0 + 30 * s, "/b", "{}", 1000),
  };
  trace[4].route_full = "/a?page=2";
  std::vector<uint8_t> inserted;
  store.write(trace, &inserted);
  const TimeWindow window{t0 - kMicrosPerHour, t0 + 2 * kMicrosPerHour};
  RouteGroupStats a;
  a.route = "/a";
  a.method = "GET";
  a.query_params_normalized_json = "{}";
  CachePlanOptions options;
  const CacheSimulation result = CachePlanner(store).simulate(window, {a}, options, 300);
  EXPECT_EQ(result.ttl_seconds, 300);
  EXPECT_EQ(result.window.start_us, window.start_us);
  EXPECT_EQ(result.total.requests, 7);
  EXPECT_EQ(result.total.hits, 2);
  EXPECT_DOUBLE_EQ(result.total.latency_saved_ms, 240.0);
  EXPECT_DOUBLE_EQ(result.total.request_time_ms, 2960.0);
  EXPECT_DOUBLE_EQ(*result.latency_saved_rate(result.total), 240.0 / 2960.0);
  EXPECT_DOUBLE_EQ(*result.total.hit_rate(), 2.0 / 7.0);
  ASSERT_EQ(result.routes.size(), 1u);
  const CacheGroupReplay& route = result.routes[0];
  EXPECT_TRUE(route.cacheable);
  EXPECT_EQ(route.tally.requests, 4);
  EXPECT_EQ(route.tally.hits, 2);
  EXPECT_DOUBLE_EQ(route.tally.latency_saved_ms, 240.0);
  EXPECT_DOUBLE_EQ(route.tally.request_time_ms, 460.0);
  EXPECT_DOUBLE_EQ(*route.tally.hit_rate(), 0.5);
}

}  // namespace
}  // namespace genalytics
