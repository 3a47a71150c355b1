// The consumer side of the production pipeline: moves the events of one
// stream -- the stream of the event kind Options::kind names, decoded by that
// kind's stream codec -- from Redis into a Store, exactly once in the rollups
// whatever crashes.
//
// A worker is one consumer of the group (default "genalytics") on its
// stream. Each cycle it takes a batch of entries -- first its own pending
// ones after a (re)connect, then entries idle too long on other (dead)
// consumers (XAUTOCLAIM), else new ones (XREADGROUP ... BLOCK) -- decodes
// them, writes the valid events in one Store transaction (idempotent on
// event_id) and only then, in one MULTI/EXEC, copies each invalid entry to
// the kind's dead-letter stream (`{ns}:generation_events:dead`,
// `{ns}:route_analytics:dead`) with its reason and XACKs and XDELs the whole
// batch. A crash anywhere leaves the entries pending, to be written again
// (and deduplicated) by whoever takes them. Entries without an event_id get
// one derived from their stream entry id, and entries without a timestamp
// the time of their XADD, so that a replay is recognised as one.
//
// Store failures: an unavailable store (StoreError kUnavailable) keeps the
// batch, to be written again after a backoff, for as long as it takes. A
// corrupt or invalid one (kCorrupt, kInvalid: the same write would fail the
// same way) never stalls the stream: the batch is written in halves, and
// halves of the failing halves, until the events whose write fails are
// isolated; those are copied to the dead-letter stream in their flat form
// with `error` "store_corrupt: <message>" ("store_invalid: ..."), the others
// stored, and the whole batch acknowledged as above. Each half is a
// transaction of its own; a crash in between leaves the entries pending, and
// the halves already written are duplicates on the replay. An entry is
// acknowledged only once its event is stored or dead-lettered. When the
// store refuses every event of a batch of two or more, no event is at fault
// (a revoked privilege, a drifted schema, a corrupt file): the batch is held
// and retried with backoff, as for an unavailable store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "event/decode_limits.h"
#include "event/event_batch.h"
#include "event/route_normalizer.h"
#include "pipeline/redis_client.h"
#include "pipeline/stream_keys.h"
#include "store/store.h"

namespace genalytics {

class StreamWorker {
 public:
  struct Options {
    EventKind kind = event_kind<GenerationKind>();  // which stream, codec and store write
    std::string ns = std::string(kDefaultStreamNamespace);
    std::string group = "genalytics";
    std::string consumer;          // empty: "<hostname>:<pid>"
    size_t batch_size = 5000;      // entries per read, and per store transaction
    int block_ms = 1000;           // how long a read waits for new entries
    int claim_idle_ms = 30'000;    // entries pending this long on any consumer are taken over
    int backoff_initial_ms = 100;  // after a failure; doubles up to backoff_max_ms
    int backoff_max_ms = 10'000;
    DecodeLimits limits;
    RouteNormalization normalization;  // route entries are decoded under it
  };

  // What one cycle did.
  struct Cycle {
    size_t entries = 0;         // entries in the batch handled (0: nothing to read)
    size_t inserted = 0;        // events newly stored
    size_t duplicates = 0;      // events already stored (replays)
    size_t dead_lettered = 0;   // entries moved to the dead-letter stream (store_rejected included)
    size_t store_rejected = 0;  // valid entries the store refused (corrupt, invalid)
    bool failed = false;        // Redis or the store failed; the cycle backed off
  };

  // Totals since construction.
  struct Stats {
    uint64_t entries_acknowledged = 0;
    uint64_t inserted = 0;
    uint64_t duplicates = 0;
    uint64_t dead_lettered = 0;   // store_rejected included
    uint64_t store_rejected = 0;  // events the store refused as corrupt or invalid
    uint64_t store_failures = 0;  // writes failed for an unavailable store (retried)
    uint64_t redis_failures = 0;
    int64_t last_transfer_us = 0;      // wall time of the last batch acknowledged; 0: none yet
    std::string last_error;            // of the latest failure; "" until one happens
    std::string last_store_rejection;  // the dead letter's error of the latest store_rejected
  };

  // Connects lazily: Redis being down is a failed cycle, not an error here.
  // REQUIRES: `store` outlives the worker, and has no other writer meanwhile
  // unless it allows concurrent writers (PostgresStore does: a generation and
  // a route worker may share one).
  StreamWorker(Store* store, RedisOptions redis, Options options);
  ~StreamWorker();
  StreamWorker(const StreamWorker&) = delete;
  StreamWorker& operator=(const StreamWorker&) = delete;

  // One cycle: takes a batch (or, after a store failure, retries the batch
  // it holds), stores and acknowledges it. On a retryable StoreError the
  // batch is kept for the next cycle; on RedisError it is dropped and re-read
  // from the pending entries after reconnecting. Either way the cycle sleeps
  // the current backoff (cut short by `stop`) and reports failed. A
  // corrupt/invalid StoreError isolates the failing events (see the top of
  // this file) and the cycle succeeds. Other exceptions propagate, leaving
  // the entries pending. Not thread-safe.
  Cycle run_once(const std::stop_token& stop = {});

  // Runs cycles until `stop` is requested.
  void run(const std::stop_token& stop);

  // Thread-safe.
  Stats stats() const EXCLUDES(stats_mutex_);

  EventKind kind() const { return options_.kind; }
  const std::string& consumer() const { return options_.consumer; }
  const std::string& stream_key() const { return stream_key_; }

 private:
  struct DeadEntry;
  struct Batch;

  void connect();
  std::unique_ptr<Batch> read_batch();
  std::unique_ptr<Batch> decode_entries(const redisReply& entries);
  template <typename Events>
  void decode_into(const redisReply& entries, Batch& batch, Events& events);
  void write(Batch& batch, Cycle* cycle);
  void write_isolating(Batch& batch, size_t begin, size_t end, const StoreError& failure);
  void reject(Batch& batch, size_t event, const StoreError& failure);
  void acknowledge(const Batch& batch);
  void record_failure(bool store, const std::exception& error) EXCLUDES(stats_mutex_);
  void back_off(const std::stop_token& stop);

  Store* store_;
  RedisOptions redis_options_;
  Options options_;
  const EventDecodeOptions decode_options_;
  const std::string stream_key_;
  const std::string dead_letter_key_;

  // Used by run_once() only.
  std::unique_ptr<RedisClient> redis_;
  bool read_own_pending_ = true;  // after a (re)connect, our pending entries come first
  std::string claim_cursor_ = "0-0";
  int64_t next_claim_us_ = 0;  // steady clock
  int backoff_ms_;
  std::unique_ptr<Batch> batch_;        // taken and not yet acknowledged
  std::vector<uint8_t> inserted_;       // of the batch being written
  std::vector<uint8_t> part_inserted_;  // of a part, while isolating failures

  mutable Mutex stats_mutex_;
  Stats stats_ GUARDED_BY(stats_mutex_);
};

// One StreamWorker per event kind (kEventKinds), each running on a thread of
// its own from construction until stop().
class StreamWorkerThreads {
 public:
  // `options` serve every worker, each with its own kind. REQUIRES: as
  // StreamWorker's, with the workers writing `store` concurrently.
  StreamWorkerThreads(Store* store, const RedisOptions& redis,
                      const StreamWorker::Options& options);
  // Calls stop().
  ~StreamWorkerThreads();
  StreamWorkerThreads(const StreamWorkerThreads&) = delete;
  StreamWorkerThreads& operator=(const StreamWorkerThreads&) = delete;

  // Asks every worker to stop and waits for them: a batch being written is
  // finished and acknowledged first. Idempotent.
  void stop();

  // In kEventKinds order. The workers live as long as this object.
  std::vector<const StreamWorker*> workers() const;

 private:
  std::vector<std::unique_ptr<StreamWorker>> workers_;
  std::vector<std::jthread> threads_;
};

}  // namespace genalytics
