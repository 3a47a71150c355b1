#include "pipeline/stream_ingest.h"

#include <array>
#include <string>

namespace genalytics {

StreamIngest::StreamIngest(StreamPublisher* publisher, Options options)
    : publisher_(publisher), options_(options), queue_(options.max_queued_events) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { run(); });
}

StreamIngest::~StreamIngest() { shutdown(); }

SubmitStatus StreamIngest::submit(EventBatch events, Callback done) {
  return queue_.push(Submission{std::move(events), std::move(done)});
}

bool StreamIngest::full() const { return queue_.full(); }

size_t StreamIngest::queued_events() const { return queue_.queued_events(); }

void StreamIngest::shutdown() {
  queue_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void StreamIngest::run() {
  std::vector<Submission> batch;
  BatchesByKind by_kind = SubmissionQueue::empty_batches();
  std::array<std::string, EventKinds::kCount> errors;
  while (queue_.take(options_.max_events_per_publish, &batch)) {
    SubmissionQueue::gather(batch, &by_kind);
    // Each stream on its own: Redis refusing one kind fails only its requests.
    for (size_t kind = 0; kind < EventKinds::kCount; ++kind) {
      errors[kind].clear();
      if (event_count(by_kind[kind]) == 0) continue;
      try {
        publisher_->publish(as_span(by_kind[kind]));
      } catch (const std::exception& error) {
        errors[kind] = error.what();
      }
    }
    size_t done = 0;
    for (Submission& s : batch) {
      WriteResult result;
      result.error = errors[s.events.index()];
      if (result.error.empty()) {
        result.ok = true;
        result.accepted = s.size();
      }
      done += s.size();
      s.done(std::move(result));
    }
    batch.clear();
    queue_.finish(done);
  }
}

}  // namespace genalytics
