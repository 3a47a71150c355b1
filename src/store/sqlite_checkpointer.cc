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
  wake_.notify_one();
  thread_.join();
}

uint64_t SqliteCheckpointer::checkpoints() const {
  MutexLock lock(mutex_);
  return checkpoints_;
}

uint64_t SqliteCheckpointer::failures() const {
  MutexLock lock(mutex_);
  return failures_;
}

int SqliteCheckpointer::on_commit(void* self, sqlite3*, const char*, int pages) {
  auto* checkpointer = static_cast<SqliteCheckpointer*>(self);
  if (pages < checkpointer->threshold_pages_) return SQLITE_OK;
  {
    MutexLock lock(checkpointer->mutex_);
    checkpointer->requested_ = true;
  }
  checkpointer->wake_.notify_one();
  return SQLITE_OK;
}

void SqliteCheckpointer::run() {
  MutexLock lock(mutex_);
  while (true) {
    wake_.wait(lock.native(), [&] {
      mutex_.assert_held();
      return requested_ || stopping_;
    });
    if (stopping_) return;
    requested_ = false;
    lock.unlock();
    int wal_pages = 0;
    int copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(connection_->handle(), nullptr,
                                             SQLITE_CHECKPOINT_PASSIVE, &wal_pages, &copied);
    // On failure the next commit past the threshold asks again; the WAL
    // only grows meanwhile, as it would under SQLite's own autocheckpoint.
    lock.lock();
    if (rc == SQLITE_OK) {
      ++checkpoints_;
    } else {
      ++failures_;
    }
  }
}

}  // namespace genalytics
