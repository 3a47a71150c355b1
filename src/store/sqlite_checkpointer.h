// Moves WAL checkpointing off the writer's thread. SQLite's own
// autocheckpoint runs inside the COMMIT that crosses the threshold, so the
// writer (and every request waiting on its group commit) pays for copying
// the WAL back into the database file. Here the writer's commit only signals
// (sqlite3_wal_hook), and a thread with its own connection runs a PASSIVE
// checkpoint, which never blocks the writer or readers.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "store/sqlite.h"

namespace genalytics {

class SqliteCheckpointer {
 public:
  // Installs the hook on `writer` (replacing its autocheckpoint) and starts
  // the thread. A checkpoint starts once the WAL holds `threshold_pages`.
  // REQUIRES: `writer` outlives this object, in WAL mode.
  SqliteCheckpointer(SqliteDatabase& writer, const std::string& path, int threshold_pages);
  // Stops the thread and gives the writer SQLite's autocheckpoint back.
  ~SqliteCheckpointer();
  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

  // Checkpoints completed (for tests and monitoring).
  uint64_t checkpoints() const;
  // Checkpoints that failed (I/O errors; a busy database is not one).
  uint64_t failures() const;

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int pages);
  void run();

  SqliteDatabase& writer_;
  const int threshold_pages_;
  std::unique_ptr<SqliteDatabase> connection_;
  mutable Mutex mutex_;
  std::condition_variable wake_;  // signalled on request and stop
  bool requested_ GUARDED_BY(mutex_) = false;
  bool stopping_ GUARDED_BY(mutex_) = false;
  uint64_t checkpoints_ GUARDED_BY(mutex_) = 0;
  uint64_t failures_ GUARDED_BY(mutex_) = 0;
  std::thread thread_;
};

}  // namespace genalytics
