#include "pipeline/submission_queue.h"

#include <type_traits>
#include <utility>
#include <variant>

namespace genalytics {

SubmitStatus SubmissionQueue::push(Submission submission) {
  {
    MutexLock lock(mutex_);
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
    MutexLock lock(mutex_);
    room_ready_.wait(lock.native(), [&] {
      mutex_.assert_held();
      return stopping_ || has_room(submission.size());
    });
    if (stopping_) return false;
    queued_events_ += submission.size();
    queue_.push_back(std::move(submission));
  }
  work_ready_.notify_one();
  return true;
}

bool SubmissionQueue::take(size_t max_events, std::vector<Submission>* batch) {
  MutexLock lock(mutex_);
  work_ready_.wait(lock.native(), [&] {
    mutex_.assert_held();
    return stopping_ || !queue_.empty();
  });
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
    MutexLock lock(mutex_);
    queued_events_ -= events;
  }
  room_ready_.notify_all();
}

void SubmissionQueue::stop() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  room_ready_.notify_all();
}

size_t SubmissionQueue::queued_events() const {
  MutexLock lock(mutex_);
  return queued_events_;
}

bool SubmissionQueue::full() const {
  MutexLock lock(mutex_);
  return queued_events_ >= max_queued_events_;
}

BatchesByKind SubmissionQueue::empty_batches() {
  BatchesByKind batches;
  for (const EventKind kind : kEventKinds) {
    batches[static_cast<size_t>(kind)] = EventKinds::empty_batch(kind);
  }
  return batches;
}

void SubmissionQueue::gather(std::vector<Submission>& batch, BatchesByKind* by_kind) {
  for (EventBatch& events : *by_kind) {
    std::visit([](auto& e) { e.clear(); }, events);
  }
  for (Submission& s : batch) {
    std::visit(
        [by_kind, index = s.events.index()](auto& events) {
          auto& into = std::get<std::remove_cvref_t<decltype(events)>>((*by_kind)[index]);
          for (auto& event : events) into.push_back(std::move(event));
        },
        s.events);
  }
}

}  // namespace genalytics
