// Group commit: concurrent ingest requests queue their decoded events here;
// one writer thread takes everything queued, writes it to the store in a
// single transaction and then completes each request. A request's callback
// runs only after its events are durable (or the write failed).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "event/event_batch.h"
#include "pipeline/event_sink.h"
#include "pipeline/submission_queue.h"
#include "store/store.h"

namespace genalytics {

class BatchWriter final : public EventSink {
 public:
  struct Options {
    size_t max_queued_events = 500'000;  // beyond this, submit() answers kQueueFull
    size_t max_events_per_commit = 50'000;
  };

  // Starts the writer thread. `store` must outlive this object.
  BatchWriter(Store* store, Options options);
  // Drains the queue (see shutdown()).
  ~BatchWriter() override;
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // Queues `events` for the next commit. On kQueued, `done` will be called
  // exactly once, on the writer thread, after the commit. On any other status
  // nothing was queued and `done` is never called. A submission larger than
  // max_queued_events is accepted when the queue is empty, so that every
  // single body can make progress. Each kind's events queued together are
  // committed in one transaction of their own. Thread-safe.
  SubmitStatus submit(EventBatch events, Callback done) override;

  // Submits and waits for the result; kQueueFull waits for room instead of
  // failing. Thread-safe. For batch loaders (CLI ingest, demo).
  WriteResult write(EventBatch events);

  // Stops taking submissions, commits everything already queued, completes
  // its callbacks and joins the writer thread. Idempotent.
  void shutdown() override;

  // Events queued and not yet committed.
  size_t queued_events() const override;
  bool full() const override;

 private:
  void run();
  void commit(std::vector<Submission>& batch);

  Store* store_;
  Options options_;
  SubmissionQueue queue_;
  std::thread thread_;
  // Writer thread only: the events being committed and their inserted
  // flags, per kind.
  BatchesByKind scratch_ = SubmissionQueue::empty_batches();
  std::array<std::vector<uint8_t>, EventKinds::kCount> inserted_;
};

}  // namespace genalytics
