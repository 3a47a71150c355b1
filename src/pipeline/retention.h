// Retention of raw events: a background thread that applies a retention
// function once a day (and once at start). Rollups are never dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

namespace genalytics {

inline constexpr int kDefaultRetentionDays = 90;

class RetentionScheduler {
 public:
  // `apply(days)` drops what is older than `days` days and returns how many
  // partitions it dropped; it may throw (logged, retried next time).
  RetentionScheduler(std::function<int64_t(int)> apply, int days,
                     std::chrono::milliseconds interval = std::chrono::hours(24));
  ~RetentionScheduler();
  RetentionScheduler(const RetentionScheduler&) = delete;
  RetentionScheduler& operator=(const RetentionScheduler&) = delete;

 private:
  std::function<int64_t(int)> apply_;
  int days_;
  std::chrono::milliseconds interval_;
  std::jthread thread_;
};

}  // namespace genalytics
