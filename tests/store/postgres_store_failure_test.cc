// How PostgresStore classifies the failures it detects itself (rather than
// the server's SQLSTATEs, tests/store/postgres_failure_test.cc): none of them
// goes away by waiting, so none may be kUnavailable, which a stream worker
// retries on the same batch forever. The database shows each one for real:
// a batch it answers with other ids, rollup tables changed behind the store.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "event/time.h"
#include "store/postgres.h"
#include "store/postgres_store.h"
#include "testing/events.h"
#include "testing/postgres_server.h"
#include "testing/route_events.h"

namespace genalytics {
namespace {

using testing::PostgresServer;

class PostgresStoreFailureTest : public ::testing::Test {
 protected:
  // The store's clock.
  static inline const int64_t kNow = *parse_rfc3339("2026-03-10T12:30:00Z");

  PostgresStoreFailureTest()
      : store_(url_, PostgresStore::kDefaultPoolSize, 0, [] { return kNow; }) {}

  // Expects `write` to throw a StoreError of `failure` whose message holds
  // `message`, having set every inserted flag to 0.
  template <typename Write>
  void expect_failure(Write&& write, StoreFailure failure, const std::string& message) {
    std::vector<uint8_t> inserted;
    try {
      write(&inserted);
      ADD_FAILURE() << "no StoreError";
    } catch (const StoreError& error) {
      EXPECT_EQ(error.failure(), failure) << to_string(error.failure()) << ": " << error.what();
      EXPECT_FALSE(error.retryable());
      EXPECT_NE(std::string(error.what()).find(message), std::string::npos) << error.what();
    }
    EXPECT_TRUE(std::all_of(inserted.begin(), inserted.end(), [](uint8_t i) { return i == 0; }));
  }

  const std::string url_ = PostgresServer::shared().create_database();
  PostgresStore store_;
};

// An event_id not in canonical form (against write's REQUIRES): PostgreSQL
// returns the uuid lowercased, so the store cannot tell which event it
// inserted. Retrying the batch fails the same way, so it is kInvalid, and a
// stream worker isolates and dead-letters the event instead of stalling.
TEST_F(PostgresStoreFailureTest, ANonCanonicalEventIdIsInvalidNotRetried) {
  GenerationEvent upper = testing::make_completion(kNow, true, 10);
  upper.event_id = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
  expect_failure(
      [&](std::vector<uint8_t>* inserted) {
        store_.write(std::vector{testing::make_completion(kNow, true, 20), upper},
                                       inserted);
      },
      StoreFailure::kInvalid, "inserted an event_id not in the batch");
  EXPECT_EQ(store_.count_generation_events(), 0);  // nothing of the batch committed
}

// A trigger that skips new rows: the hourly rollup row of a new hour is
// never created, so the store locks 0 rows for 1 key.
TEST_F(PostgresStoreFailureTest, RollupRowsTheDatabaseDoesNotCreateAreCorrupt) {
  PgConnection db(url_);
  db.exec(
      "CREATE FUNCTION skip_row() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;"
      "CREATE TRIGGER skip BEFORE INSERT ON generation_metrics_hourly "
      "FOR EACH ROW EXECUTE FUNCTION skip_row()");
  expect_failure(
      [&](std::vector<uint8_t>* inserted) {
        store_.write(std::vector{testing::make_completion(kNow, true, 10)},
                                       inserted);
      },
      StoreFailure::kCorrupt, "locked 0 rollup rows for 1 keys");
  EXPECT_EQ(store_.count_generation_events(), 0);
}

// A trigger that rewrites the value of new dimension rows: the row locked
// is not the row of the key written.
TEST_F(PostgresStoreFailureTest, RollupRowsOfAnotherKeyAreCorrupt) {
  PgConnection db(url_);
  db.exec(
      "CREATE FUNCTION rename_value() RETURNS trigger LANGUAGE plpgsql AS "
      "$$BEGIN NEW.value := NEW.value || '!'; RETURN NEW; END$$;"
      "CREATE TRIGGER rename BEFORE INSERT ON generation_dimension_hourly "
      "FOR EACH ROW EXECUTE FUNCTION rename_value()");
  expect_failure(
      [&](std::vector<uint8_t>* inserted) {
        store_.write(
            std::vector{testing::make_completion(kNow, true, 10, "", "sdxl")}, inserted);
      },
      StoreFailure::kCorrupt, "locked an unexpected rollup row");
  EXPECT_EQ(store_.count_generation_events(), 0);
}

TEST_F(PostgresStoreFailureTest, RouteRollupRowsTheDatabaseDoesNotCreateAreCorrupt) {
  PgConnection db(url_);
  db.exec(
      "CREATE FUNCTION skip_row() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;"
      "CREATE TRIGGER skip BEFORE INSERT ON route_analytics_hourly "
      "FOR EACH ROW EXECUTE FUNCTION skip_row()");
  expect_failure(
      [&](std::vector<uint8_t>* inserted) {
        store_.write(std::vector{testing::make_route_event(kNow, "/api/a"),
                                              testing::make_route_event(kNow, "/api/b")},
                                  inserted);
      },
      StoreFailure::kCorrupt, "locked route rollup rows for 0 of 2 keys");
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM route_analytics").int64(0, 0), 0);
}

}  // namespace
}  // namespace genalytics
