// The production pipeline end to end on a real redis-server (AOF, fsync
// always) and a SQLite store: StreamPublisher -> stream -> StreamWorker ->
// Store, with crashes, replays, store and Redis outages.
// Over 400 lines: the scenarios share one set of real servers and helpers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "demo/traffic_generator.h"
#include "event/stream_fields.h"
#include "event/time.h"
#include "event/uuid.h"
#include "pipeline/redis_client.h"
#include "pipeline/stream_publisher.h"
#include "pipeline/stream_worker.h"
#include "store/sqlite_store.h"
#include "testing/events.h"
#include "testing/fixed_times.h"
#include "testing/forwarding_store.h"
#include "testing/redis_server.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using ::testing::HasSubstr;
using testing::kHour;
using testing::kUserId;
using testing::kYear2100;
using testing::RedisServer;
using testing::SimulatedCrash;
using testing::TempDir;

using Fields = std::vector<std::pair<std::string, std::string>>;

// SqliteStore with hooks around each write, to make the store fail or the
// worker "crash" at a chosen point.
class ScriptedStore : public genalytics::testing::ForwardingStore<SqliteStore> {
 public:
  using Hook = std::function<void(int call, std::span<const GenerationEvent> events)>;

  using genalytics::testing::ForwardingStore<SqliteStore>::ForwardingStore;

  // The hooks see generation writes only; route writes pass through.
  void write(EventSpan events, std::vector<uint8_t>* inserted) override {
    const auto* generations = std::get_if<std::span<const GenerationEvent>>(&events);
    if (generations == nullptr) return store_.write(events, inserted);
    const int call = calls_++;
    if (before_write) before_write(call, *generations);
    store_.write(events, inserted);
    if (after_write) after_write(call, *generations);
  }

  int calls() const { return calls_; }

  Hook before_write;
  Hook after_write;

 private:
  int calls_ = 0;
};

std::vector<GenerationEvent> demo_events(int days) {
  DemoOptions options;
  options.days = days;
  options.end_us = kHour;
  std::vector<GenerationEvent> events;
  generate_demo_traffic(options, 10'000, [&](std::vector<GenerationEvent>&& batch) {
    events.insert(events.end(), batch.begin(), batch.end());
  });
  return events;
}

std::vector<GenerationEvent> completions(int n) {
  std::vector<GenerationEvent> events;
  for (int i = 0; i < n; ++i) {
    events.push_back(testing::make_completion(kHour + i, i % 5 != 0, 100 + i, std::string(kUserId),
                                              "sdxl", "oom"));
  }
  return events;
}

// The rollup counters over all hours, from the store or from the events.
struct Totals {
  int64_t events = 0, requests = 0, successes = 0, failures = 0, cancellations = 0;
  int64_t duration_sum = 0, images = 0;
  bool operator==(const Totals&) const = default;
};

void PrintTo(const Totals& t, std::ostream* out) {
  *out << "{events " << t.events << ", requests " << t.requests << ", successes " << t.successes
       << ", failures " << t.failures << ", cancellations " << t.cancellations << ", duration_sum "
       << t.duration_sum << ", images " << t.images << "}";
}

Totals add_to(Totals totals, const RollupBucket& b) {
  totals.events += b.event_count;
  totals.requests += b.requests;
  totals.successes += b.successes;
  totals.failures += b.failures;
  totals.cancellations += b.cancellations;
  totals.duration_sum += b.duration_sum;
  totals.images += b.images;
  return totals;
}

Totals totals_of(const Store& store) {
  Totals totals;
  for (const RollupRow& row : store.read_rollups(Dimension::kAll, 0, kYear2100, std::nullopt,
                                                 RollupColumns{false, false, false})) {
    totals = add_to(totals, row.bucket);
  }
  return totals;
}

Totals totals_of(const std::vector<GenerationEvent>& events) {
  RollupBucket bucket;
  for (const GenerationEvent& event : events) bucket.add(event);
  return add_to({}, bucket);
}

class StreamTest : public ::testing::Test {
 protected:
  StreamTest()
      : redis_(RedisServer::shared()),
        ns_(std::string("test-") + ::testing::UnitTest::GetInstance()->current_test_info()->name()),
        stream_key_(stream_key(event_kind<GenerationKind>(), ns_)),
        dead_key_(dead_letter_key(event_kind<GenerationKind>(), ns_)),
        store_(dir_.path()) {
    client().command({"DEL", stream_key_, dead_key_});  // left by a repeated run
  }

  // Small waits so that tests run fast.
  StreamWorker::Options worker_options(const std::string& consumer = "worker-a") const {
    StreamWorker::Options options;
    options.ns = ns_;
    options.consumer = consumer;
    options.batch_size = 500;
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
    RedisReply reply = client().command({"XPENDING", stream_key_, "genalytics"});
    return reply->element[0]->integer;
  }
  long long pending_on(const std::string& consumer) {
    RedisReply reply =
        client().command({"XPENDING", stream_key_, "genalytics", "-", "+", "1000000", consumer});
    return static_cast<long long>(reply->elements);
  }

  // The entries of the dead-letter stream as field maps.
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

  // Runs cycles until `done` holds; fails the test after 20 s.
  static StreamWorker::Cycle run_until(StreamWorker& worker, const std::function<bool()>& done) {
    StreamWorker::Cycle total;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done()) {
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

  // Runs cycles until the stream is empty and nothing is pending.
  StreamWorker::Cycle drain(StreamWorker& worker) {
    return run_until(worker, [&] { return stream_length() == 0 && pending() == 0; });
  }

  RedisServer& redis_;
  const std::string ns_;
  const std::string stream_key_;
  const std::string dead_key_;
  TempDir dir_;
  ScriptedStore store_;
};

TEST_F(StreamTest, PublishedEventsAreStoredExactlyOnce) {
  const std::vector<GenerationEvent> events = demo_events(1);
  ASSERT_GT(events.size(), 5000u);
  StreamPublisher publisher = this->publisher();
  for (size_t i = 0; i < events.size(); i += 1000) {
    publisher.publish(std::span(events).subspan(i, std::min<size_t>(1000, events.size() - i)));
  }
  EXPECT_EQ(stream_length(), static_cast<long long>(events.size()));

  StreamWorker worker(&store_, redis_.options(), worker_options());
  const StreamWorker::Cycle total = drain(worker);
  EXPECT_EQ(total.entries, events.size());
  EXPECT_EQ(total.inserted, events.size());
  EXPECT_EQ(total.duplicates, 0u);
  EXPECT_EQ(store_.count_generation_events(), static_cast<int64_t>(events.size()));
  EXPECT_EQ(totals_of(store_), totals_of(events));
  // Batches of at most batch_size, one transaction each.
  EXPECT_EQ(store_.calls(), static_cast<int>((events.size() + 499) / 500));

  const StreamWorker::Stats stats = worker.stats();
  EXPECT_EQ(stats.entries_acknowledged, events.size());
  EXPECT_EQ(stats.inserted, events.size());
  EXPECT_EQ(stats.dead_lettered, 0u);
  EXPECT_GT(stats.last_transfer_us, 0);
  EXPECT_EQ(stats.last_error, "");
  EXPECT_EQ(integer({"EXISTS", dead_key_}), 0);
}

TEST_F(StreamTest, PublishedEventsKeepTheirIdsAndText) {
  std::vector<GenerationEvent> events = completions(3);
  events[1].error_message = "line 1\nline 2 \"quoted\" \xc3\xa9";
  publisher().publish(events);
  StreamWorker worker(&store_, redis_.options(), worker_options());
  drain(worker);
  std::vector<std::string> stored;
  store_.scan_user_events(std::string(kUserId), 0, kYear2100, [&](const GenerationEvent& e) {
    stored.push_back(e.event_id + " " + e.error_message.value_or("-"));
  });
  EXPECT_THAT(stored, ::testing::ElementsAre(events[0].event_id + " oom happened",
                                             events[1].event_id + " " + *events[1].error_message,
                                             events[2].event_id + " -"));
}

TEST_F(StreamTest, SeedFlatEntriesAndJsonEntriesAddedBeforeTheGroupExistAreStored) {
  // seed 000: XADD generation_events:stream * event_type "request" ...,
  // without event_id or timestamp: the entry id stands in for both.
  const int64_t before_us = now_us() / 1000 * 1000;
  const Fields seed_request = {{"event_type", "request"},
                               {"generation_id", random_uuid()},
                               {"user_id", std::string(kUserId)},
                               {"generation_type", "standard"}};
  xadd(seed_request);
  xadd(seed_request);  // appended twice: two events
  xadd({{"event_type", "completion"},
        {"generation_id", random_uuid()},
        {"user_id", std::string(kUserId)},
        {"timestamp", "2025-01-15T10:30:45.123Z"},
        {"success", "true"},
        {"duration_ms", "45230"},
        {"image_dimensions", R"({"width": 832, "height": 1216})"},
        {"batch_size", "1"}});
  xadd({{"json", R"({"event_type":"completion","generation_id":")" + random_uuid() +
                     R"(","user_id":")" + std::string(kUserId) +
                     R"(","success":false,"error_type":"oom","duration_ms":12})"}});
  const int64_t after_us = now_us();

  StreamWorker worker(&store_, redis_.options(), worker_options());
  const StreamWorker::Cycle total = drain(worker);
  EXPECT_EQ(total.inserted, 4u);
  EXPECT_EQ(total.dead_lettered, 0u);
  std::vector<GenerationEvent> stored;
  store_.scan_user_events(std::string(kUserId), 0, kYear2100,
                          [&](const GenerationEvent& e) { stored.push_back(e); });
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored[0].timestamp_us, *parse_rfc3339("2025-01-15T10:30:45.123Z"));
  EXPECT_EQ(stored[0].duration_ms, 45230);
  for (int i = 1; i < 4; ++i) {
    EXPECT_GE(stored[i].timestamp_us, before_us) << i;
    EXPECT_LE(stored[i].timestamp_us, after_us) << i;
  }
  EXPECT_NE(stored[1].event_id, stored[2].event_id);
}

// Regression: an entry without event_id got its id from the stream entry id,
// so a producer that retried an XADD (say after a timeout) counted the event
// twice. With a timestamp, the id now comes from the content, as on HTTP.
TEST_F(StreamTest, RetriedXaddOfAnEventWithATimestampIsStoredOnce) {
  const Fields completion = {{"event_type", "completion"},
                             {"generation_id", random_uuid()},
                             {"user_id", std::string(kUserId)},
                             {"timestamp", "2025-01-15T10:30:45.123Z"},
                             {"success", "true"},
                             {"duration_ms", "45230"}};
  xadd(completion);
  xadd(completion);  // the retry
  Fields other = completion;
  other[5].second = "45231";  // another duration: another event
  xadd(other);
  StreamWorker worker(&store_, redis_.options(), worker_options());
  const StreamWorker::Cycle total = drain(worker);
  EXPECT_EQ(total.inserted, 2u);
  EXPECT_EQ(total.duplicates, 1u);
  EXPECT_EQ(total.dead_lettered, 0u);
  EXPECT_EQ(store_.count_generation_events(), 2);
}

TEST_F(StreamTest, InvalidEntriesAreDeadLetteredWithTheirReasonAndTheRestStored) {
  const std::vector<GenerationEvent> good = completions(3);
  StreamPublisher publisher = this->publisher();
  publisher.publish(std::span(good).first(1));
  Fields bad_duration = to_stream_fields(testing::make_completion(kHour, true, 5));
  for (auto& [name, value] : bad_duration) {
    if (name == "duration_ms") value = "5 seconds";
  }
  const std::string bad_duration_id = xadd(bad_duration);
  publisher.publish(std::span(good).subspan(1, 1));
  const std::string bad_costs_id = xadd(
      {{"event_type", "request"}, {"generation_id", random_uuid()}, {"costs", "{compute: 1}"}});
  const std::string bad_json_id = xadd({{"json", "not json"}});
  const std::string no_type_id = xadd({{"generation_id", "nope"}, {"success", "yes"}});
  publisher.publish(std::span(good).subspan(2, 1));

  StreamWorker worker(&store_, redis_.options(), worker_options());
  const StreamWorker::Cycle cycle = worker.run_once();
  EXPECT_EQ(cycle.entries, 7u);  // one batch: bad entries do not hold up good ones
  EXPECT_EQ(cycle.inserted, 3u);
  EXPECT_EQ(cycle.dead_lettered, 4u);
  EXPECT_EQ(store_.count_generation_events(), 3);
  EXPECT_EQ(stream_length(), 0);
  EXPECT_EQ(pending(), 0);

  const auto dead = dead_letters();
  ASSERT_EQ(dead.size(), 4u);
  EXPECT_EQ(dead[0].at("source_id"), bad_duration_id);
  EXPECT_EQ(dead[0].at("error"), "/duration_ms must be a non-negative integer");
  EXPECT_EQ(dead[0].at("duration_ms"), "5 seconds");  // the original fields are kept
  EXPECT_EQ(dead[0].at("event_id"), bad_duration[0].second);
  EXPECT_EQ(dead[0].size(), bad_duration.size() + 2);
  EXPECT_EQ(dead[1].at("source_id"), bad_costs_id);
  EXPECT_EQ(dead[1].at("error"), "/costs must be JSON text of an object");
  EXPECT_EQ(dead[1].at("costs"), "{compute: 1}");
  EXPECT_EQ(dead[2].at("source_id"), bad_json_id);
  EXPECT_EQ(dead[2].at("error"), "/json must be JSON text of an object");
  EXPECT_EQ(dead[3].at("source_id"), no_type_id);
  EXPECT_EQ(dead[3].at("error"),
            "/event_type is required; /generation_id must be a UUID; /success must be a boolean");
  EXPECT_EQ(worker.stats().dead_lettered, 4u);
}

TEST_F(StreamTest, ReplayedEventsAreNotCountedTwice) {
  const std::vector<GenerationEvent> events = completions(300);
  StreamPublisher publisher = this->publisher();
  publisher.publish(events);
  publisher.publish(events);  // a producer retrying after a lost reply
  StreamWorker worker(&store_, redis_.options(), worker_options());
  const StreamWorker::Cycle total = drain(worker);
  EXPECT_EQ(total.entries, 600u);
  EXPECT_EQ(total.inserted, 300u);
  EXPECT_EQ(total.duplicates, 300u);
  EXPECT_EQ(totals_of(store_), totals_of(events));
}

TEST_F(StreamTest, CrashAfterCommitBeforeAckIsReclaimedByAnotherConsumer) {
  const std::vector<GenerationEvent> events = completions(1200);
  publisher().publish(events);
  // Entries without event_id get theirs from the entry id: a replay of them
  // must be recognised too.
  for (int i = 0; i < 5; ++i) {
    xadd({{"event_type", "request"}, {"generation_id", random_uuid()}});
  }
  {
    store_.after_write = [](int call, std::span<const GenerationEvent>) {
      if (call == 0) throw SimulatedCrash();
    };
    StreamWorker dying(&store_, redis_.options(), worker_options("worker-a"));
    EXPECT_THROW(dying.run_once(), SimulatedCrash);
    store_.after_write = nullptr;
  }
  EXPECT_EQ(store_.count_generation_events(), 500);  // committed, never acknowledged
  EXPECT_EQ(pending_on("worker-a"), 500);

  StreamWorker survivor(&store_, redis_.options(), worker_options("worker-b"));
  const StreamWorker::Cycle total = drain(survivor);
  EXPECT_EQ(total.entries, 1205u);
  EXPECT_EQ(total.duplicates, 500u);  // the reclaimed batch
  EXPECT_EQ(total.inserted, 705u);
  EXPECT_EQ(store_.count_generation_events(), 1205);
  EXPECT_EQ(totals_of(store_).successes, totals_of(events).successes);
  EXPECT_EQ(pending_on("worker-a"), 0);
}

TEST_F(StreamTest, RestartedConsumerReadsItsOwnPendingEntriesFirst) {
  const std::vector<GenerationEvent> events = completions(20);
  publisher().publish(events);
  {
    store_.before_write = [](int, std::span<const GenerationEvent>) { throw SimulatedCrash(); };
    StreamWorker dying(&store_, redis_.options(), worker_options("worker-a"));
    EXPECT_THROW(dying.run_once(), SimulatedCrash);
    store_.before_write = nullptr;
  }
  ASSERT_EQ(pending_on("worker-a"), 20);
  // An entry deleted while pending is read back without its fields.
  const RedisReply first = client().command({"XRANGE", stream_key_, "-", "+", "COUNT", "1"});
  client().command({"XDEL", stream_key_, reply_text(*first->element[0]->element[0])});

  StreamWorker::Options options = worker_options("worker-a");
  options.claim_idle_ms = 60'000;  // no reclaiming: the pending entries are read as its own
  StreamWorker restarted(&store_, redis_.options(), options);
  const StreamWorker::Cycle cycle = restarted.run_once();
  EXPECT_EQ(cycle.entries, 20u);
  EXPECT_EQ(cycle.inserted, 19u);
  EXPECT_EQ(cycle.dead_lettered, 0u);
  EXPECT_EQ(pending(), 0);
  EXPECT_EQ(stream_length(), 0);
}

TEST_F(StreamTest, StoreFailuresAreRetriedWithTheSameBatch) {
  const std::vector<GenerationEvent> events = completions(1000);
  publisher().publish(events);
  std::vector<std::string> first_ids;
  store_.before_write = [&](int call, std::span<const GenerationEvent> batch) {
    if (call == 0) {
      for (const GenerationEvent& e : batch) first_ids.push_back(e.event_id);
    } else if (call <= 3) {
      std::vector<std::string> ids;
      for (const GenerationEvent& e : batch) ids.push_back(e.event_id);
      EXPECT_EQ(ids, first_ids) << call;
    }
    if (call < 3) throw StoreError("database is locked");
  };
  StreamWorker::Options options = worker_options();
  options.backoff_initial_ms = 10;
  options.backoff_max_ms = 40;
  StreamWorker worker(&store_, redis_.options(), options);
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const StreamWorker::Cycle cycle = worker.run_once();
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(10 << i)) << i;
    EXPECT_TRUE(cycle.failed);
    EXPECT_EQ(cycle.inserted, 0u);
  }
  EXPECT_EQ(worker.stats().store_failures, 3u);
  EXPECT_THAT(worker.stats().last_error, HasSubstr("database is locked"));
  EXPECT_EQ(pending(), 500);  // held by the worker, kept by the stream
  const StreamWorker::Cycle total = drain(worker);
  EXPECT_EQ(total.inserted, 1000u);
  EXPECT_EQ(store_.count_generation_events(), 1000);
  EXPECT_EQ(totals_of(store_), totals_of(events));
}

TEST_F(StreamTest, PendingEntriesSurviveARedisCrash) {
  RedisServer redis;  // its own server: this test kills it
  StreamPublisher::Options publisher_options;
  publisher_options.ns = ns_;
  StreamPublisher publisher(redis.options(), publisher_options);
  const std::vector<GenerationEvent> events = completions(1500);
  publisher.publish(std::span(events).first(1000));
  {
    store_.before_write = [](int, std::span<const GenerationEvent>) { throw SimulatedCrash(); };
    StreamWorker dying(&store_, redis.options(), worker_options("worker-a"));
    EXPECT_THROW(dying.run_once(), SimulatedCrash);
    store_.before_write = nullptr;
  }
  StreamWorker worker(&store_, redis.options(), worker_options("worker-b"));
  worker.run_once();  // connected before the crash
  ASSERT_GT(store_.count_generation_events(), 0);

  redis.restart(SIGKILL);  // a crash: only the AOF remains

  // The publisher's idle connection died with the server: replaced.
  publisher.publish(std::span(events).subspan(1000));
  const StreamWorker::Cycle total = run_until(worker, [&] {
    RedisClient client(redis.options());
    return client.command({"XLEN", stream_key(event_kind<GenerationKind>(), ns_)})->integer == 0 &&
           client.command({"XPENDING", stream_key(event_kind<GenerationKind>(), ns_), "genalytics"})
                   ->element[0]
                   ->integer == 0;
  });
  EXPECT_GE(worker.stats().redis_failures, 1u);
  EXPECT_EQ(store_.count_generation_events(), 1500);
  EXPECT_EQ(totals_of(store_), totals_of(events));
  EXPECT_EQ(total.dead_lettered, 0u);
}

TEST_F(StreamTest, RedisDownMakesThePublisherFailAndTheWorkerWait) {
  RedisServer redis;
  StreamPublisher::Options publisher_options;
  publisher_options.ns = ns_;
  StreamPublisher publisher(redis.options(), publisher_options);
  StreamWorker worker(&store_, redis.options(), worker_options());
  const std::vector<GenerationEvent> events = completions(10);
  publisher.publish(std::span(events).first(5));
  redis.stop();

  EXPECT_THROW(publisher.publish(std::span(events).subspan(5)), RedisError);
  EXPECT_THROW(publisher.publish(std::span(events).subspan(5)), RedisError);
  const StreamWorker::Cycle cycle = worker.run_once();
  EXPECT_TRUE(cycle.failed);
  EXPECT_EQ(worker.stats().redis_failures, 1u);
  EXPECT_THAT(worker.stats().last_error, HasSubstr("Connection refused"));

  redis.start();
  publisher.publish(std::span(events).subspan(5));
  run_until(worker, [&] { return store_.count_generation_events() == 10; });
  EXPECT_EQ(worker.stats().inserted, 10u);
}

TEST_F(StreamTest, PublisherReportsRefusedAppends) {
  client().command({"SET", stream_key_, "not a stream"});
  EXPECT_THROW(
      {
        try {
          publisher().publish(completions(3));
        } catch (const RedisReplyError& error) {
          EXPECT_THAT(error.what(), HasSubstr("refused 3 of 3"));
          EXPECT_THAT(error.what(), HasSubstr("WRONGTYPE"));
          throw;
        }
      },
      RedisReplyError);
}

TEST_F(StreamTest, RunStopsWhenAsked) {
  publisher().publish(completions(50));
  StreamWorker worker(&store_, redis_.options(), worker_options());
  std::jthread thread([&](std::stop_token stop) { worker.run(stop); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (store_.count_generation_events() < 50 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  thread.request_stop();
  thread.join();
  EXPECT_EQ(worker.stats().inserted, 50u);
}

}  // namespace
}  // namespace genalytics
