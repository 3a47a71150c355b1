#include "pipeline/batch_writer.h"

#include <utility>

namespace genalytics {

BatchWriter::BatchWriter(Store* store, Options options)
    : store_(store),
      options_(options),
      queue_(options.max_queued_events),
      thread_([this] { run(); }) {}

BatchWriter::~BatchWriter() { shutdown(); }

SubmitStatus BatchWriter::submit(std::vector<GenerationEvent> events, Callback done) {
  return queue_.push(Submission{std::move(events), {}, std::move(done)});
}

SubmitStatus BatchWriter::submit_routes(std::vector<RouteEvent> events, Callback done) {
  return queue_.push(Submission{{}, std::move(events), std::move(done)});
}

WriteResult BatchWriter::write(std::vector<GenerationEvent> events) {
  std::promise<WriteResult> promise;
  std::future<WriteResult> future = promise.get_future();
  if (!queue_.push_waiting(Submission{std::move(events), {}, [&promise](WriteResult result) {
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
  SubmissionQueue::gather(batch, &scratch_, &route_scratch_);
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
