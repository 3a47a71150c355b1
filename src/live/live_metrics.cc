#include "live/live_metrics.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include "event/time.h"
#include "rollup/rollup_bucket.h"

namespace genalytics {

LiveMetrics compute_live_metrics(const Store& store, int64_t now_us) {
  RollupBucket hour;
  std::unordered_map<std::string, bool> open;  // generation_id -> still running
  int64_t newest_sample_us = INT64_MIN;
  LiveMetrics metrics;
  store.scan_events(now_us - kMicrosPerHour + 1, now_us + 1, [&](const GenerationEvent& e) {
    hour.add(e);
    switch (e.event_type) {
      case GenerationEventType::kRequest:
      case GenerationEventType::kStart:
        open.try_emplace(e.generation_id, true);
        break;
      case GenerationEventType::kCompletion:
      case GenerationEventType::kCancellation:
        open[e.generation_id] = false;
        break;
    }
    if (e.queue_length && e.timestamp_us >= newest_sample_us) {
      newest_sample_us = e.timestamp_us;
      metrics.queue_length = *e.queue_length;
    }
  });
  for (const auto& [id, running] : open) metrics.active_generations += running;
  metrics.requests_1h = hour.requests;
  metrics.success_rate_1h = hour.success_rate();
  if (auto p95 = hour.duration_quantile(0.95)) metrics.p95_duration_ms_1h = std::llround(*p95);
  metrics.updated_us = now_us;
  return metrics;
}

LiveMetricsPublisher::LiveMetricsPublisher(const Store* store, RedisOptions redis, std::string ns,
                                           std::chrono::milliseconds interval)
    : store_(store),
      redis_(std::move(redis)),
      key_(live_metrics_key(ns)),
      interval_(interval),
      thread_([this](std::stop_token stop) { run(stop); }) {}

LiveMetricsPublisher::~LiveMetricsPublisher() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void LiveMetricsPublisher::publish_once(RedisClient& redis) const {
  const LiveMetrics m = compute_live_metrics(*store_, now_us());
  const std::string active = std::to_string(m.active_generations);
  const std::string queue = std::to_string(m.queue_length);
  const std::string rate = m.success_rate_1h ? fmt::format("{:.4f}", *m.success_rate_1h) : "";
  const std::string requests = std::to_string(m.requests_1h);
  const std::string p95 = m.p95_duration_ms_1h ? std::to_string(*m.p95_duration_ms_1h) : "";
  const std::string updated = format_rfc3339_micros(m.updated_us);
  redis.command({"HSET", key_, "active_generations", active, "queue_length", queue,
                 "success_rate_1h", rate, "requests_1h", requests, "p95_duration_ms_1h", p95,
                 "updated_at", updated});
}

void LiveMetricsPublisher::run(std::stop_token stop) {
  std::mutex mutex;
  std::condition_variable_any wake;
  std::unique_ptr<RedisClient> redis;
  while (!stop.stop_requested()) {
    try {
      if (!redis || !redis->connected()) redis = std::make_unique<RedisClient>(redis_);
      publish_once(*redis);
      ++publications_;
    } catch (const std::exception& error) {
      spdlog::warn("real-time metrics not published: {}", error.what());
      redis.reset();
    }
    std::unique_lock lock(mutex);
    wake.wait_for(lock, stop, interval_, [] { return false; });
  }
}

}  // namespace genalytics
