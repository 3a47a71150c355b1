// PipelineMonitor: the pipeline status document, embedded (a SqliteStore and
// its BatchWriter) and production (a real redis-server, stream workers).
#include "live/pipeline_monitor.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "event/time.h"
#include "pipeline/batch_writer.h"
#include "pipeline/refusing_store.h"
#include "pipeline/stream_publisher.h"
#include "pipeline/stream_worker.h"
#include "store/sqlite_store.h"
#include "testing/events.h"
#include "testing/fixed_times.h"
#include "testing/redis_server.h"
#include "testing/route_events.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

namespace json = boost::json;
using testing::kGeneration;
using testing::kHour;
using testing::kRoute;
using testing::RedisServer;
using testing::RefusingStore;
using testing::TempDir;

std::string text(const json::value& value) { return std::string(value.as_string()); }

std::vector<GenerationEvent> completions(int n, int64_t start_us) {
  std::vector<GenerationEvent> events;
  for (int i = 0; i < n; ++i) {
    events.push_back(testing::make_completion(start_us + i * 1'000'000, true, 100 + i));
  }
  return events;
}

TEST(PipelineMonitorTest, EmbeddedStatusReportsTheStoreAndTheQueueAndNoStreams) {
  TempDir dir;
  SqliteStore store(dir.path());
  BatchWriter writer(&store, {});
  ASSERT_TRUE(writer.write(completions(3, kHour + 60'000'000)).ok);
  ASSERT_TRUE(writer.write(completions(2, kHour + kMicrosPerHour)).ok);
  writer.shutdown();  // a write returns before its batch leaves the queue's count
  PipelineMonitor monitor(&store, std::nullopt, "genalytics", "genalytics", {}, &writer);

  const int64_t now = kHour + 3 * kMicrosPerHour;
  const json::object status = monitor.status(now);
  EXPECT_EQ(status.at("mode"), "embedded");
  EXPECT_EQ(text(status.at("time")), format_rfc3339_micros(now));
  EXPECT_FALSE(status.contains("streams"));
  EXPECT_FALSE(status.contains("worker"));
  EXPECT_FALSE(status.contains("route_worker"));
  EXPECT_EQ(status.at("ingest_queue_events"), 0);
  EXPECT_EQ(status.at("lag_seconds"), 0.0);
  EXPECT_EQ(status.at("status"), "ok");
  const json::object& s = status.at("store").as_object();
  EXPECT_EQ(s.at("events"), 5);
  EXPECT_EQ(s.at("events_exact"), true);
  EXPECT_EQ(text(s.at("last_event_at")), format_rfc3339_micros(kHour + kMicrosPerHour + 1'000'000));
  EXPECT_EQ(text(s.at("last_hour_rolled_up")), format_rfc3339_micros(kHour + kMicrosPerHour));
  EXPECT_EQ(s.at("hourly_rows"), 2);
  EXPECT_TRUE(s.at("last_transfer_at").is_string());
  EXPECT_GE(s.at("seconds_since_last_transfer").to_number<double>(), 0.0);
}

TEST(PipelineMonitorTest, EmptyEmbeddedStoreHasNullTimes) {
  TempDir dir;
  SqliteStore store(dir.path());
  PipelineMonitor monitor(&store, std::nullopt, "genalytics", "genalytics", {}, nullptr);
  const json::object status = monitor.status(kHour);
  EXPECT_FALSE(status.contains("ingest_queue_events"));  // no sink
  const json::object& s = status.at("store").as_object();
  EXPECT_EQ(s.at("events"), 0);
  EXPECT_TRUE(s.at("last_event_at").is_null());
  EXPECT_TRUE(s.at("last_transfer_at").is_null());
  EXPECT_TRUE(s.at("seconds_since_last_transfer").is_null());
  EXPECT_TRUE(s.at("last_hour_rolled_up").is_null());
  EXPECT_EQ(s.at("hourly_rows"), 0);
}

class PipelineMonitorProductionTest : public ::testing::Test {
 protected:
  PipelineMonitorProductionTest()
      : redis_(RedisServer::shared()),
        ns_(std::string("monitor-") +
            ::testing::UnitTest::GetInstance()->current_test_info()->name()),
        store_(dir_.path()) {
    RedisClient client(redis_.options());
    for (const EventKind kind : kEventKinds) {
      client.command({"DEL", stream_key(kind, ns_), dead_letter_key(kind, ns_)});
    }
  }

  StreamWorker::Options worker_options(EventKind kind) const {
    StreamWorker::Options options;
    options.kind = kind;
    options.ns = ns_;
    options.consumer = "monitor-worker";
    options.block_ms = 20;
    options.backoff_initial_ms = 1;
    return options;
  }

  void publish(EventSpan events) {
    StreamPublisher::Options options;
    options.ns = ns_;
    StreamPublisher(redis_.options(), options).publish(events);
  }

  RedisServer& redis_;
  const std::string ns_;
  TempDir dir_;
  RefusingStore store_;
};

TEST_F(PipelineMonitorProductionTest, EveryKindsStreamAndWorkerAreListedUnderTheirNames) {
  const std::vector<GenerationEvent> generations = completions(5, kHour);
  const std::vector<RouteEvent> routes = {testing::make_route_event(kHour, "/a"),
                                          testing::make_route_event(kHour, "/b"),
                                          testing::make_route_event(kHour, "/c")};
  publish(generations);
  publish(routes);
  StreamWorker generation_worker(&store_, redis_.options(), worker_options(kGeneration));
  StreamWorker route_worker(&store_, redis_.options(), worker_options(kRoute));
  PipelineMonitor monitor(&store_, redis_.options(), ns_, "genalytics",
                          {&generation_worker, &route_worker}, nullptr);

  const json::object before = monitor.status(now_us());
  EXPECT_EQ(before.at("mode"), "production");
  const json::array& streams = before.at("streams").as_array();
  ASSERT_EQ(streams.size(), kEventKinds.size());  // every kind's stream, with or without a worker
  EXPECT_EQ(streams[2].at("name"), "model_usage_events");
  EXPECT_EQ(streams[2].at("length"), 0);
  EXPECT_EQ(streams[0].at("name"), "generation_events");
  EXPECT_EQ(text(streams[0].at("key")), ns_ + ":generation_events:stream");
  EXPECT_EQ(text(streams[0].at("dead_letter_key")), ns_ + ":generation_events:dead");
  EXPECT_EQ(streams[0].at("length"), 5);
  EXPECT_EQ(streams[1].at("name"), "route_analytics");
  EXPECT_EQ(text(streams[1].at("key")), ns_ + ":route_analytics:stream");
  EXPECT_EQ(text(streams[1].at("dead_letter_key")), ns_ + ":route_analytics:dead");
  EXPECT_EQ(streams[1].at("length"), 3);
  EXPECT_GE(before.at("lag_seconds").to_number<double>(), 0.0);
  EXPECT_EQ(text(before.at("worker").at("stream")), ns_ + ":generation_events:stream");
  EXPECT_EQ(before.at("worker").at("entries_acknowledged"), 0);
  EXPECT_TRUE(before.at("worker").at("last_transfer_at").is_null());
  EXPECT_EQ(text(before.at("route_worker").at("stream")), ns_ + ":route_analytics:stream");

  ASSERT_FALSE(generation_worker.run_once().failed);
  ASSERT_FALSE(route_worker.run_once().failed);
  const json::object after = monitor.status(now_us());
  EXPECT_EQ(after.at("streams").at(0).at("length"), 0);
  EXPECT_EQ(after.at("streams").at(1).at("length"), 0);
  EXPECT_EQ(after.at("lag_seconds"), 0.0);
  const json::object& worker = after.at("worker").as_object();
  EXPECT_EQ(worker.at("consumer"), "monitor-worker");
  EXPECT_EQ(worker.at("entries_acknowledged"), 5);
  EXPECT_EQ(worker.at("inserted"), 5);
  EXPECT_EQ(worker.at("duplicates"), 0);
  EXPECT_EQ(worker.at("dead_lettered"), 0);
  EXPECT_EQ(worker.at("store_rejected"), 0);
  EXPECT_EQ(worker.at("store_failures"), 0);
  EXPECT_EQ(worker.at("redis_failures"), 0);
  EXPECT_TRUE(worker.at("last_transfer_at").is_string());
  EXPECT_EQ(worker.at("last_error"), "");
  EXPECT_EQ(worker.at("last_store_rejection"), "");
  EXPECT_EQ(worker.at("status"), "ok");
  EXPECT_EQ(after.at("route_worker").at("inserted"), 3);
  EXPECT_EQ(after.at("status"), "ok");
  EXPECT_EQ(after.at("store").at("events"), 5);
}

TEST_F(PipelineMonitorProductionTest, EventsTheStoreRefusedMakeThePipelineDegraded) {
  const std::vector<GenerationEvent> generations = completions(4, kHour);
  store_.refused = {generations[2].event_id};
  publish(generations);
  StreamWorker generation_worker(&store_, redis_.options(), worker_options(kGeneration));
  StreamWorker route_worker(&store_, redis_.options(), worker_options(kRoute));
  PipelineMonitor monitor(&store_, redis_.options(), ns_, "genalytics",
                          {&generation_worker, &route_worker}, nullptr);
  ASSERT_FALSE(generation_worker.run_once().failed);

  const json::object status = monitor.status(now_us());
  EXPECT_EQ(status.at("status"), "degraded");
  const json::object& worker = status.at("worker").as_object();
  EXPECT_EQ(worker.at("status"), "degraded");
  EXPECT_EQ(worker.at("store_rejected"), 1);
  EXPECT_EQ(worker.at("dead_lettered"), 1);
  EXPECT_EQ(worker.at("inserted"), 3);
  EXPECT_EQ(worker.at("last_store_rejection"),
            "store_corrupt: rollup sketch of the hour does not decode");
  EXPECT_EQ(status.at("route_worker").at("status"), "ok");
  EXPECT_EQ(status.at("streams").at(0).at("dead_letters"), 1);
  EXPECT_EQ(status.at("streams").at(0).at("length"), 0);
}

}  // namespace
}  // namespace genalytics
