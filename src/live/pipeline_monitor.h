// GET /api/v1/analytics/pipeline: is data flowing? Stream length, pending
// entries, consumers, oldest pending age and dead letters (production);
// newest event, newest transfer into the store, lag, and what is rolled up.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "pipeline/event_sink.h"
#include "pipeline/redis_client.h"
#include "pipeline/stream_worker.h"
#include "store/store.h"

namespace genalytics {

class PipelineMonitor {
 public:
  // `redis` is absent for the embedded engine. `worker` (this process's
  // worker, if any) and `sink` may be null. All must outlive this object.
  PipelineMonitor(const Store* store, std::optional<RedisOptions> redis, std::string ns,
                  std::string group, const StreamWorker* worker, const EventSink* sink);

  // The status document. Throws StoreError or RedisError. Thread-safe.
  boost::json::object status(int64_t now_us) const;

 private:
  const Store* store_;
  std::optional<RedisOptions> redis_options_;
  std::string ns_;
  std::string group_;
  const StreamWorker* worker_;
  const EventSink* sink_;
  mutable std::mutex redis_mutex_;
  mutable std::unique_ptr<RedisClient> redis_;  // GUARDED_BY(redis_mutex_)
};

}  // namespace genalytics
