#include "store/rollup_cache.h"

namespace genalytics {

RollupCache::RollupCache(size_t capacity_bytes)
    : capacity_bytes_(capacity_bytes), entries_(capacity_bytes) {}

size_t RollupCache::estimate_bytes(const Rows& rows) {
  // The bookkeeping, then each row's heap.
  size_t bytes = LruByteMap<Key, Entry>::kEntryOverhead + rows.capacity() * sizeof(RollupRow);
  for (const RollupRow& row : rows) {
    bytes += row.key.value.capacity() + row.bucket.durations.heap_bytes() +
             row.bucket.users.heap_bytes();
    for (const std::string& message : row.bucket.sample_messages) {
      bytes += sizeof(std::string) + message.capacity();
    }
  }
  return bytes;
}

std::pair<int64_t, int64_t> RollupCache::hours_of(int64_t start_us, int64_t end_us) {
  auto ceil_hour = [](int64_t us) {
    const int64_t floor = floor_hour(us);
    return floor == us ? us : floor + kMicrosPerHour;
  };
  return {ceil_hour(start_us), ceil_hour(end_us)};
}

void RollupCache::visit(const std::vector<Entry>& entries, const std::optional<std::string>& value,
                        const std::function<void(const RollupRow&)>& visit) {
  for (const Entry& entry : entries) {
    for (const RollupRow& row : *entry) {
      if (!value || row.key.value == *value) visit(row);
    }
  }
}

void RollupCache::visit_window(Dimension dimension, int64_t start_us, int64_t end_us,
                               const std::optional<std::string>& value,
                               const InSnapshot& in_snapshot,
                               const std::function<std::vector<RollupRow>()>& read_uncached,
                               const std::function<void(const RollupRow&)>& visit) {
  const auto [first, last] = hours_of(start_us, end_us);
  if (first >= last) return;
  if (capacity_bytes_ == 0 || (last - first) / kMicrosPerHour > kMaxHoursPerLookup) {
    for (const RollupRow& row : read_uncached()) visit(row);
    return;
  }
  std::vector<Entry> entries;
  in_snapshot([&, first = first, last = last](uint64_t seq, const ReadHours& read) {
    lookup(dimension, first, last, seq, &entries);
    // The missing hours, in the same snapshot as the sequence number.
    fill(dimension, first, seq, &entries, read);
  });
  RollupCache::visit(entries, value, visit);
}

void RollupCache::observe(uint64_t seq) {
  if (seq <= known_seq_) return;
  // Every write in (known_seq_, seq] must be one of ours, already invalidated.
  auto it = own_writes_.upper_bound(known_seq_);
  uint64_t expected = known_seq_ + 1;
  while (it != own_writes_.end() && *it == expected && expected <= seq) {
    ++it;
    ++expected;
  }
  if (expected > seq) {
    own_writes_.erase(own_writes_.begin(), own_writes_.upper_bound(seq));
    known_seq_ = seq;
    return;
  }
  // A write we were not told about: anything cached may predate it.
  entries_.clear();
  ++stats_.resets;
  floor_seq_ = seq;
  known_seq_ = seq;
  own_writes_.erase(own_writes_.begin(), own_writes_.upper_bound(seq));
  std::erase_if(last_write_, [&](const auto& entry) { return entry.second <= seq; });
}

void RollupCache::lookup(Dimension dimension, int64_t start_us, int64_t end_us, uint64_t seq,
                         std::vector<Entry>* entries) {
  entries->clear();
  if (end_us <= start_us) return;
  entries->resize(static_cast<size_t>((end_us - start_us + kMicrosPerHour - 1) / kMicrosPerHour));
  if (capacity_bytes_ == 0) {
    MutexLock lock(mutex_);
    stats_.misses += entries->size();
    return;
  }
  MutexLock lock(mutex_);
  observe(seq);
  entries_.visit_range(
      Key{dimension, start_us}, Key{dimension, end_us}, [&](const Key& key, const Entry& rows) {
        if ((key.hour_us - start_us) % kMicrosPerHour != 0) return;
        (*entries)[static_cast<size_t>((key.hour_us - start_us) / kMicrosPerHour)] = rows;
      });
  for (const Entry& entry : *entries) {
    if (entry) {
      ++stats_.hits;
    } else {
      ++stats_.misses;
    }
  }
}

void RollupCache::insert(const Key& key, uint64_t seq, Entry rows) {
  if (capacity_bytes_ == 0) return;
  const size_t bytes = estimate_bytes(*rows);
  if (bytes > capacity_bytes_) return;
  MutexLock lock(mutex_);
  observe(seq);
  if (seq < floor_seq_) return;
  if (auto last = last_write_.find(key); last != last_write_.end() && last->second > seq) return;
  stats_.evictions += entries_.put(key, std::move(rows), bytes);
}

void RollupCache::invalidate(uint64_t seq, std::span<const Key> keys) {
  MutexLock lock(mutex_);
  for (const Key& key : keys) {
    entries_.erase(key);
    uint64_t& last = last_write_[key];
    last = std::max(last, seq);
  }
  // A reader that already saw `seq` reset the cache for it; otherwise the
  // next one to see it must know it is accounted for.
  if (seq > known_seq_) own_writes_.insert(seq);
  if (last_write_.size() > kMaxTrackedKeys) {
    // Forget the oldest writes: refuse everything read before the ones we
    // know of, which a reset also does.
    entries_.clear();
    ++stats_.resets;
    floor_seq_ = std::max(floor_seq_, known_seq_);
    const uint64_t floor = floor_seq_;
    std::erase_if(last_write_, [floor](const auto& entry) { return entry.second <= floor; });
  }
}

void RollupCache::observe_snapshot(uint64_t seq) {
  MutexLock lock(mutex_);
  observe(seq);
}

bool RollupCache::unchanged_since(Dimension dimension, int64_t start_us, int64_t end_us,
                                  uint64_t seq) const {
  MutexLock lock(mutex_);
  if (seq < floor_seq_) return false;
  for (auto it = last_write_.lower_bound(Key{dimension, start_us});
       it != last_write_.end() && it->first.dimension == dimension && it->first.hour_us < end_us;
       ++it) {
    if (it->second > seq) return false;
  }
  return true;
}

uint64_t RollupCache::known_seq() const {
  MutexLock lock(mutex_);
  return known_seq_;
}

RollupCache::Stats RollupCache::stats() const {
  MutexLock lock(mutex_);
  Stats stats = stats_;
  stats.entries = entries_.size();
  stats.bytes = entries_.bytes();
  return stats;
}

}  // namespace genalytics
