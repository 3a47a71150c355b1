// The bounded queue between ingest requests and a sink's worker threads,
// shared by BatchWriter (SQLite group commit) and StreamIngest (Redis
// publish): requests push their decoded events, workers take whole
// submissions up to a batch size, and the queue counts events until the
// worker reports them done, so that queued_events() covers the batch being
// written.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

#include "event/generation_event.h"
#include "event/route_event.h"
#include "pipeline/event_sink.h"

namespace genalytics {

// One request's events: generation or route events.
struct Submission {
  std::vector<GenerationEvent> events;
  std::vector<RouteEvent> routes;
  EventSink::Callback done;
  size_t size() const { return events.size() + routes.size(); }
};

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

  // Moves the events of `batch`, in order, into `*events` and `*routes`
  // (cleared first).
  static void gather(std::vector<Submission>& batch, std::vector<GenerationEvent>* events,
                     std::vector<RouteEvent>* routes);

 private:
  bool has_room(size_t events) const {  // REQUIRES: mutex_ held
    return queued_events_ == 0 || queued_events_ + events <= max_queued_events_;
  }

  const size_t max_queued_events_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;  // signalled on push and stop
  std::condition_variable room_ready_;  // signalled on finish and stop
  std::deque<Submission> queue_;        // GUARDED_BY(mutex_)
  size_t queued_events_ = 0;            // GUARDED_BY(mutex_): queued or taken, not finished
  bool stopping_ = false;               // GUARDED_BY(mutex_)
};

}  // namespace genalytics
