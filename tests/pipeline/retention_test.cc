#include "pipeline/retention.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "testing/fixed_times.h"

namespace genalytics {
namespace {

using std::chrono::milliseconds;
using testing::kDeadline;

// Records the calls of a retention function. Shared with the function, so
// that a scheduler abandoned by a failing test cannot outlive it.
class Calls {
 public:
  void record(int days) {
    std::lock_guard lock(mutex_);
    days_.push_back(days);
    changed_.notify_all();
  }
  // Whether `n` calls arrived within kDeadline.
  bool wait_for(size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDeadline, [&] { return days_.size() >= n; });
  }
  std::vector<int> days() const {
    std::lock_guard lock(mutex_);
    return days_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<int> days_;  // GUARDED_BY(mutex_)
};

// Destroys `scheduler` on another thread; whether that finished within
// kDeadline. On failure the thread is left to finish on its own.
bool destroyed_within_deadline(std::unique_ptr<RetentionScheduler> scheduler) {
  std::promise<void> destroyed;
  std::future<void> done = destroyed.get_future();
  std::thread([scheduler = std::move(scheduler), destroyed = std::move(destroyed)]() mutable {
    scheduler.reset();
    destroyed.set_value();
  }).detach();
  return done.wait_for(kDeadline) == std::future_status::ready;
}

TEST(RetentionSchedulerTest, AppliesAtStartWithTheConfiguredDays) {
  auto calls = std::make_shared<Calls>();
  auto scheduler = std::make_unique<RetentionScheduler>(
      [calls](int days) -> int64_t {
        calls->record(days);
        return 2;
      },
      30, std::chrono::hours(24));
  ASSERT_TRUE(calls->wait_for(1));
  EXPECT_EQ(calls->days(), std::vector<int>{30});
  EXPECT_TRUE(destroyed_within_deadline(std::move(scheduler)));
}

// A day-long wait must not hold up shutdown: the destructor interrupts it.
TEST(RetentionSchedulerTest, DestructionInterruptsTheWaitPromptly) {
  auto calls = std::make_shared<Calls>();
  auto scheduler = std::make_unique<RetentionScheduler>(
      [calls](int days) -> int64_t {
        calls->record(days);
        return 0;
      },
      kDefaultRetentionDays);
  ASSERT_TRUE(calls->wait_for(1));
  EXPECT_TRUE(destroyed_within_deadline(std::move(scheduler)));
  EXPECT_EQ(calls->days(), std::vector<int>{kDefaultRetentionDays});
}

TEST(RetentionSchedulerTest, AppliesAgainEveryInterval) {
  auto calls = std::make_shared<Calls>();
  auto scheduler = std::make_unique<RetentionScheduler>(
      [calls](int days) -> int64_t {
        calls->record(days);
        return 0;
      },
      7, milliseconds(1));
  ASSERT_TRUE(calls->wait_for(3));
  EXPECT_TRUE(destroyed_within_deadline(std::move(scheduler)));
  for (int days : calls->days()) EXPECT_EQ(days, 7);
}

TEST(RetentionSchedulerTest, FailureIsRetriedNextInterval) {
  auto calls = std::make_shared<Calls>();
  auto scheduler = std::make_unique<RetentionScheduler>(
      [calls](int days) -> int64_t {
        calls->record(days);
        throw std::runtime_error("database unavailable");
      },
      7, milliseconds(1));
  ASSERT_TRUE(calls->wait_for(3));  // the thread survived the exceptions
  EXPECT_TRUE(destroyed_within_deadline(std::move(scheduler)));
}

}  // namespace
}  // namespace genalytics
