#include "sketch/ddsketch.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <limits>

#include "sketch/varint.h"

namespace genalytics {

namespace {

// Format 1, all integers LEB128 varints unless noted:
//   u8   version (1)
//   f64  relative accuracy, IEEE-754 bits little-endian (8 bytes)
//        zero count
//        bin index of the first bin, zigzag-encoded
//        number of bins n (0, or first and last bin nonzero)
//        n bin counts
constexpr uint8_t kDDSketchFormat = 1;
constexpr double kMaxValue = std::numeric_limits<double>::max();


uint64_t zigzag(int64_t value) {
  return (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
}

int64_t unzigzag(uint64_t value) {
  return static_cast<int64_t>(value >> 1) ^ -static_cast<int64_t>(value & 1);
}

bool valid_accuracy(double relative_accuracy) {
  return relative_accuracy >= DDSketch::kMinRelativeAccuracy && relative_accuracy < 1.0;
}

}  // namespace

DDSketch::DDSketch(double relative_accuracy)
    : relative_accuracy_(relative_accuracy),
      gamma_((1.0 + relative_accuracy) / (1.0 - relative_accuracy)),
      log_gamma_(std::log1p(2.0 * relative_accuracy / (1.0 - relative_accuracy))) {
  assert(valid_accuracy(relative_accuracy));
}

// Bin i holds the values in (gamma^(i-1), gamma^i]. With the accuracy bounded
// below, every value in [kMinIndexable, kMaxValue] has an index that fits in
// an int32_t.
int32_t DDSketch::index_of(double value) const {
  return static_cast<int32_t>(std::ceil(std::log(value) / log_gamma_));
}

// 2 gamma^i / (gamma + 1) is within relative_accuracy_ of every value in bin
// i. Computed in log space so the top bin does not overflow before clamping.
double DDSketch::value_of(int32_t index) const {
  const double log_value = index * log_gamma_ + std::log(2.0 / (gamma_ + 1.0));
  return std::min(std::exp(log_value), kMaxValue);
}

// Out-of-contract values cannot cause undefined behaviour: negatives and NaN
// count as 0, +infinity as the largest double.
void DDSketch::add(double value, uint64_t count) {
  if (count == 0) return;
  count_ += count;
  if (!(value >= kMinIndexable)) {
    zero_count_ += count;
    return;
  }
  const int32_t index = index_of(std::min(value, kMaxValue));
  if (bins_.empty() || index < offset_ ||
      static_cast<int64_t>(index) - offset_ >= static_cast<int64_t>(bins_.size())) {
    cover(index, index);
  }
  bins_[index - offset_] += count;
}

void DDSketch::cover(int32_t lo, int32_t hi) {
  if (bins_.empty()) {
    offset_ = lo;
    bins_.assign(static_cast<size_t>(hi - lo) + 1, 0);
    return;
  }
  const int64_t size = static_cast<int64_t>(bins_.size());
  const int64_t old_lo = offset_;
  const int64_t old_hi = old_lo + size - 1;
  if (lo >= old_lo && hi <= old_hi) return;
  // Grow by at least the current size in each direction that needs it, so a
  // run of adds reallocates O(log bins) times, but never past the indexes a
  // finite value can have.
  int64_t new_lo = old_lo;
  int64_t new_hi = old_hi;
  if (lo < old_lo) {
    new_lo = std::min<int64_t>(lo, std::max<int64_t>(old_lo - size, index_of(kMinIndexable)));
  }
  if (hi > old_hi) {
    new_hi = std::max<int64_t>(hi, std::min<int64_t>(old_hi + size, index_of(kMaxValue)));
  }
  std::vector<uint64_t> grown(static_cast<size_t>(new_hi - new_lo + 1), 0);
  std::copy(bins_.begin(), bins_.end(), grown.begin() + (old_lo - new_lo));
  bins_ = std::move(grown);
  offset_ = static_cast<int32_t>(new_lo);
}

DDSketch::BinRange DDSketch::nonzero_bins() const {
  const auto is_nonzero = [](uint64_t bin) { return bin != 0; };
  const auto first = std::find_if(bins_.begin(), bins_.end(), is_nonzero);
  if (first == bins_.end()) return {0, 0};
  const auto last = std::find_if(bins_.rbegin(), bins_.rend(), is_nonzero);
  return {static_cast<size_t>(first - bins_.begin()), static_cast<size_t>(bins_.rend() - last)};
}

void DDSketch::merge(const DDSketch& other) {
  assert(relative_accuracy_ == other.relative_accuracy_);
  const BinRange range = other.nonzero_bins();
  count_ += other.count_;
  zero_count_ += other.zero_count_;
  if (range.begin == range.end) return;
  const int32_t lo = other.offset_ + static_cast<int32_t>(range.begin);
  const int32_t hi = other.offset_ + static_cast<int32_t>(range.end - 1);
  // Merging a sketch into itself never grows it, so `other` stays valid.
  cover(lo, hi);
  uint64_t* into = bins_.data() + (lo - offset_);
  for (size_t i = range.begin; i < range.end; ++i) *into++ += other.bins_[i];
}

void DDSketch::compact() {
  const BinRange range = nonzero_bins();
  bins_.erase(bins_.begin() + static_cast<std::ptrdiff_t>(range.end), bins_.end());
  bins_.erase(bins_.begin(), bins_.begin() + static_cast<std::ptrdiff_t>(range.begin));
  bins_.shrink_to_fit();
  offset_ += static_cast<int32_t>(range.begin);
}

std::optional<double> DDSketch::quantile(double q) const {
  if (count_ == 0) return std::nullopt;
  if (!(q > 0.0)) q = 0.0;
  if (q > 1.0) q = 1.0;
  const double last_rank = static_cast<double>(count_ - 1);
  const double rank_estimate = std::floor(q * last_rank);
  const uint64_t rank =
      rank_estimate >= last_rank ? count_ - 1 : static_cast<uint64_t>(rank_estimate);
  if (rank < zero_count_) return 0.0;
  uint64_t seen = zero_count_;
  for (size_t i = 0; i < bins_.size(); ++i) {
    seen += bins_[i];
    if (seen > rank) return value_of(offset_ + static_cast<int32_t>(i));
  }
  // Unreachable while count_ == zero_count_ + sum of bins_.
  return value_of(offset_ + static_cast<int32_t>(bins_.size()) - 1);
}

std::string DDSketch::serialize() const {
  const BinRange range = nonzero_bins();
  std::string out(1, static_cast<char>(kDDSketchFormat));
  const auto accuracy_bits = std::bit_cast<uint64_t>(relative_accuracy_);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(accuracy_bits >> (8 * i)));
  varint::put(&out, zero_count_);
  varint::put(&out,
             zigzag(range.begin == range.end ? 0 : offset_ + static_cast<int64_t>(range.begin)));
  varint::put(&out, range.end - range.begin);
  for (size_t i = range.begin; i < range.end; ++i) varint::put(&out, bins_[i]);
  return out;
}

std::optional<DDSketch> DDSketch::deserialize(std::string_view bytes) {
  if (bytes.size() < 9 || static_cast<uint8_t>(bytes[0]) != kDDSketchFormat) return std::nullopt;
  uint64_t accuracy_bits = 0;
  for (int i = 0; i < 8; ++i) {
    accuracy_bits |= uint64_t{static_cast<uint8_t>(bytes[1 + i])} << (8 * i);
  }
  const double relative_accuracy = std::bit_cast<double>(accuracy_bits);
  if (!valid_accuracy(relative_accuracy)) return std::nullopt;
  bytes.remove_prefix(9);

  DDSketch sketch(relative_accuracy);
  uint64_t zero_count = 0;
  uint64_t encoded_offset = 0;
  uint64_t bin_count = 0;
  if (!varint::get(&bytes, &zero_count) || !varint::get(&bytes, &encoded_offset) ||
      !varint::get(&bytes, &bin_count)) {
    return std::nullopt;
  }
  const int64_t offset = unzigzag(encoded_offset);
  if (bin_count == 0) {
    if (offset != 0 || !bytes.empty()) return std::nullopt;
    sketch.zero_count_ = sketch.count_ = zero_count;
    return sketch;
  }
  // Each bin takes at least one byte, which bounds the allocation below by
  // the input size.
  // The last bin's index is compared without computing it: an offset read
  // from the input may be near INT64_MAX.
  const int64_t max_index = sketch.index_of(kMaxValue);
  if (bin_count > bytes.size() || offset < sketch.index_of(kMinIndexable) || offset > max_index ||
      static_cast<int64_t>(bin_count) - 1 > max_index - offset) {
    return std::nullopt;
  }
  sketch.offset_ = static_cast<int32_t>(offset);
  sketch.bins_.resize(bin_count);
  uint64_t count = zero_count;
  for (uint64_t& bin : sketch.bins_) {
    if (!varint::get(&bytes, &bin) || bin > std::numeric_limits<uint64_t>::max() - count) {
      return std::nullopt;
    }
    count += bin;
  }
  if (!bytes.empty() || sketch.bins_.front() == 0 || sketch.bins_.back() == 0) return std::nullopt;
  sketch.zero_count_ = zero_count;
  sketch.count_ = count;
  return sketch;
}

bool DDSketch::operator==(const DDSketch& other) const {
  if (relative_accuracy_ != other.relative_accuracy_ || count_ != other.count_ ||
      zero_count_ != other.zero_count_) {
    return false;
  }
  const BinRange mine = nonzero_bins();
  const BinRange theirs = other.nonzero_bins();
  if (mine.begin == mine.end || theirs.begin == theirs.end) {
    return mine.begin == mine.end && theirs.begin == theirs.end;
  }
  return offset_ + static_cast<int64_t>(mine.begin) ==
             other.offset_ + static_cast<int64_t>(theirs.begin) &&
         std::equal(bins_.begin() + mine.begin, bins_.begin() + mine.end,
                    other.bins_.begin() + theirs.begin, other.bins_.begin() + theirs.end);
}

}  // namespace genalytics
