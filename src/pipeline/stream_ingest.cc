#include "pipeline/stream_ingest.h"

#include <span>
#include <string>

namespace genalytics {

StreamIngest::StreamIngest(StreamPublisher* publisher, Options options)
    : publisher_(publisher), options_(options) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { run(); });
}

StreamIngest::~StreamIngest() { shutdown(); }

SubmitStatus StreamIngest::enqueue(Submission submission) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return SubmitStatus::kShuttingDown;
    if (queued_events_ > 0 && queued_events_ + submission.size() > options_.max_queued_events) {
      return SubmitStatus::kQueueFull;
    }
    queued_events_ += submission.size();
    queue_.push_back(std::move(submission));
  }
  work_ready_.notify_one();
  return SubmitStatus::kQueued;
}

SubmitStatus StreamIngest::submit(std::vector<GenerationEvent> events, Callback done) {
  return enqueue(Submission{std::move(events), {}, std::move(done)});
}

SubmitStatus StreamIngest::submit_routes(std::vector<RouteEvent> events, Callback done) {
  return enqueue(Submission{{}, std::move(events), std::move(done)});
}

bool StreamIngest::full() const {
  std::lock_guard lock(mutex_);
  return queued_events_ >= options_.max_queued_events;
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
  std::vector<RouteEvent> routes;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      size_t count = 0;
      while (!queue_.empty() &&
             (batch.empty() || count + queue_.front().size() <= options_.max_events_per_publish)) {
        count += queue_.front().size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    events.clear();
    routes.clear();
    for (Submission& s : batch) {
      for (GenerationEvent& e : s.events) events.push_back(std::move(e));
      for (RouteEvent& e : s.routes) routes.push_back(std::move(e));
    }
    // Each stream on its own: Redis refusing one kind fails only its requests.
    const auto publish = [this](const auto& to_publish) {
      if (to_publish.empty()) return std::string();
      try {
        publisher_->publish(std::span(to_publish));
      } catch (const std::exception& error) {
        return std::string(error.what());
      }
      return std::string();
    };
    const std::string generation_error = publish(events);
    const std::string route_error = publish(routes);
    size_t done = 0;
    for (Submission& s : batch) {
      WriteResult result;
      result.error = s.routes.empty() ? generation_error : route_error;
      if (result.error.empty()) {
        result.ok = true;
        result.accepted = s.size();
      }
      done += s.size();
      s.done(std::move(result));
    }
    batch.clear();
    std::lock_guard lock(mutex_);
    queued_events_ -= done;
  }
}

}  // namespace genalytics
