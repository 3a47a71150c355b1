#include "store/partition_months.h"

#include <gtest/gtest.h>

#include "event/time.h"
#include "testing/fixed_times.h"

namespace genalytics {
namespace {

using testing::at;

TEST(PartitionMonthsTest, MonthOfTheFirstAndLastMicrosecond) {
  EXPECT_EQ(month_of(at("2026-11-30T23:59:59.999999Z")), "2026-11");
  EXPECT_EQ(month_of(at("2026-12-01T00:00:00Z")), "2026-12");
  EXPECT_EQ(month_of(at("2027-12-31T23:59:59.999999Z")), "2027-12");
  EXPECT_EQ(month_of(at("2028-01-01T00:00:00Z")), "2028-01");
  EXPECT_EQ(month_of(at("2028-02-29T12:00:00Z")), "2028-02");
  EXPECT_EQ(month_of(at("1969-12-31T23:59:59.999999Z")), "1969-12");
  EXPECT_EQ(month_of(at("0000-06-15T12:00:00Z")), "0000-06");
}

TEST(PartitionMonthsTest, MonthPlusCountsCalendarMonthsAcrossYearEnds) {
  EXPECT_EQ(month_plus("2026-11", 0), "2026-11");
  EXPECT_EQ(month_plus("2026-11", 1), "2026-12");
  EXPECT_EQ(month_plus("2026-11", 2), "2027-01");
  EXPECT_EQ(month_plus("2026-12", 1), "2027-01");
  EXPECT_EQ(month_plus("2026-01", -1), "2025-12");
  EXPECT_EQ(month_plus("2026-03", -14), "2025-01");
  EXPECT_EQ(month_plus("2026-01", 24), "2028-01");
  EXPECT_EQ(month_plus("0000-01", 13), "0001-02");
}

// Regression: stepping 31 days from the 29th to 31st of a month skips a
// month (Nov 30 + 93 days is March 3); the months ahead are calendar months.
TEST(PartitionMonthsTest, MonthsAheadFromMonthEndsLeapDaysAndYearEnds) {
  using Months = std::set<std::string>;
  EXPECT_EQ(months_ahead_of(at("2026-11-30T23:59:59Z"), 3),
            (Months{"2026-11", "2026-12", "2027-01", "2027-02"}));
  EXPECT_EQ(months_ahead_of(at("2027-01-31T00:00:00Z"), 1), (Months{"2027-01", "2027-02"}));
  EXPECT_EQ(months_ahead_of(at("2028-02-29T23:00:00Z"), 2),
            (Months{"2028-02", "2028-03", "2028-04"}));
  EXPECT_EQ(months_ahead_of(at("2027-12-31T23:59:59.999999Z"), 1), (Months{"2027-12", "2028-01"}));
  EXPECT_EQ(months_ahead_of(at("2028-01-01T00:00:00Z"), 0), (Months{"2028-01"}));
}

TEST(PartitionMonthsTest, FirstMonthKeptByRetention) {
  // 90 days before 2026-11-29 is 2026-08-31: August is still kept.
  EXPECT_EQ(first_month_kept(at("2026-11-29T10:00:00Z"), 90), "2026-08");
  // Across a year end, and a leap year's February 29.
  EXPECT_EQ(first_month_kept(at("2027-01-01T00:00:00Z"), 31), "2026-12");
  EXPECT_EQ(first_month_kept(at("2027-01-01T00:00:00Z"), 32), "2026-11");
  EXPECT_EQ(first_month_kept(at("2028-03-01T00:00:00Z"), 1), "2028-02");
  EXPECT_EQ(first_month_kept(at("2028-03-30T00:00:00Z"), 30), "2028-02");
  EXPECT_EQ(first_month_kept(at("2028-03-30T00:00:00Z"), 29), "2028-03");
  EXPECT_EQ(first_month_kept(at("2026-11-29T10:00:00Z"), 0), "2026-11");
}

TEST(PartitionMonthsTest, PartitionNamesRoundTrip) {
  EXPECT_EQ(partition_name("generation_events", "2026-02"), "generation_events_p2026_02");
  EXPECT_EQ(month_of_partition("generation_events", "generation_events_p2026_02"), "2026-02");
  EXPECT_EQ(month_of_partition("route_analytics", "route_analytics_p0000_06"), "0000-06");
  EXPECT_EQ(month_of_partition("generation_events", "route_analytics_p2026_02"), std::nullopt);
  EXPECT_EQ(month_of_partition("generation_events", "generation_events_p2026-02"), std::nullopt);
  EXPECT_EQ(month_of_partition("generation_events", "generation_events_p2026_2"), std::nullopt);
  EXPECT_EQ(month_of_partition("generation_events", "generation_events_pabcd_02"), std::nullopt);
}

TEST(PartitionMonthsTest, MonthStartLiterals) {
  EXPECT_EQ(month_start_literal("2028-02"), "2028-02-01 00:00:00+00");
  EXPECT_EQ(month_start_literal("0000-06"), "0001-06-01 00:00:00+00 BC");
}

}  // namespace
}  // namespace genalytics
