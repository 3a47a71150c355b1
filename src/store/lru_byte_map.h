// An ordered map bounded in estimated bytes, evicting the least recently
// used entries: the bookkeeping the store's read caches share (RollupCache,
// ModelSpanCache). Not thread-safe; the caches hold their lock around it.
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <utility>

namespace genalytics {

template <typename Key, typename Value>
class LruByteMap {
 public:
  // What an entry costs beyond its value's own heap: the map node, the LRU
  // node and the size, for the callers' estimates.
  static constexpr size_t kEntryOverhead = sizeof(Key) * 2 + sizeof(Value) + sizeof(size_t) + 64;

  explicit LruByteMap(size_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

  // The value of `key`, now the most recently used; null when absent.
  Value* find(const Key& key) {
    auto it = slots_.find(key);
    if (it == slots_.end()) return nullptr;
    touch(it->second);
    return &it->second.value;
  }

  // Calls `visit(key, value)` for every key in [from, to), in key order,
  // each now the most recently used.
  template <typename Visit>
  void visit_range(const Key& from, const Key& to, Visit&& visit) {
    for (auto it = slots_.lower_bound(from); it != slots_.end() && it->first < to; ++it) {
      touch(it->second);
      visit(it->first, it->second.value);
    }
  }

  // Keeps `value`, estimated at `bytes`, under `key` (replacing what was
  // there), then evicts the least recently used others until the total fits
  // the capacity. Returns how many it evicted. Keeps nothing when `bytes`
  // alone exceeds the capacity.
  size_t put(const Key& key, Value value, size_t bytes) {
    if (bytes > capacity_bytes_) return 0;
    erase(key);
    size_t evicted = 0;
    while (bytes_ + bytes > capacity_bytes_ && !lru_.empty()) {
      const Key oldest = lru_.back();
      erase(oldest);
      ++evicted;
    }
    lru_.push_front(key);
    slots_.emplace(key, Slot{std::move(value), bytes, lru_.begin()});
    bytes_ += bytes;
    return evicted;
  }

  void erase(const Key& key) {
    auto it = slots_.find(key);
    if (it == slots_.end()) return;
    bytes_ -= it->second.bytes;
    lru_.erase(it->second.lru);
    slots_.erase(it);
  }

  void clear() {
    slots_.clear();
    lru_.clear();
    bytes_ = 0;
  }

  size_t size() const { return slots_.size(); }
  size_t bytes() const { return bytes_; }
  size_t capacity_bytes() const { return capacity_bytes_; }

 private:
  struct Slot {
    Value value;
    size_t bytes = 0;
    typename std::list<Key>::iterator lru;  // position in lru_
  };

  void touch(Slot& slot) { lru_.splice(lru_.begin(), lru_, slot.lru); }

  const size_t capacity_bytes_;
  std::map<Key, Slot> slots_;
  std::list<Key> lru_;  // front: most recent
  size_t bytes_ = 0;
};

}  // namespace genalytics
