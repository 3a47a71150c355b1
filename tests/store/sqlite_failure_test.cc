// SQLite failures are classified where they arise (store/sqlite.h): a
// damaged file is corrupt, a refused value invalid, a file that cannot be
// opened unavailable.
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "event/time.h"
#include "store/sqlite.h"
#include "store/sqlite_store.h"
#include "testing/events.h"
#include "testing/fixed_times.h"
#include "testing/store_failure.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::failure_of;
using testing::kHour;
using testing::TempDir;

// A real store's file with `events` completions in it, closed (its WAL
// checkpointed into the file). Returns the file's path.
std::string write_store(const std::string& dir, int events) {
  SqliteStore store(dir);
  std::vector<GenerationEvent> batch;
  for (int i = 0; i < events; ++i) {
    batch.push_back(testing::make_completion(kHour + i * int64_t{1000}, i % 3 != 0, 100 + i,
                                             "", "model-" + std::to_string(i % 5)));
  }
  std::vector<uint8_t> inserted;
  store.write(batch, &inserted);
  return store.path();
}

// Overwrites `length` bytes at `offset` of the file at `path` with 0xA5.
void overwrite(const std::string& path, int64_t offset, int64_t length) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file) << path;
  file.seekp(offset);
  const std::string garbage(static_cast<size_t>(length), static_cast<char>(0xA5));
  file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  ASSERT_TRUE(file);
}

int64_t file_size(const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  return static_cast<int64_t>(file.tellg());
}

// The page size from the file header (bytes 16-17, big-endian; 1 means 65536).
int64_t page_size(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  unsigned char header[18] = {};
  file.read(reinterpret_cast<char*>(header), sizeof(header));
  const int64_t size = header[16] * 256 + header[17];
  return size == 1 ? 65536 : size;
}

TEST(SqliteFailureTest, OverwrittenPagesOfARealStoreAreCorruptNotUnavailable) {
  TempDir dir;
  const std::string path = write_store(dir.path(), 2000);
  const int64_t page = page_size(path);
  ASSERT_GT(file_size(path), 4 * page) << "the events span several pages";
  // Page 1 (the header and the schema) stays; every table's pages are garbage.
  overwrite(path, page, file_size(path) - page);
  EXPECT_EQ(failure_of([&] {
              SqliteStore store(dir.path());
              store.count_generation_events();
              store.read_rollups(Dimension::kAll, kHour, kHour + kMicrosPerHour, std::nullopt, {});
            }),
            StoreFailure::kCorrupt);
}

TEST(SqliteFailureTest, AFileWhoseHeaderIsOverwrittenIsCorrupt) {
  TempDir dir;
  const std::string path = write_store(dir.path(), 10);
  overwrite(path, 0, 100);  // SQLite's 100-byte header: "file is not a database"
  EXPECT_EQ(failure_of([&] {
              SqliteStore store(dir.path());
              store.count_generation_events();
            }),
            StoreFailure::kCorrupt);
}

TEST(SqliteFailureTest, AValueTheSchemaRefusesIsInvalid) {
  TempDir dir;
  SqliteDatabase db(dir.path() + "/t.db", /*create=*/true);
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)");
  db.exec("INSERT INTO t (name) VALUES ('a')");
  EXPECT_EQ(failure_of([&] { db.exec("INSERT INTO t (name) VALUES ('a')"); }),
            StoreFailure::kInvalid);
  SqliteStatement& insert = db.prepare_cached("INSERT INTO t (name) VALUES (?1)");
  insert.bind_null(1);
  EXPECT_EQ(failure_of([&] { insert.step(); }), StoreFailure::kInvalid);
  insert.reset();
  EXPECT_EQ(failure_of([&] { insert.bind_text(2, "no such parameter"); }),
            StoreFailure::kInvalid);  // SQLITE_RANGE
}

TEST(SqliteFailureTest, AFileThatCannotBeOpenedIsUnavailable) {
  TempDir dir;
  EXPECT_EQ(failure_of([&] { SqliteDatabase(dir.path() + "/missing/x.db", /*create=*/true); }),
            StoreFailure::kUnavailable);
  EXPECT_EQ(failure_of([&] { SqliteDatabase(dir.path() + "/none.db", /*create=*/false); }),
            StoreFailure::kUnavailable);
}

TEST(SqliteFailureTest, ExtendedResultCodesAreClassifiedByTheirPrimaryCode) {
  EXPECT_EQ(sqlite_failure(SQLITE_CORRUPT), StoreFailure::kCorrupt);
  EXPECT_EQ(sqlite_failure(SQLITE_CORRUPT_INDEX), StoreFailure::kCorrupt);
  EXPECT_EQ(sqlite_failure(SQLITE_NOTADB), StoreFailure::kCorrupt);
  EXPECT_EQ(sqlite_failure(SQLITE_CONSTRAINT_UNIQUE), StoreFailure::kInvalid);
  EXPECT_EQ(sqlite_failure(SQLITE_TOOBIG), StoreFailure::kInvalid);
  EXPECT_EQ(sqlite_failure(SQLITE_RANGE), StoreFailure::kInvalid);
  EXPECT_EQ(sqlite_failure(SQLITE_MISMATCH), StoreFailure::kInvalid);
  EXPECT_EQ(sqlite_failure(SQLITE_BUSY_SNAPSHOT), StoreFailure::kUnavailable);
  EXPECT_EQ(sqlite_failure(SQLITE_LOCKED), StoreFailure::kUnavailable);
  EXPECT_EQ(sqlite_failure(SQLITE_IOERR_WRITE), StoreFailure::kUnavailable);
  EXPECT_EQ(sqlite_failure(SQLITE_FULL), StoreFailure::kUnavailable);
  EXPECT_EQ(sqlite_failure(SQLITE_CANTOPEN), StoreFailure::kUnavailable);
  EXPECT_EQ(sqlite_failure(SQLITE_NOMEM), StoreFailure::kUnavailable);
}

}  // namespace
}  // namespace genalytics
