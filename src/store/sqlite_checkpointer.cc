#include "store/sqlite_checkpointer.h"

namespace genalytics {

SqliteCheckpointer::SqliteCheckpointer(SqliteDatabase& writer, const std::string& path,
                                       int threshold_pages)
    : writer_(writer),
      threshold_pages_(threshold_pages),
      connection_(std::make_unique<SqliteDatabase>(path, /*create=*/false)) {
  // A connection learns that the file is in WAL mode, and opens the WAL,
  // only when it first reads the database; until then a checkpoint returns
  // SQLITE_OK having copied nothing.
  connection_->exec("SELECT count(*) FROM sqlite_schema");
  thread_ = std::thread([this] { run(); });
  sqlite3_wal_hook(writer_.handle(), &SqliteCheckpointer::on_commit, this);
}

SqliteCheckpointer::~SqliteCheckpointer() {
  sqlite3_wal_autocheckpoint(writer_.handle(), threshold_pages_);  // replaces our hook
  {
    MutexLock lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

uint64_t SqliteCheckpointer::checkpoints() const {
  MutexLock lock(mutex_);
  return checkpoints_;
}

uint64_t SqliteCheckpointer::restarts() const {
  MutexLock lock(mutex_);
  return restarts_;
}

uint64_t SqliteCheckpointer::failures() const {
  MutexLock lock(mutex_);
  return failures_;
}

int SqliteCheckpointer::on_commit(void* self, sqlite3* db, const char*, int pages) {
  auto* checkpointer = static_cast<SqliteCheckpointer*>(self);
  if (pages < checkpointer->threshold_pages_) return SQLITE_OK;
  if (pages >= kCatchUpFactor * checkpointer->threshold_pages_) {
    checkpointer->catch_up(db);
    return SQLITE_OK;
  }
  {
    MutexLock lock(checkpointer->mutex_);
    checkpointer->requested_ = true;
  }
  checkpointer->wake_.notify_all();
  return SQLITE_OK;
}

void SqliteCheckpointer::catch_up(sqlite3* db) {
  {
    MutexLock lock(mutex_);
    catching_up_ = true;
    // Two checkpoints at once: the second would get SQLITE_BUSY.
    wake_.wait(lock.native(), [&] {
      mutex_.assert_held();
      return !running_;
    });
  }
  // The writer holds no lock between its transactions: this waits for
  // readers only. SQLITE_BUSY (a reader held on past the busy timeout, or
  // another process's checkpoint) leaves it to the next commit.
  const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
  {
    MutexLock lock(mutex_);
    catching_up_ = false;
    if (rc == SQLITE_OK) {
      ++checkpoints_;
      ++restarts_;
    } else if (rc != SQLITE_BUSY) {
      ++failures_;
    }
  }
  wake_.notify_all();
}

void SqliteCheckpointer::run() {
  MutexLock lock(mutex_);
  while (true) {
    wake_.wait(lock.native(), [&] {
      mutex_.assert_held();
      return (requested_ && !catching_up_) || stopping_;
    });
    if (stopping_) return;
    requested_ = false;
    running_ = true;
    lock.unlock();
    int wal_pages = 0;
    int copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(connection_->handle(), nullptr,
                                             SQLITE_CHECKPOINT_PASSIVE, &wal_pages, &copied);
    // On failure the next commit past the threshold asks again; the WAL
    // only grows meanwhile, as it would under SQLite's own autocheckpoint.
    lock.lock();
    running_ = false;
    if (rc == SQLITE_OK) {
      ++checkpoints_;
    } else if (rc != SQLITE_BUSY) {  // busy: another checkpoint ran, not a failure
      ++failures_;
    }
    wake_.notify_all();
  }
}

}  // namespace genalytics
