#include "sketch/ddsketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace genalytics {
namespace {

constexpr size_t kSamples = 1'000'000;
constexpr double kQuantiles[] = {0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};
// The guarantee is exact in real arithmetic; allow for rounding in log/exp.
constexpr double kTolerance = DDSketch::kDefaultRelativeAccuracy * (1 + 1e-9);

uint64_t exact_rank(double q, size_t n) {
  return static_cast<uint64_t>(std::floor(q * static_cast<double>(n - 1)));
}

DDSketch sketch_of(const std::vector<double>& values, size_t begin, size_t end) {
  DDSketch sketch;
  for (size_t i = begin; i < end; ++i) sketch.add(values[i]);
  return sketch;
}

DDSketch sketch_of(const std::vector<double>& values) {
  return sketch_of(values, 0, values.size());
}

void expect_quantiles_within(const DDSketch& sketch, std::vector<double> values, double tolerance) {
  std::sort(values.begin(), values.end());
  ASSERT_EQ(sketch.count(), values.size());
  for (double q : kQuantiles) {
    const double exact = values[exact_rank(q, values.size())];
    const std::optional<double> estimate = sketch.quantile(q);
    ASSERT_TRUE(estimate.has_value());
    EXPECT_LE(std::abs(*estimate - exact), tolerance * exact)
        << "q=" << q << " exact=" << exact << " estimate=" << *estimate;
  }
}

struct Distribution {
  const char* name;
  std::function<double(std::mt19937_64&)> draw;
};

std::vector<double> samples(const Distribution& distribution, size_t n = kSamples) {
  std::mt19937_64 rng(20240611);
  std::vector<double> values(n);
  for (double& value : values) value = distribution.draw(rng);
  return values;
}

const Distribution kDistributions[] = {
    {"UniformInts",
     [](std::mt19937_64& rng) {
       return static_cast<double>(std::uniform_int_distribution<int>(1, 100000)(rng));
     }},
    {"LognormalLatencies",
     [](std::mt19937_64& rng) {
       return std::lognormal_distribution<double>(std::log(800.0), 1.2)(rng);
     }},
    {"Exponential",
     [](std::mt19937_64& rng) { return std::exponential_distribution<double>(1.0 / 50)(rng); }},
    {"Constant", [](std::mt19937_64&) { return 1234.5; }},
    {"ThirdZeros",
     [](std::mt19937_64& rng) {
       const uint64_t draw = rng();
       return draw % 3 == 0 ? 0.0 : static_cast<double>(draw % 100000) / 7;
     }},
};

class DDSketchDistributionTest : public testing::TestWithParam<Distribution> {
 protected:
  void SetUp() override { values_ = samples(GetParam()); }

  std::vector<double> values_;
};

TEST_P(DDSketchDistributionTest, QuantilesWithinRelativeAccuracy) {
  expect_quantiles_within(sketch_of(values_), values_, kTolerance);
}

TEST_P(DDSketchDistributionTest, MergedPartsEqualSketchOfUnion) {
  const DDSketch whole = sketch_of(values_);
  const size_t cut1 = values_.size() / 7;
  const size_t cut2 = values_.size() / 2;
  DDSketch merged;
  merged.merge(sketch_of(values_, cut2, values_.size()));
  merged.merge(sketch_of(values_, 0, cut1));
  merged.merge(DDSketch());
  merged.merge(sketch_of(values_, cut1, cut2));
  EXPECT_EQ(merged, whole);
  EXPECT_EQ(merged.serialize(), whole.serialize());
  for (double q : kQuantiles) EXPECT_EQ(merged.quantile(q), whole.quantile(q)) << "q=" << q;
}

TEST_P(DDSketchDistributionTest, SerializationRoundTrips) {
  const DDSketch sketch = sketch_of(values_);
  const std::string bytes = sketch.serialize();
  const std::optional<DDSketch> decoded = DDSketch::deserialize(bytes);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, sketch);
  EXPECT_EQ(decoded->count(), sketch.count());
  EXPECT_EQ(decoded->serialize(), bytes);
  for (double q : kQuantiles) EXPECT_EQ(decoded->quantile(q), sketch.quantile(q)) << "q=" << q;
  // Each bin costs at most 3 bytes for 10^6 samples; the ranges above span
  // well under 1,000 bins.
  EXPECT_LT(bytes.size(), 3000u);
}

INSTANTIATE_TEST_SUITE_P(Distributions, DDSketchDistributionTest, testing::ValuesIn(kDistributions),
                         [](const testing::TestParamInfo<Distribution>& info) {
                           return std::string(info.param.name);
                         });

TEST(DDSketchTest, EmptySketchHasNoQuantile) {
  const DDSketch sketch;
  EXPECT_TRUE(sketch.empty());
  EXPECT_EQ(sketch.count(), 0u);
  EXPECT_EQ(sketch.quantile(0), std::nullopt);
  EXPECT_EQ(sketch.quantile(0.5), std::nullopt);
  EXPECT_EQ(sketch.quantile(1), std::nullopt);
  const std::optional<DDSketch> decoded = DDSketch::deserialize(sketch.serialize());
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, sketch);
}

TEST(DDSketchTest, TinyValuesCountAsZero) {
  DDSketch sketch;
  sketch.add(0);
  sketch.add(1e-12);
  sketch.add(DDSketch::kMinIndexable / 2);
  sketch.add(DDSketch::kMinIndexable);
  EXPECT_EQ(sketch.count(), 4u);
  EXPECT_EQ(sketch.quantile(0), 0.0);
  EXPECT_EQ(sketch.quantile(0.5), 0.0);
  EXPECT_NEAR(*sketch.quantile(1), DDSketch::kMinIndexable, kTolerance * DDSketch::kMinIndexable);
}

TEST(DDSketchTest, AddWithCountEqualsRepeatedAdds) {
  DDSketch repeated;
  DDSketch counted;
  for (double value : {0.0, 3.0, 17.5, 4000.0}) {
    for (int i = 0; i < 5; ++i) repeated.add(value);
    counted.add(value, 5);
  }
  counted.add(99.0, 0);
  EXPECT_EQ(counted, repeated);
  EXPECT_EQ(counted.count(), 20u);
}

TEST(DDSketchTest, MergeIntoItselfDoublesCounts) {
  DDSketch sketch;
  DDSketch twice;
  for (double value : {0.0, 1.0, 250.0, 250.0, 1e6}) {
    sketch.add(value);
    twice.add(value, 2);
  }
  sketch.merge(sketch);
  EXPECT_EQ(sketch, twice);
}

TEST(DDSketchTest, EqualityIgnoresBinAllocation) {
  // Adding in opposite orders grows the bins differently.
  DDSketch ascending;
  DDSketch descending;
  for (int i = 1; i <= 1000; ++i) ascending.add(i);
  for (int i = 1000; i >= 1; --i) descending.add(i);
  EXPECT_EQ(ascending, descending);
  EXPECT_EQ(ascending.serialize(), descending.serialize());
  DDSketch other = ascending;
  other.add(1000);
  EXPECT_NE(other, ascending);
  EXPECT_NE(DDSketch(0.02), DDSketch());
}

TEST(DDSketchTest, CompactKeepsTheSketchInItsOccupiedBinsOnly) {
  // Descending adds grow the bins downward, leaving spare room each time.
  DDSketch grown;
  for (int i = 1000; i >= 10; --i) grown.add(i, 2);
  grown.add(0);
  const DDSketch before = grown;
  grown.compact();
  EXPECT_EQ(grown, before);
  EXPECT_EQ(grown.serialize(), before.serialize());
  EXPECT_LT(grown.heap_bytes(), before.heap_bytes());
  for (double q : {0.0, 0.01, 0.5, 0.99, 1.0}) EXPECT_EQ(grown.quantile(q), before.quantile(q)) << q;
  // Still a sketch like any other: it grows again and merges both ways.
  grown.add(5000);
  DDSketch merged;
  merged.merge(grown);
  merged.merge(before);
  DDSketch expected = before;
  expected.merge(before);
  expected.add(5000);
  EXPECT_EQ(merged, expected);
  // Empty, or only zeros: no bins at all.
  DDSketch zeros;
  zeros.add(0, 3);
  zeros.compact();
  EXPECT_EQ(zeros.heap_bytes(), 0u);
  EXPECT_EQ(zeros.quantile(0.5), 0.0);
  DDSketch empty;
  empty.compact();
  EXPECT_TRUE(empty.empty());
  empty.add(7);
  EXPECT_NEAR(*empty.quantile(0.5), 7, 7 * DDSketch::kDefaultRelativeAccuracy);
}

TEST(DDSketchTest, ExtremeFiniteValuesStayWithinAccuracy) {
  const std::vector<double> values = {DDSketch::kMinIndexable, 1.0, 1e300,
                                      std::numeric_limits<double>::max()};
  const DDSketch sketch = sketch_of(values);
  for (size_t i = 0; i < values.size(); ++i) {
    const double q = static_cast<double>(i) / static_cast<double>(values.size() - 1);
    EXPECT_LE(std::abs(*sketch.quantile(q) - values[i]), kTolerance * values[i]) << "q=" << q;
  }
  // The widest possible range is about 36,500 bins, mostly empty (one byte).
  const std::string bytes = sketch.serialize();
  EXPECT_LT(bytes.size(), 37000u);
  const std::optional<DDSketch> decoded = DDSketch::deserialize(bytes);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, sketch);
}

TEST(DDSketchTest, FinerAccuracyHolds) {
  constexpr double kAccuracy = 0.001;
  std::vector<double> values = samples(kDistributions[1], 100'000);
  DDSketch sketch(kAccuracy);
  for (double value : values) sketch.add(value);
  expect_quantiles_within(sketch, values, kAccuracy * (1 + 1e-9));
}

// Hand-built encodings, to reach states serialize() never produces.
void put_varint(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

std::string encoding(double accuracy, uint64_t zero_count, uint64_t zigzag_offset,
                     const std::vector<uint64_t>& bins, uint8_t version = 1) {
  std::string out(1, static_cast<char>(version));
  const auto bits = std::bit_cast<uint64_t>(accuracy);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(bits >> (8 * i)));
  put_varint(&out, zero_count);
  put_varint(&out, zigzag_offset);
  put_varint(&out, bins.size());
  for (uint64_t bin : bins) put_varint(&out, bin);
  return out;
}

TEST(DDSketchTest, HandBuiltEncodingDecodes) {
  // Bins 10, 11, 12 (zigzag 20) hold 1, 0, 2 values.
  const std::optional<DDSketch> decoded = DDSketch::deserialize(encoding(0.01, 3, 20, {1, 0, 2}));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->count(), 6u);
  EXPECT_EQ(decoded->quantile(0.5), 0.0);
  const double gamma = 1.01 / 0.99;
  EXPECT_NEAR(*decoded->quantile(1), 2 * std::pow(gamma, 12) / (gamma + 1), 1e-9);
}

TEST(DDSketchTest, RejectsUnknownVersions) {
  for (uint8_t version : {0, 2, 0x7f, 0xff}) {
    EXPECT_EQ(DDSketch::deserialize(encoding(0.01, 1, 0, {}, version)), std::nullopt)
        << int{version};
  }
}

TEST(DDSketchTest, RejectsInvalidAccuracy) {
  for (double accuracy : {0.0, -0.01, 1.0, 2.0, 1e-5, std::numeric_limits<double>::quiet_NaN(),
                          std::numeric_limits<double>::infinity()}) {
    EXPECT_EQ(DDSketch::deserialize(encoding(accuracy, 1, 0, {})), std::nullopt) << accuracy;
  }
}

TEST(DDSketchTest, RejectsMalformedBins) {
  EXPECT_TRUE(DDSketch::deserialize(encoding(0.01, 0, 20, {1, 0, 2})).has_value());
  // Leading or trailing empty bins: not what serialize() writes.
  EXPECT_EQ(DDSketch::deserialize(encoding(0.01, 0, 20, {0, 1})), std::nullopt);
  EXPECT_EQ(DDSketch::deserialize(encoding(0.01, 0, 20, {1, 0})), std::nullopt);
  // No bins but a nonzero offset.
  EXPECT_EQ(DDSketch::deserialize(encoding(0.01, 1, 20, {})), std::nullopt);
  // Offsets no finite value reaches (about -1036 .. 35489 at 1%).
  EXPECT_EQ(DDSketch::deserialize(encoding(0.01, 0, 2 * 40000, {1})), std::nullopt);
  EXPECT_EQ(DDSketch::deserialize(encoding(0.01, 0, 2 * 2000 - 1, {1})), std::nullopt);
  EXPECT_EQ(DDSketch::deserialize(encoding(0.01, 0, std::numeric_limits<uint64_t>::max(), {1})),
            std::nullopt);
  // Counts whose total overflows.
  const uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_TRUE(DDSketch::deserialize(encoding(0.01, kMax - 1, 0, {1})).has_value());
  EXPECT_EQ(DDSketch::deserialize(encoding(0.01, kMax, 0, {1})), std::nullopt);
  EXPECT_EQ(DDSketch::deserialize(encoding(0.01, 0, 0, {kMax, 1})), std::nullopt);
}

// Regression (found by fuzz/ddsketch_fuzz): an offset near INT64_MAX made
// the last bin's index overflow (undefined behaviour) before it was checked.
TEST(DDSketchTest, OffsetNearInt64MaxIsRejectedWithoutOverflow) {
  const uint64_t kMax = std::numeric_limits<uint64_t>::max();
  // Zigzag: kMax - 1 is INT64_MAX, kMax is INT64_MIN.
  EXPECT_EQ(DDSketch::deserialize(encoding(0.01, 0, kMax - 1, {1, 1})), std::nullopt);
  EXPECT_EQ(DDSketch::deserialize(encoding(0.01, 0, kMax - 3, {1, 2, 1})), std::nullopt);
  EXPECT_EQ(DDSketch::deserialize(encoding(0.01, 0, kMax, {1, 1})), std::nullopt);
}

TEST(DDSketchTest, RejectsMalformedVarints) {
  const std::string valid = encoding(0.01, 5, 0, {});
  // Trailing garbage.
  EXPECT_EQ(DDSketch::deserialize(valid + '\0'), std::nullopt);
  // An overlong zero count (0x85 0x00 instead of 0x05).
  std::string overlong = valid.substr(0, 9) + "\x85" + std::string(1, '\0') + valid.substr(10);
  EXPECT_EQ(DDSketch::deserialize(overlong), std::nullopt);
  // A zero count of more than 64 bits.
  std::string too_wide = valid.substr(0, 9) + std::string(9, '\xff') + "\x02" + valid.substr(10);
  EXPECT_EQ(DDSketch::deserialize(too_wide), std::nullopt);
  // A bin count larger than the bytes that follow.
  std::string short_bins = encoding(0.01, 0, 0, {1, 2, 3});
  short_bins[11] = 100;
  EXPECT_EQ(DDSketch::deserialize(short_bins), std::nullopt);
}

TEST(DDSketchTest, RejectsEveryTruncation) {
  const std::vector<double> values = samples(kDistributions[1], 10'000);
  const std::string bytes = sketch_of(values).serialize();
  for (size_t size = 0; size < bytes.size(); ++size) {
    EXPECT_EQ(DDSketch::deserialize(std::string_view(bytes).substr(0, size)), std::nullopt) << size;
  }
}

// Any accepted input is canonical: it serializes back to the same bytes.
TEST(DDSketchTest, CorruptedBytesAreRejectedOrCanonical) {
  std::vector<double> values = samples(kDistributions[4], 10'000);
  const std::string bytes = sketch_of(values).serialize();
  size_t accepted = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t flip : {0x01, 0x40, 0x80, 0xff}) {
      std::string corrupt = bytes;
      corrupt[i] = static_cast<char>(corrupt[i] ^ flip);
      const std::optional<DDSketch> decoded = DDSketch::deserialize(corrupt);
      if (!decoded) continue;
      ++accepted;
      EXPECT_EQ(decoded->serialize(), corrupt) << "byte " << i << " flip " << int{flip};
    }
  }
  // Flips inside bin counts decode to other valid sketches; most others fail.
  EXPECT_LT(accepted, 4 * bytes.size());
}

}  // namespace
}  // namespace genalytics
