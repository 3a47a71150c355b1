// The producer side of the production pipeline: HTTP ingest appends validated
// events to their kind's Redis stream (`{namespace}:generation_events:stream`,
// `{namespace}:route_analytics:stream`, ...: pipeline/stream_keys.h) in the
// kind's flat form (its to_stream_fields), and acknowledges its client only
// after Redis has acknowledged every event (with AOF on, that is durable).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "event/event_batch.h"
#include "pipeline/redis_client.h"
#include "pipeline/stream_keys.h"

namespace genalytics {

class StreamPublisher {
 public:
  struct Options {
    std::string ns = std::string(kDefaultStreamNamespace);
    size_t max_idle_connections = 8;  // kept open between calls; more are opened on demand
    size_t pipeline_window = 1000;    // XADDs in flight per connection; bounds buffers
  };

  // Connects lazily: a Redis that is down makes publish() fail, not this.
  StreamPublisher(RedisOptions redis, Options options);
  StreamPublisher(const StreamPublisher&) = delete;
  StreamPublisher& operator=(const StreamPublisher&) = delete;

  // XADDs every event to its kind's stream (never trimming the stream),
  // pipelined, and returns
  // once Redis has acknowledged each one. Throws RedisError when Redis cannot
  // be reached or refused an event; some of the events may then be in the
  // stream already, which is harmless: they carry their event_id, so the
  // store ignores them when a retry appends them again. A connection that
  // fails after idling in the pool is replaced and the call retried once.
  // Thread-safe; concurrent calls use separate connections.
  void publish(EventSpan events);

  // The stream `kind`'s events go to.
  const std::string& stream_key(EventKind kind) const {
    return stream_keys_[static_cast<size_t>(kind)];
  }

 private:
  // An idle connection, or a new one (throws RedisError). `*reused` tells which.
  std::unique_ptr<RedisClient> take_connection(bool* reused) EXCLUDES(idle_mutex_);
  void return_connection(std::unique_ptr<RedisClient> client) EXCLUDES(idle_mutex_);
  template <typename Event>
  void publish_to(const std::string& key, std::span<const Event> events);
  template <typename Event>
  void send(RedisClient& client, const std::string& key, std::span<const Event> events);

  const RedisOptions redis_;
  const Options options_;
  const std::array<std::string, EventKinds::kCount> stream_keys_;
  Mutex idle_mutex_;
  std::vector<std::unique_ptr<RedisClient>> idle_ GUARDED_BY(idle_mutex_);
};

}  // namespace genalytics
