// The connections of one embedded store file: one writer, used by one
// writer at a time (see Store), and a pool of read-only connections that
// readers lease, one per concurrent reader.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "store/sqlite.h"

namespace genalytics {

class SqliteConnections {
 public:
  // Opens (creating when missing) the file at `path` for writing: WAL,
  // synchronous=FULL. Throws StoreError.
  explicit SqliteConnections(std::string path);
  SqliteConnections(const SqliteConnections&) = delete;
  SqliteConnections& operator=(const SqliteConnections&) = delete;

  const std::string& path() const { return path_; }
  // REQUIRES: the caller is the store's one writer.
  SqliteDatabase& writer() { return *writer_; }

  // A read-only connection for the scope, taken from the pool (or opened)
  // and given back on destruction. Not thread-safe itself; leasing is.
  class Reader {
   public:
    explicit Reader(const SqliteConnections& connections);
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    SqliteDatabase& operator*() const { return *db_; }
    SqliteDatabase* operator->() const { return db_.get(); }

   private:
    const SqliteConnections& connections_;
    std::unique_ptr<SqliteDatabase> db_;
  };

  // Thread-safe. Throws StoreError when a new connection cannot open.
  Reader reader() const { return Reader(*this); }

 private:
  std::unique_ptr<SqliteDatabase> acquire_reader() const;
  void release_reader(std::unique_ptr<SqliteDatabase> reader) const;

  const std::string path_;
  std::unique_ptr<SqliteDatabase> writer_;
  mutable Mutex readers_mutex_;
  mutable std::vector<std::unique_ptr<SqliteDatabase>> idle_readers_ GUARDED_BY(readers_mutex_);
};

}  // namespace genalytics
