#include "live/pipeline_monitor.h"

#include <boost/json.hpp>

#include "event/time.h"
#include "pipeline/stream_status.h"

namespace genalytics {
namespace {

boost::json::value optional_time(const std::optional<int64_t>& us) {
  if (!us) return nullptr;
  return boost::json::string(format_rfc3339_micros(*us));
}

// Whole milliseconds from `from_us` to `to_us`, in seconds; never negative.
double seconds_between(int64_t from_us, int64_t to_us) {
  return static_cast<double>(std::max<int64_t>(0, to_us - from_us) / 1000) / 1000.0;
}

boost::json::value seconds_since(const std::optional<int64_t>& us, int64_t now_us) {
  if (!us) return nullptr;
  return seconds_between(*us, now_us);
}

boost::json::object stream_json(const StreamStatus& stream) {
  return {
      {"name", event_kind_name(stream.kind)},
      {"key", stream.stream_key},
      {"length", stream.length},
      {"pending", stream.pending},
      {"consumers", stream.consumers},
      {"oldest_pending_age_seconds",
       stream.oldest_pending_age_s ? boost::json::value(*stream.oldest_pending_age_s) : nullptr},
      {"oldest_entry_at", optional_time(stream.first_entry_us)},
      {"newest_entry_at", optional_time(stream.last_entry_us)},
      {"dead_letter_key", stream.dead_letter_key},
      {"dead_letters", stream.dead_letters}};
}

boost::json::object worker_json(const StreamWorker& worker) {
  const StreamWorker::Stats w = worker.stats();
  return {{"consumer", worker.consumer()},
          {"stream", worker.stream_key()},
          {"entries_acknowledged", w.entries_acknowledged},
          {"inserted", w.inserted},
          {"duplicates", w.duplicates},
          {"dead_lettered", w.dead_lettered},
          {"store_rejected", w.store_rejected},
          {"store_failures", w.store_failures},
          {"redis_failures", w.redis_failures},
          {"last_transfer_at", w.last_transfer_us ? optional_time(w.last_transfer_us) : nullptr},
          {"last_error", w.last_error},
          {"last_store_rejection", w.last_store_rejection},
          {"status", w.store_rejected > 0 ? "degraded" : "ok"}};
}

}  // namespace

PipelineMonitor::PipelineMonitor(const Store* store, std::optional<RedisOptions> redis,
                                 std::string ns, std::string group,
                                 std::vector<const StreamWorker*> workers, const EventSink* sink)
    : store_(store),
      redis_options_(std::move(redis)),
      ns_(std::move(ns)),
      group_(std::move(group)),
      workers_(std::move(workers)),
      sink_(sink) {}

boost::json::object PipelineMonitor::status(int64_t now_us) const {
  boost::json::object result;
  result["mode"] = redis_options_ ? "production" : "embedded";
  result["time"] = format_rfc3339_micros(now_us);

  // Lag: how long the oldest event not yet in the store has waited (0 when
  // nothing is waiting).
  double lag_seconds = 0;
  if (redis_options_) {
    std::vector<StreamStatus> streams;
    {
      MutexLock lock(redis_mutex_);
      // A cached connection may have been cut (Redis restarted): one retry
      // on a fresh one before reporting Redis as unavailable.
      for (int attempt = 0;; ++attempt) {
        try {
          if (!redis_ || !redis_->connected()) redis_ = std::make_unique<RedisClient>(*redis_options_);
          streams.clear();
          for (const EventKind kind : kEventKinds) {
            streams.push_back(read_stream_status(*redis_, kind, ns_, group_, now_us));
          }
          break;
        } catch (const RedisReplyError&) {
          throw;
        } catch (const RedisError&) {
          redis_.reset();
          if (attempt == 1) throw;
        }
      }
    }
    boost::json::array streams_json;
    for (const StreamStatus& stream : streams) {
      if (stream.first_entry_us) {
        lag_seconds = std::max(lag_seconds, seconds_between(*stream.first_entry_us, now_us));
      }
      streams_json.push_back(stream_json(stream));
    }
    result["streams"] = std::move(streams_json);
  }
  if (sink_) result["ingest_queue_events"] = sink_->queued_events();

  const StoreStatus store = store_->status();
  result["store"] = {
      {"events", store.events},
      {"events_exact", store.events_exact},
      {"last_event_at", optional_time(store.last_event_us)},
      {"last_transfer_at", optional_time(store.last_rollup_update_us)},
      {"seconds_since_last_transfer", seconds_since(store.last_rollup_update_us, now_us)},
      {"last_hour_rolled_up", optional_time(store.last_hour_rolled_up_us)},
      {"hourly_rows", store.hourly_rows},
  };
  result["lag_seconds"] = lag_seconds;

  bool degraded = false;
  for (const StreamWorker* worker : workers_) {
    boost::json::object row = worker_json(*worker);
    degraded = degraded || row.at("status") != "ok";
    result[EventKinds::kWorkerStatusKeys[static_cast<size_t>(worker->kind())]] = std::move(row);
  }
  // Degraded: a worker dead-lettered events the store refused as corrupt or
  // invalid since it started (their entries and reasons are in the dead-letter
  // streams).
  result["status"] = degraded ? "degraded" : "ok";
  return result;
}

}  // namespace genalytics
