// TaskPool: every step runs exactly once, helpers really run steps beside the
// caller, a pool without helpers runs in order on the caller, loops from many
// threads at once all finish, and a step's exception reaches the caller
// after the other steps ran.
#include "base/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace genalytics {
namespace {

TEST(TaskPoolTest, EveryStepRunsOnce) {
  for (size_t helpers : {0, 1, 3}) {
    TaskPool pool(helpers);
    EXPECT_EQ(pool.helpers(), helpers);
    for (size_t count : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> calls(count);
      pool.for_each(count, [&](size_t i) { calls[i].fetch_add(1); });
      for (size_t i = 0; i < count; ++i) {
        EXPECT_EQ(calls[i].load(), 1) << helpers << " helpers, step " << i << " of " << count;
      }
    }
  }
}

TEST(TaskPoolTest, WithoutHelpersStepsRunInOrderOnTheCaller) {
  TaskPool pool(0);
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<size_t> order;
  pool.for_each(5, [&](size_t i) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    order.push_back(i);
  });
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4}));
}

// Two steps that each wait until both have started: they can only both
// finish if a helper runs one while the caller runs the other. (A pool that
// left the helper idle would fail at the deadline, not hang.)
TEST(TaskPoolTest, AHelperRunsStepsBesideTheCaller) {
  TaskPool pool(1);
  std::mutex mutex;
  std::condition_variable changed;
  int started = 0;
  std::vector<std::thread::id> threads(2);
  bool together = true;
  pool.for_each(2, [&](size_t i) {
    threads[i] = std::this_thread::get_id();
    std::unique_lock<std::mutex> lock(mutex);
    ++started;
    changed.notify_all();
    if (!changed.wait_for(lock, std::chrono::seconds(30), [&] { return started == 2; })) {
      together = false;
    }
  });
  EXPECT_TRUE(together);
  EXPECT_NE(threads[0], threads[1]);
}

TEST(TaskPoolTest, LoopsFromManyThreadsAllFinish) {
  TaskPool pool(2);
  constexpr size_t kCallers = 8;
  constexpr size_t kSteps = 500;
  std::vector<std::vector<int>> calls(kCallers, std::vector<int>(kSteps, 0));
  std::vector<std::thread> callers;
  for (size_t c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 20; ++round) {
        pool.for_each(kSteps, [&](size_t i) { ++calls[c][i]; });
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  for (size_t c = 0; c < kCallers; ++c) {
    for (size_t i = 0; i < kSteps; ++i) ASSERT_EQ(calls[c][i], 20) << c << " " << i;
  }
}

TEST(TaskPoolTest, AStepsExceptionReachesTheCallerAfterTheOtherSteps) {
  for (size_t helpers : {0, 1}) {
    TaskPool pool(helpers);
    std::vector<std::atomic<int>> calls(100);
    EXPECT_THROW(pool.for_each(100,
                               [&](size_t i) {
                                 calls[i].fetch_add(1);
                                 if (i % 10 == 3) throw std::runtime_error("step failed");
                               }),
                 std::runtime_error);
    for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i].load(), 1) << i;
    // The pool still works.
    std::atomic<int> after{0};
    pool.for_each(10, [&](size_t) { after.fetch_add(1); });
    EXPECT_EQ(after.load(), 10);
  }
}

}  // namespace
}  // namespace genalytics
