// StreamWorker against a store that refuses some events as corrupt or
// invalid (StoreError kCorrupt / kInvalid): those events are dead-lettered
// with their reason, the rest stored, and the stream never stalls. A real
// redis-server and a real SqliteStore; the decorator only throws.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "event/stream_fields.h"
#include "event/time.h"
#include "pipeline/redis_client.h"
#include "pipeline/refusing_store.h"
#include "pipeline/stream_publisher.h"
#include "pipeline/stream_worker.h"
#include "testing/events.h"
#include "testing/fixed_times.h"
#include "testing/redis_server.h"
#include "testing/route_events.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::kGeneration;
using testing::kHour;
using testing::kRoute;
using testing::RedisServer;
using testing::RefusingStore;
using ::testing::StartsWith;
using testing::TempDir;

class StoreRejectionTest : public ::testing::Test {
 protected:
  StoreRejectionTest()
      : redis_(RedisServer::shared()),
        ns_(std::string("rejection-") +
            ::testing::UnitTest::GetInstance()->current_test_info()->name()),
        store_(dir_.path()) {
    for (const EventKind kind : kEventKinds) {
      client().command({"DEL", stream_key(kind, ns_), dead_letter_key(kind, ns_)});
    }
  }

  StreamWorker::Options worker_options(EventKind kind) const {
    StreamWorker::Options options;
    options.kind = kind;
    options.ns = ns_;
    options.consumer = "worker-a";
    options.batch_size = 500;
    options.block_ms = 20;
    options.backoff_initial_ms = 1;
    options.backoff_max_ms = 5;
    return options;
  }

  StreamPublisher publisher() const {
    StreamPublisher::Options options;
    options.ns = ns_;
    return StreamPublisher(redis_.options(), options);
  }

  RedisClient client() const { return RedisClient(redis_.options()); }

  long long integer(std::initializer_list<std::string_view> command) {
    return client().command(command)->integer;
  }
  long long length(EventKind kind) { return integer({"XLEN", stream_key(kind, ns_)}); }
  long long pending(EventKind kind) {
    return client().command({"XPENDING", stream_key(kind, ns_), "genalytics"})->element[0]->integer;
  }

  // The entries of `kind`'s dead-letter stream as field maps.
  std::vector<std::map<std::string, std::string>> dead_letters(EventKind kind) {
    RedisReply reply = client().command({"XRANGE", dead_letter_key(kind, ns_), "-", "+"});
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

  RedisServer& redis_;
  const std::string ns_;
  TempDir dir_;
  RefusingStore store_;
};

// `n` successful sdxl completions from kHour on, a microsecond apart.
std::vector<GenerationEvent> sdxl_completions(int n) {
  std::vector<GenerationEvent> events;
  for (int i = 0; i < n; ++i) {
    events.push_back(testing::make_completion(kHour + i, true, 100 + i, "", "sdxl"));
  }
  return events;
}

TEST_F(StoreRejectionTest, CorruptEventsAreDeadLetteredAndTheRestStoredInsteadOfStallingTheStream) {
  const std::vector<GenerationEvent> events = sdxl_completions(200);
  store_.refused = {events[17].event_id, events[150].event_id};
  publisher().publish(events);

  StreamWorker worker(&store_, redis_.options(), worker_options(kGeneration));
  const StreamWorker::Cycle cycle = worker.run_once();
  EXPECT_FALSE(cycle.failed) << worker.stats().last_error;
  EXPECT_EQ(cycle.entries, 200u);
  EXPECT_EQ(cycle.inserted, 198u);
  EXPECT_EQ(cycle.duplicates, 0u);
  EXPECT_EQ(cycle.store_rejected, 2u);
  EXPECT_EQ(cycle.dead_lettered, 2u);
  EXPECT_EQ(length(kGeneration), 0);  // acknowledged and deleted: nothing stalls
  EXPECT_EQ(pending(kGeneration), 0);
  EXPECT_EQ(store_.count_generation_events(), 198);

  // Each refused event is in the dead-letter stream, whole, with its reason.
  const auto dead = dead_letters(kGeneration);
  ASSERT_EQ(dead.size(), 2u);
  for (size_t i = 0; i < dead.size(); ++i) {
    const GenerationEvent& sent = events[i == 0 ? 17 : 150];
    EXPECT_EQ(dead[i].at("error"), "store_corrupt: rollup sketch of the hour does not decode");
    EXPECT_THAT(dead[i].at("source_id"), ::testing::MatchesRegex("[0-9]+-[0-9]+"));
    std::vector<StreamField> fields;
    for (const auto& [name, value] : dead[i]) {
      if (name != "error" && name != "source_id") fields.emplace_back(name, value);
    }
    std::vector<FieldError> errors;
    GenerationEvent back;
    ASSERT_TRUE(decode_generation_event(boost::json::value(fields_to_json(fields, &errors)), kHour,
                                        DecodeLimits{}, &back, &errors))
        << errors.size();
    EXPECT_EQ(back.event_id, sent.event_id);
    EXPECT_EQ(back.timestamp_us, sent.timestamp_us);
    EXPECT_EQ(back.duration_ms, sent.duration_ms);
  }

  const StreamWorker::Stats stats = worker.stats();
  EXPECT_EQ(stats.store_rejected, 2u);
  EXPECT_EQ(stats.dead_lettered, 2u);
  EXPECT_EQ(stats.inserted, 198u);
  EXPECT_EQ(stats.entries_acknowledged, 200u);
  EXPECT_EQ(stats.store_failures, 0u);
  EXPECT_EQ(stats.last_store_rejection, "store_corrupt: rollup sketch of the hour does not decode");
}

TEST_F(StoreRejectionTest, InvalidRouteEventIsDeadLetteredAsStoreInvalidOnTheRouteStream) {
  std::vector<RouteEvent> events;
  for (int i = 0; i < 9; ++i) {
    events.push_back(testing::make_route_event(kHour + i, "/items/" + std::to_string(i)));
  }
  store_.refused = {events[4].event_id};
  store_.failure = StoreFailure::kInvalid;
  publisher().publish(events);

  StreamWorker worker(&store_, redis_.options(), worker_options(kRoute));
  const StreamWorker::Cycle cycle = worker.run_once();
  EXPECT_FALSE(cycle.failed);
  EXPECT_EQ(cycle.inserted, 8u);
  EXPECT_EQ(cycle.store_rejected, 1u);
  EXPECT_EQ(length(kRoute), 0);
  const auto dead = dead_letters(kRoute);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].at("error"), "store_invalid: rollup sketch of the hour does not decode");
  EXPECT_EQ(dead[0].at("event_id"), events[4].event_id);
  EXPECT_EQ(dead[0].at("route"), "/items/{id}");    // as the worker decoded it
  EXPECT_EQ(dead[0].at("route_full"), "/items/4");  // as it was sent
  EXPECT_EQ(integer({"XLEN", dead_letter_key(kGeneration, ns_)}), 0);
}

TEST_F(StoreRejectionTest, AStoreThatRefusesEveryEventOfABatchHoldsItInsteadOfDrainingTheStream) {
  // A revoked privilege or a drifted schema refuses every event: no event is
  // at fault, so nothing is dead-lettered and the batch waits, as for an
  // unavailable store; it is stored once the store takes writes again.
  const std::vector<GenerationEvent> events = sdxl_completions(13);
  store_.refuse_all = true;
  publisher().publish(events);

  StreamWorker worker(&store_, redis_.options(), worker_options(kGeneration));
  const StreamWorker::Cycle refused = worker.run_once();
  EXPECT_TRUE(refused.failed);
  EXPECT_EQ(refused.store_rejected, 0u);
  EXPECT_EQ(worker.stats().store_failures, 1u);
  EXPECT_TRUE(dead_letters(kGeneration).empty());
  EXPECT_EQ(pending(kGeneration), 13);
  EXPECT_EQ(store_.count_generation_events(), 0);

  store_.refuse_all = false;
  const StreamWorker::Cycle retried = worker.run_once();
  EXPECT_FALSE(retried.failed);
  EXPECT_EQ(retried.inserted, 13u);
  EXPECT_EQ(length(kGeneration), 0);
  EXPECT_EQ(pending(kGeneration), 0);
  EXPECT_EQ(store_.count_generation_events(), 13);
}

TEST_F(StoreRejectionTest, ALoneEventTheStoreRefusesIsDeadLettered) {
  const std::vector<GenerationEvent> events = sdxl_completions(1);
  store_.refuse_all = true;
  publisher().publish(events);

  StreamWorker worker(&store_, redis_.options(), worker_options(kGeneration));
  const StreamWorker::Cycle cycle = worker.run_once();
  EXPECT_FALSE(cycle.failed);
  EXPECT_EQ(cycle.store_rejected, 1u);
  EXPECT_EQ(dead_letters(kGeneration).size(), 1u);
  EXPECT_EQ(length(kGeneration), 0);
  EXPECT_EQ(pending(kGeneration), 0);
}

// A store that becomes unavailable while the failing events are being
// isolated: the batch is kept and written again, and each refused event is
// dead-lettered once, when the batch is finally acknowledged.
TEST_F(StoreRejectionTest, UnavailableStoreWhileIsolatingRetriesTheBatchAndDeadLettersOnce) {
  const std::vector<GenerationEvent> events = sdxl_completions(100);
  store_.refused = {events[80].event_id};
  store_.unavailable_call = 2;  // the whole batch, its first half, then this
  publisher().publish(events);

  StreamWorker worker(&store_, redis_.options(), worker_options(kGeneration));
  const StreamWorker::Cycle failed = worker.run_once();
  EXPECT_TRUE(failed.failed);
  EXPECT_EQ(worker.stats().store_failures, 1u);
  EXPECT_EQ(pending(kGeneration), 100);  // held, not acknowledged
  EXPECT_TRUE(dead_letters(kGeneration).empty());

  const StreamWorker::Cycle retried = worker.run_once();
  EXPECT_FALSE(retried.failed);
  EXPECT_EQ(retried.entries, 100u);
  EXPECT_EQ(retried.inserted + retried.duplicates, 99u);
  EXPECT_EQ(retried.duplicates, 50u);  // the first half, committed before the outage
  EXPECT_EQ(retried.store_rejected, 1u);
  EXPECT_EQ(store_.count_generation_events(), 99);
  const auto dead = dead_letters(kGeneration);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].at("event_id"), events[80].event_id);
  EXPECT_EQ(pending(kGeneration), 0);
  EXPECT_EQ(length(kGeneration), 0);
}

}  // namespace
}  // namespace genalytics
