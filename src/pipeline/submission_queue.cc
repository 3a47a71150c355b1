#include "pipeline/submission_queue.h"

#include <utility>

namespace genalytics {

SubmitStatus SubmissionQueue::push(Submission submission) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return SubmitStatus::kShuttingDown;
    if (!has_room(submission.size())) return SubmitStatus::kQueueFull;
    queued_events_ += submission.size();
    queue_.push_back(std::move(submission));
  }
  work_ready_.notify_one();
  return SubmitStatus::kQueued;
}

bool SubmissionQueue::push_waiting(Submission submission) {
  {
    std::unique_lock lock(mutex_);
    room_ready_.wait(lock, [&] { return stopping_ || has_room(submission.size()); });
    if (stopping_) return false;
    queued_events_ += submission.size();
    queue_.push_back(std::move(submission));
  }
  work_ready_.notify_one();
  return true;
}

bool SubmissionQueue::take(size_t max_events, std::vector<Submission>* batch) {
  std::unique_lock lock(mutex_);
  work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
  if (queue_.empty()) return false;  // stopping and drained
  size_t events = 0;
  while (!queue_.empty() &&
         (batch->empty() || events + queue_.front().size() <= max_events)) {
    events += queue_.front().size();
    batch->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return true;
}

void SubmissionQueue::finish(size_t events) {
  {
    std::lock_guard lock(mutex_);
    queued_events_ -= events;
  }
  room_ready_.notify_all();
}

void SubmissionQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  room_ready_.notify_all();
}

size_t SubmissionQueue::queued_events() const {
  std::lock_guard lock(mutex_);
  return queued_events_;
}

bool SubmissionQueue::full() const {
  std::lock_guard lock(mutex_);
  return queued_events_ >= max_queued_events_;
}

void SubmissionQueue::gather(std::vector<Submission>& batch, std::vector<GenerationEvent>* events,
                             std::vector<RouteEvent>* routes) {
  events->clear();
  routes->clear();
  for (Submission& s : batch) {
    for (GenerationEvent& e : s.events) events->push_back(std::move(e));
    for (RouteEvent& e : s.routes) routes->push_back(std::move(e));
  }
}

}  // namespace genalytics
