#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "demo/traffic_generator.h"
#include "event/route_decoder.h"
#include "event/route_normalizer.h"
#include "event/time.h"
#include "testing/fixed_times.h"

namespace genalytics {
namespace {

using testing::kDemoEndUs;

DemoOptions days(int n) {
  DemoOptions options;
  options.days = n;
  options.end_us = kDemoEndUs;
  return options;
}

std::vector<RouteEvent> route_traffic(const DemoOptions& options, size_t batch_size = 1000,
                                      std::vector<size_t>* batch_sizes = nullptr) {
  std::vector<RouteEvent> events;
  generate_demo_route_traffic(options, batch_size, [&](std::vector<RouteEvent>&& batch) {
    if (batch_sizes != nullptr) batch_sizes->push_back(batch.size());
    for (RouteEvent& event : batch) events.push_back(std::move(event));
  });
  return events;
}

auto fields(const RouteEvent& e) {
  return std::tie(e.event_id, e.route, e.route_full, e.method, e.user_id, e.timestamp_us,
                  e.duration_ms, e.status_code, e.query_params_json, e.request_size_bytes,
                  e.response_size_bytes, e.error_type, e.db_query_count, e.cache_status);
}

// A week of default route traffic, generated once for the suite.
class RouteTrafficGeneratorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { events_ = route_traffic(days(7)); }
  static void TearDownTestSuite() { events_.clear(); }
  static const std::vector<RouteEvent>& events() { return events_; }

 private:
  inline static std::vector<RouteEvent> events_;
};

TEST_F(RouteTrafficGeneratorTest, ManyBackendHitsPerGeneration) {
  const double generations = 7 * 24 * days(7).mean_generations_per_hour;
  EXPECT_GT(static_cast<double>(events().size()), 6.5 * generations);
  EXPECT_LT(static_cast<double>(events().size()), 9.5 * generations);
}

TEST_F(RouteTrafficGeneratorTest, SameOptionsGiveIdenticalEventsWhateverTheBatches) {
  std::vector<size_t> batch_sizes;
  const std::vector<RouteEvent> again = route_traffic(days(7), 257, &batch_sizes);
  ASSERT_EQ(again.size(), events().size());
  for (size_t i = 0; i < again.size(); ++i) {
    ASSERT_TRUE(fields(again[i]) == fields(events()[i])) << "event " << i;
  }
  for (size_t i = 0; i + 1 < batch_sizes.size(); ++i) ASSERT_EQ(batch_sizes[i], 257u);
  EXPECT_LE(batch_sizes.back(), 257u);
  DemoOptions other = days(1);
  other.seed = 7;
  EXPECT_NE(route_traffic(other).front().event_id, events().front().event_id);
}

TEST_F(RouteTrafficGeneratorTest, EventsAreInTimestampOrderInsideTheWindow) {
  ASSERT_FALSE(events().empty());
  EXPECT_GE(events().front().timestamp_us, kDemoEndUs - 7 * kMicrosPerDay);
  EXPECT_LE(events().back().timestamp_us, kDemoEndUs);
  for (size_t i = 1; i < events().size(); ++i) {
    ASSERT_LE(events()[i - 1].timestamp_us, events()[i].timestamp_us) << "event " << i;
  }
}

// Sent to the API as the proxy would (the target as called in `route`),
// every event is accepted, and normalises as normalize_route_event says.
TEST_F(RouteTrafficGeneratorTest, EveryEventPassesTheRouteDecoder) {
  std::string body;
  for (size_t i = 0; i < events().size(); i += 7) {
    boost::json::object o = to_json(events()[i]);
    o["route"] = events()[i].route_full;
    o.erase("route_full");
    o.erase("query_params");
    o.erase("query_params_normalized");
    body += boost::json::serialize(o);
    body += '\n';
  }
  const DecodedRouteBatch decoded = decode_route_body(body, true, kDemoEndUs, {}, {});
  ASSERT_TRUE(decoded.rejected.empty())
      << decoded.rejected.listed.front().index << ": "
      << decoded.rejected.listed.front().errors.front().field << " "
      << decoded.rejected.listed.front().errors.front().message;
  for (size_t i = 0; i < decoded.events.size(); ++i) {
    RouteEvent expected = events()[i * 7];
    normalize_route_event(&expected, {});
    ASSERT_EQ(decoded.events[i].route, expected.route);
    ASSERT_EQ(decoded.events[i].query_params_normalized_json,
              expected.query_params_normalized_json);
  }
}

TEST_F(RouteTrafficGeneratorTest, LooksLikeTheBackendOfAGenerationService) {
  std::map<std::string, int64_t> by_route;  // "METHOD templated-route"
  std::set<std::string> feed_sorts, statuses, cache_statuses;
  std::set<std::string> users;
  int64_t paged_feed = 0;
  for (RouteEvent e : events()) {
    const std::string target = e.route_full;
    normalize_route_event(&e, {});
    ++by_route[e.method + " " + e.route];
    statuses.insert(std::to_string(e.status_code));
    if (e.cache_status) cache_statuses.insert(*e.cache_status);
    if (e.user_id) users.insert(*e.user_id);
    if (e.route == "/api/v1/content/unified") {
      const auto params = boost::json::parse(e.query_params_json).as_object();
      if (params.contains("sort")) feed_sorts.insert(std::string(params.at("sort").as_string()));
      if (params.contains("page") && params.at("page").as_string() != "1") ++paged_feed;
    }
  }
  for (const char* route :
       {"GET /api/v1/content/unified", "GET /api/v1/content/{id}", "GET /api/v1/tags",
        "POST /api/v1/generation/jobs", "GET /api/v1/generation/jobs/{id}",
        "POST /api/v1/auth/login", "GET /health", "GET /api/v1/users/{id}/generations"}) {
    EXPECT_GT(by_route[route], 100) << route;
  }
  EXPECT_EQ(feed_sorts, (std::set<std::string>{"created_at", "popular", "trending"}));
  EXPECT_GT(paged_feed, 1000);
  for (const char* status : {"200", "202", "304", "401", "404", "429", "500"}) {
    EXPECT_TRUE(statuses.contains(status)) << status;
  }
  EXPECT_EQ(cache_statuses, (std::set<std::string>{"hit", "miss", "bypass"}));
  EXPECT_TRUE(users.contains(std::string(kDemoUserId)));
  EXPECT_GT(users.size(), 100u);
}

TEST_F(RouteTrafficGeneratorTest, BusyHoursHaveMoreTraffic) {
  std::array<int64_t, 24> by_hour{};
  for (const RouteEvent& e : events()) ++by_hour[(e.timestamp_us / kMicrosPerHour) % 24];
  EXPECT_GT(by_hour[17], 3 * by_hour[3]);
}

TEST(RouteTrafficGeneratorBatchTest, NoDaysGiveNoEvents) {
  EXPECT_TRUE(route_traffic(days(0)).empty());
}

}  // namespace
}  // namespace genalytics
