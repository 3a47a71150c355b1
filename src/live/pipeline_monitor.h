// GET /api/v1/analytics/pipeline: is data flowing? For each event kind's
// stream (kEventKinds order: generation events, then route events): length,
// pending entries, consumers, oldest pending age and dead letters
// (production); newest event, newest transfer into the store, lag, and what
// is rolled up; this process's workers' figures.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "pipeline/event_sink.h"
#include "pipeline/redis_client.h"
#include "pipeline/stream_worker.h"
#include "store/store.h"

namespace genalytics {

class PipelineMonitor {
 public:
  // `redis` is absent for the embedded engine. `workers` are this process's
  // workers (none, or at most one per event kind); `sink` may be null. All
  // must outlive this object.
  PipelineMonitor(const Store* store, std::optional<RedisOptions> redis, std::string ns,
                  std::string group, std::vector<const StreamWorker*> workers,
                  const EventSink* sink);

  // The status document: "streams" lists the streams in kEventKinds order
  // (generation first, then route); each worker's figures are under its
  // kind's kWorkerStatusKey ("worker" for generation events, "route_worker"
  // for route events), with "status" "degraded" once it dead-lettered an
  // event the store refused as corrupt or invalid ("store_rejected" counts
  // them, "last_store_rejection" holds the latest reason), else "ok";
  // top-level "status" is "degraded" when any worker is. "lag_seconds" is
  // the larger of the streams' lags. Throws StoreError or RedisError.
  // Thread-safe.
  boost::json::object status(int64_t now_us) const EXCLUDES(redis_mutex_);

 private:
  const Store* store_;
  std::optional<RedisOptions> redis_options_;
  std::string ns_;
  std::string group_;
  std::vector<const StreamWorker*> workers_;
  const EventSink* sink_;
  mutable Mutex redis_mutex_;
  mutable std::unique_ptr<RedisClient> redis_ GUARDED_BY(redis_mutex_);
};

}  // namespace genalytics
