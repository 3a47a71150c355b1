// DDSketch (Masson, Rim, Lee, VLDB 2019): a mergeable quantile sketch with
// relative-error guarantees. Any quantile it reports is within
// `relative_accuracy` (relative) of the exact quantile of the values added.
// Memory is one 8-byte bin per factor of gamma = (1 + a) / (1 - a) between the
// smallest and largest value added: about 1,000 bins for 1 .. 10^9 at the
// default accuracy, and never more than about 36,500 for any finite values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace genalytics {

class DDSketch {
 public:
  static constexpr double kDefaultRelativeAccuracy = 0.01;
  // Finer accuracies would need more bins than a sketch should hold.
  static constexpr double kMinRelativeAccuracy = 1e-4;
  // The smallest value with bins of its own; see add().
  static constexpr double kMinIndexable = 1e-9;

  // REQUIRES: kMinRelativeAccuracy <= relative_accuracy < 1.
  explicit DDSketch(double relative_accuracy = kDefaultRelativeAccuracy);

  // Adds `value` `count` times. Values below kMinIndexable (including 0) go
  // to an exact zero bucket. REQUIRES: value >= 0 and finite.
  void add(double value, uint64_t count = 1);

  // Adds every value of `other`. REQUIRES: same relative accuracy.
  void merge(const DDSketch& other);

  // The same sketch in the least memory: drops the empty bins at either end
  // (growth leaves up to as many again) and the spare capacity. A compact
  // sketch is also the quickest to merge from, since merge() looks for the
  // occupied bins first: worth it for sketches kept to be merged many times.
  void compact();

  // The value at rank floor(q * (count - 1)) of the sorted values, within the
  // relative accuracy; nullopt when the sketch is empty. REQUIRES: 0 <= q <= 1.
  std::optional<double> quantile(double q) const;

  uint64_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  double relative_accuracy() const { return relative_accuracy_; }
  // Heap bytes held (the bins), for caches that bound their memory.
  size_t heap_bytes() const { return bins_.capacity() * sizeof(uint64_t); }

  // A compact, versioned binary encoding (leading format byte); equal
  // sketches serialize to equal bytes.
  std::string serialize() const;

  // Inverse of serialize(); nullopt for corrupt or truncated input, an
  // unknown version, or an accuracy the constructor would not accept.
  static std::optional<DDSketch> deserialize(std::string_view bytes);

  // True when both hold the same accuracy and counts, however the bins were
  // allocated.
  bool operator==(const DDSketch& other) const;

 private:
  struct BinRange {
    size_t begin;  // positions in bins_ of the first nonzero bin ..
    size_t end;    // .. and one past the last; begin == end when none
  };

  int32_t index_of(double value) const;
  double value_of(int32_t index) const;
  // Grows bins_ (amortized doubling) so that it covers indexes lo..hi.
  void cover(int32_t lo, int32_t hi);
  BinRange nonzero_bins() const;

  double relative_accuracy_;
  double gamma_;
  double log_gamma_;
  uint64_t zero_count_ = 0;
  uint64_t count_ = 0;          // zero_count_ + sum of bins_
  int32_t offset_ = 0;          // bin index of bins_[0]
  std::vector<uint64_t> bins_;  // dense counts for indexes offset_ .. offset_+size-1
};

}  // namespace genalytics
