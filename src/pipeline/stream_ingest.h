// Production ingest: validated events are appended to the Redis streams
// (generation events to the generation stream, route events to the route
// stream) by a few publisher threads, each taking every submission queued at
// that moment and XADDing them in one pipeline per stream (group commit, as
// BatchWriter does for SQLite). A request is completed only after Redis
// acknowledged all of its events; a Redis failure completes it with an error
// (HTTP 503), never with a false acknowledgement. Whether an event is a
// duplicate is known only once a worker stores it, so every published event
// counts as accepted.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "pipeline/event_sink.h"
#include "pipeline/stream_publisher.h"

namespace genalytics {

class StreamIngest final : public EventSink {
 public:
  struct Options {
    size_t max_queued_events = 500'000;  // beyond this, submit() answers kQueueFull
    size_t max_events_per_publish = 20'000;
    int threads = 4;
  };

  // `publisher` must outlive this object.
  StreamIngest(StreamPublisher* publisher, Options options);
  ~StreamIngest() override;
  StreamIngest(const StreamIngest&) = delete;
  StreamIngest& operator=(const StreamIngest&) = delete;

  SubmitStatus submit(std::vector<GenerationEvent> events, Callback done) override;
  SubmitStatus submit_routes(std::vector<RouteEvent> events, Callback done) override;
  size_t queued_events() const override;
  bool full() const override;
  void shutdown() override;

 private:
  struct Submission {
    std::vector<GenerationEvent> events;
    std::vector<RouteEvent> routes;
    Callback done;
    size_t size() const { return events.size() + routes.size(); }
  };

  SubmitStatus enqueue(Submission submission);
  void run();

  StreamPublisher* publisher_;
  Options options_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<Submission> queue_;  // GUARDED_BY(mutex_)
  size_t queued_events_ = 0;      // GUARDED_BY(mutex_): queued or being published
  bool stopping_ = false;         // GUARDED_BY(mutex_)
  std::vector<std::thread> threads_;
};

}  // namespace genalytics
