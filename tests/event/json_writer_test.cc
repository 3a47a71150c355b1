#include "event/json_writer.h"

#include <gtest/gtest.h>

#include <bit>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
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

// canonical_number's text of `value`, or "none".
std::string canonical(const boost::json::value& value) {
  const std::optional<boost::json::value> number = canonical_number(value);
  return number ? serialize_json(*number) : "none";
}

TEST(JsonWriterTest, CanonicalNumbersAreOneTextForOneValue) {
  EXPECT_EQ(canonical(boost::json::value(int64_t{-5})), "-5");
  EXPECT_EQ(canonical(boost::json::value(INT64_MAX)), "9223372036854775807");
  EXPECT_EQ(canonical(boost::json::value(5.0)), "5");
  EXPECT_TRUE(canonical_number(boost::json::value(5.0))->is_int64());
  EXPECT_EQ(canonical(boost::json::value(-0.0)), "0");
  EXPECT_EQ(canonical(boost::json::value(1e5)), "100000");
  EXPECT_EQ(canonical(boost::json::value(0.1 + 0.2)), "0.3");
  EXPECT_EQ(canonical(boost::json::value(1.0 / 3)), "0.333333333333333");
  EXPECT_EQ(canonical(boost::json::value(9007199254740993.0)), "9007199254740990");
  EXPECT_EQ(canonical(boost::json::value(0x1p63)), "9.22337203685478e+18");
  EXPECT_EQ(canonical(boost::json::value(UINT64_MAX)), "1.84467440737096e+19");
  EXPECT_EQ(canonical(boost::json::value(1.79769313486231e308)), "1.79769313486231e+308");
  EXPECT_EQ(canonical(boost::json::value(std::numeric_limits<double>::max())), "none");
  EXPECT_EQ(canonical(boost::json::value(std::numeric_limits<double>::min())), "0");
  EXPECT_EQ(canonical(boost::json::value(2.22507385850721e-308)), "2.22507385850721e-308");
  EXPECT_EQ(canonical(boost::json::value(5e-324)), "0");
  EXPECT_EQ(canonical(boost::json::value(std::numeric_limits<double>::infinity())), "none");
  EXPECT_EQ(canonical(boost::json::value(std::numeric_limits<double>::quiet_NaN())), "none");
  EXPECT_EQ(canonical(boost::json::value("5")), "none");
  EXPECT_EQ(canonical(boost::json::value(true)), "none");
}

// The canonical text of any double, read back by Boost.JSON's parser (which
// is not correctly rounded) or by a correctly rounded one, gives the same
// number and so the same text.
TEST(JsonWriterTest, CanonicalNumbersSurviveAnyParser) {
  std::mt19937_64 bits(20251129);
  for (int i = 0; i < 200'000; ++i) {
    const double value = i % 2 == 0 ? std::bit_cast<double>(bits())
                                    : std::ldexp(static_cast<double>(bits() >> 11), -40);
    const std::optional<boost::json::value> number = canonical_number(boost::json::value(value));
    if (!number) {
      ASSERT_TRUE(!std::isfinite(value) || std::fabs(value) > 1.7976931348623e308) << value;
      continue;
    }
    const std::string text = serialize_json(*number);
    boost::json::error_code error;
    const boost::json::value reparsed = boost::json::parse(text, error);
    ASSERT_FALSE(error) << text;
    ASSERT_EQ(serialize_canonical_json(reparsed), text) << value;
    if (number->is_double()) {
      double exact = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), exact);
      ASSERT_TRUE(ec == std::errc() && end == text.data() + text.size()) << text;
      ASSERT_EQ(exact, number->get_double()) << text;
      ASSERT_EQ(canonical(boost::json::value(exact)), text);
    }
  }
}

TEST(JsonWriterTest, CanonicalJsonIsSerializeJsonWithCanonicalNumbers) {
  boost::json::value value = boost::json::parse(
      R"({"a":[1.0,-0.0,0.30000000000000004,18446744073709551615],"b":{"c":"1.0","d":null}})");
  EXPECT_EQ(serialize_canonical_json(value),
            R"({"a":[1,0,0.3,1.84467440737096e+19],"b":{"c":"1.0","d":null}})");
  EXPECT_TRUE(canonicalize_numbers(&value));
  EXPECT_EQ(serialize_json(value), *serialize_canonical_json(value));
  EXPECT_TRUE(value.at("a").at(0).is_int64());

  boost::json::value infinite = boost::json::parse(R"({"a":[1e400,2.0]})");
  EXPECT_EQ(serialize_canonical_json(infinite), std::nullopt);
  EXPECT_FALSE(canonicalize_numbers(&infinite));
  EXPECT_TRUE(infinite.at("a").at(1).is_int64());  // the others are still made canonical
}

}  // namespace
}  // namespace genalytics
