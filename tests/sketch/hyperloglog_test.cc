#include "sketch/hyperloglog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace genalytics {
namespace {

// 1.04 / sqrt(2^14): the standard error of a dense sketch.
constexpr double kStandardError = 0.008125;

std::string key(uint64_t i) { return "user-" + std::to_string(i); }

HyperLogLog sketch_of_range(uint64_t begin, uint64_t end) {
  HyperLogLog hll;
  for (uint64_t i = begin; i < end; ++i) hll.add(key(i));
  return hll;
}

double relative_error(uint64_t estimate, uint64_t exact) {
  return std::abs(static_cast<double>(estimate) - static_cast<double>(exact)) /
         static_cast<double>(exact);
}

TEST(Hash64Test, MatchesReferenceMurmurHash64A) {
  // From the reference C implementation with seed 0xadc83b19 on a
  // little-endian machine. Stored sketches depend on these never changing.
  const std::pair<const char*, uint64_t> kExpected[] = {
      {"", 0xd8dfea6585bc9732},
      {"a", 0x53d2470a9b43b1a7},
      {"abc", 0x77ec90aeb374e502},
      {"user-42", 0xbd998815b235ec8d},
      {"12345678", 0x95ebb86389132953},
      {"hello, world!", 0xdd732a2b3a0adbc3},
      {"The quick brown fox jumps over the lazy dog", 0x51606c5c5b561ace},
  };
  for (const auto& [input, hash] : kExpected) EXPECT_EQ(hash64(input), hash) << input;
}

TEST(HyperLogLogTest, EmptyEstimatesZero) {
  const HyperLogLog hll;
  EXPECT_TRUE(hll.is_exact());
  EXPECT_EQ(hll.estimate(), 0u);
}

TEST(HyperLogLogTest, ExactUpToSparseLimitIgnoringDuplicates) {
  HyperLogLog hll;
  for (uint64_t i = 0; i < HyperLogLog::kSparseLimit; ++i) {
    hll.add(key(i));
    hll.add(key(i));
    hll.add(key(i / 2));
    ASSERT_TRUE(hll.is_exact());
    ASSERT_EQ(hll.estimate(), i + 1);
  }
  hll.add(key(HyperLogLog::kSparseLimit));
  EXPECT_FALSE(hll.is_exact());
  EXPECT_LE(relative_error(hll.estimate(), HyperLogLog::kSparseLimit + 1), 3 * kStandardError);
}

TEST(HyperLogLogTest, OneMillionWithinTwoPercent) {
  constexpr uint64_t kDistinct = 1'000'000;
  HyperLogLog hll;
  for (uint64_t i = 0; i < kDistinct; ++i) {
    hll.add(key(i));
    if (i % 4 == 0) hll.add(key(i / 4));
  }
  EXPECT_LE(relative_error(hll.estimate(), kDistinct), 0.02) << hll.estimate();
}

TEST(HyperLogLogTest, DenseEstimatesWithinThreeStandardErrors) {
  HyperLogLog hll;
  uint64_t added = 0;
  for (uint64_t checkpoint :
       {2049, 3000, 5000, 10'000, 20'000, 50'000, 100'000, 300'000, 1'000'000}) {
    for (; added < checkpoint; ++added) hll.add(key(added));
    EXPECT_LE(relative_error(hll.estimate(), checkpoint), 3 * kStandardError)
        << checkpoint << " estimated as " << hll.estimate();
  }
}

// Merging is exact: the result is the sketch of the union, register for
// register, so estimates match too.
void expect_merge_is_union(uint64_t a_begin, uint64_t a_end, uint64_t b_begin, uint64_t b_end) {
  const HyperLogLog a = sketch_of_range(a_begin, a_end);
  const HyperLogLog b = sketch_of_range(b_begin, b_end);
  const HyperLogLog expected = sketch_of_range(std::min(a_begin, b_begin), std::max(a_end, b_end));
  HyperLogLog ab = a;
  ab.merge(b);
  HyperLogLog ba = b;
  ba.merge(a);
  EXPECT_EQ(ab, expected);
  EXPECT_EQ(ba, expected);
  EXPECT_EQ(ab.serialize(), expected.serialize());
  EXPECT_EQ(ab.estimate(), expected.estimate());
  EXPECT_EQ(ab.is_exact(), expected.is_exact());
}

TEST(HyperLogLogTest, MergeSparseSparseStaysExact) {
  expect_merge_is_union(100, 600, 400, 1200);
  const HyperLogLog merged = [] {
    HyperLogLog hll = sketch_of_range(0, 1000);
    hll.merge(sketch_of_range(1000, HyperLogLog::kSparseLimit));
    return hll;
  }();
  EXPECT_TRUE(merged.is_exact());
  EXPECT_EQ(merged.estimate(), HyperLogLog::kSparseLimit);
}

TEST(HyperLogLogTest, MergeSparseSparseBecomesDense) { expect_merge_is_union(0, 1500, 1000, 2500); }

TEST(HyperLogLogTest, MergeSparseWithDense) { expect_merge_is_union(0, 1000, 500, 100'000); }

TEST(HyperLogLogTest, MergeDenseDense) {
  expect_merge_is_union(0, 60'000, 40'000, 200'000);
  expect_merge_is_union(0, 5000, 5000, 10'000);
}

TEST(HyperLogLogTest, MergeWithEmptyAndItself) {
  for (uint64_t size : {0, 10, 5000}) {
    const HyperLogLog original = sketch_of_range(0, size);
    HyperLogLog hll = original;
    hll.merge(HyperLogLog());
    EXPECT_EQ(hll, original);
    hll.merge(hll);
    EXPECT_EQ(hll, original);
    HyperLogLog empty;
    empty.merge(original);
    EXPECT_EQ(empty, original);
  }
}

TEST(HyperLogLogTest, SerializationRoundTrips) {
  for (uint64_t size : {0, 1, 100, 2048, 2049, 1'000'000}) {
    const HyperLogLog hll = sketch_of_range(0, size);
    const std::string bytes = hll.serialize();
    const std::optional<HyperLogLog> decoded = HyperLogLog::deserialize(bytes);
    ASSERT_TRUE(decoded.has_value()) << size;
    EXPECT_EQ(*decoded, hll) << size;
    EXPECT_EQ(decoded->estimate(), hll.estimate()) << size;
    if (hll.is_exact()) {
      // Deltas of n sorted random hashes take about 64 - log2(n) bits.
      EXPECT_LE(bytes.size(), 3 + 10 * size) << size;
    } else {
      EXPECT_EQ(bytes.size(), 2 + HyperLogLog::kRegisters) << size;
    }
  }
}

TEST(HyperLogLogTest, RejectsUnknownVersionAndMode) {
  std::string bytes = sketch_of_range(0, 10).serialize();
  ASSERT_TRUE(HyperLogLog::deserialize(bytes).has_value());
  for (char version : {'\0', '\2', '\xff'}) {
    std::string corrupt = bytes;
    corrupt[0] = version;
    EXPECT_EQ(HyperLogLog::deserialize(corrupt), std::nullopt);
  }
  for (char mode : {'\2', '\xff'}) {
    std::string corrupt = bytes;
    corrupt[1] = mode;
    EXPECT_EQ(HyperLogLog::deserialize(corrupt), std::nullopt);
  }
}

TEST(HyperLogLogTest, RejectsEveryTruncation) {
  for (uint64_t size : {0, 300, 5000}) {
    const std::string bytes = sketch_of_range(0, size).serialize();
    for (size_t length = 0; length < bytes.size(); ++length) {
      EXPECT_EQ(HyperLogLog::deserialize(std::string_view(bytes).substr(0, length)), std::nullopt)
          << size << " cut at " << length;
    }
    EXPECT_EQ(HyperLogLog::deserialize(bytes + '\x01'), std::nullopt) << size;
  }
}

TEST(HyperLogLogTest, RejectsRegistersAboveMaxRank) {
  std::string bytes = sketch_of_range(0, 5000).serialize();
  bytes[2 + 123] = 64 - HyperLogLog::kPrecision + 1;
  ASSERT_TRUE(HyperLogLog::deserialize(bytes).has_value());
  bytes[2 + 123] = 64 - HyperLogLog::kPrecision + 2;
  EXPECT_EQ(HyperLogLog::deserialize(bytes), std::nullopt);
  bytes[2 + 123] = '\xff';
  EXPECT_EQ(HyperLogLog::deserialize(bytes), std::nullopt);
}

std::string sparse_encoding(const std::vector<std::string>& varints) {
  std::string out = {'\1', '\0'};
  for (const std::string& varint : varints) out += varint;
  return out;
}

TEST(HyperLogLogTest, RejectsMalformedSparseLists) {
  // Hashes 5 and 7: count 2, then 5, then delta 2.
  const std::optional<HyperLogLog> valid =
      HyperLogLog::deserialize(sparse_encoding({"\2", "\5", "\2"}));
  ASSERT_TRUE(valid.has_value());
  EXPECT_EQ(valid->estimate(), 2u);
  // A duplicate (delta 0).
  EXPECT_EQ(HyperLogLog::deserialize(sparse_encoding({"\2", "\5", std::string(1, '\0')})),
            std::nullopt);
  // A delta that wraps past 2^64.
  const std::string max_varint = std::string(9, '\xff') + '\1';
  EXPECT_TRUE(HyperLogLog::deserialize(sparse_encoding({"\1", max_varint})).has_value());
  EXPECT_EQ(HyperLogLog::deserialize(sparse_encoding({"\2", "\5", max_varint})), std::nullopt);
  // A varint wider than 64 bits, and an overlong one.
  EXPECT_EQ(HyperLogLog::deserialize(sparse_encoding({"\1", std::string(9, '\xff') + '\2'})),
            std::nullopt);
  EXPECT_EQ(HyperLogLog::deserialize(sparse_encoding({"\1", std::string("\x85\x00", 2)})),
            std::nullopt);
  // More hashes than the sparse limit allows (2049 = 0x81 0x10).
  std::vector<std::string> too_many = {"\x81\x10"};
  for (int i = 0; i < 2049; ++i) too_many.push_back("\1");
  EXPECT_EQ(HyperLogLog::deserialize(sparse_encoding(too_many)), std::nullopt);
  too_many.erase(too_many.begin(), too_many.begin() + 2);
  too_many.insert(too_many.begin(), "\x80\x10");
  EXPECT_TRUE(HyperLogLog::deserialize(sparse_encoding(too_many)).has_value());
}

// Any accepted input is canonical: it serializes back to the same bytes.
TEST(HyperLogLogTest, CorruptedSparseBytesAreRejectedOrCanonical) {
  const std::string bytes = sketch_of_range(0, 200).serialize();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t flip : {0x01, 0x40, 0x80, 0xff}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(corrupt[i] ^ flip);
      const std::optional<HyperLogLog> decoded = HyperLogLog::deserialize(corrupt);
      if (decoded) {
        EXPECT_EQ(decoded->serialize(), corrupt) << "byte " << i << " flip " << int{flip};
      }
    }
  }
}

}  // namespace
}  // namespace genalytics
