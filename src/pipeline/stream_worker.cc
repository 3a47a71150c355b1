// A little over 400 lines: one protocol (read, decode, store with failure
// isolation, acknowledge) whose steps share the batch's private state; see
// the header for the contract.
#include "pipeline/stream_worker.h"

#include <unistd.h>

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>

#include "event/time.h"

namespace genalytics {
namespace {

namespace json = boost::json;

// The namespace of the name-based (version 5) UUIDs given to entries that
// carry no event_id.
constexpr boost::uuids::uuid kEntryIdNamespace = {{0x4f, 0x1c, 0x2b, 0x7e, 0x93, 0x55, 0x4a, 0x61,
                                                   0x8d, 0x0e, 0x6b, 0x3a, 0x52, 0xc9, 0x17, 0xf4}};

// inserted_'s mark for an event the store refused (it stores 0 or 1).
constexpr uint8_t kRejected = 2;

// Enough for a blocked read to come back before the socket times out.
constexpr int kBlockTimeoutMarginMs = 5000;

std::string default_consumer_name() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::string(host[0] != '\0' ? host : "localhost") + ":" + std::to_string(getpid());
}

int64_t steady_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The time of an entry's XADD, from its id ("<ms>-<seq>"); now if unreadable.
int64_t entry_time_us(std::string_view id) {
  constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max() / 1000;
  int64_t ms = 0;
  const auto [end, error] = std::from_chars(id.data(), id.data() + id.size(), ms);
  return error == std::errc() && ms <= kMaxMs ? ms * 1000 : now_us();
}

std::string entry_event_id(std::string_view stream_key, std::string_view entry_id) {
  std::string name(stream_key);
  name.append("/").append(entry_id);
  return boost::uuids::to_string(boost::uuids::name_generator_sha1(kEntryIdNamespace)(name));
}

// "/duration_ms must be a non-negative integer; /success is required ..."
std::string describe(const std::vector<FieldError>& errors) {
  std::string text;
  for (const FieldError& error : errors) {
    if (!text.empty()) text.append("; ");
    if (!error.field.empty()) text.append(error.field).append(" ");
    text.append(error.message);
  }
  return text;
}

RedisError unexpected_reply(std::string_view command) {
  return RedisError("Redis: unexpected reply to " + std::string(command));
}

// The entries of the one stream in an XREADGROUP reply; nullptr for none.
const redisReply* read_entries(const redisReply& reply) {
  if (reply.type == REDIS_REPLY_NIL) return nullptr;
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 1 ||
      reply.element[0]->type != REDIS_REPLY_ARRAY || reply.element[0]->elements != 2 ||
      reply.element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
    throw unexpected_reply("XREADGROUP");
  }
  return reply.element[0]->element[1];
}

}  // namespace

// An invalid entry, as it goes to the dead-letter stream.
struct StreamWorker::DeadEntry {
  std::string source_id;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string error;
};

// Entries taken from the stream and not yet acknowledged.
struct StreamWorker::Batch {
  std::vector<std::string> ids;  // every entry's
  EventBatch events;             // of the valid entries, of the worker's kind
  std::vector<size_t> entries;   // events[i] is the entry ids[entries[i]]
  std::vector<DeadEntry> dead;   // invalid entries
  std::vector<DeadEntry> store_rejected;  // of the last write: events the store refused
};

StreamWorker::StreamWorker(Store* store, RedisOptions redis, Options options)
    : store_(store),
      redis_options_(std::move(redis)),
      options_(std::move(options)),
      decode_options_{options_.limits, options_.normalization},
      stream_key_(genalytics::stream_key(options_.kind, options_.ns)),
      dead_letter_key_(dead_letter_key(options_.kind, options_.ns)),
      backoff_ms_(options_.backoff_initial_ms) {
  if (options_.consumer.empty()) options_.consumer = default_consumer_name();
  options_.batch_size = std::max<size_t>(options_.batch_size, 1);
  if (redis_options_.command_timeout_ms > 0) {
    redis_options_.command_timeout_ms =
        std::max(redis_options_.command_timeout_ms, options_.block_ms + kBlockTimeoutMarginMs);
  }
}

StreamWorker::~StreamWorker() = default;

StreamWorker::Cycle StreamWorker::run_once(const std::stop_token& stop) {
  Cycle cycle;
  try {
    if (batch_ == nullptr) {
      if (redis_ == nullptr) connect();
      batch_ = read_batch();
      if (batch_ == nullptr) {
        backoff_ms_ = options_.backoff_initial_ms;
        return cycle;
      }
    }
    cycle.entries = batch_->ids.size();
    write(*batch_, &cycle);
    acknowledge(*batch_);
    cycle.store_rejected = batch_->store_rejected.size();
    cycle.dead_lettered = batch_->dead.size() + cycle.store_rejected;
    std::string last_store_rejection;
    if (!batch_->store_rejected.empty()) last_store_rejection = batch_->store_rejected.back().error;
    batch_.reset();
    backoff_ms_ = options_.backoff_initial_ms;
    MutexLock lock(stats_mutex_);
    stats_.entries_acknowledged += cycle.entries;
    stats_.inserted += cycle.inserted;
    stats_.duplicates += cycle.duplicates;
    stats_.dead_lettered += cycle.dead_lettered;
    stats_.store_rejected += cycle.store_rejected;
    if (!last_store_rejection.empty()) stats_.last_store_rejection = std::move(last_store_rejection);
    stats_.last_transfer_us = now_us();
  } catch (const StoreError& error) {
    // Unavailable (write() isolates the others): the batch is kept and
    // written again next cycle; the stream keeps it meanwhile.
    record_failure(/*store=*/true, error);
    cycle.failed = true;
    back_off(stop);
  } catch (const RedisError& error) {
    // Whatever was taken stays pending on this consumer and is read again
    // after reconnecting (a written batch is then deduplicated by the store).
    record_failure(/*store=*/false, error);
    redis_.reset();
    batch_.reset();
    cycle.failed = true;
    back_off(stop);
  }
  return cycle;
}

void StreamWorker::run(const std::stop_token& stop) {
  while (!stop.stop_requested()) run_once(stop);
}

StreamWorker::Stats StreamWorker::stats() const {
  MutexLock lock(stats_mutex_);
  return stats_;
}

void StreamWorker::connect() {
  auto client = std::make_unique<RedisClient>(redis_options_);
  // From id 0, so that entries appended before the group existed are read.
  try {
    client->command({"XGROUP", "CREATE", stream_key_, options_.group, "0", "MKSTREAM"});
  } catch (const RedisReplyError& error) {
    if (!std::string_view(error.what()).starts_with("BUSYGROUP")) throw;
  }
  redis_ = std::move(client);
  read_own_pending_ = true;
}

std::unique_ptr<StreamWorker::Batch> StreamWorker::read_batch() {
  const std::string count = std::to_string(options_.batch_size);
  if (read_own_pending_) {
    // Entries delivered to this consumer before a crash or a lost connection.
    const RedisReply reply =
        redis_->command({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT", count,
                         "STREAMS", stream_key_, "0"});
    const redisReply* entries = read_entries(*reply);
    if (entries != nullptr && entries->elements > 0) return decode_entries(*entries);
    read_own_pending_ = false;
  }

  const int64_t now = steady_now_us();
  if (now >= next_claim_us_) {
    // Entries idle on consumers that died. A scan of the pending list goes on
    // over cycles until its cursor comes back to 0-0, then pauses.
    const RedisReply reply =
        redis_->command({"XAUTOCLAIM", stream_key_, options_.group, options_.consumer,
                         std::to_string(options_.claim_idle_ms), claim_cursor_, "COUNT", count});
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
      throw unexpected_reply("XAUTOCLAIM");
    }
    claim_cursor_ = reply_text(*reply->element[0]);
    if (claim_cursor_ == "0-0") {
      next_claim_us_ = now + int64_t{options_.claim_idle_ms} * 1000 / 2;
    }
    if (reply->element[1]->elements > 0) return decode_entries(*reply->element[1]);
  }

  const RedisReply reply =
      redis_->command({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT", count,
                       "BLOCK", std::to_string(options_.block_ms), "STREAMS", stream_key_, ">"});
  const redisReply* entries = read_entries(*reply);
  if (entries == nullptr || entries->elements == 0) return nullptr;
  return decode_entries(*entries);
}

std::unique_ptr<StreamWorker::Batch> StreamWorker::decode_entries(const redisReply& entries) {
  auto batch = std::make_unique<Batch>();
  batch->events = EventKinds::empty_batch(options_.kind);
  batch->ids.reserve(entries.elements);
  batch->entries.reserve(entries.elements);
  std::visit([&](auto& events) { decode_into(entries, *batch, events); }, batch->events);
  return batch;
}

template <typename Events>
void StreamWorker::decode_into(const redisReply& entries, Batch& batch, Events& events) {
  using Kind = KindOfEvents<Events>;
  events.reserve(entries.elements);
  // A typical entry's object fits here, so decoding it does not touch the heap.
  unsigned char buffer[16 * 1024];
  std::vector<StreamField> fields;
  std::vector<FieldError> errors;
  for (size_t i = 0; i < entries.elements; ++i) {
    const redisReply& entry = *entries.element[i];
    if (entry.type != REDIS_REPLY_ARRAY || entry.elements != 2 ||
        entry.element[0]->type != REDIS_REPLY_STRING) {
      throw unexpected_reply("a stream read");
    }
    const std::string_view id = reply_text(*entry.element[0]);
    batch.ids.emplace_back(id);
    const redisReply& values = *entry.element[1];
    if (values.type != REDIS_REPLY_ARRAY) continue;  // deleted while pending: acknowledge only
    fields.clear();
    for (size_t j = 0; j + 1 < values.elements; j += 2) {
      fields.emplace_back(reply_text(*values.element[j]), reply_text(*values.element[j + 1]));
    }

    errors.clear();
    json::monotonic_resource resource(buffer, sizeof(buffer));
    const json::storage_ptr storage(&resource);
    json::object object = Kind::from_stream_fields(fields, &errors, storage);
    if (errors.empty()) {
      // Without an event_id, an entry with a timestamp gets the id the
      // decoder derives from its content, so a producer's retried XADD is a
      // duplicate; without a timestamp the entry's time stands for it, and
      // the entry id makes the event id (two appends are two events).
      const json::value* event_id = object.if_contains("event_id");
      const json::value* timestamp = object.if_contains("timestamp");
      if ((event_id == nullptr || event_id->is_null()) &&
          (timestamp == nullptr || timestamp->is_null())) {
        object["event_id"] = entry_event_id(stream_key_, id);
      }
      const json::value value(std::move(object));
      if (Kind::decode(value, entry_time_us(id), decode_options_, &events.emplace_back(),
                       &errors)) {
        batch.entries.push_back(batch.ids.size() - 1);
      } else {
        events.pop_back();
      }
    }
    if (!errors.empty()) {
      DeadEntry& dead = batch.dead.emplace_back();
      dead.source_id = id;
      dead.fields.assign(fields.begin(), fields.end());
      dead.error = describe(errors);
    }
  }
}

void StreamWorker::write(Batch& batch, Cycle* cycle) {
  batch.store_rejected.clear();  // a retry isolates them again
  const size_t count = event_count(batch.events);
  if (count == 0) return;
  try {
    store_->write(batch.events, &inserted_);
  } catch (const StoreError& error) {
    if (error.retryable()) throw;
    inserted_.assign(count, kRejected);
    write_isolating(batch, 0, count, error);
    if (count > 1 && batch.store_rejected.size() == count) {
      // No event is at fault when the store refuses every one of them (a
      // revoked privilege, a schema that drifted, a corrupt file): hold the
      // batch and retry with backoff, as for an unavailable store, instead
      // of draining the stream into the dead-letter stream.
      batch.store_rejected.clear();
      throw StoreError("store refused every event of a batch of " + std::to_string(count) +
                           " (held for retry): " + error.what(),
                       StoreFailure::kUnavailable);
    }
  }
  for (size_t i = 0; i < count; ++i) {
    if (inserted_[i] == 1) {
      ++cycle->inserted;
    } else if (inserted_[i] == 0) {
      ++cycle->duplicates;
    }
  }
}

void StreamWorker::write_isolating(Batch& batch, size_t begin, size_t end,
                                   const StoreError& failure) {
  if (end - begin == 1) return reject(batch, begin, failure);
  const size_t middle = begin + (end - begin) / 2;
  for (const auto& [from, to] : {std::pair{begin, middle}, std::pair{middle, end}}) {
    try {
      store_->write(subspan(as_span(batch.events), from, to - from), &part_inserted_);
      std::copy(part_inserted_.begin(), part_inserted_.begin() + static_cast<std::ptrdiff_t>(to - from),
                inserted_.begin() + static_cast<std::ptrdiff_t>(from));
    } catch (const StoreError& error) {
      if (error.retryable()) throw;
      write_isolating(batch, from, to, error);
    }
  }
}

void StreamWorker::reject(Batch& batch, size_t event, const StoreError& failure) {
  DeadEntry& dead = batch.store_rejected.emplace_back();
  dead.source_id = batch.ids[batch.entries[event]];
  std::visit(
      [&](const auto& events) {
        dead.fields = KindOfEvents<decltype(events)>::to_stream_fields(events[event]);
      },
      batch.events);
  dead.error = std::string("store_") + to_string(failure.failure()) + ": " + failure.what();
}

void StreamWorker::acknowledge(const Batch& batch) {
  // One transaction: an invalid entry is dead-lettered exactly when the batch
  // is acknowledged, so a replay never copies it twice.
  std::vector<std::string_view> args;
  redis_->append({"MULTI"});
  for (const std::vector<DeadEntry>* dead_entries : {&batch.dead, &batch.store_rejected}) {
    for (const DeadEntry& dead : *dead_entries) {
      args.assign({"XADD", dead_letter_key_, "*"});
      for (const auto& [name, value] : dead.fields) {
        args.push_back(name);
        args.push_back(value);
      }
      args.insert(args.end(), {"error", dead.error, "source_id", dead.source_id});
      redis_->append(args);
    }
  }
  args.assign({"XACK", stream_key_, options_.group});
  args.insert(args.end(), batch.ids.begin(), batch.ids.end());
  redis_->append(args);
  args.assign({"XDEL", stream_key_});
  args.insert(args.end(), batch.ids.begin(), batch.ids.end());
  redis_->append(args);
  redis_->append({"EXEC"});

  RedisReply reply;
  while (redis_->pending_replies() > 0) reply = redis_->get_reply();
  // A command refused while queueing makes EXEC fail with EXECABORT.
  if (reply->type == REDIS_REPLY_ERROR) {
    throw RedisReplyError("acknowledging a batch: " + std::string(reply_text(*reply)));
  }
  if (reply->type != REDIS_REPLY_ARRAY) throw unexpected_reply("EXEC");
  for (size_t i = 0; i < reply->elements; ++i) {
    if (reply->element[i]->type == REDIS_REPLY_ERROR) {
      throw RedisReplyError("acknowledging a batch: " +
                            std::string(reply_text(*reply->element[i])));
    }
  }
}

void StreamWorker::record_failure(bool store, const std::exception& error) {
  MutexLock lock(stats_mutex_);
  ++(store ? stats_.store_failures : stats_.redis_failures);
  stats_.last_error = error.what();
}

void StreamWorker::back_off(const std::stop_token& stop) {
  std::mutex mutex;
  std::condition_variable_any stopped;
  std::unique_lock lock(mutex);
  stopped.wait_for(lock, stop, std::chrono::milliseconds(backoff_ms_), [] { return false; });
  backoff_ms_ = std::min(backoff_ms_ * 2, std::max(options_.backoff_max_ms, 1));
}

StreamWorkerThreads::StreamWorkerThreads(Store* store, const RedisOptions& redis,
                                         const StreamWorker::Options& options) {
  for (const EventKind kind : kEventKinds) {
    StreamWorker::Options worker_options = options;
    worker_options.kind = kind;
    workers_.push_back(std::make_unique<StreamWorker>(store, redis, std::move(worker_options)));
  }
  for (const std::unique_ptr<StreamWorker>& worker : workers_) {
    threads_.emplace_back([worker = worker.get()](std::stop_token stop) { worker->run(stop); });
  }
}

StreamWorkerThreads::~StreamWorkerThreads() { stop(); }

void StreamWorkerThreads::stop() {
  for (std::jthread& thread : threads_) thread.request_stop();
  for (std::jthread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

std::vector<const StreamWorker*> StreamWorkerThreads::workers() const {
  std::vector<const StreamWorker*> workers;
  for (const std::unique_ptr<StreamWorker>& worker : workers_) workers.push_back(worker.get());
  return workers;
}

}  // namespace genalytics
