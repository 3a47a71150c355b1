// Decoded hourly rollup rows, kept in memory so that a window's query merges
// sketches instead of reading and decoding them again. A 30-day models query
// reads about 4,300 rows; decoding their DDSketches and HyperLogLogs cost
// more than merging them.
//
// One entry holds every row of one (dimension, hour), all columns, ordered
// by value; an attribute dimension (attribute:<key>) is cached and
// invalidated like the fixed ones. Entries are immutable and shared: a reader keeps the ones it
// uses alive while it merges, without holding the cache's lock.
//
// Freshness rests on a write sequence number that the store keeps in the
// database and increments in every transaction that changes a rollup row,
// whichever process runs it:
//   - A reader reads the sequence number S in the same read transaction as
//     any rows it loads, and tells the cache (lookup). An entry loaded at S
//     describes the rows as of write S.
//   - invalidate(s, keys) reports write s and the keys it changed: the
//     entries of `keys` are dropped, and an entry loaded before s is refused
//     later (insert) for those keys. SqliteStore's writer calls it after
//     each commit; PostgresStore's readers replay the database's change log
//     (every process's writes) before they look up.
//   - A write the cache was not told about (another process, say
//     `genalytics ingest` beside a server) shows up as a gap in the sequence
//     numbers readers see; the cache then drops everything and refuses
//     entries loaded before it. So does a write of our own that a reader sees
//     before its invalidate() ran: a lost cache, never a stale answer.
//
// Memory is bounded: entries are evicted, least recently used first, once
// their estimated size passes the capacity. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "event/time.h"
#include "rollup/rollup_bucket.h"
#include "store/lru_byte_map.h"
#include "store/store.h"

namespace genalytics {

class RollupCache {
 public:
  // Every row of one (dimension, hour), ordered by value.
  using Rows = std::vector<RollupRow>;
  using Entry = std::shared_ptr<const Rows>;

  struct Key {
    Dimension dimension;
    int64_t hour_us;
    auto operator<=>(const Key&) const = default;
  };

  struct Stats {
    uint64_t hits = 0;       // hours answered from memory
    uint64_t misses = 0;     // hours that had to be read
    uint64_t evictions = 0;  // entries dropped for space
    uint64_t resets = 0;     // times everything was dropped for an unknown write
    size_t entries = 0;
    size_t bytes = 0;  // estimated
  };

  // Windows longer than this are read, not cached (a lookup allocates per hour).
  static constexpr int64_t kMaxHoursPerLookup = 100'000;

  // A capacity of 0 disables the cache: lookups miss, inserts are dropped.
  explicit RollupCache(size_t capacity_bytes);

  // Reports that the caller's read transaction sees writes up to `seq`, then
  // sets (*entries)[i] to the entry of hour start_us + i hours, or null when
  // it must be read. REQUIRES: start_us and end_us hour-aligned.
  void lookup(Dimension dimension, int64_t start_us, int64_t end_us, uint64_t seq,
              std::vector<Entry>* entries);

  // Sets each run of null entries left by lookup() to the rows
  // `read(run_start_us, run_end_us)` returns for it (ordered by hour, as
  // Store::read_rollups orders them; every column), and offers each hour to
  // the cache. `read` must run in the snapshot that saw `seq`.
  template <typename Read>
  void fill(Dimension dimension, int64_t start_us, uint64_t seq, std::vector<Entry>* entries,
            Read&& read);

  // The hours h with start_us <= h < end_us are [first, last) of this.
  static std::pair<int64_t, int64_t> hours_of(int64_t start_us, int64_t end_us);

  // Calls `visit` for every row of `entries`, in order; only those of
  // `value` when given.
  static void visit(const std::vector<Entry>& entries, const std::optional<std::string>& value,
                    const std::function<void(const RollupRow&)>& visit);

  // Every row, all columns, of the hours in [start_us, end_us), ordered by
  // hour then value, as read in one store snapshot.
  using ReadHours = std::function<std::vector<RollupRow>(int64_t start_us, int64_t end_us)>;
  // Opens one read snapshot and, inside it, calls `body(seq, read)`: `seq`
  // the rollup write sequence number the snapshot sees (after the store has
  // reported to invalidate() the writes of other processes it can learn of,
  // as PostgresStore's change log replay does), `read` reading that
  // snapshot. Throws StoreError as the store does.
  using InSnapshot =
      std::function<void(const std::function<void(uint64_t seq, const ReadHours& read)>& body)>;

  // The read side of the protocol above, one for every store's
  // Store::visit_rollups: calls `visit` for each row of `dimension` in hours
  // [start_us, end_us) (only those of `value` when given), in
  // Store::read_rollups order, each valid during the call only. Hours in the
  // cache are answered from memory; the others are read in one snapshot
  // (`in_snapshot`, at most once) and offered to the cache. When the cache
  // is disabled or the window spans more than kMaxHoursPerLookup hours,
  // visits the rows `read_uncached()` returns instead (the store's own read
  // of the window, `value` and the columns the caller wants). A window
  // without a whole or partial hour visits nothing and reads nothing.
  // Throws what the callbacks throw; when `in_snapshot` or `read_uncached`
  // throws, nothing has been visited.
  void visit_window(Dimension dimension, int64_t start_us, int64_t end_us,
                    const std::optional<std::string>& value, const InSnapshot& in_snapshot,
                    const std::function<std::vector<RollupRow>()>& read_uncached,
                    const std::function<void(const RollupRow&)>& visit);

  // Offers rows read in a transaction that saw writes up to `seq`. Dropped
  // when a write after `seq` may have changed them, or when they alone
  // exceed the capacity.
  void insert(const Key& key, uint64_t seq, Entry rows);

  // This process committed write `seq`, which changed the rollup rows of
  // `keys`.
  void invalidate(uint64_t seq, std::span<const Key> keys);

  // For caches of what is derived from rollup rows (store/model_span_cache.h):
  // reports that a reader's snapshot sees writes up to `seq`, as lookup()
  // does, so that a write nobody reported resets the tracking below.
  void observe_snapshot(uint64_t seq);
  // Whether something read in a snapshot that saw writes up to `seq` is
  // still current for the hours in [start_us, end_us) of `dimension`: no
  // write after `seq` known to the cache changed one of them, and no reset
  // happened after `seq`. Tracked whether or not the cache holds entries.
  bool unchanged_since(Dimension dimension, int64_t start_us, int64_t end_us, uint64_t seq) const;

  Stats stats() const;
  size_t capacity_bytes() const { return capacity_bytes_; }
  // Every write up to this one has been reported or answered by a reset.
  uint64_t known_seq() const;

  // Estimated bytes an entry holds.
  static size_t estimate_bytes(const Rows& rows);

 private:
  void observe(uint64_t seq) REQUIRES(mutex_);

  const size_t capacity_bytes_;
  mutable Mutex mutex_;
  LruByteMap<Key, Entry> entries_ GUARDED_BY(mutex_);
  // Every write up to known_seq_ has been accounted for (invalidated or
  // answered by a reset).
  uint64_t known_seq_ GUARDED_BY(mutex_) = 0;
  // Our own writes after known_seq_, already invalidated.
  std::set<uint64_t> own_writes_ GUARDED_BY(mutex_);
  // Entries read before this sequence number are refused (the last reset).
  uint64_t floor_seq_ GUARDED_BY(mutex_) = 0;
  // The last write that changed each key: entries read before it are
  // refused. One small entry per (dimension, hour) written, attribute
  // dimensions included, up to kMaxTrackedKeys (about two years of hours
  // of the four fixed dimensions; less with attribute dimensions), then a
  // reset: a lost cache, never a stale answer.
  static constexpr size_t kMaxTrackedKeys = 65536;
  std::map<Key, uint64_t> last_write_ GUARDED_BY(mutex_);
  Stats stats_ GUARDED_BY(mutex_);
};

template <typename Read>
void RollupCache::fill(Dimension dimension, int64_t start_us, uint64_t seq,
                       std::vector<Entry>* entries, Read&& read) {
  auto hour = [&](size_t i) { return start_us + static_cast<int64_t>(i) * kMicrosPerHour; };
  for (size_t i = 0; i < entries->size();) {
    if ((*entries)[i]) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < entries->size() && !(*entries)[j]) ++j;
    std::vector<Rows> hours(j - i);
    for (RollupRow& row : read(hour(i), hour(j))) {
      hours[static_cast<size_t>((row.key.hour_us - hour(i)) / kMicrosPerHour)].push_back(
          std::move(row));
    }
    for (size_t k = i; k < j; ++k) {
      auto entry = std::make_shared<const Rows>(std::move(hours[k - i]));
      insert(Key{dimension, hour(k)}, seq, entry);
      (*entries)[k] = std::move(entry);
    }
    i = j;
  }
}

}  // namespace genalytics
