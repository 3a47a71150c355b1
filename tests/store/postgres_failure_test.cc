// PostgreSQL failures are classified where they arise (store/postgres.h), by
// SQLSTATE: a server that is gone is unavailable, a value it refuses invalid,
// a value that does not decode corrupt.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "store/postgres.h"
#include "testing/postgres_server.h"
#include "testing/store_failure.h"

namespace genalytics {
namespace {

using testing::failure_of;
using testing::PostgresServer;

TEST(PostgresFailureTest, AStoppedServerIsUnavailableToItsConnectionsAndToNewOnes) {
  auto server = std::make_unique<PostgresServer>();  // its own: this test stops it
  const std::string url = server->url();
  PgConnection open_before(url);
  open_before.exec("SELECT 1");
  PgPool pool(url, 2);
  { PgPool::Lease idle = pool.acquire(); }
  server.reset();  // pg_ctl stop -m fast: the open connections are cut
  EXPECT_EQ(failure_of([&] { open_before.exec("SELECT 1"); }), StoreFailure::kUnavailable);
  EXPECT_TRUE(open_before.broken());
  EXPECT_EQ(failure_of([&] { pool.acquire()->exec("SELECT 1"); }), StoreFailure::kUnavailable);
  pool.discard_idle();
  EXPECT_EQ(failure_of([&] { pool.acquire(); }), StoreFailure::kUnavailable);
  EXPECT_EQ(failure_of([&] { PgConnection again(url); }), StoreFailure::kUnavailable);
}

TEST(PostgresFailureTest, AValueTheServerRefusesIsInvalid) {
  PgConnection db(PostgresServer::shared().create_database());
  db.exec("CREATE TABLE t (id int4 PRIMARY KEY, name text NOT NULL)");
  db.exec("INSERT INTO t VALUES (1, 'a')");
  // 22003: out of range for int4.
  EXPECT_EQ(failure_of([&] {
              db.exec("INSERT INTO t VALUES ($1::int4, 'b')", PgParams().text("99999999999"));
            }),
            StoreFailure::kInvalid);
  // 23505, 23502: the table's constraints.
  EXPECT_EQ(failure_of([&] { db.exec("INSERT INTO t VALUES (1, 'again')"); }),
            StoreFailure::kInvalid);
  EXPECT_EQ(failure_of([&] { db.exec("INSERT INTO t VALUES (2, NULL)"); }),
            StoreFailure::kInvalid);
  // 22P02: not a uuid. 42601: not SQL.
  EXPECT_EQ(failure_of([&] { db.exec("SELECT $1::uuid", PgParams().text("not-a-uuid")); }),
            StoreFailure::kInvalid);
  EXPECT_EQ(failure_of([&] { db.exec("SELEKT 1"); }), StoreFailure::kInvalid);
  // The connection stays usable after each refusal.
  EXPECT_EQ(db.exec("SELECT count(*) FROM t").int64(0, 0), 1);
}

TEST(PostgresFailureTest, AValueThatDoesNotDecodeIsCorrupt) {
  PgConnection db(PostgresServer::shared().url());
  PgResult result = db.exec("SELECT 'not hex'::text, 'x12'::text");
  EXPECT_EQ(failure_of([&] { result.bytes(0, 0); }), StoreFailure::kCorrupt);
  EXPECT_EQ(failure_of([&] { result.int64(0, 1); }), StoreFailure::kCorrupt);
}

TEST(PostgresFailureTest, SqlstatesAreClassifiedByClass) {
  for (const char* sqlstate : {"", "08001", "08006", "40001", "40P01", "53100", "53300",
                               "57014", "57P01", "55P03", "P0001"}) {
    EXPECT_EQ(postgres_failure(sqlstate), StoreFailure::kUnavailable) << sqlstate;
  }
  for (const char* sqlstate : {"XX001", "XX002"}) {
    EXPECT_EQ(postgres_failure(sqlstate), StoreFailure::kCorrupt) << sqlstate;
  }
  for (const char* sqlstate : {"22003", "22P02", "23505", "23514", "42601", "42P01"}) {
    EXPECT_EQ(postgres_failure(sqlstate), StoreFailure::kInvalid) << sqlstate;
  }
  EXPECT_EQ(PostgresError("m", "23505").failure(), StoreFailure::kInvalid);
  EXPECT_EQ(PostgresError("m", StoreFailure::kCorrupt).sqlstate(), "");
}

}  // namespace
}  // namespace genalytics
