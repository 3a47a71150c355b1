// Where ingest hands validated events: the embedded engine commits them to
// SQLite (BatchWriter); production appends them to the Redis stream
// (StreamIngest). Either way the callback runs once the events are durable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "event/event_batch.h"

namespace genalytics {

struct WriteResult {
  bool ok = false;
  size_t accepted = 0;    // events now durable
  size_t duplicates = 0;  // events whose event_id was already stored (known to the embedded store only)
  std::string error;      // why, when !ok
};

enum class SubmitStatus : uint8_t { kQueued, kQueueFull, kShuttingDown };

class EventSink {
 public:
  using Callback = std::function<void(WriteResult)>;
  virtual ~EventSink() = default;

  // Queues `events` (of any kind; a vector of a kind's events converts).
  // On kQueued, `done` is called exactly once, from another thread, when
  // they are durable or have failed. Otherwise nothing was queued and `done`
  // is never called. Thread-safe.
  virtual SubmitStatus submit(EventBatch events, Callback done) = 0;

  // Events queued and not yet durable.
  virtual size_t queued_events() const = 0;

  // Whether the queue is at its limit, so that a caller can refuse work
  // before decoding it. A hint: submit() decides.
  virtual bool full() const = 0;

  // Stops taking submissions and completes everything queued. Idempotent.
  virtual void shutdown() = 0;
};

}  // namespace genalytics
