#include "event/json_writer.h"

#include <gtest/gtest.h>

#include <bit>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace genalytics {
namespace {

std::string number(double value) { return serialize_json(boost::json::value(value)); }

// Expected texts are Python 3's json.dumps / repr of the same double, except
// that an integral value has no ".0" (and NaN/inf, which json.dumps writes as
// invalid JSON, are null).
TEST(JsonWriterTest, DoublesPrintAsPythonWritesThemNotInExponentForm) {
  EXPECT_EQ(number(91.32), "91.32");
  EXPECT_EQ(number(0.9132), "0.9132");
  EXPECT_EQ(number(191081.5), "191081.5");
  EXPECT_EQ(number(0.1), "0.1");
  EXPECT_EQ(number(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(number(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(number(2.0 / 3 * 100), "66.66666666666666");
  EXPECT_EQ(number(-12.75), "-12.75");
  EXPECT_EQ(number(0.0001), "0.0001");
  EXPECT_EQ(number(123456789012345.6), "123456789012345.6");
  EXPECT_EQ(number(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(number(1e16), "1e+16");
  EXPECT_EQ(number(1.5e-5), "1.5e-05");
  EXPECT_EQ(number(5e-324), "5e-324");
  EXPECT_EQ(number(-2.5e-7), "-2.5e-07");
}

TEST(JsonWriterTest, IntegralDoublesPrintWithoutFraction) {
  EXPECT_EQ(number(30.0), "30");
  EXPECT_EQ(number(100.0), "100");
  EXPECT_EQ(number(9999999999999998.0), "9999999999999998");
  EXPECT_EQ(number(0.0), "0");
  EXPECT_EQ(number(-0.0), "0");
}

TEST(JsonWriterTest, NanAndInfinityPrintAsNull) {
  EXPECT_EQ(number(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(number(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(number(-std::numeric_limits<double>::infinity()), "null");
}

TEST(JsonWriterTest, EveryFiniteDoubleParsesBackToItself) {
  std::mt19937_64 bits(20250115);
  for (int i = 0; i < 200'000; ++i) {
    // Random bit patterns cover every magnitude; half of them are ordinary
    // values such as rates and milliseconds.
    double value = i % 2 == 0 ? std::bit_cast<double>(bits())
                              : std::ldexp(static_cast<double>(bits() >> 11), -40);
    if (!std::isfinite(value)) continue;
    const std::string text = number(value);
    ASSERT_EQ(text.find('E'), std::string::npos) << text;
    // Parsed as Python and strtod do: correctly rounded (Boost.JSON's
    // default parser is not).
    double parsed = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    ASSERT_TRUE(ec == std::errc() && end == text.data() + text.size()) << text;
    ASSERT_EQ(parsed, value) << text;
    const double magnitude = std::fabs(value);
    if (magnitude >= 1e-4 && magnitude < 1e16) {
      ASSERT_EQ(text.find('e'), std::string::npos) << text;
    }
  }
}

TEST(JsonWriterTest, EverythingButDoublesIsBoostJsonsText) {
  boost::json::value value = boost::json::parse(R"({
      "text": "quote \" backslash \\ slash / tab \t newline \n bell \u0007 del \u007f é 日本",
      "ints": [0, -1, 9223372036854775807, -9223372036854775808, 18446744073709551615],
      "bools": [true, false, null],
      "nested": {"a": [], "b": {}, "": [{"x": "y"}]},
      "weird key \u0001": 1})");
  EXPECT_EQ(serialize_json(value), boost::json::serialize(value));
}

TEST(JsonWriterTest, DoublesInsideDocumentsUseTheShortForm) {
  boost::json::value value = {{"success_rate_pct", 91.32},
                              {"success_rate", 0.9132},
                              {"rows", boost::json::array{30.0, 1.5, nullptr}}};
  EXPECT_EQ(serialize_json(value),
            R"({"success_rate_pct":91.32,"success_rate":0.9132,"rows":[30,1.5,null]})");
}

}  // namespace
}  // namespace genalytics
