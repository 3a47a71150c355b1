#include "sketch/hyperloglog.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <iterator>
#include <limits>
#include <numbers>

#include "sketch/varint.h"

namespace genalytics {

namespace {

// Format 1:
//   u8  version (1)
//   u8  mode: 0 sparse, 1 dense
//   sparse: LEB128 varint n <= kSparseLimit, then the n sorted hashes as
//           varints, the first as is and each next one as the (nonzero)
//           difference to its predecessor
//   dense:  kRegisters bytes, one register each, every one <= kMaxRank
constexpr uint8_t kHyperLogLogFormat = 1;
constexpr uint8_t kSparseMode = 0;
constexpr uint8_t kDenseMode = 1;


uint64_t load_little_endian64(const unsigned char* p) {
  uint64_t word = 0;
  for (int i = 0; i < 8; ++i) word |= uint64_t{p[i]} << (8 * i);
  return word;
}

// Dense merges and loads run for every hourly row of a queried window, so
// these two loops are written (fixed trip count, no aliasing) to vectorize at
// -O2.
void max_registers(uint8_t* __restrict into, const uint8_t* __restrict from) {
  for (size_t i = 0; i < HyperLogLog::kRegisters; ++i) into[i] = std::max(into[i], from[i]);
}

uint8_t highest_register(const uint8_t* registers) {
  uint8_t highest = 0;
  for (size_t i = 0; i < HyperLogLog::kRegisters; ++i) highest = std::max(highest, registers[i]);
  return highest;
}

// Ertl 2017, algorithm 6: sigma(x) = x + sum_k x^(2^k) 2^(k-1).
double sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0;
  double z = x;
  double previous;
  do {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  } while (z != previous);
  return z;
}

// Ertl 2017, algorithm 6: tau(x) = (1 - x - sum_k (1 - x^(2^-k))^2 2^-k) / 3.
double tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0;
  double z = 1.0 - x;
  double previous;
  do {
    x = std::sqrt(x);
    previous = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
  } while (z != previous);
  return z / 3.0;
}

}  // namespace

// MurmurHash64A (Austin Appleby, public domain), the hash Redis uses for its
// HyperLogLog, with Redis's seed.
uint64_t hash64(std::string_view key) {
  constexpr uint64_t kSeed = 0xadc83b19;
  constexpr uint64_t kMultiplier = 0xc6a4a7935bd1e995;
  constexpr int kShift = 47;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  const size_t size = key.size();
  uint64_t h = kSeed ^ (size * kMultiplier);
  const size_t word_bytes = size & ~size_t{7};
  for (size_t i = 0; i < word_bytes; i += 8) {
    uint64_t k = load_little_endian64(data + i);
    k *= kMultiplier;
    k ^= k >> kShift;
    k *= kMultiplier;
    h ^= k;
    h *= kMultiplier;
  }
  if (size > word_bytes) {
    for (size_t i = word_bytes; i < size; ++i) h ^= uint64_t{data[i]} << (8 * (i - word_bytes));
    h *= kMultiplier;
  }
  h ^= h >> kShift;
  h *= kMultiplier;
  h ^= h >> kShift;
  return h;
}

void HyperLogLog::add_hash(uint64_t hash) {
  if (!is_exact()) {
    add_to_registers(hash);
    return;
  }
  const auto it = std::lower_bound(sparse_.begin(), sparse_.end(), hash);
  if (it != sparse_.end() && *it == hash) return;
  sparse_.insert(it, hash);
  if (sparse_.size() > kSparseLimit) to_dense();
}

void HyperLogLog::add_to_registers(uint64_t hash) {
  constexpr int kRankBits = 64 - kPrecision;
  const uint64_t rest = hash & ((uint64_t{1} << kRankBits) - 1);
  const auto rank = static_cast<uint8_t>(std::countl_zero(rest) - kPrecision + 1);
  uint8_t& reg = registers_[hash >> kRankBits];
  reg = std::max(reg, rank);
}

void HyperLogLog::to_dense() {
  registers_.assign(kRegisters, 0);
  for (uint64_t hash : sparse_) add_to_registers(hash);
  sparse_.clear();
  sparse_.shrink_to_fit();
}

void HyperLogLog::merge(const HyperLogLog& other) {
  // A union with itself changes nothing; returning early also keeps the two
  // register arrays below distinct.
  if (&other == this) return;
  if (other.is_exact()) {
    if (!is_exact()) {
      for (uint64_t hash : other.sparse_) add_to_registers(hash);
      return;
    }
    std::vector<uint64_t> both;
    both.reserve(sparse_.size() + other.sparse_.size());
    std::set_union(sparse_.begin(), sparse_.end(), other.sparse_.begin(), other.sparse_.end(),
                   std::back_inserter(both));
    sparse_ = std::move(both);
    if (sparse_.size() > kSparseLimit) to_dense();
    return;
  }
  if (is_exact()) to_dense();
  max_registers(registers_.data(), other.registers_.data());
}

uint64_t HyperLogLog::estimate() const {
  if (is_exact()) return sparse_.size();
  std::array<uint32_t, kMaxRank + 1> histogram{};
  for (uint8_t reg : registers_) ++histogram[reg];
  if (histogram[0] == kRegisters) return 0;
  constexpr double m = kRegisters;
  double z = m * tau(1.0 - histogram[kMaxRank] / m);
  for (int k = kMaxRank - 1; k >= 1; --k) z = 0.5 * (z + histogram[k]);
  z += m * sigma(histogram[0] / m);
  constexpr double kAlphaInfinity = 1.0 / (2.0 * std::numbers::ln2);
  return static_cast<uint64_t>(std::llround(kAlphaInfinity * m * m / z));
}

std::string HyperLogLog::serialize() const {
  std::string out(1, static_cast<char>(kHyperLogLogFormat));
  if (!is_exact()) {
    out.push_back(static_cast<char>(kDenseMode));
    out.append(reinterpret_cast<const char*>(registers_.data()), registers_.size());
    return out;
  }
  out.push_back(static_cast<char>(kSparseMode));
  varint::put(&out, sparse_.size());
  uint64_t previous = 0;
  for (uint64_t hash : sparse_) {
    varint::put(&out, hash - previous);
    previous = hash;
  }
  return out;
}

std::optional<HyperLogLog> HyperLogLog::deserialize(std::string_view bytes) {
  if (bytes.size() < 2 || static_cast<uint8_t>(bytes[0]) != kHyperLogLogFormat) return std::nullopt;
  const auto mode = static_cast<uint8_t>(bytes[1]);
  bytes.remove_prefix(2);
  HyperLogLog hll;
  if (mode == kDenseMode) {
    if (bytes.size() != kRegisters) return std::nullopt;
    const auto* registers = reinterpret_cast<const uint8_t*>(bytes.data());
    if (highest_register(registers) > kMaxRank) return std::nullopt;
    hll.registers_.assign(registers, registers + kRegisters);
    return hll;
  }
  if (mode != kSparseMode) return std::nullopt;
  uint64_t size = 0;
  if (!varint::get(&bytes, &size) || size > kSparseLimit || size > bytes.size()) return std::nullopt;
  hll.sparse_.resize(size);
  uint64_t previous = 0;
  for (size_t i = 0; i < size; ++i) {
    uint64_t delta = 0;
    if (!varint::get(&bytes, &delta)) return std::nullopt;
    // After the first hash, a zero delta would be a duplicate and an
    // overflowing one would break the order.
    if (i > 0 && (delta == 0 || delta > std::numeric_limits<uint64_t>::max() - previous)) {
      return std::nullopt;
    }
    previous += delta;
    hll.sparse_[i] = previous;
  }
  if (!bytes.empty()) return std::nullopt;
  return hll;
}

}  // namespace genalytics
