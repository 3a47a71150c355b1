// The per-hour cap on distinct values of an open dimension (attribute:<key>):
// an hour keeps at most `cap` values of a dimension in rows of their own; the
// rest are merged into one row of value kOtherValue, so a producer sending a
// fresh value per event cannot grow the rollups without bound. Both stores
// apply it when they merge a delta, knowing the values the hour already has.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace genalytics {

// The row that holds the values over the cap. It does not count toward the
// cap; an event whose value is literally "(other)" is counted in it too.
inline constexpr std::string_view kOtherValue = "(other)";

// The cap when configuration names none (rollup.max_values_per_dimension_hour).
inline constexpr size_t kDefaultMaxValuesPerDimensionHour = 100;

// A value of one (hour, dimension) in a delta, and how much the delta adds
// under it (events, for generation rollups).
struct ValueWeight {
  std::string_view value;
  int64_t weight = 0;
};

// Decides, for one (hour, dimension), which of a delta's values keep rows of
// their own. `stored`: the values the hour already has in the store (any
// order; kOtherValue among them is not counted). `candidates`: the delta's
// values, distinct. Returns one flag per candidate, true when it merges
// under its own value: a value already stored (it keeps merging, even when
// the hour is over the cap because the cap was lowered), kOtherValue itself,
// and the new values that fit, admitted in order of weight (largest first),
// then of value (byte order), while the real values stored and admitted are
// fewer than `cap`. False: the candidate is folded into kOtherValue. The
// same inputs always give the same answer.
std::vector<bool> admit_values(std::span<const std::string> stored,
                               std::span<const ValueWeight> candidates, size_t cap);

// Applies admit_values in place to the entries [first, last) of `buckets`, a
// std::map from a key with a `std::string value` member (RollupKey) to a
// bucket with `merge(const Bucket&)`: entries of one hour and dimension,
// distinct by value, as a delta groups them. Each entry folded is merged
// into the entry of that hour and dimension with value kOtherValue (created
// when absent) and erased; no bucket is copied. `weight(bucket)` is the
// bucket's ValueWeight::weight. Afterwards the group has at most
// max(cap, real values in `stored`) + 1 entries and the merge of its buckets
// is the merge before. Iterators to entries not folded stay valid; `last`
// (outside the group) does too.
template <typename Map, typename Weight>
void fold_to_cap(Map* buckets, typename Map::iterator first, typename Map::iterator last,
                 std::span<const std::string> stored, size_t cap, Weight&& weight) {
  if (static_cast<size_t>(std::distance(first, last)) + stored.size() <= cap) return;  // all fit
  std::vector<typename Map::iterator> entries;
  std::vector<ValueWeight> candidates;
  for (auto it = first; it != last; ++it) {
    entries.push_back(it);
    candidates.push_back(ValueWeight{it->first.value, weight(it->second)});
  }
  const std::vector<bool> admitted = admit_values(stored, candidates, cap);
  typename Map::iterator other = buckets->end();
  for (size_t i = 0; i < entries.size(); ++i) {
    if (admitted[i]) continue;
    if (other == buckets->end()) {
      typename Map::key_type other_key = entries[i]->first;
      other_key.value = kOtherValue;
      other = buckets->try_emplace(std::move(other_key)).first;
    }
    other->second.merge(entries[i]->second);
    buckets->erase(entries[i]);
  }
}

}  // namespace genalytics
