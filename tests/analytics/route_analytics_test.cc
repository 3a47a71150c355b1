// RouteAnalytics against an exact computation over generated route events:
// counts, averages and distinct users exactly, percentiles within the
// sketch's 1%, orders, limits, hour-of-day averages over every hour of the
// window, and routes named as called. Time is fixed: no test reads the clock.
#include "analytics/route_analytics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "event/time.h"
#include "store/sqlite_store.h"
#include "testing/events.h"
#include "testing/route_events.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::user_id;

// 2025-03-10T00:00:00Z.
constexpr int64_t kDayUs = 1'741'564'800'000'000;

const std::vector<std::string> kRoutes = {"/api/v1/content/{id}", "/api/v1/feed", "/api/v1/tags",
                                          "/api/v1/users/me"};
const std::vector<std::string> kMethods = {"GET", "POST"};
const std::vector<std::string> kParams = {"{}", R"({"sort":"new"})", R"({"sort":"top"})"};
const std::vector<int> kStatuses = {200, 200, 200, 201, 304, 404, 429, 500, 503};

// Exact figures of a set of events.
struct ExactRouteStats {
  int64_t requests = 0, ok = 0, redirects = 0, client_errors = 0, server_errors = 0;
  std::vector<int64_t> durations;
  std::set<std::string> users;
  int64_t request_size_sum = 0, request_size_count = 0, response_size_sum = 0, response_size_count = 0;
  int64_t db_sum = 0, db_count = 0, cache_hits = 0, cache_misses = 0;

  void add(const RouteEvent& e) {
    ++requests;
    ok += e.status_class() == 2;
    redirects += e.status_class() == 3;
    client_errors += e.status_class() == 4;
    server_errors += e.status_class() == 5;
    durations.push_back(e.duration_ms);
    if (e.user_id) users.insert(*e.user_id);
    if (e.request_size_bytes) request_size_sum += *e.request_size_bytes, ++request_size_count;
    if (e.response_size_bytes) response_size_sum += *e.response_size_bytes, ++response_size_count;
    if (e.db_query_count) db_sum += *e.db_query_count, ++db_count;
    cache_hits += e.cache_status == "hit";
    cache_misses += e.cache_status == "miss";
  }
  double quantile(double q) const {
    std::vector<int64_t> sorted = durations;
    std::sort(sorted.begin(), sorted.end());
    return static_cast<double>(sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1))]);
  }
};

// The mean of `count` values summing to `sum`; none when there are none.
std::optional<double> optional_mean(int64_t sum, int64_t count) {
  if (count == 0) return std::nullopt;
  return static_cast<double>(sum) / static_cast<double>(count);
}

void expect_quantile(const std::optional<double>& reported, double exact) {
  ASSERT_TRUE(reported.has_value());
  EXPECT_LE(std::abs(*reported - exact), exact * 0.01 + 1e-9) << "reported " << *reported << ", exact " << exact;
}

class RouteAnalyticsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    store_ = new SqliteStore(dir_->path());
    events_ = new std::vector<RouteEvent>();
    std::mt19937_64 random(7);
    auto pick = [&](size_t n) { return static_cast<size_t>(random() % n); };
    // Two days of traffic; hour 3 of each day is silent, every route's
    // share and latency differ.
    for (int64_t hour = 0; hour < 48; ++hour) {
      if (hour % 24 == 3) continue;
      const int hits = 10 + static_cast<int>(hour % 24);
      for (int i = 0; i < hits; ++i) {
        const size_t r = std::min(pick(7), kRoutes.size() - 1);  // the last route is the busiest
        const int64_t t = kDayUs + hour * kMicrosPerHour + static_cast<int64_t>(pick(3'600'000)) * 1000;
        RouteEvent e = testing::make_route_event(
            t, kRoutes[r], kStatuses[pick(kStatuses.size())],
            static_cast<int64_t>(20 * (r + 1) + pick(400 * (r + 1))),
            pick(4) == 0 ? "" : user_id(static_cast<int>(pick(60))));
        e.method = kMethods[pick(5) == 0 ? 1 : 0];
        e.query_params_normalized_json = kParams[pick(kParams.size())];
        e.query_params_json = e.query_params_normalized_json;
        if (pick(2)) e.request_size_bytes = static_cast<int64_t>(pick(5000));
        if (pick(3)) e.response_size_bytes = static_cast<int64_t>(pick(90'000));
        if (pick(2)) e.db_query_count = static_cast<int64_t>(pick(12));
        const size_t cache = pick(4);
        if (cache == 0) e.cache_status = "hit";
        if (cache == 1) e.cache_status = "miss";
        events_->push_back(std::move(e));
      }
    }
    std::vector<uint8_t> inserted;
    store_->write(*events_, &inserted);
  }
  static void TearDownTestSuite() {
    delete store_;
    delete dir_;
    delete events_;
  }

  template <typename Filter>
  static ExactRouteStats exact(const TimeWindow& w, Filter&& keep) {
    ExactRouteStats result;
    for (const RouteEvent& e : *events_) {
      if (e.timestamp_us >= w.start_us && e.timestamp_us < w.end_us && keep(e)) result.add(e);
    }
    return result;
  }

  // 30 hours from 06:00 on the first day: hours of day 06..11 occur twice,
  // the others once.
  static TimeWindow window() { return TimeWindow{kDayUs + 6 * kMicrosPerHour, kDayUs + 36 * kMicrosPerHour}; }

  static testing::TempDir* dir_;
  static SqliteStore* store_;
  static std::vector<RouteEvent>* events_;
};

testing::TempDir* RouteAnalyticsTest::dir_ = nullptr;
SqliteStore* RouteAnalyticsTest::store_ = nullptr;
std::vector<RouteEvent>* RouteAnalyticsTest::events_ = nullptr;

TEST_F(RouteAnalyticsTest, OverviewMatchesExactPerRouteAndMethod) {
  const TimeWindow w = window();
  const RouteOverview got = RouteAnalytics(*store_).overview(w, RouteOrder::kRequests, 100);
  EXPECT_EQ(got.window.start_us, w.start_us);
  EXPECT_EQ(got.order, RouteOrder::kRequests);
  std::set<std::pair<std::string, std::string>> groups;
  for (const RouteEvent& e : *events_) {
    if (e.timestamp_us >= w.start_us && e.timestamp_us < w.end_us) groups.insert({e.route, e.method});
  }
  ASSERT_EQ(got.routes.size(), groups.size());
  int64_t previous = INT64_MAX;
  for (const RouteStats& s : got.routes) {
    SCOPED_TRACE(s.method + " " + s.route);
    const ExactRouteStats x =
        exact(w, [&](const RouteEvent& e) { return e.route == s.route && e.method == s.method; });
    EXPECT_EQ(s.total_requests, x.requests);
    EXPECT_EQ(s.successful_requests, x.ok);
    EXPECT_EQ(s.redirects, x.redirects);
    EXPECT_EQ(s.client_errors, x.client_errors);
    EXPECT_EQ(s.server_errors, x.server_errors);
    ASSERT_TRUE(s.error_rate.has_value());
    EXPECT_DOUBLE_EQ(*s.error_rate, *optional_mean(x.client_errors + x.server_errors, x.requests));
    int64_t duration_sum = 0;
    for (int64_t d : x.durations) duration_sum += d;
    EXPECT_EQ(s.avg_duration_ms, optional_mean(duration_sum, x.requests));
    expect_quantile(s.p50_duration_ms, x.quantile(0.50));
    expect_quantile(s.p95_duration_ms, x.quantile(0.95));
    expect_quantile(s.p99_duration_ms, x.quantile(0.99));
    EXPECT_EQ(s.unique_users, x.users.size());
    EXPECT_EQ(s.avg_request_size_bytes, optional_mean(x.request_size_sum, x.request_size_count));
    EXPECT_EQ(s.avg_response_size_bytes, optional_mean(x.response_size_sum, x.response_size_count));
    EXPECT_EQ(s.avg_db_query_count, optional_mean(x.db_sum, x.db_count));
    EXPECT_EQ(s.cache_hits, x.cache_hits);
    EXPECT_EQ(s.cache_misses, x.cache_misses);
    EXPECT_LE(s.total_requests, previous);
    previous = s.total_requests;
  }
}

TEST_F(RouteAnalyticsTest, OverviewOrdersByLatencyOrErrorsAndKeepsTheTopLimit) {
  const TimeWindow w = window();
  const RouteAnalytics analytics(*store_);
  const RouteOverview all = analytics.overview(w, RouteOrder::kRequests, 100);
  ASSERT_GE(all.routes.size(), 4u);

  const RouteOverview by_latency = analytics.overview(w, RouteOrder::kLatency, 100);
  for (size_t i = 1; i < by_latency.routes.size(); ++i) {
    EXPECT_GE(*by_latency.routes[i - 1].p95_duration_ms, *by_latency.routes[i].p95_duration_ms);
  }
  const RouteOverview by_errors = analytics.overview(w, RouteOrder::kErrors, 100);
  auto errors = [](const RouteStats& s) { return s.client_errors + s.server_errors; };
  for (size_t i = 1; i < by_errors.routes.size(); ++i) {
    EXPECT_GE(errors(by_errors.routes[i - 1]), errors(by_errors.routes[i]));
  }

  const RouteOverview top = analytics.overview(w, RouteOrder::kErrors, 2);
  ASSERT_EQ(top.routes.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(top.routes[i].route, by_errors.routes[i].route);
    EXPECT_EQ(top.routes[i].method, by_errors.routes[i].method);
  }
  EXPECT_TRUE(analytics.overview(w, RouteOrder::kRequests, 0).routes.empty());
}

TEST_F(RouteAnalyticsTest, OrderNamesParseAndAnUnknownOneIsRejected) {
  for (RouteOrder order : {RouteOrder::kRequests, RouteOrder::kLatency, RouteOrder::kErrors}) {
    EXPECT_EQ(parse_route_order(route_order_name(order)), order);
  }
  try {
    parse_route_order("popularity");
    ADD_FAILURE() << "accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.parameter(), "order");
  }
}

TEST_F(RouteAnalyticsTest, PeakHoursAverageOverEveryHourOfTheWindowWithOrWithoutTraffic) {
  const TimeWindow w = window();
  const RouteAnalytics analytics(*store_);
  for (const std::optional<std::string>& route :
       {std::optional<std::string>(), std::optional<std::string>("/api/v1/feed")}) {
    SCOPED_TRACE(route.value_or("all routes"));
    const RoutePeakHours got = analytics.peak_hours(w, route);
    EXPECT_EQ(got.route, route);
    for (int h = 0; h < 24; ++h) {
      SCOPED_TRACE(h);
      const ExactRouteStats x = exact(w, [&](const RouteEvent& e) {
        return hour_of_day(e.timestamp_us) == h && (!route || e.route == *route);
      });
      const int slots = h >= 6 && h < 12 ? 2 : 1;
      const RouteHourStats& hour = got.hours[h];
      EXPECT_EQ(hour.total_requests, x.requests);
      ASSERT_TRUE(hour.avg_requests.has_value());
      EXPECT_DOUBLE_EQ(*hour.avg_requests, static_cast<double>(x.requests) / slots);
      if (x.requests == 0) {
        EXPECT_FALSE(hour.p95_duration_ms.has_value());  // hour 3: no traffic, still averaged
      } else {
        expect_quantile(hour.p95_duration_ms, x.quantile(0.95));
      }
    }
  }
}

TEST_F(RouteAnalyticsTest, PeakHoursOfAShortWindowHaveNoAverageForMissingHours) {
  const TimeWindow w{kDayUs + 10 * kMicrosPerHour, kDayUs + 13 * kMicrosPerHour};
  const RoutePeakHours got = RouteAnalytics(*store_).peak_hours(w, std::nullopt);
  for (int h = 0; h < 24; ++h) {
    EXPECT_EQ(got.hours[h].avg_requests.has_value(), h >= 10 && h < 13) << h;
  }
}

TEST_F(RouteAnalyticsTest, PatternsOfARouteMatchExactByRequestsWithinTheLimit) {
  const TimeWindow w = window();
  const RouteAnalytics analytics(*store_);
  // Named as called: a concrete id and a query string find the template.
  const RoutePatterns got = analytics.patterns(w, "/api/v1/content/42?page=3", 100);
  EXPECT_EQ(got.route, "/api/v1/content/{id}");
  std::set<std::pair<std::string, std::string>> expected;
  for (const RouteEvent& e : *events_) {
    if (e.route == got.route && e.timestamp_us >= w.start_us && e.timestamp_us < w.end_us) {
      expected.insert({e.method, e.query_params_normalized_json});
    }
  }
  ASSERT_EQ(got.patterns.size(), expected.size());
  int64_t previous = INT64_MAX;
  for (const RoutePattern& p : got.patterns) {
    SCOPED_TRACE(p.method + " " + p.query_params_normalized_json);
    const ExactRouteStats x = exact(w, [&](const RouteEvent& e) {
      return e.route == got.route && e.method == p.method &&
             e.query_params_normalized_json == p.query_params_normalized_json;
    });
    EXPECT_EQ(p.total_requests, x.requests);
    int64_t duration_sum = 0;
    for (int64_t d : x.durations) duration_sum += d;
    EXPECT_EQ(p.avg_duration_ms, optional_mean(duration_sum, x.requests));
    expect_quantile(p.p95_duration_ms, x.quantile(0.95));
    EXPECT_EQ(p.unique_users, x.users.size());
    EXPECT_LE(p.total_requests, previous);
    previous = p.total_requests;
  }
  const RoutePatterns top = analytics.patterns(w, "/api/v1/content/{id}", 2);
  ASSERT_EQ(top.patterns.size(), 2u);
  EXPECT_EQ(top.patterns[0].query_params_normalized_json, got.patterns[0].query_params_normalized_json);
  EXPECT_EQ(top.patterns[1].query_params_normalized_json, got.patterns[1].query_params_normalized_json);
}

TEST_F(RouteAnalyticsTest, AnUnknownRouteHasNoPatternsAndNoTraffic) {
  const TimeWindow w = window();
  const RouteAnalytics analytics(*store_);
  EXPECT_TRUE(analytics.patterns(w, "/nothing/here", 10).patterns.empty());
  const RoutePeakHours peak = analytics.peak_hours(w, std::string("/nothing/here"));
  for (const RouteHourStats& hour : peak.hours) {
    EXPECT_EQ(hour.total_requests, 0);
    EXPECT_FALSE(hour.p95_duration_ms.has_value());
  }
}

TEST_F(RouteAnalyticsTest, AWindowWithoutTrafficIsEmpty) {
  const TimeWindow w{kDayUs - 10 * kMicrosPerDay, kDayUs - 9 * kMicrosPerDay};
  EXPECT_TRUE(RouteAnalytics(*store_).overview(w, RouteOrder::kRequests, 10).routes.empty());
}

}  // namespace
}  // namespace genalytics
