// Real-time metrics over the last hour (seed 000: the hash
// `{namespace}:generation_metrics:current`), computed exactly from the raw
// events of the last 60 minutes rather than from hourly buckets.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "pipeline/redis_client.h"
#include "store/store.h"

namespace genalytics {

struct LiveMetrics {
  // Generations with a request or start and no completion or cancellation,
  // among those seen in the last hour.
  int64_t active_generations = 0;
  // The newest queue_length sample of the last hour (0 without one).
  int64_t queue_length = 0;
  std::optional<double> success_rate_1h;  // fraction of completions that succeeded
  int64_t requests_1h = 0;
  std::optional<int64_t> p95_duration_ms_1h;  // from a DDSketch: within 1%
  int64_t updated_us = 0;
};

// The metrics of the events with timestamp in (now_us - 1 h, now_us].
// Throws StoreError.
LiveMetrics compute_live_metrics(const Store& store, int64_t now_us);

// The key of the real-time hash.
inline std::string live_metrics_key(const std::string& ns) {
  return ns + ":generation_metrics:current";
}

// Recomputes the metrics every `interval` and HSETs them, overwriting the
// previous values. Failures are logged and retried at the next tick.
class LiveMetricsPublisher {
 public:
  // Starts the thread. `store` must outlive this object.
  LiveMetricsPublisher(const Store* store, RedisOptions redis, std::string ns,
                       std::chrono::milliseconds interval = std::chrono::seconds(2));
  // Stops and joins the thread.
  ~LiveMetricsPublisher();
  LiveMetricsPublisher(const LiveMetricsPublisher&) = delete;
  LiveMetricsPublisher& operator=(const LiveMetricsPublisher&) = delete;

  // Computes and publishes once, now. Throws StoreError or RedisError.
  // Not thread-safe against itself (the thread calls it too): for tests.
  void publish_once(RedisClient& redis) const;

  // Number of successful publications so far.
  int64_t publications() const { return publications_.load(); }

 private:
  void run(std::stop_token stop);

  const Store* store_;
  RedisOptions redis_;
  std::string key_;
  std::chrono::milliseconds interval_;
  std::atomic<int64_t> publications_{0};
  std::jthread thread_;
};

}  // namespace genalytics
