#include "pipeline/submission_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "event/time.h"
#include "testing/events.h"
#include "testing/fixed_times.h"
#include "testing/route_events.h"

namespace genalytics {
namespace {

using testing::kDeadline;
using testing::kHour;

// Whether `result` is ready within kDeadline. If not, stops `queue` so that
// the waiting thread can end and the failing test does not hang.
template <typename T>
bool ready_or_stop(std::future<T>& result, SubmissionQueue& queue) {
  if (result.wait_for(kDeadline) == std::future_status::ready) return true;
  queue.stop();
  return false;
}

// `n` generation events whose durations number them from `first`, so that a
// test can tell which submission an event came from and in what order.
Submission numbered(int n, int first = 0) {
  std::vector<GenerationEvent> events;
  for (int i = 0; i < n; ++i) events.push_back(testing::make_completion(kHour, true, first + i));
  return Submission{std::move(events), {}};
}

const std::vector<GenerationEvent>& generations(const Submission& s) {
  return std::get<std::vector<GenerationEvent>>(s.events);
}

std::vector<int64_t> durations(const std::vector<Submission>& batch) {
  std::vector<int64_t> out;
  for (const Submission& s : batch) {
    for (const GenerationEvent& e : generations(s)) out.push_back(*e.duration_ms);
  }
  return out;
}

TEST(SubmissionQueueTest, PushRefusesWhatWouldPassTheLimitWithoutQueueingIt) {
  SubmissionQueue queue(10);
  EXPECT_EQ(queue.push(numbered(8)), SubmitStatus::kQueued);
  EXPECT_FALSE(queue.full());
  EXPECT_EQ(queue.push(numbered(3)), SubmitStatus::kQueueFull);
  EXPECT_EQ(queue.queued_events(), 8u);
  EXPECT_EQ(queue.push(numbered(2)), SubmitStatus::kQueued);
  EXPECT_EQ(queue.queued_events(), 10u);
  EXPECT_TRUE(queue.full());
  EXPECT_EQ(queue.push(numbered(1)), SubmitStatus::kQueueFull);

  std::vector<Submission> batch;
  ASSERT_TRUE(queue.take(100, &batch));
  EXPECT_EQ(batch.size(), 2u);  // the refused submissions were not queued
}

TEST(SubmissionQueueTest, OversizedSubmissionIsAcceptedOnlyWhenTheQueueIsEmpty) {
  SubmissionQueue queue(5);
  EXPECT_EQ(queue.push(numbered(50)), SubmitStatus::kQueued);
  EXPECT_EQ(queue.queued_events(), 50u);
  EXPECT_TRUE(queue.full());
  EXPECT_EQ(queue.push(numbered(1)), SubmitStatus::kQueueFull);

  SubmissionQueue busy(5);
  ASSERT_EQ(busy.push(numbered(1)), SubmitStatus::kQueued);
  EXPECT_EQ(busy.push(numbered(50)), SubmitStatus::kQueueFull);
}

TEST(SubmissionQueueTest, TakeMovesWholeSubmissionsInOrderUpToMaxEvents) {
  SubmissionQueue queue(100);
  ASSERT_EQ(queue.push(numbered(3, 0)), SubmitStatus::kQueued);
  ASSERT_EQ(queue.push(numbered(4, 3)), SubmitStatus::kQueued);
  ASSERT_EQ(queue.push(numbered(2, 7)), SubmitStatus::kQueued);
  ASSERT_EQ(queue.push(numbered(5, 9)), SubmitStatus::kQueued);

  std::vector<Submission> first;
  ASSERT_TRUE(queue.take(8, &first));  // 3 + 4; adding the 2 would pass 8
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(durations(first), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));

  std::vector<Submission> second;
  ASSERT_TRUE(queue.take(8, &second));
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(durations(second), (std::vector<int64_t>{7, 8, 9, 10, 11, 12, 13}));
}

TEST(SubmissionQueueTest, TakeHandsOutOneSubmissionLargerThanMaxEvents) {
  SubmissionQueue queue(100);
  ASSERT_EQ(queue.push(numbered(10)), SubmitStatus::kQueued);
  ASSERT_EQ(queue.push(numbered(1, 10)), SubmitStatus::kQueued);
  std::vector<Submission> batch;
  ASSERT_TRUE(queue.take(3, &batch));
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].size(), 10u);
}

TEST(SubmissionQueueTest, TakenEventsStayCountedUntilFinished) {
  SubmissionQueue queue(5);
  ASSERT_EQ(queue.push(numbered(5)), SubmitStatus::kQueued);
  std::vector<Submission> batch;
  ASSERT_TRUE(queue.take(100, &batch));
  // The batch being written still counts: no room yet.
  EXPECT_EQ(queue.queued_events(), 5u);
  EXPECT_TRUE(queue.full());
  EXPECT_EQ(queue.push(numbered(1)), SubmitStatus::kQueueFull);

  queue.finish(5);
  EXPECT_EQ(queue.queued_events(), 0u);
  EXPECT_FALSE(queue.full());
  EXPECT_EQ(queue.push(numbered(1)), SubmitStatus::kQueued);
}

TEST(SubmissionQueueTest, RouteEventsCountTowardsTheLimit) {
  SubmissionQueue queue(4);
  ASSERT_EQ(queue.push(numbered(2)), SubmitStatus::kQueued);
  Submission routes{std::vector<RouteEvent>{testing::make_route_event(kHour, "/a"),
                                            testing::make_route_event(kHour, "/b")},
                    {}};
  ASSERT_EQ(routes.size(), 2u);
  ASSERT_EQ(queue.push(std::move(routes)), SubmitStatus::kQueued);
  EXPECT_EQ(queue.queued_events(), 4u);
  EXPECT_TRUE(queue.full());
  EXPECT_EQ(queue.push(Submission{std::vector<RouteEvent>{testing::make_route_event(kHour, "/c")},
                                  {}}),
            SubmitStatus::kQueueFull);
}

TEST(SubmissionQueueTest, TakeWaitsForAPush) {
  SubmissionQueue queue(10);
  auto taken = std::async(std::launch::async, [&] {
    std::vector<Submission> batch;
    const bool ok = queue.take(10, &batch);
    return ok ? durations(batch) : std::vector<int64_t>{-1};
  });
  ASSERT_EQ(queue.push(numbered(2, 40)), SubmitStatus::kQueued);
  ASSERT_TRUE(ready_or_stop(taken, queue));
  EXPECT_EQ(taken.get(), (std::vector<int64_t>{40, 41}));
}

TEST(SubmissionQueueTest, PushWaitingWaitsForFinish) {
  SubmissionQueue queue(5);
  ASSERT_EQ(queue.push(numbered(5)), SubmitStatus::kQueued);
  std::vector<Submission> batch;
  ASSERT_TRUE(queue.take(100, &batch));

  auto pushed = std::async(std::launch::async, [&] { return queue.push_waiting(numbered(2)); });
  // Only a broken queue returns while the taken batch is unfinished; this
  // check cannot fail spuriously, only miss such a bug on a slow machine.
  EXPECT_EQ(pushed.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(queue.queued_events(), 5u);

  queue.finish(5);
  ASSERT_TRUE(ready_or_stop(pushed, queue));
  EXPECT_TRUE(pushed.get());
  EXPECT_EQ(queue.queued_events(), 2u);
}

TEST(SubmissionQueueTest, PushWaitingAcceptsAtOnceWhenThereIsRoom) {
  SubmissionQueue queue(5);
  EXPECT_TRUE(queue.push_waiting(numbered(3)));
  EXPECT_TRUE(queue.push_waiting(numbered(2)));
  EXPECT_EQ(queue.queued_events(), 5u);

  SubmissionQueue empty(5);
  EXPECT_TRUE(empty.push_waiting(numbered(50)));  // oversized, but the queue was empty
  EXPECT_EQ(empty.queued_events(), 50u);
}

TEST(SubmissionQueueTest, StopWakesAWaitingPushWhichQueuesNothing) {
  SubmissionQueue queue(5);
  ASSERT_EQ(queue.push(numbered(5)), SubmitStatus::kQueued);
  auto pushed = std::async(std::launch::async, [&] { return queue.push_waiting(numbered(1)); });
  queue.stop();
  ASSERT_EQ(pushed.wait_for(kDeadline), std::future_status::ready);
  EXPECT_FALSE(pushed.get());
  EXPECT_EQ(queue.queued_events(), 5u);
}

TEST(SubmissionQueueTest, StopRefusesNewWorkButTakeDrainsWhatIsQueued) {
  SubmissionQueue queue(100);
  ASSERT_EQ(queue.push(numbered(2, 0)), SubmitStatus::kQueued);
  ASSERT_EQ(queue.push(numbered(3, 2)), SubmitStatus::kQueued);
  queue.stop();
  EXPECT_EQ(queue.push(numbered(1)), SubmitStatus::kShuttingDown);
  EXPECT_FALSE(queue.push_waiting(numbered(1)));
  EXPECT_EQ(queue.queued_events(), 5u);

  std::vector<Submission> batch;
  ASSERT_TRUE(queue.take(2, &batch));
  EXPECT_EQ(durations(batch), (std::vector<int64_t>{0, 1}));
  batch.clear();
  ASSERT_TRUE(queue.take(2, &batch));
  EXPECT_EQ(durations(batch), (std::vector<int64_t>{2, 3, 4}));
  batch.clear();
  EXPECT_FALSE(queue.take(2, &batch));  // stopped and drained: at once, no wait
  EXPECT_TRUE(batch.empty());
}

TEST(SubmissionQueueTest, StopWakesAWaitingTake) {
  SubmissionQueue queue(10);
  auto taken = std::async(std::launch::async, [&] {
    std::vector<Submission> batch;
    return queue.take(10, &batch);
  });
  queue.stop();
  ASSERT_EQ(taken.wait_for(kDeadline), std::future_status::ready);
  EXPECT_FALSE(taken.get());
}

TEST(SubmissionQueueTest, GatherMovesEventsInOrderIntoClearedBatchesOfTheirKind) {
  std::vector<Submission> batch;
  batch.push_back(numbered(2, 0));
  batch.push_back(Submission{std::vector<RouteEvent>{testing::make_route_event(kHour, "/first")}, {}});
  batch.push_back(numbered(1, 2));
  batch.push_back(
      Submission{std::vector<RouteEvent>{testing::make_route_event(kHour, "/second")}, {}});
  const std::string first_id = generations(batch[0])[0].event_id;

  BatchesByKind by_kind = SubmissionQueue::empty_batches();
  auto& events = std::get<std::vector<GenerationEvent>>(
      by_kind[static_cast<size_t>(event_kind<GenerationKind>())]);
  auto& routes =
      std::get<std::vector<RouteEvent>>(by_kind[static_cast<size_t>(event_kind<RouteKind>())]);
  events.push_back(testing::make_completion(kHour, true, 999));
  routes.push_back(testing::make_route_event(kHour, "/stale"));
  SubmissionQueue::gather(batch, &by_kind);

  std::vector<int64_t> got;
  for (const GenerationEvent& e : events) got.push_back(*e.duration_ms);
  EXPECT_EQ(got, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(events[0].event_id, first_id);
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].route, "/first");
  EXPECT_EQ(routes[1].route, "/second");
}

// Producers blocked on a small queue and one consumer: every event arrives
// exactly once, each producer's in the order it pushed them.
TEST(SubmissionQueueTest, ConcurrentProducersAndConsumerLoseNothing) {
  constexpr int kProducers = 4;
  constexpr int kSubmissionsEach = 200;
  SubmissionQueue queue(8);

  std::vector<std::vector<int64_t>> seen(kProducers);
  std::thread consumer([&] {
    std::vector<Submission> batch;
    while (queue.take(5, &batch)) {
      size_t events = 0;
      for (const Submission& s : batch) {
        events += s.size();
        for (const GenerationEvent& e : generations(s)) {
          seen[static_cast<size_t>(*e.duration_ms / 10'000)].push_back(*e.duration_ms % 10'000);
        }
      }
      batch.clear();
      queue.finish(events);
    }
  });

  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kSubmissionsEach; ++i) {
        const int n = 1 + i % 3;
        Submission s = numbered(n, p * 10'000 + i * 3);
        EXPECT_TRUE(queue.push_waiting(std::move(s)));
      }
    });
  }
  for (std::thread& t : producers) t.join();
  queue.stop();
  consumer.join();

  EXPECT_EQ(queue.queued_events(), 0u);
  for (int p = 0; p < kProducers; ++p) {
    std::vector<int64_t> expected;
    for (int i = 0; i < kSubmissionsEach; ++i) {
      for (int j = 0; j < 1 + i % 3; ++j) expected.push_back(i * 3 + j);
    }
    EXPECT_EQ(seen[static_cast<size_t>(p)], expected) << "producer " << p;
  }
}

}  // namespace
}  // namespace genalytics
