#include "pipeline/batch_writer.h"

#include <array>
#include <string>
#include <utility>

namespace genalytics {

BatchWriter::BatchWriter(Store* store, Options options)
    : store_(store),
      options_(options),
      queue_(options.max_queued_events),
      thread_([this] { run(); }) {}

BatchWriter::~BatchWriter() { shutdown(); }

SubmitStatus BatchWriter::submit(EventBatch events, Callback done) {
  return queue_.push(Submission{std::move(events), std::move(done)});
}

WriteResult BatchWriter::write(EventBatch events) {
  std::promise<WriteResult> promise;
  std::future<WriteResult> future = promise.get_future();
  if (!queue_.push_waiting(Submission{std::move(events), [&promise](WriteResult result) {
                                        promise.set_value(std::move(result));
                                      }})) {
    return WriteResult{false, 0, 0, "the writer is shutting down"};
  }
  return future.get();
}

void BatchWriter::shutdown() {
  queue_.stop();
  if (thread_.joinable()) thread_.join();
}

bool BatchWriter::full() const { return queue_.full(); }

size_t BatchWriter::queued_events() const { return queue_.queued_events(); }

void BatchWriter::run() {
  std::vector<Submission> batch;
  while (queue_.take(options_.max_events_per_commit, &batch)) {
    commit(batch);
    size_t committed = 0;
    for (const Submission& s : batch) committed += s.size();
    batch.clear();
    queue_.finish(committed);
  }
}

void BatchWriter::commit(std::vector<Submission>& batch) {
  SubmissionQueue::gather(batch, &scratch_);
  // Each kind in a transaction of its own: a failure fails only its requests.
  std::array<std::string, EventKinds::kCount> errors;
  for (size_t kind = 0; kind < EventKinds::kCount; ++kind) {
    if (event_count(scratch_[kind]) == 0) continue;
    try {
      store_->write(scratch_[kind], &inserted_[kind]);
    } catch (const StoreError& error) {
      errors[kind] = error.what();
    }
  }
  std::array<size_t, EventKinds::kCount> offsets{};
  for (Submission& s : batch) {
    const size_t kind = s.events.index();
    const std::vector<uint8_t>& inserted = inserted_[kind];
    size_t& offset = offsets[kind];
    WriteResult result;
    result.error = errors[kind];
    if (result.error.empty()) {
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
