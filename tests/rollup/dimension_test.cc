#include "rollup/dimension.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace genalytics {
namespace {

// As RollupKey and RollupCache::Key use the enum today.
struct KeyLike {
  int64_t hour_us = 0;
  Dimension dimension = Dimension::kAll;
  std::string value;
  auto operator<=>(const KeyLike&) const = default;
};

TEST(DimensionTest, FixedDimensionsReadAsTheEnumDid) {
  Dimension d = Dimension::kModelCheckpoint;
  EXPECT_EQ(d, Dimension::kModelCheckpoint);
  EXPECT_NE(d, Dimension::kAll);
  EXPECT_TRUE(Dimension::kErrorType == Dimension(Dimension::kErrorType));
  EXPECT_EQ(Dimension(), Dimension::kAll);
  EXPECT_EQ(KeyLike{}.dimension, Dimension::kAll);
  int seen = 0;
  for (Dimension fixed : {Dimension::kAll, Dimension::kModelCheckpoint, Dimension::kErrorType,
                          Dimension::kGenerationType}) {
    EXPECT_EQ(parse_dimension(to_string(fixed)), fixed);
    EXPECT_FALSE(fixed.is_attribute());
    EXPECT_EQ(fixed.attribute_key(), "");
    ++seen;
  }
  EXPECT_EQ(seen, static_cast<int>(std::size(kFixedDimensions)));
}

TEST(DimensionTest, FixedNamesAreTheStoredOnes) {
  // The `dimension` column of generation_dimension_hourly holds these.
  EXPECT_EQ(to_string(Dimension::kAll), "all");
  EXPECT_EQ(to_string(Dimension::kModelCheckpoint), "model_checkpoint");
  EXPECT_EQ(to_string(Dimension::kErrorType), "error_type");
  EXPECT_EQ(to_string(Dimension::kGenerationType), "generation_type");
}

TEST(DimensionTest, AttributeDimensionIsNamedByItsKey) {
  const std::optional<Dimension> style = Dimension::attribute("style");
  ASSERT_TRUE(style);
  EXPECT_EQ(style->kind(), Dimension::kAttribute);
  EXPECT_TRUE(style->is_attribute());
  EXPECT_EQ(style->attribute_key(), "style");
  EXPECT_EQ(to_string(*style), "attribute:style");
  EXPECT_EQ(parse_dimension("attribute:style"), style);
  EXPECT_NE(style, Dimension::attribute("client"));
  EXPECT_NE(*style, Dimension::kAll);

  // Everything after the first colon is the key, colons and Unicode included.
  EXPECT_EQ(parse_dimension("attribute:a:b")->attribute_key(), "a:b");
  EXPECT_EQ(parse_dimension("attribute:スタイル")->attribute_key(), "スタイル");
  EXPECT_EQ(to_string(*Dimension::attribute("model:all")), "attribute:model:all");

  // A copy owns its name.
  Dimension copy = *style;
  EXPECT_EQ(to_string(copy), "attribute:style");
}

TEST(DimensionTest, ParseRefusesWhatIsNotADimension) {
  for (std::string_view text :
       {"", "user", "ALL", "All", " all", "all ", "model", "attribute",
        "attribute:", "Attribute:style", "attribute :style", "attributes:style", "attribute:a\nb",
        "attribute:\t", "attribute:a\x7f", "attribute:\xff\xfe", "attribute:\xc3",
        "attribute:\xed\xa0\x80" /* a surrogate */}) {
    EXPECT_FALSE(parse_dimension(text)) << "'" << text << "'";
  }
  EXPECT_FALSE(parse_dimension(std::string_view("attribute:a\0b", 13)));
}

TEST(DimensionTest, AttributeKeysAreLimitedInCodePointsNotBytes) {
  const std::string longest(Dimension::kMaxAttributeKeyLength, 'k');
  EXPECT_TRUE(Dimension::attribute(longest));
  EXPECT_TRUE(parse_dimension("attribute:" + longest));
  EXPECT_FALSE(Dimension::attribute(longest + "k"));
  EXPECT_FALSE(parse_dimension("attribute:" + longest + "k"));

  std::string accented;
  for (size_t i = 0; i < Dimension::kMaxAttributeKeyLength; ++i) accented += "é";
  EXPECT_TRUE(Dimension::attribute(accented));  // 512 bytes, 256 code points
  EXPECT_FALSE(Dimension::attribute(accented + "é"));
  EXPECT_FALSE(Dimension::attribute(""));
}

TEST(DimensionTest, OrdersFixedKindsFirstThenAttributesByKey) {
  const Dimension a = *Dimension::attribute("a");
  const Dimension b = *Dimension::attribute("b");
  const Dimension upper = *Dimension::attribute("B");
  EXPECT_LT(Dimension(Dimension::kAll), Dimension(Dimension::kModelCheckpoint));
  EXPECT_LT(Dimension(Dimension::kModelCheckpoint), Dimension(Dimension::kErrorType));
  EXPECT_LT(Dimension(Dimension::kErrorType), Dimension(Dimension::kGenerationType));
  EXPECT_LT(Dimension(Dimension::kGenerationType), a);
  EXPECT_LT(a, b);
  EXPECT_LT(upper, a);  // byte order
  EXPECT_EQ(a, *Dimension::attribute("a"));

  // As a map key (RollupDelta groups by hour, then dimension, then value).
  std::map<KeyLike, int> keys;
  keys[{1, b, "x"}] = 1;
  keys[{1, Dimension::kAll, ""}] = 2;
  keys[{1, a, "y"}] = 3;
  keys[{0, b, "z"}] = 4;
  std::vector<int> order;
  for (const auto& [key, id] : keys) order.push_back(id);
  EXPECT_EQ(order, (std::vector<int>{4, 2, 3, 1}));
}

}  // namespace
}  // namespace genalytics
