#include "live/live_metrics.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "event/time.h"
#include "store/sqlite_store.h"
#include "testing/events.h"
#include "testing/redis_server.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::make_completion;
using testing::make_event;

TEST(LiveMetricsTest, LastHourFiguresAreExact) {
  testing::TempDir dir;
  SqliteStore store(dir.path());
  const int64_t now = now_us();
  std::vector<GenerationEvent> events;
  // Outside the hour: must not count.
  events.push_back(make_event(GenerationEventType::kRequest, now - kMicrosPerHour - 1));
  events.push_back(make_completion(now - 2 * kMicrosPerHour, false, 999999));
  // Three generations: one finished, one cancelled, two still running.
  GenerationEvent a = make_event(GenerationEventType::kRequest, now - 50 * 60 * kMicrosPerSecond);
  a.queue_length = 4;
  GenerationEvent a_done = make_completion(now - 40 * 60 * kMicrosPerSecond, true, 1000);
  a_done.generation_id = a.generation_id;
  GenerationEvent b = make_event(GenerationEventType::kRequest, now - 30 * 60 * kMicrosPerSecond);
  GenerationEvent b_cancel = make_event(GenerationEventType::kCancellation, now - 20 * 60 * kMicrosPerSecond);
  b_cancel.generation_id = b.generation_id;
  GenerationEvent c = make_event(GenerationEventType::kRequest, now - 10 * 60 * kMicrosPerSecond);
  c.queue_length = 9;
  GenerationEvent d = make_event(GenerationEventType::kStart, now - 5 * 60 * kMicrosPerSecond);
  events.insert(events.end(), {a, a_done, b, b_cancel, c, d});
  for (int i = 0; i < 19; ++i) {
    events.push_back(make_completion(now - (i + 1) * kMicrosPerSecond, i != 0, 100 * (i + 1)));
  }
  std::vector<uint8_t> inserted;
  store.write(events, &inserted);

  const LiveMetrics m = compute_live_metrics(store, now);
  EXPECT_EQ(m.requests_1h, 3);
  EXPECT_EQ(m.active_generations, 2);  // c and d
  EXPECT_EQ(m.queue_length, 9);        // the newest sample
  // 20 completions in the hour (a_done + 19), one failed.
  EXPECT_NEAR(*m.success_rate_1h, 19.0 / 20.0, 1e-9);
  // Durations 100..1900 plus 1000: rank floor(0.95 * 19) = 18 of the sorted 20 is 1800.
  EXPECT_NEAR(static_cast<double>(*m.p95_duration_ms_1h), 1800, 18);
}

TEST(LiveMetricsTest, PublisherKeepsTheSeedsHashCurrent) {
  testing::TempDir dir;
  SqliteStore store(dir.path());
  std::vector<uint8_t> inserted;
  store.write(
      std::vector{make_event(GenerationEventType::kRequest, now_us() - kMicrosPerSecond)}, &inserted);
  auto& redis_server = testing::RedisServer::shared();
  const std::string ns = "live-" + std::to_string(getpid());
  LiveMetricsPublisher publisher(&store, redis_server.options(), ns, std::chrono::milliseconds(50));
  for (int i = 0; i < 200 && publisher.publications() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GE(publisher.publications(), 2);
  RedisClient redis(redis_server.options());
  RedisReply hash = redis.command({"HGETALL", live_metrics_key(ns)});
  std::map<std::string, std::string> fields;
  for (size_t i = 0; i + 1 < hash->elements; i += 2) {
    fields[std::string(reply_text(*hash->element[i]))] = reply_text(*hash->element[i + 1]);
  }
  EXPECT_EQ(fields["requests_1h"], "1");
  EXPECT_EQ(fields["active_generations"], "1");
  for (const char* key : {"queue_length", "success_rate_1h", "p95_duration_ms_1h", "updated_at"}) {
    EXPECT_TRUE(fields.count(key)) << key;
  }
}

}  // namespace
}  // namespace genalytics
