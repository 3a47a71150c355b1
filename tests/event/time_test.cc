#include "event/time.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace genalytics {
namespace {

constexpr int64_t kExampleUs = 1'736'937'045'123'000;  // 2025-01-15T10:30:45.123Z, a Wednesday
constexpr int64_t kYear0Us = -62'167'219'200'000'000;  // 0000-01-01T00:00:00Z
constexpr int64_t kYear10000Us = 253'402'300'800'000'000;

TEST(ParseRfc3339Test, AcceptsTheSeedsFormat) {
  EXPECT_EQ(parse_rfc3339("2025-01-15T10:30:45.123Z"), kExampleUs);
  EXPECT_EQ(parse_rfc3339("2025-01-15T10:30:45Z"), kExampleUs - 123'000);
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
}

TEST(ParseRfc3339Test, AppliesOffsets) {
  EXPECT_EQ(parse_rfc3339("2025-01-15T12:30:45.123+02:00"), kExampleUs);
  EXPECT_EQ(parse_rfc3339("2025-01-15T05:00:45.123-05:30"), kExampleUs);
  EXPECT_EQ(parse_rfc3339("2025-01-15T10:30:45.123+00:00"), kExampleUs);
  EXPECT_EQ(parse_rfc3339("2025-01-15T10:30:45.123-00:00"), kExampleUs);
  EXPECT_EQ(parse_rfc3339("2025-01-16T00:30:45.123+14:00"), kExampleUs);
}

TEST(ParseRfc3339Test, AcceptsLowercaseAndSpaceSeparator) {
  EXPECT_EQ(parse_rfc3339("2025-01-15t10:30:45.123z"), kExampleUs);
  EXPECT_EQ(parse_rfc3339("2025-01-15 10:30:45.123Z"), kExampleUs);
}

TEST(ParseRfc3339Test, TruncatesFractionsToMicroseconds) {
  const int64_t second = kExampleUs - 123'000;
  EXPECT_EQ(parse_rfc3339("2025-01-15T10:30:45.1Z"), second + 100'000);
  EXPECT_EQ(parse_rfc3339("2025-01-15T10:30:45.000001Z"), second + 1);
  EXPECT_EQ(parse_rfc3339("2025-01-15T10:30:45.1234569Z"), second + 123'456);
  EXPECT_EQ(parse_rfc3339("2025-01-15T10:30:45.999999999Z"), second + 999'999);
}

TEST(ParseRfc3339Test, KnowsLeapYears) {
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), 1'709'164'800'000'000);
  EXPECT_TRUE(parse_rfc3339("2000-02-29T00:00:00Z").has_value());
  EXPECT_FALSE(parse_rfc3339("2025-02-29T00:00:00Z").has_value());
  EXPECT_FALSE(parse_rfc3339("1900-02-29T00:00:00Z").has_value());
}

TEST(ParseRfc3339Test, AcceptsYearsZeroThrough9999Only) {
  EXPECT_EQ(parse_rfc3339("0000-01-01T00:00:00Z"), kYear0Us);
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59.999999Z"), kYear10000Us - 1);
  EXPECT_FALSE(parse_rfc3339("0000-01-01T00:00:00+00:01").has_value());
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59-00:01").has_value());
}

TEST(ParseRfc3339Test, RejectsEverythingElse) {
  const char* const kInvalid[] = {
      "",
      "2025-01-15",
      "2025-01-15T10:30:45",              // no offset
      "2025-01-15T10:30Z",                // no seconds
      "2025-01-15T10:30:45.Z",            // empty fraction
      "2025-01-15T10:30:45.1234567890Z",  // 10 fraction digits
      "2025-01-15T10:30:45,123Z",
      "2025-01-15X10:30:45Z",
      "2025-1-15T10:30:45Z",
      "25-01-15T10:30:45Z",
      "+2025-01-15T10:30:45Z",
      " 2025-01-15T10:30:45Z",
      "2025-01-15T10:30:45Z ",
      "2025-01-15T10:30:45ZZ",
      "2025-00-15T10:30:45Z",
      "2025-13-15T10:30:45Z",
      "2025-01-00T10:30:45Z",
      "2025-01-32T10:30:45Z",
      "2025-04-31T10:30:45Z",
      "2025-01-15T24:00:00Z",
      "2025-01-15T10:60:45Z",
      "2025-01-15T10:30:60Z",  // leap seconds are not represented
      "2025-01-15T10:30:45+0200",
      "2025-01-15T10:30:45+02",
      "2025-01-15T10:30:45+24:00",
      "2025-01-15T10:30:45+02:60",
      "2025-01-15T10:30:45 +02:00",
      "2025-01-15T1a:30:45Z",
      "2025-01-15T10:30:45.12a4Z",
      "2025-01-15T10:30:45.123Z\n",
      "1736937045",
  };
  for (const char* text : kInvalid) {
    EXPECT_FALSE(parse_rfc3339(text).has_value()) << text;
  }
}

TEST(FormatTest, WritesFixedWidthUtc) {
  EXPECT_EQ(format_rfc3339_micros(kExampleUs), "2025-01-15T10:30:45.123000Z");
  EXPECT_EQ(format_rfc3339_seconds(kExampleUs), "2025-01-15T10:30:45Z");
  EXPECT_EQ(format_date(kExampleUs), "2025-01-15");
  EXPECT_EQ(format_rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339_micros(kYear0Us), "0000-01-01T00:00:00.000000Z");
  EXPECT_EQ(format_rfc3339_micros(kYear10000Us - 1), "9999-12-31T23:59:59.999999Z");
}

TEST(FormatTest, HandlesTimesBeforeTheEpoch) {
  EXPECT_EQ(format_rfc3339_micros(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_rfc3339_seconds(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(format_date(-1), "1969-12-31");
}

TEST(FormatTest, RoundTripsThroughParse) {
  std::mt19937_64 random(7);
  std::uniform_int_distribution<int64_t> instant(kYear0Us, kYear10000Us - 1);
  for (int i = 0; i < 10'000; ++i) {
    const int64_t us = instant(random);
    const std::string text = format_rfc3339_micros(us);
    ASSERT_EQ(parse_rfc3339(text), us) << text;
    const int64_t whole_seconds =
        us - (us % kMicrosPerSecond + kMicrosPerSecond) % kMicrosPerSecond;
    ASSERT_EQ(parse_rfc3339(format_rfc3339_seconds(us)), whole_seconds) << text;
  }
}

TEST(FormatTest, TextOrderIsTimeOrder) {
  const int64_t times[] = {kYear0Us, -kMicrosPerDay, -1, 0, 1, kExampleUs, kYear10000Us - 1};
  for (size_t i = 1; i < std::size(times); ++i) {
    EXPECT_LT(format_rfc3339_micros(times[i - 1]), format_rfc3339_micros(times[i]));
  }
}

TEST(FloorTest, FloorsHoursAndDays) {
  EXPECT_EQ(format_rfc3339_seconds(floor_hour(kExampleUs)), "2025-01-15T10:00:00Z");
  EXPECT_EQ(format_rfc3339_seconds(floor_day(kExampleUs)), "2025-01-15T00:00:00Z");
  EXPECT_EQ(floor_hour(kMicrosPerHour), kMicrosPerHour);
  EXPECT_EQ(floor_day(kMicrosPerDay), kMicrosPerDay);
}

TEST(FloorTest, FloorsNegativeTimesDownward) {
  EXPECT_EQ(floor_hour(-1), -kMicrosPerHour);
  EXPECT_EQ(floor_day(-1), -kMicrosPerDay);
  EXPECT_EQ(floor_hour(-kMicrosPerHour), -kMicrosPerHour);
  EXPECT_EQ(floor_day(-kMicrosPerDay - 1), -2 * kMicrosPerDay);
}

TEST(CalendarTest, DayOfWeekStartsOnSunday) {
  EXPECT_EQ(day_of_week(kExampleUs), 3);                              // Wednesday
  EXPECT_EQ(day_of_week(0), 4);                                       // 1970-01-01, Thursday
  EXPECT_EQ(day_of_week(-1), 3);                                      // 1969-12-31, Wednesday
  EXPECT_EQ(day_of_week(*parse_rfc3339("2025-01-19T23:59:59Z")), 0);  // Sunday
  EXPECT_EQ(day_of_week(*parse_rfc3339("2025-01-18T00:00:00Z")), 6);  // Saturday
  EXPECT_EQ(day_of_week(*parse_rfc3339("1969-12-28T12:00:00Z")), 0);  // Sunday
}

TEST(CalendarTest, HourOfDay) {
  EXPECT_EQ(hour_of_day(kExampleUs), 10);
  EXPECT_EQ(hour_of_day(0), 0);
  EXPECT_EQ(hour_of_day(-1), 23);
}

TEST(NowTest, IsTheCurrentTime) {
  EXPECT_GT(now_us(), *parse_rfc3339("2024-01-01T00:00:00Z"));
  EXPECT_LT(now_us(), *parse_rfc3339("2100-01-01T00:00:00Z"));
}

}  // namespace
}  // namespace genalytics
