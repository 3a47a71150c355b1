// GET /api/v1/analytics/pipeline: is data flowing? For each stream
// (generation events, then route events): length, pending entries,
// consumers, oldest pending age and dead letters (production); newest event,
// newest transfer into the store, lag, and what is rolled up.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/event_sink.h"
#include "pipeline/redis_client.h"
#include "pipeline/stream_worker.h"
#include "store/store.h"

namespace genalytics {

class PipelineMonitor {
 public:
  // `redis` is absent for the embedded engine. `workers` are this process's
  // workers (none, or at most one per stream kind); `sink` may be null. All
  // must outlive this object.
  PipelineMonitor(const Store* store, std::optional<RedisOptions> redis, std::string ns,
                  std::string group, std::vector<const StreamWorker*> workers,
                  const EventSink* sink);

  // The status document: "streams" lists the generation stream first, then
  // the route stream; "worker" is the generation worker's figures and
  // "route_worker" the route worker's; "lag_seconds" is the larger of the
  // streams' lags. Throws StoreError or RedisError. Thread-safe.
  boost::json::object status(int64_t now_us) const;

 private:
  const Store* store_;
  std::optional<RedisOptions> redis_options_;
  std::string ns_;
  std::string group_;
  std::vector<const StreamWorker*> workers_;
  const EventSink* sink_;
  mutable std::mutex redis_mutex_;
  mutable std::unique_ptr<RedisClient> redis_;  // GUARDED_BY(redis_mutex_)
};

}  // namespace genalytics
