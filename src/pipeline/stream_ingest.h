// Production ingest: validated events are appended to the Redis streams
// (each kind's events to its kind's stream) by a few publisher threads, each
// taking every submission queued at that moment and XADDing them in one
// pipeline per stream (group commit, as
// BatchWriter does for SQLite). A request is completed only after Redis
// acknowledged all of its events; a Redis failure completes it with an error
// (HTTP 503), never with a false acknowledgement. Whether an event is a
// duplicate is known only once a worker stores it, so every published event
// counts as accepted.
#pragma once

#include <thread>
#include <vector>

#include "pipeline/event_sink.h"
#include "pipeline/submission_queue.h"
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

  SubmitStatus submit(EventBatch events, Callback done) override;
  size_t queued_events() const override;
  bool full() const override;
  void shutdown() override;

 private:
  void run();

  StreamPublisher* publisher_;
  Options options_;
  SubmissionQueue queue_;
  std::vector<std::thread> threads_;
};

}  // namespace genalytics
