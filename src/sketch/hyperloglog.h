// HyperLogLog distinct counter, exact while small: it keeps the 64-bit hashes
// themselves up to kSparseLimit of them, then switches to 2^14 registers
// (standard error about 0.8%) estimated with Ertl's improved estimator
// ("New cardinality estimation algorithms for HyperLogLog sketches", 2017),
// which needs no bias tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace genalytics {

// A well-mixed 64-bit hash of `key`, deterministic across runs and machines:
// MurmurHash64A with Redis's seed, reading words little-endian. Sparse
// sketches store these hashes, so changing it invalidates stored sketches.
uint64_t hash64(std::string_view key);

class HyperLogLog {
 public:
  static constexpr int kPrecision = 14;
  static constexpr size_t kRegisters = size_t{1} << kPrecision;
  static constexpr size_t kSparseLimit = 2048;

  void add(std::string_view key) { add_hash(hash64(key)); }
  void add_hash(uint64_t hash);

  // After merge, this counts the union of both inputs.
  void merge(const HyperLogLog& other);

  // Exact while is_exact(); otherwise an estimate.
  uint64_t estimate() const;
  bool is_exact() const { return registers_.empty(); }
  // Heap bytes held, for caches that bound their memory.
  size_t heap_bytes() const {
    return sparse_.capacity() * sizeof(uint64_t) + registers_.capacity();
  }

  // A compact, versioned binary encoding (leading format byte); equal
  // sketches serialize to equal bytes.
  std::string serialize() const;

  // Inverse of serialize(); nullopt for corrupt or truncated input or an
  // unknown version.
  static std::optional<HyperLogLog> deserialize(std::string_view bytes);

  bool operator==(const HyperLogLog& other) const = default;

 private:
  // Registers hold 0 (untouched) or 1 + the leading zeros of the 64 - p hash
  // bits below the register index, so at most kMaxRank.
  static constexpr int kMaxRank = 64 - kPrecision + 1;

  void to_dense();
  void add_to_registers(uint64_t hash);

  std::vector<uint64_t> sparse_;    // sorted distinct hashes while exact
  std::vector<uint8_t> registers_;  // kRegisters entries once dense, else empty
};

}  // namespace genalytics
