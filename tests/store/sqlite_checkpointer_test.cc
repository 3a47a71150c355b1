#include "store/sqlite_checkpointer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "testing/fixed_times.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::kDeadline;
using testing::TempDir;

constexpr int kThresholdPages = 16;
constexpr uintmax_t kPageBytes = 4096;  // SQLite's default page size

// A WAL-mode database whose rows each fill about one page.
class SqliteCheckpointerTest : public ::testing::Test {
 protected:
  SqliteCheckpointerTest()
      : path_((std::filesystem::path(dir_.path()) / "test.db").string()),
        writer_(path_, /*create=*/true) {
    writer_.exec("PRAGMA journal_mode=WAL; CREATE TABLE pages(body BLOB);");
  }

  // Commits `rows` rows (about one WAL page each) in one transaction.
  void commit_rows(int rows) {
    SqliteTransaction transaction(writer_, SqliteTransaction::Mode::kWrite);
    for (int i = 0; i < rows; ++i) writer_.exec("INSERT INTO pages VALUES (randomblob(3000));");
    transaction.commit();
  }

  // The main database file: it grows only when a checkpoint copies the WAL
  // back into it.
  uintmax_t database_bytes() const { return std::filesystem::file_size(path_); }

  // Whether `checkpointer` completes `n` checkpoints within kDeadline.
  static bool wait_for_checkpoints(const SqliteCheckpointer& checkpointer, uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (checkpointer.checkpoints() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  TempDir dir_;
  std::string path_;
  SqliteDatabase writer_;
};

TEST_F(SqliteCheckpointerTest, CheckpointsOnceTheWalPassesItsThreshold) {
  SqliteCheckpointer checkpointer(writer_, path_, kThresholdPages);
  const uintmax_t before = database_bytes();
  commit_rows(4);  // below the threshold: nothing is asked of the thread
  EXPECT_EQ(checkpointer.checkpoints(), 0u);
  EXPECT_EQ(database_bytes(), before);

  commit_rows(2 * kThresholdPages);
  ASSERT_TRUE(wait_for_checkpoints(checkpointer, 1));
  EXPECT_EQ(checkpointer.failures(), 0u);
}

// Regression: the checkpoint connection had never read the database, so
// SQLite did not know it was in WAL mode and sqlite3_wal_checkpoint_v2
// returned SQLITE_OK without copying a page; the database file stayed at its
// first page and the WAL only grew.
TEST_F(SqliteCheckpointerTest, CheckpointCopiesTheWalIntoTheDatabase) {
  SqliteCheckpointer checkpointer(writer_, path_, kThresholdPages);
  const uintmax_t before = database_bytes();
  commit_rows(2 * kThresholdPages);
  ASSERT_TRUE(wait_for_checkpoints(checkpointer, 1));
  // A passive checkpoint copies the frames no reader needs: with no reader,
  // all of those committed before it ran, at least the threshold's worth.
  EXPECT_GT(database_bytes(), before + kThresholdPages * kPageBytes);
  EXPECT_EQ(checkpointer.failures(), 0u);
}

TEST_F(SqliteCheckpointerTest, CheckpointsAgainEachTimeTheWalRefills) {
  SqliteCheckpointer checkpointer(writer_, path_, kThresholdPages);
  for (uint64_t round = 1; round <= 3; ++round) {
    commit_rows(2 * kThresholdPages);
    ASSERT_TRUE(wait_for_checkpoints(checkpointer, round)) << "round " << round;
  }
  EXPECT_EQ(checkpointer.failures(), 0u);
  SqliteStatement count(writer_.handle(), "SELECT count(*) FROM pages");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int64(0), 3 * 2 * kThresholdPages);
}

// A writer that never pauses: passive checkpoints alone never rewind the
// WAL, which grew to 42 GB under bench/model_bench's load. Past
// kCatchUpFactor x threshold pages the thread restarts it.
TEST_F(SqliteCheckpointerTest, WalStaysBoundedUnderAWriterThatNeverPauses) {
  SqliteCheckpointer checkpointer(writer_, path_, kThresholdPages);
  const std::string wal = path_ + "-wal";
  constexpr int kCommits = 600;
  uintmax_t largest = 0;
  for (int i = 0; i < kCommits; ++i) {
    commit_rows(4);
    largest = std::max(largest, std::filesystem::file_size(wal));
  }
  EXPECT_GT(checkpointer.restarts(), 0u);
  EXPECT_EQ(checkpointer.failures(), 0u);
  // Without restarts the WAL would hold all 2,400 pages written.
  const uintmax_t catch_up_bytes =
      uintmax_t{SqliteCheckpointer::kCatchUpFactor * kThresholdPages} * kPageBytes;
  EXPECT_LT(largest, 4 * catch_up_bytes) << "largest WAL " << largest << " bytes";
  SqliteStatement count(writer_.handle(), "SELECT count(*) FROM pages");
  ASSERT_TRUE(count.step());
  EXPECT_EQ(count.column_int64(0), 4 * kCommits);
}

// After the checkpointer is gone, commits must neither call into it (a use
// after free under ASan) nor stop checkpointing: SQLite's autocheckpoint is
// back and copies the WAL inside the commit that passes the threshold.
TEST_F(SqliteCheckpointerTest, DestructionGivesTheWriterAutocheckpointBack) {
  { SqliteCheckpointer checkpointer(writer_, path_, kThresholdPages); }
  const uintmax_t before = database_bytes();
  commit_rows(2 * kThresholdPages);
  EXPECT_GT(database_bytes(), before + 2 * kThresholdPages * kPageBytes);
}

}  // namespace
}  // namespace genalytics
