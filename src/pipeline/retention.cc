#include "pipeline/retention.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

namespace genalytics {

RetentionScheduler::RetentionScheduler(std::function<int64_t(int)> apply, int days,
                                       std::chrono::milliseconds interval)
    : apply_(std::move(apply)), days_(days), interval_(interval), thread_([this](std::stop_token stop) {
        std::mutex mutex;
        std::condition_variable_any wake;
        while (!stop.stop_requested()) {
          try {
            const int64_t dropped = apply_(days_);
            if (dropped > 0) spdlog::info("retention: dropped {} raw-event partition(s) older than {} days", dropped, days_);
          } catch (const std::exception& error) {
            spdlog::warn("retention failed (retried in {} h): {}",
                         std::chrono::duration_cast<std::chrono::hours>(interval_).count(), error.what());
          }
          std::unique_lock lock(mutex);
          wake.wait_for(lock, stop, interval_, [] { return false; });
        }
      }) {}

RetentionScheduler::~RetentionScheduler() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace genalytics
