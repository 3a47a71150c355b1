#include "rollup/route_rollup.h"

#include <gtest/gtest.h>

#include "event/time.h"
#include "testing/fixed_times.h"
#include "testing/route_events.h"

namespace genalytics {
namespace {

using testing::kHour;
using testing::make_route_event;

TEST(RouteBucketTest, CountsStatusClassesAndOptionalMeasures) {
  RouteBucket b;
  RouteEvent ok = make_route_event(kHour, "/a", 200, 100, "u1");
  ok.request_size_bytes = 10;
  ok.response_size_bytes = 1000;
  ok.db_query_count = 3;
  ok.cache_status = "miss";
  b.add(ok);
  RouteEvent cached = make_route_event(kHour, "/a", 304, 20, "u1");
  cached.cache_status = "hit";
  cached.db_query_count = 0;
  b.add(cached);
  RouteEvent missing = make_route_event(kHour, "/a", 404, 30, "u2");
  missing.cache_status = "bypass";  // neither hit nor miss
  missing.request_size_bytes = 20;
  b.add(missing);
  b.add(make_route_event(kHour, "/a", 503, 250));
  b.add(make_route_event(kHour, "/a", 101, 0));  // informational: in no class

  EXPECT_EQ(b.requests, 5);
  EXPECT_EQ(b.successful, 1);
  EXPECT_EQ(b.redirects, 1);
  EXPECT_EQ(b.client_errors, 1);
  EXPECT_EQ(b.server_errors, 1);
  EXPECT_EQ(b.duration_sum, 400);
  EXPECT_EQ(b.durations.count(), 5u);
  EXPECT_EQ(b.users.estimate(), 2u);
  EXPECT_DOUBLE_EQ(*b.avg_duration_ms(), 80.0);
  EXPECT_DOUBLE_EQ(*b.avg_request_size_bytes(), 15.0);
  EXPECT_DOUBLE_EQ(*b.avg_response_size_bytes(), 1000.0);
  EXPECT_DOUBLE_EQ(*b.avg_db_query_count(), 1.5);
  EXPECT_DOUBLE_EQ(*b.success_rate(), 0.2);
  EXPECT_EQ(b.cache_hits, 1);
  EXPECT_EQ(b.cache_misses, 1);
}

TEST(RouteBucketTest, EmptyBucketHasNoDerivedFigures) {
  RouteBucket b;
  EXPECT_FALSE(b.avg_duration_ms());
  EXPECT_FALSE(b.avg_request_size_bytes());
  EXPECT_FALSE(b.avg_response_size_bytes());
  EXPECT_FALSE(b.avg_db_query_count());
  EXPECT_FALSE(b.success_rate());
  EXPECT_TRUE(b.durations.empty());
  EXPECT_EQ(b.users.estimate(), 0u);
}

TEST(RouteBucketTest, MergeEqualsBucketOfTheUnion) {
  RouteBucket left, right, all;
  for (int i = 0; i < 300; ++i) {
    RouteEvent e = make_route_event(kHour, "/a", 200 + (i % 4) * 100, 5 + i * 11,
                                    "user" + std::to_string(i % 37));
    if (i % 2) e.request_size_bytes = i;
    if (i % 3) e.response_size_bytes = 10 * i;
    if (i % 5) e.db_query_count = i % 9;
    if (i % 4 == 0) e.cache_status = i % 8 == 0 ? "hit" : "miss";
    (i < 120 ? left : right).add(e);
    all.add(e);
  }
  left.merge(right);
  EXPECT_EQ(left.requests, all.requests);
  EXPECT_EQ(left.successful, all.successful);
  EXPECT_EQ(left.redirects, all.redirects);
  EXPECT_EQ(left.client_errors, all.client_errors);
  EXPECT_EQ(left.server_errors, all.server_errors);
  EXPECT_EQ(left.duration_sum, all.duration_sum);
  EXPECT_TRUE(left.durations == all.durations);
  EXPECT_TRUE(left.users == all.users);
  EXPECT_EQ(left.request_size_count, all.request_size_count);
  EXPECT_EQ(left.request_size_sum, all.request_size_sum);
  EXPECT_EQ(left.response_size_count, all.response_size_count);
  EXPECT_EQ(left.response_size_sum, all.response_size_sum);
  EXPECT_EQ(left.db_query_count, all.db_query_count);
  EXPECT_EQ(left.db_query_sum, all.db_query_sum);
  EXPECT_EQ(left.cache_hits, all.cache_hits);
  EXPECT_EQ(left.cache_misses, all.cache_misses);
  EXPECT_TRUE(left == all);
}

// Equality is what the store suites compare rows with: a bucket that differs
// in any one field must not compare equal.
TEST(RouteBucketTest, EqualityTellsApartEveryField) {
  RouteBucket base;
  RouteEvent e = make_route_event(kHour, "/a", 200, 40, "u1");
  e.request_size_bytes = 10;
  e.response_size_bytes = 100;
  e.db_query_count = 2;
  e.cache_status = "hit";
  base.add(e);
  const RouteBucket same = base;
  EXPECT_TRUE(same == base);
  int64_t RouteBucket::*const counters[] = {
      &RouteBucket::requests,           &RouteBucket::successful,
      &RouteBucket::redirects,          &RouteBucket::client_errors,
      &RouteBucket::server_errors,      &RouteBucket::duration_sum,
      &RouteBucket::request_size_count, &RouteBucket::request_size_sum,
      &RouteBucket::response_size_count, &RouteBucket::response_size_sum,
      &RouteBucket::db_query_count,     &RouteBucket::db_query_sum,
      &RouteBucket::cache_hits,         &RouteBucket::cache_misses};
  for (size_t i = 0; i < std::size(counters); ++i) {
    RouteBucket changed = base;
    ++(changed.*counters[i]);
    EXPECT_FALSE(changed == base) << "counter " << i;
  }
  RouteBucket durations = base;
  durations.durations.add(40);
  EXPECT_FALSE(durations == base);
  RouteBucket users = base;
  users.users.add("u2");
  EXPECT_FALSE(users == base);
}

TEST(RouteDeltaTest, GroupsByHourRouteMethodAndNormalizedParams) {
  RouteDelta delta;
  EXPECT_TRUE(delta.empty());
  RouteEvent page1 = make_route_event(kHour + 10, "/a");
  page1.query_params_json = R"({"page":"1","sort":"x"})";
  page1.query_params_normalized_json = R"({"sort":"x"})";
  RouteEvent page2 = page1;
  page2.query_params_json = R"({"page":"2","sort":"x"})";
  RouteEvent post = page1;
  post.method = "POST";
  RouteEvent later = page1;
  later.timestamp_us = kHour + kMicrosPerHour + 5;
  for (const RouteEvent& e : {page1, page2, post, later, make_route_event(kHour, "/b")}) {
    delta.add(e);
  }
  ASSERT_EQ(delta.buckets().size(), 4u);
  const RouteKey same_pattern{kHour, "/a", "GET", R"({"sort":"x"})"};
  ASSERT_TRUE(delta.buckets().contains(same_pattern));
  EXPECT_EQ(delta.buckets().at(same_pattern).requests, 2);  // pages share the pattern
  EXPECT_TRUE(delta.buckets().contains(RouteKey{kHour, "/a", "POST", R"({"sort":"x"})"}));
  EXPECT_TRUE(
      delta.buckets().contains(RouteKey{kHour + kMicrosPerHour, "/a", "GET", R"({"sort":"x"})"}));
  EXPECT_TRUE(delta.buckets().contains(RouteKey{kHour, "/b", "GET", "{}"}));
}

}  // namespace
}  // namespace genalytics
