// The route-event part of the Store contract (seed 002), run on every store
// that instantiates StoreSuite.
#include <algorithm>
#include <map>

#include "event/time.h"
#include "rollup/route_rollup.h"
#include "store/route_rollup_columns.h"
#include "store/store_suite.h"
#include "testing/route_events.h"
#include "testing/temp_dir.h"

namespace genalytics::testing {
namespace {

std::string user(int i) { return "00000000-0000-4000-8000-0000000000" + std::to_string(10 + i); }

// 400 hits over 5 hours on 3 routes, every status class, both methods,
// several parameter patterns (one whose JSONB key order differs from byte
// order), optional fields present and absent. Timestamps are distinct.
std::vector<RouteEvent> sample_route_events() {
  const char* routes[] = {kUnified, "/api/v1/users/{id}", "/api/v1/images/{id}"};
  const int statuses[] = {200, 200, 201, 204, 302, 304, 404, 422, 500, 503, 101};
  const char* normalized[] = {"{}", R"({"page_size":"10","sort":"created_at"})",
                              R"({"content_types":"image","sort":"title"})"};
  std::vector<RouteEvent> events;
  for (int i = 0; i < 400; ++i) {
    const int64_t t = kBase + (i % 5) * kMicrosPerHour + i * 1000;
    const int status = statuses[i % std::size(statuses)];
    RouteEvent e = make_route_event(t, routes[i % 3], status, 10 + (i * 37) % 900,
                                    i % 4 == 0 ? "" : user(i % 25));
    if (i % 7 == 0) e.method = "POST";
    const int pattern = i % 3 == 0 ? (i / 3) % 3 : 0;
    e.query_params_normalized_json = normalized[pattern];
    if (pattern == 1) {
      e.query_params_json =
          R"({"page":")" + std::to_string(i % 4 + 1) + R"(","page_size":"10","sort":"created_at"})";
      e.route_full =
          e.route + "?page=" + std::to_string(i % 4 + 1) + "&page_size=10&sort=created_at";
    } else if (pattern == 2) {
      e.query_params_json = R"({"content_types":"image","q":"café \"x\"","sort":"title"})";
      e.route_full = e.route + "?content_types=image&q=caf%C3%A9%20%22x%22&sort=title";
    }
    if (i % 3 != 0) e.request_size_bytes = 100 + i;
    if (i % 5 != 0) e.response_size_bytes = 1000 + i * 3;
    if (i % 2 == 1) e.db_query_count = i % 6;
    if (i % 3 == 0) e.cache_status = "hit";
    if (i % 3 == 1) e.cache_status = "miss";
    if (status >= 500) e.error_type = "db_timeout";
    events.push_back(std::move(e));
  }
  return events;
}

// Every field of `b`, for failure messages.
std::string describe(const RouteBucket& b) {
  std::string text;
  const auto fields = route_columns::counters(b);
  for (int i = 0; i < route_columns::kCounterCount; ++i) {
    text += std::string(route_columns::kCounters[i]) + "=" + std::to_string(*fields[i]) + " ";
  }
  return text + "durations.count=" + std::to_string(b.durations.count()) +
         " users=" + std::to_string(b.users.estimate());
}

// Expects the store's route rollups for [start, end) (of `route` when given)
// to be exactly (every key and every bucket field) the RouteDelta of those of
// `events`, in key order.
void expect_route_rollups_equal(const Store& store, const std::vector<RouteEvent>& events,
                                int64_t start, int64_t end,
                                const std::optional<std::string>& route = std::nullopt) {
  RouteDelta delta;
  for (const RouteEvent& e : events) {
    if (floor_hour(e.timestamp_us) >= start && floor_hour(e.timestamp_us) < end &&
        (!route || e.route == *route)) {
      delta.add(e);
    }
  }
  const std::vector<RouteRollupRow> rows = store.read_route_rollups(start, end, route);
  ASSERT_EQ(rows.size(), delta.buckets().size());
  auto want_it = delta.buckets().begin();
  for (const RouteRollupRow& row : rows) {
    const auto& [key, want] = *want_it++;
    ASSERT_EQ(row.key, key) << row.key.route << " " << row.key.query_params_normalized_json;
    SCOPED_TRACE(key.route + " " + key.method + " " + key.query_params_normalized_json);
    EXPECT_TRUE(row.bucket == want) << "got  " << describe(row.bucket) << "\nwant "
                                    << describe(want);
  }
}

void expect_all_route_rollups_equal(const Store& store, const std::vector<RouteEvent>& events) {
  expect_route_rollups_equal(store, events, kBase - kMicrosPerDay, kBase + kMicrosPerDay);
}

TEST_P(StoreSuite, WritesRouteEventsAndExactRollups) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  const auto events = sample_route_events();
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 400);
  expect_all_route_rollups_equal(*store, events);
  // Route events are not generation events.
  EXPECT_EQ(store->count_generation_events(), 0);
  EXPECT_TRUE(
      store->read_rollups(Dimension::kAll, kBase, kBase + kMicrosPerDay, std::nullopt, {}).empty());
}

TEST_P(StoreSuite, RouteRollupsOfSeveralWritesEqualOneWrite) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  const auto events = sample_route_events();
  std::vector<uint8_t> inserted;
  for (size_t i = 0; i < events.size(); i += 7) {
    store->write(std::span(events).subspan(i, std::min<size_t>(7, events.size() - i)),
                              &inserted);
  }
  expect_all_route_rollups_equal(*store, events);
}

TEST_P(StoreSuite, DuplicateRouteEventIdsChangeNothing) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto events = sample_route_events();
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  // A replay of everything, plus a duplicate inside one batch.
  std::vector<RouteEvent> replay = events;
  const RouteEvent fresh = make_route_event(kBase, kUnified, 200, 42, user(1));
  replay.push_back(fresh);
  replay.push_back(fresh);
  store->write(replay, &inserted);
  EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 1);
  EXPECT_EQ(inserted[events.size()], 1);
  EXPECT_EQ(inserted[events.size() + 1], 0);
  // A replay by itself inserts nothing.
  store->write(std::vector{fresh}, &inserted);
  EXPECT_EQ(inserted, std::vector<uint8_t>{0});
  events.push_back(fresh);
  expect_all_route_rollups_equal(*store, events);
  size_t scanned = 0;
  store->scan_route_events(kBase - kMicrosPerDay, kBase + kMicrosPerDay,
                           [&](const RouteEvent&) { ++scanned; });
  EXPECT_EQ(scanned, events.size());
}

TEST_P(StoreSuite, ReadRouteRollupsHonoursWindowAndRoute) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  const auto events = sample_route_events();
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  const int64_t start = kBase + kMicrosPerHour, end = kBase + 3 * kMicrosPerHour;
  expect_route_rollups_equal(*store, events, start, end);
  expect_route_rollups_equal(*store, events, start, end, std::string(kUnified));
  expect_route_rollups_equal(*store, events, kBase, kBase + kMicrosPerDay,
                             std::string("/api/v1/users/{id}"));
  for (const RouteRollupRow& row : store->read_route_rollups(start, end, std::nullopt)) {
    EXPECT_GE(row.key.hour_us, start);
    EXPECT_LT(row.key.hour_us, end);
  }
  EXPECT_TRUE(
      store->read_route_rollups(kBase, kBase + kMicrosPerDay, std::string("/nowhere")).empty());
  EXPECT_TRUE(store->read_route_rollups(start, start, std::nullopt).empty());
}

TEST_P(StoreSuite, ScanRouteEventsReturnsEveryFieldInTimestampOrder) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto events = sample_route_events();
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  const int64_t start = kBase + kMicrosPerHour, end = kBase + 3 * kMicrosPerHour;
  std::vector<RouteEvent> expected;
  for (const RouteEvent& e : events) {
    if (e.timestamp_us >= start && e.timestamp_us < end) expected.push_back(e);
  }
  std::sort(expected.begin(), expected.end(), [](const RouteEvent& a, const RouteEvent& b) {
    return a.timestamp_us < b.timestamp_us;
  });
  std::vector<RouteEvent> seen;
  store->scan_route_events(start, end, [&](const RouteEvent& e) { seen.push_back(e); });
  ASSERT_EQ(seen.size(), expected.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    SCOPED_TRACE(i);
    expect_same_route_event(seen[i], expected[i]);
  }
}

// The cache plan's keys for a templated route: its URLs as called, most
// requested first, within the window, method and parameters asked for.
TEST_P(StoreSuite, MostRequestedUrlsOfATemplatedRoute) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  const std::string route = "/api/v1/content/{id}";
  std::vector<RouteEvent> events;
  auto hit = [&](int64_t t, const std::string& url, const std::string& method = "GET",
                 const std::string& params = "{}") {
    RouteEvent e = make_route_event(t, route);
    e.route_full = url;
    e.method = method;
    e.query_params_normalized_json = params;
    events.push_back(e);
  };
  const int64_t start = kBase + kMicrosPerHour, end = kBase + 3 * kMicrosPerHour;
  for (int i = 0; i < 5; ++i) hit(start + i * 60 * kMicrosPerSecond, "/api/v1/content/1");
  for (int i = 0; i < 3; ++i) hit(start + i * kMicrosPerSecond, "/api/v1/content/3");
  for (int i = 0; i < 3; ++i) hit(end - kMicrosPerHour + i, "/api/v1/content/2");
  hit(end - 1, "/api/v1/content/10");
  // Outside the window, another method, other parameters: not counted.
  for (int i = 0; i < 9; ++i) hit(start - 1 - i, "/api/v1/content/99");
  for (int i = 0; i < 9; ++i) hit(end + i, "/api/v1/content/98");
  for (int i = 0; i < 9; ++i) hit(start + i, "/api/v1/content/97", "POST");
  for (int i = 0; i < 9; ++i) hit(start + 100 + i, "/api/v1/content/96?sort=x", "GET", R"({"sort":"x"})");
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);

  using Urls = std::vector<Store::UrlCount>;
  const Urls expected{{"/api/v1/content/1", 5},
                      {"/api/v1/content/2", 3},
                      {"/api/v1/content/3", 3},
                      {"/api/v1/content/10", 1}};
  EXPECT_EQ(store->most_requested_urls(route, "GET", "{}", start, end, 10), expected);
  EXPECT_EQ(store->most_requested_urls(route, "GET", "{}", start, end, 2), Urls(expected.begin(), expected.begin() + 2));
  EXPECT_EQ(store->most_requested_urls(route, "GET", "{}", start, end, 10),
            store->Store::most_requested_urls(route, "GET", "{}", start, end, 10));
  EXPECT_EQ(store->most_requested_urls(route, "POST", "{}", start, end, 10),
            (Urls{{"/api/v1/content/97", 9}}));
  EXPECT_EQ(store->most_requested_urls(route, "GET", R"({"sort":"x"})", start, end, 10),
            (Urls{{"/api/v1/content/96?sort=x", 9}}));
  EXPECT_TRUE(store->most_requested_urls(route, "GET", "{}", start, end, 0).empty());
  EXPECT_TRUE(store->most_requested_urls("/nowhere", "GET", "{}", start, end, 10).empty());
  EXPECT_TRUE(store->most_requested_urls(route, "GET", "{}", end + kMicrosPerDay, end + 2 * kMicrosPerDay, 10).empty());
}

TEST_P(StoreSuite, RouteDataSurvivesReopening) {
  TempDir dir;
  const auto events = sample_route_events();
  {
    auto store = GetParam().open(dir.path());
    std::vector<uint8_t> inserted;
    store->write(events, &inserted);
  }
  auto store = GetParam().open(dir.path());
  expect_all_route_rollups_equal(*store, events);
  size_t scanned = 0;
  store->scan_route_events(kBase - kMicrosPerDay, kBase + kMicrosPerDay,
                           [&](const RouteEvent&) { ++scanned; });
  EXPECT_EQ(scanned, events.size());
  // Still writable, and still idempotent, after reopening.
  std::vector<uint8_t> inserted;
  store->write(events, &inserted);
  EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 0);
  expect_all_route_rollups_equal(*store, events);
}

}  // namespace
}  // namespace genalytics::testing
