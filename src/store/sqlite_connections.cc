#include "store/sqlite_connections.h"

#include <utility>

namespace genalytics {

SqliteConnections::SqliteConnections(std::string path)
    : path_(std::move(path)), writer_(std::make_unique<SqliteDatabase>(path_, /*create=*/true)) {
  // synchronous=FULL: a committed transaction survives power loss, which is
  // what a 2xx on ingest promises. Group commit amortizes the fsync.
  writer_->exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-131072;"
      "PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=4096;");
}

SqliteConnections::Reader::Reader(const SqliteConnections& connections)
    : connections_(connections), db_(connections.acquire_reader()) {}

SqliteConnections::Reader::~Reader() { connections_.release_reader(std::move(db_)); }

std::unique_ptr<SqliteDatabase> SqliteConnections::acquire_reader() const {
  {
    MutexLock lock(readers_mutex_);
    if (!idle_readers_.empty()) {
      auto reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return reader;
    }
  }
  auto reader = std::make_unique<SqliteDatabase>(path_, /*create=*/false);
  reader->exec("PRAGMA query_only=1; PRAGMA mmap_size=1073741824; PRAGMA cache_size=-65536;");
  return reader;
}

void SqliteConnections::release_reader(std::unique_ptr<SqliteDatabase> reader) const {
  MutexLock lock(readers_mutex_);
  idle_readers_.push_back(std::move(reader));
}

}  // namespace genalytics
