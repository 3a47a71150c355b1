#include "pipeline/stream_ingest.h"

#include <span>
#include <string>

namespace genalytics {

StreamIngest::StreamIngest(StreamPublisher* publisher, Options options)
    : publisher_(publisher), options_(options), queue_(options.max_queued_events) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { run(); });
}

StreamIngest::~StreamIngest() { shutdown(); }

SubmitStatus StreamIngest::submit(std::vector<GenerationEvent> events, Callback done) {
  return queue_.push(Submission{std::move(events), {}, std::move(done)});
}

SubmitStatus StreamIngest::submit_routes(std::vector<RouteEvent> events, Callback done) {
  return queue_.push(Submission{{}, std::move(events), std::move(done)});
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
  std::vector<GenerationEvent> events;
  std::vector<RouteEvent> routes;
  while (queue_.take(options_.max_events_per_publish, &batch)) {
    SubmissionQueue::gather(batch, &events, &routes);
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
    queue_.finish(done);
  }
}

}  // namespace genalytics
