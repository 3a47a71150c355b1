// The production route pipeline end to end on a real redis-server and a real
// PostgreSQL: StreamIngest / StreamPublisher -> `{ns}:route_analytics:stream`
// -> StreamWorker (route kind) -> route_analytics and route_analytics_hourly,
// exactly once, with crashes between commit and XACK, replays and
// dead-lettered entries; and both workers side by side on one store.
// Over 400 lines: the scenarios share one set of real servers and helpers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "event/route_normalizer.h"
#include "event/route_stream_fields.h"
#include "event/time.h"
#include "event/uuid.h"
#include "pipeline/redis_client.h"
#include "pipeline/stream_ingest.h"
#include "pipeline/stream_publisher.h"
#include "pipeline/stream_status.h"
#include "pipeline/stream_worker.h"
#include "store/postgres.h"
#include "store/postgres_store.h"
#include "testing/events.h"
#include "testing/fixed_times.h"
#include "testing/forwarding_store.h"
#include "testing/postgres_server.h"
#include "testing/redis_server.h"
#include "testing/route_events.h"

namespace genalytics {
namespace {

using ::testing::HasSubstr;
using testing::kGeneration;
using testing::kHour;
using testing::kRoute;
using testing::kUserId;
using testing::kYear2100;
using testing::PostgresServer;
using testing::RedisServer;
using testing::SimulatedCrash;
using testing::user_id;

using Fields = std::vector<std::pair<std::string, std::string>>;

// PostgresStore with a hook after each route write, to make the worker
// "crash" between the commit and the XACK.
class ScriptedRouteStore : public genalytics::testing::ForwardingStore<PostgresStore> {
 public:
  using Hook = std::function<void(int call, std::span<const RouteEvent> events)>;

  explicit ScriptedRouteStore(const std::string& url) : genalytics::testing::ForwardingStore<PostgresStore>(url, size_t{2}) {}

  // The hook sees route writes only; generation writes pass through.
  void write(EventSpan events, std::vector<uint8_t>* inserted) override {
    const auto* routes = std::get_if<std::span<const RouteEvent>>(&events);
    if (routes == nullptr) return store_.write(events, inserted);
    const int call = calls_++;
    store_.write(events, inserted);
    if (after_write) after_write(call, *routes);
  }

  int calls() const { return calls_; }

  Hook after_write;

 private:
  int calls_ = 0;
};

// `n` route hits over three hours, four query patterns (a variable `page`
// among their parameters), every status class, a few users.
std::vector<RouteEvent> route_hits(int n) {
  const char* const kRoutes[] = {"/api/v1/content/unified", "/api/v1/users/{id}", "/health"};
  std::vector<RouteEvent> events;
  for (int i = 0; i < n; ++i) {
    RouteEvent e = testing::make_route_event(kHour + (i % 3) * kMicrosPerHour + i, kRoutes[i % 3],
                                             (i % 7 == 0)   ? 500
                                             : (i % 5 == 0) ? 404
                                                            : 200,
                                             20 + (i * 37) % 900);
    if (i % 2 == 0) {
      const QueryParams params = {{"page", std::to_string(i % 4)},
                                  {"sort", i % 4 == 0 ? "created_at" : "name"}};
      const NormalizedRoute normalized = normalize_route(e.route, params, RouteNormalization{});
      e.route_full = normalized.route_full;
      e.query_params_json = normalized.query_params_json;
      e.query_params_normalized_json = normalized.query_params_normalized_json;
    }
    if (i % 3 != 2) e.user_id = user_id(i % 11);
    if (i % 4 == 1) {
      e.request_size_bytes = 100 + i;
      e.response_size_bytes = 5000 + i;
      e.db_query_count = i % 6;
      e.cache_status = "miss";
    }
    if (e.status_code >= 500) e.error_type = "timeout";
    events.push_back(std::move(e));
  }
  return events;
}

// The rollup counters over all hours and groups, from the store or from the events.
struct RouteTotals {
  int64_t requests = 0, successful = 0, client_errors = 0, server_errors = 0;
  int64_t duration_sum = 0, db_query_sum = 0, groups = 0;
  bool operator==(const RouteTotals&) const = default;
};

void PrintTo(const RouteTotals& t, std::ostream* out) {
  *out << "{requests " << t.requests << ", successful " << t.successful << ", client_errors "
       << t.client_errors << ", server_errors " << t.server_errors << ", duration_sum "
       << t.duration_sum << ", db_query_sum " << t.db_query_sum << ", groups " << t.groups << "}";
}

RouteTotals add_to(RouteTotals totals, const RouteBucket& b) {
  totals.requests += b.requests;
  totals.successful += b.successful;
  totals.client_errors += b.client_errors;
  totals.server_errors += b.server_errors;
  totals.duration_sum += b.duration_sum;
  totals.db_query_sum += b.db_query_sum;
  ++totals.groups;
  return totals;
}

RouteTotals route_totals_of(const Store& store) {
  RouteTotals totals;
  for (const RouteRollupRow& row : store.read_route_rollups(0, kYear2100, std::nullopt)) {
    totals = add_to(totals, row.bucket);
  }
  return totals;
}

RouteTotals route_totals_of(const std::vector<RouteEvent>& events) {
  std::map<RouteKey, RouteBucket> buckets;
  for (const RouteEvent& e : events) {
    buckets[RouteKey{e.timestamp_us / kMicrosPerHour * kMicrosPerHour, e.route, e.method,
                     e.query_params_normalized_json}]
        .add(e);
  }
  RouteTotals totals;
  for (const auto& [key, bucket] : buckets) totals = add_to(totals, bucket);
  return totals;
}

std::vector<RouteEvent> stored_routes(const Store& store) {
  std::vector<RouteEvent> events;
  store.scan_route_events(0, kYear2100, [&](const RouteEvent& e) { events.push_back(e); });
  return events;
}

class RouteStreamTest : public ::testing::Test {
 protected:
  RouteStreamTest()
      : redis_(RedisServer::shared()),
        ns_(std::string("route-test-") +
            ::testing::UnitTest::GetInstance()->current_test_info()->name()),
        stream_key_(stream_key(kRoute, ns_)),
        dead_key_(dead_letter_key(kRoute, ns_)),
        database_url_(PostgresServer::shared().create_database()),
        store_(database_url_) {
    client().command({"DEL", stream_key_, dead_key_, stream_key(kGeneration, ns_),
                      dead_letter_key(kGeneration, ns_)});  // left by a repeated run
  }

  // Small waits so that tests run fast.
  StreamWorker::Options worker_options(const std::string& consumer = "worker-a") const {
    StreamWorker::Options options;
    options.kind = kRoute;
    options.ns = ns_;
    options.consumer = consumer;
    options.batch_size = 200;
    options.block_ms = 20;
    options.claim_idle_ms = 100;
    options.backoff_initial_ms = 1;
    options.backoff_max_ms = 20;
    return options;
  }

  StreamPublisher publisher() const {
    StreamPublisher::Options options;
    options.ns = ns_;
    return StreamPublisher(redis_.options(), options);
  }

  RedisClient client() const { return RedisClient(redis_.options()); }

  std::string xadd(const Fields& fields) {
    std::vector<std::string_view> args = {"XADD", stream_key_, "*"};
    for (const auto& [name, value] : fields) {
      args.push_back(name);
      args.push_back(value);
    }
    return std::string(reply_text(*client().command(args)));
  }

  long long integer(std::initializer_list<std::string_view> command) {
    return client().command(command)->integer;
  }
  long long stream_length() { return integer({"XLEN", stream_key_}); }
  long long pending() {
    return client().command({"XPENDING", stream_key_, "genalytics"})->element[0]->integer;
  }
  long long pending_on(const std::string& consumer) {
    RedisReply reply =
        client().command({"XPENDING", stream_key_, "genalytics", "-", "+", "1000000", consumer});
    return static_cast<long long>(reply->elements);
  }

  // Rows of the seed's tables, counted by PostgreSQL itself.
  int64_t count_rows(const std::string& table) {
    PgConnection connection(database_url_);
    return connection.exec("SELECT COUNT(*) FROM " + table).int64(0, 0);
  }

  std::vector<std::map<std::string, std::string>> dead_letters() {
    RedisReply reply = client().command({"XRANGE", dead_key_, "-", "+"});
    std::vector<std::map<std::string, std::string>> entries;
    for (size_t i = 0; i < reply->elements; ++i) {
      const redisReply& values = *reply->element[i]->element[1];
      auto& entry = entries.emplace_back();
      for (size_t j = 0; j + 1 < values.elements; j += 2) {
        entry[std::string(reply_text(*values.element[j]))] =
            std::string(reply_text(*values.element[j + 1]));
      }
    }
    return entries;
  }

  // Runs cycles until the stream is empty and nothing is pending; fails the
  // test after 20 s.
  StreamWorker::Cycle drain(StreamWorker& worker) {
    StreamWorker::Cycle total;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (stream_length() > 0 || pending() > 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "timed out; last error: " << worker.stats().last_error;
        break;
      }
      const StreamWorker::Cycle cycle = worker.run_once();
      total.entries += cycle.entries;
      total.inserted += cycle.inserted;
      total.duplicates += cycle.duplicates;
      total.dead_lettered += cycle.dead_lettered;
    }
    return total;
  }

  RedisServer& redis_;
  const std::string ns_;
  const std::string stream_key_;
  const std::string dead_key_;
  const std::string database_url_;
  ScriptedRouteStore store_;
};

TEST_F(RouteStreamTest, KeysFollowTheGenerationStreamNaming) {
  EXPECT_EQ(event_kind_name(kRoute), "route_analytics");
  EXPECT_EQ(stream_key(kRoute, "genalytics"), "genalytics:route_analytics:stream");
  EXPECT_EQ(dead_letter_key(kRoute, "genalytics"), "genalytics:route_analytics:dead");
  EXPECT_EQ(stream_key(kGeneration, "genalytics"), "genalytics:generation_events:stream");
  EXPECT_EQ(publisher().stream_key(kRoute), stream_key_);
  StreamWorker worker(&store_, redis_.options(), worker_options());
  EXPECT_EQ(worker.stream_key(), stream_key_);
  EXPECT_EQ(worker.kind(), kRoute);
}

TEST_F(RouteStreamTest, PublishedRouteEventsAreStoredWithTheirRollupsExactlyOnce) {
  const std::vector<RouteEvent> events = route_hits(700);
  StreamPublisher publisher = this->publisher();
  publisher.publish(std::span<const RouteEvent>(events));
  publisher.publish(std::span<const RouteEvent>(events).first(100));  // a producer's retry
  EXPECT_EQ(stream_length(), 800);
  EXPECT_EQ(integer({"EXISTS", stream_key(kGeneration, ns_)}), 0);  // its own stream

  StreamWorker worker(&store_, redis_.options(), worker_options());
  const StreamWorker::Cycle total = drain(worker);
  EXPECT_EQ(total.entries, 800u);
  EXPECT_EQ(total.inserted, 700u);
  EXPECT_EQ(total.duplicates, 100u);
  EXPECT_EQ(total.dead_lettered, 0u);
  EXPECT_EQ(store_.calls(), 4);  // batches of 200, one transaction each

  EXPECT_EQ(count_rows("route_analytics"), 700);
  EXPECT_EQ(count_rows("generation_events"), 0);
  EXPECT_EQ(route_totals_of(store_), route_totals_of(events));
  PgConnection connection(database_url_);
  EXPECT_EQ(
      connection.exec("SELECT SUM(total_requests)::BIGINT FROM route_analytics_hourly").int64(0, 0),
      700);

  // Every field survives the flat form.
  std::map<std::string, RouteEvent> by_id;
  for (RouteEvent& e : stored_routes(store_)) by_id[e.event_id] = std::move(e);
  ASSERT_EQ(by_id.size(), events.size());
  for (const RouteEvent& e : events) testing::expect_same_route_event(by_id.at(e.event_id), e);

  const StreamWorker::Stats stats = worker.stats();
  EXPECT_EQ(stats.entries_acknowledged, 800u);
  EXPECT_EQ(stats.inserted, 700u);
  EXPECT_GT(stats.last_transfer_us, 0);
  EXPECT_EQ(stats.last_error, "");
  EXPECT_EQ(integer({"EXISTS", dead_key_}), 0);
}

TEST_F(RouteStreamTest, CrashAfterCommitBeforeAckIsRedeliveredAndNotCountedTwice) {
  const std::vector<RouteEvent> events = route_hits(500);
  publisher().publish(std::span<const RouteEvent>(events));
  // Seed 002's flat form without event_id or timestamp: the entry id stands
  // in for both, so a redelivery of these is recognised too.
  for (int i = 0; i < 5; ++i) {
    xadd({{"route", "/api/v1/content/42?page=3&sort=name"},
          {"method", "get"},
          {"user_id", std::string(kUserId)},
          {"duration_ms", "142"},
          {"status_code", "200"},
          {"query_params", R"({"page_size": 10})"}});
  }
  {
    store_.after_write = [](int call, std::span<const RouteEvent>) {
      if (call == 0) throw SimulatedCrash();
    };
    StreamWorker dying(&store_, redis_.options(), worker_options("worker-a"));
    EXPECT_THROW(dying.run_once(), SimulatedCrash);
    store_.after_write = nullptr;
  }
  EXPECT_EQ(count_rows("route_analytics"), 200);  // committed, never acknowledged
  EXPECT_EQ(pending_on("worker-a"), 200);

  // The restarted consumer reads its own pending entries first.
  StreamWorker::Options options = worker_options("worker-a");
  options.claim_idle_ms = 60'000;
  StreamWorker restarted(&store_, redis_.options(), options);
  const StreamWorker::Cycle first = restarted.run_once();
  EXPECT_EQ(first.entries, 200u);
  EXPECT_EQ(first.duplicates, 200u);
  EXPECT_EQ(first.inserted, 0u);

  // A second crash, then another consumer reclaims what the dead one held.
  {
    store_.after_write = [](int, std::span<const RouteEvent>) { throw SimulatedCrash(); };
    EXPECT_THROW(restarted.run_once(), SimulatedCrash);
    store_.after_write = nullptr;
  }
  EXPECT_EQ(pending_on("worker-a"), 200);
  StreamWorker survivor(&store_, redis_.options(), worker_options("worker-b"));
  const StreamWorker::Cycle total = drain(survivor);
  EXPECT_EQ(total.entries, 305u);
  EXPECT_EQ(total.duplicates, 200u);  // the reclaimed batch
  EXPECT_EQ(total.inserted, 105u);
  EXPECT_EQ(pending_on("worker-a"), 0);

  EXPECT_EQ(count_rows("route_analytics"), 505);
  PgConnection connection(database_url_);
  EXPECT_EQ(connection.exec("SELECT COUNT(DISTINCT event_id) FROM route_analytics").int64(0, 0),
            505);
  // The flat entries: in the hour (or two) of their XADD, one pattern.
  RouteTotals expected = route_totals_of(events);
  int64_t seed_requests = 0;
  for (const RouteRollupRow& row :
       store_.read_route_rollups(0, kYear2100, std::string("/api/v1/content/{id}"))) {
    EXPECT_EQ(row.key.method, "GET");
    EXPECT_EQ(row.key.query_params_normalized_json, R"({"page_size":"10","sort":"name"})");
    EXPECT_GE(row.key.hour_us, kHour + 3 * kMicrosPerHour);
    seed_requests += row.bucket.requests;
    expected = add_to(expected, row.bucket);
  }
  EXPECT_EQ(seed_requests, 5);
  EXPECT_EQ(route_totals_of(store_), expected);
}

TEST_F(RouteStreamTest, InvalidEntriesAreDeadLetteredWithTheirReasonAndTheRestStored) {
  const std::vector<RouteEvent> good = route_hits(3);
  StreamPublisher publisher = this->publisher();
  publisher.publish(std::span<const RouteEvent>(good).first(1));
  Fields bad_status = to_stream_fields(good[1]);
  for (auto& [name, value] : bad_status) {
    if (name == "status_code") value = "ok";
  }
  bad_status[0].second = random_uuid();  // a new event_id: not a duplicate of good[1]
  const std::string bad_status_id = xadd(bad_status);
  const std::string bad_params_id = xadd({{"route", "/x"},
                                          {"method", "GET"},
                                          {"duration_ms", "1"},
                                          {"status_code", "200"},
                                          {"query_params", "{page: 1}"}});
  const std::string bad_json_id = xadd({{"json", "not json"}});
  const std::string no_route_id = xadd({{"method", "GET"}, {"duration_ms", "-5"}});
  publisher.publish(std::span<const RouteEvent>(good).subspan(1));

  StreamWorker worker(&store_, redis_.options(), worker_options());
  const StreamWorker::Cycle cycle = worker.run_once();
  EXPECT_EQ(cycle.entries, 7u);  // one batch: bad entries do not hold up good ones
  EXPECT_EQ(cycle.inserted, 3u);
  EXPECT_EQ(cycle.dead_lettered, 4u);
  EXPECT_EQ(count_rows("route_analytics"), 3);
  EXPECT_EQ(stream_length(), 0);
  EXPECT_EQ(pending(), 0);

  const auto dead = dead_letters();
  ASSERT_EQ(dead.size(), 4u);
  EXPECT_EQ(dead[0].at("source_id"), bad_status_id);
  EXPECT_THAT(dead[0].at("error"), HasSubstr("/status_code"));
  EXPECT_EQ(dead[0].at("status_code"), "ok");  // the original fields are kept
  EXPECT_EQ(dead[0].size(), bad_status.size() + 2);
  EXPECT_EQ(dead[1].at("source_id"), bad_params_id);
  EXPECT_EQ(dead[1].at("error"), "/query_params must be JSON text of an object");
  EXPECT_EQ(dead[2].at("source_id"), bad_json_id);
  EXPECT_EQ(dead[2].at("error"), "/json must be JSON text of an object");
  EXPECT_EQ(dead[3].at("source_id"), no_route_id);
  EXPECT_THAT(dead[3].at("error"), HasSubstr("/route"));
  EXPECT_THAT(dead[3].at("error"), HasSubstr("/duration_ms"));
  EXPECT_THAT(dead[3].at("error"), HasSubstr("/status_code"));
  EXPECT_EQ(worker.stats().dead_lettered, 4u);
  EXPECT_EQ(integer({"EXISTS", dead_letter_key(kGeneration, ns_)}), 0);
}

TEST_F(RouteStreamTest, IngestAnswersOnlyAfterRedisAndNeverWritesTheStore) {
  RedisServer redis;  // its own server: this test stops it
  StreamPublisher::Options publisher_options;
  publisher_options.ns = ns_;
  StreamPublisher publisher(redis.options(), publisher_options);
  StreamIngest ingest(&publisher, StreamIngest::Options{});

  const auto submit = [&](std::vector<RouteEvent> events) {
    auto promise = std::make_shared<std::promise<WriteResult>>();
    std::future<WriteResult> result = promise->get_future();
    EXPECT_EQ(ingest.submit(std::move(events),
                             [promise](WriteResult r) { promise->set_value(std::move(r)); }),
              SubmitStatus::kQueued);
    return result.get();
  };
  const std::vector<RouteEvent> events = route_hits(10);
  const WriteResult ok = submit(events);
  EXPECT_TRUE(ok.ok) << ok.error;
  EXPECT_EQ(ok.accepted, 10u);
  RedisClient client(redis.options());
  EXPECT_EQ(client.command({"XLEN", stream_key_})->integer, 10);
  EXPECT_EQ(count_rows("route_analytics"), 0);  // the workers' job

  redis.stop();
  const WriteResult refused = submit(events);
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.error, "");
  redis.start();
  EXPECT_TRUE(submit(events).ok);
  ingest.shutdown();
}

TEST_F(RouteStreamTest, BothWorkersRunSideBySideAndTheStatusReportsBothStreams) {
  const std::vector<RouteEvent> routes = route_hits(300);
  std::vector<GenerationEvent> generations;
  for (int i = 0; i < 200; ++i) {
    generations.push_back(testing::make_completion(kHour + i, true, 100 + i, std::string(kUserId)));
  }
  StreamPublisher publisher = this->publisher();
  publisher.publish(std::span<const RouteEvent>(routes));
  publisher.publish(generations);

  RedisClient redis(redis_.options());
  const StreamStatus route_status =
      read_stream_status(redis, kRoute, ns_, "genalytics", now_us());
  EXPECT_EQ(route_status.kind, kRoute);
  EXPECT_EQ(route_status.stream_key, stream_key_);
  EXPECT_EQ(route_status.dead_letter_key, dead_key_);
  EXPECT_EQ(route_status.length, 300);
  EXPECT_TRUE(route_status.first_entry_us.has_value());
  EXPECT_EQ(read_stream_status(redis, kGeneration, ns_, "genalytics", now_us()).length,
            200);

  StreamWorker::Options options = worker_options();
  options.kind = kGeneration;  // StreamWorkerThreads sets each worker's own
  StreamWorkerThreads workers(&store_, redis_.options(), options);
  ASSERT_EQ(workers.workers().size(), kEventKinds.size());  // one per kind
  EXPECT_EQ(workers.workers()[0]->kind(), kGeneration);
  EXPECT_EQ(workers.workers()[1]->kind(), kRoute);
  EXPECT_EQ(workers.workers()[2]->kind(), event_kind<ModelKind>());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((count_rows("route_analytics") < 300 || store_.count_generation_events() < 200) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  workers.stop();
  EXPECT_EQ(count_rows("route_analytics"), 300);
  EXPECT_EQ(store_.count_generation_events(), 200);
  EXPECT_EQ(workers.workers()[0]->stats().inserted, 200u);
  EXPECT_EQ(workers.workers()[1]->stats().inserted, 300u);
  EXPECT_EQ(route_totals_of(store_), route_totals_of(routes));

  const StreamStatus drained =
      read_stream_status(redis, kRoute, ns_, "genalytics", now_us());
  EXPECT_EQ(drained.length, 0);
  EXPECT_EQ(drained.pending, 0);
  EXPECT_EQ(drained.consumers, 1);
}

}  // namespace
}  // namespace genalytics
