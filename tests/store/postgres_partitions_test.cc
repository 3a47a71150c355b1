// PostgresPartitions against a real PostgreSQL, on the store's own
// partitioned tables (migrations applied, no partition yet), with the clock
// fixed at month ends and year ends: which partitions ensure creates, which
// retention drops, and that both are idempotent, also across two instances
// (two processes) sharing a database. The month arithmetic alone is
// tests/store/partition_months_test.cc.
#include "store/postgres_partitions.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "event/time.h"
#include "store/postgres.h"
#include "store/postgres_connection_pool.h"
#include "store/postgres_migrations.h"
#include "testing/fixed_times.h"
#include "testing/postgres_server.h"

namespace genalytics {
namespace {

using testing::at;
using testing::PostgresServer;
using Names = std::set<std::string>;

constexpr const char* kGenerations = "generation_events";
constexpr const char* kRoutes = "route_analytics";

class PostgresPartitionsTest : public ::testing::Test {
 protected:
  PostgresPartitionsTest() {
    pool_.with_connection([](PgConnection& c) { apply_postgres_migrations(c); });
    db_.exec("SET TimeZone = 'UTC'");
  }

  // The partitions of `table`, by name.
  Names partitions(const char* table) {
    PgResult r = db_.exec(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = $1::regclass",
        PgParams().text(table));
    Names names;
    for (int i = 0; i < r.rows(); ++i) names.emplace(r.text(i, 0));
    return names;
  }

  // "<table>_p<month>" for each of `months` ("2026_12").
  static Names named(const char* table, const std::vector<const char*>& months) {
    Names names;
    for (const char* month : months) names.insert(std::string(table) + "_p" + month);
    return names;
  }

  // The bounds PostgreSQL holds for `partition`.
  std::string bounds(const std::string& partition) {
    return std::string(db_.exec("SELECT pg_get_expr(relpartbound, oid) FROM pg_class "
                                "WHERE relname = $1",
                                PgParams().text(partition))
                           .text(0, 0));
  }

  // Inserts a generation event at `timestamp_us` straight into the table.
  static void insert_event(PgConnection& c, int64_t timestamp_us) {
    c.exec(
        "INSERT INTO generation_events (event_type, generation_id, event_id, timestamp) "
        "VALUES ('completion', gen_random_uuid(), gen_random_uuid(), $1::timestamptz)",
        PgParams().text(pg_timestamp(timestamp_us)));
  }

  const std::string url_ = PostgresServer::shared().create_database();
  PostgresConnectionPool pool_{url_, 2};
  PgConnection db_{url_};
  PostgresPartitions partitions_{pool_, {kGenerations, kRoutes}};
};

// From a month's last microsecond the months ahead are calendar months:
// January 31st plus one month is February, not March 2nd or 3rd.
TEST_F(PostgresPartitionsTest, EnsureAheadFromAMonthEndCreatesTheNextCalendarMonths) {
  partitions_.ensure_ahead(at("2026-01-31T23:59:59.999999Z"), 2);
  EXPECT_EQ(partitions(kGenerations), named(kGenerations, {"2026_01", "2026_02", "2026_03"}));
  EXPECT_EQ(partitions(kRoutes), named(kRoutes, {"2026_01", "2026_02", "2026_03"}));
  EXPECT_EQ(bounds("generation_events_p2026_02"),
            "FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00')");
}

TEST_F(PostgresPartitionsTest, EnsureAheadAcrossAYearEnd) {
  partitions_.ensure_ahead(at("2026-12-31T23:59:59.999999Z"), 2);
  EXPECT_EQ(partitions(kGenerations), named(kGenerations, {"2026_12", "2027_01", "2027_02"}));
  EXPECT_EQ(bounds("generation_events_p2026_12"),
            "FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')");
  // One microsecond later the year has turned: one month more, none dropped.
  partitions_.ensure_ahead(at("2027-01-01T00:00:00Z"), 2);
  EXPECT_EQ(partitions(kGenerations),
            named(kGenerations, {"2026_12", "2027_01", "2027_02", "2027_03"}));
  EXPECT_EQ(partitions(kRoutes), named(kRoutes, {"2026_12", "2027_01", "2027_02", "2027_03"}));
  // The year's last and first microseconds land on either side.
  insert_event(db_, at("2026-12-31T23:59:59.999999Z"));
  insert_event(db_, at("2027-01-01T00:00:00Z"));
  EXPECT_EQ(db_.exec("SELECT COUNT(*) FROM generation_events_p2026_12").int64(0, 0), 1);
  EXPECT_EQ(db_.exec("SELECT COUNT(*) FROM generation_events_p2027_01").int64(0, 0), 1);
}

TEST_F(PostgresPartitionsTest, EnsureIsIdempotentWithinAndAcrossInstances) {
  const int64_t now = at("2028-02-29T12:00:00Z");
  partitions_.ensure_ahead(now, 1);
  partitions_.ensure_ahead(now, 1);
  const Names expected = named(kGenerations, {"2028_02", "2028_03"});
  EXPECT_EQ(partitions(kGenerations), expected);
  // Another process learns the partitions from the database and creates
  // only what is missing.
  PostgresConnectionPool other_pool(url_, 1);
  PostgresPartitions other(other_pool, {kGenerations, kRoutes});
  other.ensure_ahead(now, 2);
  EXPECT_EQ(partitions(kGenerations), named(kGenerations, {"2028_02", "2028_03", "2028_04"}));
  partitions_.ensure_ahead(now, 2);
  EXPECT_EQ(partitions(kRoutes), named(kRoutes, {"2028_02", "2028_03", "2028_04"}));
}

TEST_F(PostgresPartitionsTest, EnsureCreatesOnlyTheMonthsOfOneTable) {
  partitions_.ensure(kGenerations, {"2019-03", "0000-06"});
  EXPECT_EQ(partitions(kGenerations), named(kGenerations, {"2019_03", "0000_06"}));
  EXPECT_EQ(partitions(kRoutes), Names{});
  EXPECT_EQ(bounds("generation_events_p0000_06"),
            "FOR VALUES FROM ('0001-06-01 00:00:00+00 BC') TO ('0001-07-01 00:00:00+00 BC')");
}

// Retention drops a month once its last microsecond is more than `days`
// days old, whole, in every table, and never twice.
TEST_F(PostgresPartitionsTest, RetentionDropsWholeMonthsAcrossAYearEnd) {
  for (const char* table : {kGenerations, kRoutes}) {
    partitions_.ensure(table, {"2026-10", "2026-11", "2026-12", "2027-01", "2027-02"});
  }
  // 31 days before the year's last microsecond is still November 30th:
  // October goes, from both tables.
  EXPECT_EQ(partitions_.drop_older_than(at("2026-12-31T23:59:59.999999Z"), 31), 2);
  EXPECT_EQ(partitions_.drop_older_than(at("2026-12-31T23:59:59.999999Z"), 31), 0);
  EXPECT_EQ(partitions(kGenerations),
            named(kGenerations, {"2026_11", "2026_12", "2027_01", "2027_02"}));
  // One microsecond later, 31 days back is December 1st: November goes.
  EXPECT_EQ(partitions_.drop_older_than(at("2027-01-01T00:00:00Z"), 31), 2);
  EXPECT_EQ(partitions(kGenerations), named(kGenerations, {"2026_12", "2027_01", "2027_02"}));
  EXPECT_EQ(partitions(kRoutes), named(kRoutes, {"2026_12", "2027_01", "2027_02"}));
  // 30 days before January's last microsecond is January 1st: December
  // goes. With no days kept, the current month stays.
  EXPECT_EQ(partitions_.drop_older_than(at("2027-01-31T23:59:59.999999Z"), 30), 2);
  EXPECT_EQ(partitions_.drop_older_than(at("2027-01-31T23:59:59.999999Z"), 0), 0);
  EXPECT_EQ(partitions(kGenerations), named(kGenerations, {"2027_01", "2027_02"}));
}

// Retention forgets what it knew: an old event arriving after its month was
// dropped gets the partition back.
TEST_F(PostgresPartitionsTest, EnsureRecreatesAMonthRetentionDropped) {
  partitions_.ensure(kGenerations, {"2026-10", "2026-11"});
  ASSERT_EQ(partitions_.drop_older_than(at("2027-01-01T00:00:00Z"), 31), 2);
  EXPECT_EQ(partitions(kGenerations), Names{});
  partitions_.ensure(kGenerations, {"2026-10"});
  EXPECT_EQ(partitions(kGenerations), named(kGenerations, {"2026_10"}));
}

// Another process's retention dropped a month this instance believes exists:
// the write finds no partition (23514), and succeeds on its second run.
TEST_F(PostgresPartitionsTest, WriteSurvivesRetentionByAnotherInstance) {
  const int64_t old = at("2026-10-31T23:59:59.999999Z");
  partitions_.ensure(kGenerations, {"2026-10"});
  PostgresConnectionPool other_pool(url_, 1);
  PostgresPartitions janitor(other_pool, {kGenerations, kRoutes});
  ASSERT_EQ(janitor.drop_older_than(at("2027-01-01T00:00:00Z"), 31), 1);
  std::vector<uint8_t> inserted(1, 0);
  int runs = 0;
  partitions_.write_partitioned(kGenerations, {"2026-10"}, &inserted, [&] {
    ++runs;
    pool_.with_connection([&](PgConnection& c) { insert_event(c, old); });
    inserted[0] = 1;
  });
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(inserted, std::vector<uint8_t>{1});
  EXPECT_EQ(db_.exec("SELECT COUNT(*) FROM generation_events_p2026_10").int64(0, 0), 1);
}

TEST_F(PostgresPartitionsTest, AFailedWriteMarksNothingInsertedAndRethrows) {
  std::vector<uint8_t> inserted{1, 1};
  int runs = 0;
  EXPECT_THROW(partitions_.write_partitioned(kGenerations, {"2026-10"}, &inserted,
                                             [&] {
                                               ++runs;
                                               db_.exec("SELEKT 1");
                                             }),
               PostgresError);
  EXPECT_EQ(runs, 1);  // only "no partition" is run again
  EXPECT_EQ(inserted, (std::vector<uint8_t>{0, 0}));
  EXPECT_EQ(partitions(kGenerations), named(kGenerations, {"2026_10"}));
}

}  // namespace
}  // namespace genalytics
