#include "pipeline/batch_writer.h"

#include <utility>

namespace genalytics {

BatchWriter::BatchWriter(Store* store, Options options)
    : store_(store), options_(options), thread_([this] { run(); }) {}

BatchWriter::~BatchWriter() { shutdown(); }

SubmitStatus BatchWriter::enqueue(Submission submission) {
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

SubmitStatus BatchWriter::submit(std::vector<GenerationEvent> events, Callback done) {
  return enqueue(Submission{std::move(events), {}, std::move(done)});
}

SubmitStatus BatchWriter::submit_routes(std::vector<RouteEvent> events, Callback done) {
  return enqueue(Submission{{}, std::move(events), std::move(done)});
}

WriteResult BatchWriter::write(std::vector<GenerationEvent> events) {
  std::promise<WriteResult> promise;
  std::future<WriteResult> future = promise.get_future();
  {
    std::unique_lock lock(mutex_);
    room_ready_.wait(lock, [&] {
      return stopping_ || queued_events_ == 0 ||
             queued_events_ + events.size() <= options_.max_queued_events;
    });
    if (stopping_) return WriteResult{false, 0, 0, "the writer is shutting down"};
    queued_events_ += events.size();
    queue_.push_back(Submission{std::move(events), {}, [&promise](WriteResult result) {
                                  promise.set_value(std::move(result));
                                }});
  }
  work_ready_.notify_one();
  return future.get();
}

void BatchWriter::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  room_ready_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool BatchWriter::full() const {
  std::lock_guard lock(mutex_);
  return queued_events_ >= options_.max_queued_events;
}

size_t BatchWriter::queued_events() const {
  std::lock_guard lock(mutex_);
  return queued_events_;
}

void BatchWriter::run() {
  std::vector<Submission> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      // Take whole submissions up to the commit size (at least one).
      size_t events = 0;
      while (!queue_.empty() &&
             (batch.empty() || events + queue_.front().size() <= options_.max_events_per_commit)) {
        events += queue_.front().size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit(batch);
    size_t committed = 0;
    for (const Submission& s : batch) committed += s.size();
    batch.clear();
    {
      std::lock_guard lock(mutex_);
      queued_events_ -= committed;
    }
    room_ready_.notify_all();
  }
}

namespace {

// Writes every submission's events of one kind in one transaction and
// returns the failure message ("" on success).
template <typename Event, typename Write>
std::string write_all(std::vector<Event>* scratch, std::vector<uint8_t>* inserted, Write&& write) {
  if (scratch->empty()) return "";
  try {
    write(*scratch, inserted);
  } catch (const StoreError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

void BatchWriter::commit(std::vector<Submission>& batch) {
  scratch_.clear();
  route_scratch_.clear();
  for (Submission& s : batch) {
    for (GenerationEvent& e : s.events) scratch_.push_back(std::move(e));
    for (RouteEvent& e : s.routes) route_scratch_.push_back(std::move(e));
  }
  const std::string generation_error =
      write_all(&scratch_, &inserted_, [&](auto& events, auto* inserted) {
        store_->write_generation_events(events, inserted);
      });
  const std::string route_error =
      write_all(&route_scratch_, &route_inserted_, [&](auto& events, auto* inserted) {
        store_->write_route_events(events, inserted);
      });
  size_t generation_offset = 0, route_offset = 0;
  for (Submission& s : batch) {
    const bool routes = !s.routes.empty();
    const std::string& error = routes ? route_error : generation_error;
    const std::vector<uint8_t>& inserted = routes ? route_inserted_ : inserted_;
    size_t& offset = routes ? route_offset : generation_offset;
    WriteResult result;
    result.error = error;
    if (error.empty()) {
      result.ok = true;
      for (size_t i = 0; i < s.size(); ++i) {
        if (inserted[offset + i]) {
          ++result.accepted;
        } else {
          ++result.duplicates;
        }
      }
    }
    offset += s.size();
    s.done(std::move(result));
  }
}

}  // namespace genalytics
