#include "pipeline/stream_ingest.h"

namespace genalytics {

StreamIngest::StreamIngest(StreamPublisher* publisher, Options options)
    : publisher_(publisher), options_(options) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { run(); });
}

StreamIngest::~StreamIngest() { shutdown(); }

SubmitStatus StreamIngest::submit(std::vector<GenerationEvent> events, Callback done) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return SubmitStatus::kShuttingDown;
    if (queued_events_ > 0 && queued_events_ + events.size() > options_.max_queued_events) {
      return SubmitStatus::kQueueFull;
    }
    queued_events_ += events.size();
    queue_.push_back(Submission{std::move(events), std::move(done)});
  }
  work_ready_.notify_one();
  return SubmitStatus::kQueued;
}

size_t StreamIngest::queued_events() const {
  std::lock_guard lock(mutex_);
  return queued_events_;
}

void StreamIngest::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void StreamIngest::run() {
  std::vector<Submission> batch;
  std::vector<GenerationEvent> events;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      size_t count = 0;
      while (!queue_.empty() &&
             (batch.empty() || count + queue_.front().events.size() <= options_.max_events_per_publish)) {
        count += queue_.front().events.size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    events.clear();
    for (Submission& s : batch) {
      for (GenerationEvent& e : s.events) events.push_back(std::move(e));
    }
    WriteResult failure;
    try {
      publisher_->publish(events);
    } catch (const std::exception& error) {
      failure.error = error.what();
    }
    size_t published = 0;
    for (Submission& s : batch) {
      WriteResult result = failure;
      if (failure.error.empty()) {
        result.ok = true;
        result.accepted = s.events.size();
      }
      published += s.events.size();
      s.done(std::move(result));
    }
    batch.clear();
    std::lock_guard lock(mutex_);
    queued_events_ -= published;
  }
}

}  // namespace genalytics
