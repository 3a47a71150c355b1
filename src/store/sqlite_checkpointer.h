// Moves WAL checkpointing off the writer's thread. SQLite's own
// autocheckpoint runs inside the COMMIT that crosses the threshold, so the
// writer (and every request waiting on its group commit) pays for copying
// the WAL back into the database file. Here the writer's commit only signals
// (sqlite3_wal_hook), and a thread with its own connection runs a PASSIVE
// checkpoint, which never blocks the writer or readers.
//
// A passive checkpoint never rewinds the WAL: SQLite starts it over only
// when a write begins after a checkpoint copied every frame, which a writer
// that never pauses (a bulk load) does not allow. The WAL then grows without
// bound (42 GB for 7.75M events in bench/model_bench), and every read slows
// with its index. So a commit that leaves the WAL at kCatchUpFactor times
// the threshold runs a RESTART checkpoint itself, on the writer, after the
// thread's checkpoint in progress (if any) ends: it copies the WAL, waits
// (busy handler) for readers of it to move on, and the next write starts the
// WAL over. The writer waits meanwhile: backpressure, where the thread,
// asking for the write lock of a writer that never pauses, would starve.
// The WAL stays within a few times kCatchUpFactor x threshold pages.
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

  static constexpr int kCatchUpFactor = 8;

  // Checkpoints completed (for tests and monitoring), and those of them
  // that restarted the WAL.
  uint64_t checkpoints() const;
  uint64_t restarts() const;
  // Checkpoints that failed (I/O errors; a busy database is not one).
  uint64_t failures() const;

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int pages);
  // The RESTART checkpoint of a commit past kCatchUpFactor x threshold, on
  // the writer's connection `db`.
  void catch_up(sqlite3* db);
  void run();

  SqliteDatabase& writer_;
  const int threshold_pages_;
  std::unique_ptr<SqliteDatabase> connection_;
  mutable Mutex mutex_;
  std::condition_variable wake_;  // signalled on request, stop and the end of a checkpoint
  bool requested_ GUARDED_BY(mutex_) = false;
  bool running_ GUARDED_BY(mutex_) = false;      // the thread is checkpointing
  bool catching_up_ GUARDED_BY(mutex_) = false;  // the writer is; the thread waits
  bool stopping_ GUARDED_BY(mutex_) = false;
  uint64_t checkpoints_ GUARDED_BY(mutex_) = 0;
  uint64_t restarts_ GUARDED_BY(mutex_) = 0;
  uint64_t failures_ GUARDED_BY(mutex_) = 0;
  std::thread thread_;
};

}  // namespace genalytics
