// The bounded queue between ingest requests and a sink's worker threads,
// shared by BatchWriter (SQLite group commit) and StreamIngest (Redis
// publish): requests push their decoded events, workers take whole
// submissions up to a batch size, and the queue counts events until the
// worker reports them done, so that queued_events() covers the batch being
// written.
#pragma once

#include <array>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "event/event_batch.h"
#include "pipeline/event_sink.h"

namespace genalytics {

// One request's events, of one kind.
struct Submission {
  EventBatch events;
  EventSink::Callback done;
  size_t size() const { return event_count(events); }
};

// Events of every kind, one batch per kind in kEventKinds order, each
// holding its kind's alternative.
using BatchesByKind = std::array<EventBatch, EventKinds::kCount>;

class SubmissionQueue {
 public:
  // A submission larger than `max_queued_events` is accepted when the queue
  // is empty, so that every single body can make progress.
  explicit SubmissionQueue(size_t max_queued_events) : max_queued_events_(max_queued_events) {}

  // kQueueFull when it would pass the limit, kShuttingDown after stop().
  SubmitStatus push(Submission submission);
  // Waits for room instead of answering kQueueFull; false after stop().
  bool push_waiting(Submission submission);

  // Waits for work and moves whole submissions, up to `max_events` events
  // (at least one submission), into `*batch`. False once stopped and drained.
  bool take(size_t max_events, std::vector<Submission>* batch);
  // The taken submissions holding `events` events are complete.
  void finish(size_t events);

  // Refuses new submissions; take() still hands out what is queued.
  void stop();

  size_t queued_events() const;
  bool full() const;

  // Empty batches, one of each kind.
  static BatchesByKind empty_batches();
  // Moves the events of `batch`, in order, into the batch of their kind in
  // `*by_kind` (each cleared first; their capacity is kept).
  // REQUIRES: `*by_kind` as empty_batches() makes it.
  static void gather(std::vector<Submission>& batch, BatchesByKind* by_kind);

 private:
  bool has_room(size_t events) const REQUIRES(mutex_) {
    return queued_events_ == 0 || queued_events_ + events <= max_queued_events_;
  }

  const size_t max_queued_events_;
  mutable Mutex mutex_;
  std::condition_variable work_ready_;  // signalled on push and stop
  std::condition_variable room_ready_;  // signalled on finish and stop
  std::deque<Submission> queue_ GUARDED_BY(mutex_);
  size_t queued_events_ GUARDED_BY(mutex_) = 0;  // queued or taken, not finished
  bool stopping_ GUARDED_BY(mutex_) = false;
};

}  // namespace genalytics
