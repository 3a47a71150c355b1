// Decoded model usage and parameter rollups, merged per model over
// aligned blocks of hours (UTC weeks, days, quarter days, single hours) and
// kept in memory, so that model analytics over 90 days merges about twenty
// spans per model instead of reading and decoding thousands of hourly rows:
// at 10M generation events and 500 models a 90-day window holds about
// 650,000 usage rows and ten times as many parameter rows
// (bench/model_bench).
//
// A window [start, end) is cut into pieces, each the largest aligned block
// that fits before the window's end and the next cut the caller asks for
// (the analytics' "last 7 days"): a UTC week from Monday 00:00, a UTC day,
// a quarter of one (00, 06, 12, 18 h) or an hour. A piece is cached as
// every model's span of it; a window that moves by an hour reuses all its
// weeks and days and all but a few of its edge pieces.
//
// Freshness is the rollup cache's (store/rollup_cache.h): every write that
// changes model usage or parameter rows is a generation write, in the same
// transaction as the generation rollups of the same hours, so it takes a
// rollup write sequence number and changes the Dimension::kAll row of each
// hour it touches. A piece read in a snapshot that saw write S stays valid
// while the rollup cache knows of no later write to one of its hours
// (RollupCache::unchanged_since), whichever process wrote it; a reset of
// the rollup cache (a write it could not account for) refuses every piece
// read before it. A lost piece, never a stale answer.
//
// Memory is bounded: pieces are evicted, least recently used first, once
// their estimated size passes the capacity. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "store/lru_byte_map.h"
#include "store/rollup_cache.h"
#include "store/store.h"

namespace genalytics {

// One piece of a window: `hours` (one of kModelSpanLevels) from `start_us`,
// which is a multiple of them (a week's from Monday 00:00 UTC).
struct ModelSpanKey {
  int64_t start_us = 0;
  int hours = 0;
  int64_t end_us() const;
  auto operator<=>(const ModelSpanKey&) const = default;
};

// The sizes of the pieces in hours, largest first.
inline constexpr int kModelSpanLevels[] = {168, 24, 6, 1};

// The pieces of the hours h with start_us <= h < end_us (the hours whose
// rows a read of [start_us, end_us) returns), in time order, as
// Store::read_model_spans defines them. A cut inside an hour cuts at the
// next hour's start (an hour is past a cut when it starts at or after it);
// cuts outside the window are ignored.
std::vector<ModelSpanKey> model_span_keys(int64_t start_us, int64_t end_us,
                                          std::span<const int64_t> cuts);

// Every model's span of each of `keys` (contiguous, in time order) from the
// rows of their hours: usage rows ordered by hour then model_id, param rows
// by hour, model_id, key, value (as the stores read them). Rows outside the
// keys are ignored. One element per key, its spans by model_id.
ModelSpans build_model_spans(std::span<const ModelSpanKey> keys,
                             std::span<const ModelUsageRow> usage,
                             std::span<const ModelParamRow> params);

class ModelSpanCache {
 public:
  // The rows of the hours in [start_us, end_us), usage with sketches, read
  // in one snapshot.
  struct Rows {
    std::vector<ModelUsageRow> usage;
    std::vector<ModelParamRow> params;
  };
  using ReadHours = std::function<Rows(int64_t start_us, int64_t end_us)>;
  // Opens one read snapshot and calls `body(seq, read)` inside it, as
  // RollupCache::InSnapshot does (seq: the rollup write sequence number it
  // sees, after the store reported other processes' writes to the rollup
  // cache).
  using InSnapshot =
      std::function<void(const std::function<void(uint64_t seq, const ReadHours& read)>& body)>;

  struct Stats {
    uint64_t hits = 0;       // pieces answered from memory
    uint64_t misses = 0;     // pieces that had to be read
    uint64_t evictions = 0;  // pieces dropped for space
    size_t entries = 0;
    size_t bytes = 0;  // estimated
  };

  // `freshness` says which pieces are stale and must outlive this. A
  // capacity of 0 disables the cache: every window is read.
  ModelSpanCache(size_t capacity_bytes, RollupCache& freshness);

  // Store::read_model_spans: the pieces in memory and fresh as of the
  // snapshot are shared, the others read (one read per run of missing
  // pieces, all in one snapshot) and offered to the cache, up to half its
  // capacity per call. Throws what the callbacks throw. With a capacity of
  // 0, reads everything in the snapshot and keeps nothing.
  ModelSpans read(int64_t start_us, int64_t end_us, std::span<const int64_t> cuts,
                  const InSnapshot& in_snapshot);

  Stats stats() const;
  size_t capacity_bytes() const { return capacity_bytes_; }

  // Estimated bytes a piece holds.
  static size_t estimate_bytes(const std::vector<ModelSpan>& spans);

 private:
  using Entry = std::shared_ptr<const std::vector<ModelSpan>>;
  struct Piece {
    Entry spans;
    uint64_t seq = 0;  // the write sequence number its snapshot saw
  };

  // The fresh entry of `key`, or null (a stale one is dropped).
  Entry find(const ModelSpanKey& key) REQUIRES(mutex_);
  // Offers `spans` (estimate_bytes: `bytes`), read in a snapshot that saw
  // write `seq`.
  void insert(const ModelSpanKey& key, uint64_t seq, Entry spans, size_t bytes);

  const size_t capacity_bytes_;
  RollupCache& freshness_;
  mutable Mutex mutex_;
  LruByteMap<ModelSpanKey, Piece> pieces_ GUARDED_BY(mutex_);
  Stats stats_ GUARDED_BY(mutex_);
};

}  // namespace genalytics
