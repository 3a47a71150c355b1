// Minimal RAII wrappers over libpq. Every failure throws PostgresError (a
// StoreError classified by its SQLSTATE) carrying the server's message and
// SQLSTATE. PgResult and PgPool::Lease are move-only; the other handles are
// neither copyable nor movable.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "store/store.h"

namespace genalytics {

// What a SQLSTATE means for the caller. kUnavailable: classes 08 (connection),
// 40 (transaction rollback: serialization failure, deadlock), 53
// (insufficient resources), 57 (operator intervention: shutdown, cancel),
// and "" (no SQLSTATE: the connection was lost or libpq failed); kCorrupt:
// XX001 and XX002 (data and index corrupted); kInvalid: classes 22 (data
// exception), 23 (integrity constraint) and 42 (syntax or access rule).
// Anything else is kUnavailable, StoreError's default.
StoreFailure postgres_failure(std::string_view sqlstate);

// A failure reported by PostgreSQL or by libpq.
class PostgresError : public StoreError {
 public:
  // Classified by postgres_failure(sqlstate).
  PostgresError(const std::string& message, std::string sqlstate)
      : StoreError(message, postgres_failure(sqlstate)), sqlstate_(std::move(sqlstate)) {}
  // A failure found on our side, without a SQLSTATE (e.g. a value that does
  // not decode: kCorrupt).
  PostgresError(const std::string& message, StoreFailure failure)
      : StoreError(message, failure) {}

  // The server's five-character SQLSTATE ("23505"); "08001" when no
  // connection could be made, "08006" when it was lost mid-request; empty
  // for a failure found on our side.
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

enum class PgFormat : int { kText = 0, kBinary = 1 };

// The parameters of one statement, $1 first. Values are copied. Give every
// parameter an explicit cast in the SQL ($1::uuid): no types are sent.
class PgParams {
 public:
  PgParams& text(std::string_view value);
  PgParams& int64(int64_t value);
  PgParams& optional_text(const std::optional<std::string>& value);
  // Sent in binary format: the bytes as they are, no escaping.
  PgParams& bytea(std::string_view bytes);
  PgParams& null();

  int size() const { return static_cast<int>(values_.size()); }

 private:
  friend class PgConnection;
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;
};

// A query result. Rows and columns are 0-based; views stay valid while the
// result lives. Accessors read either result format.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result) {}

  int rows() const { return PQntuples(result_.get()); }
  int columns() const { return PQnfields(result_.get()); }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  // The value's bytes: for text-like types in either format.
  std::string_view text(int row, int column) const;
  // A bytea value (hex-decoded when the result is in text format).
  std::string bytes(int row, int column) const;
  // An integer column of any width. Throws PostgresError for anything else.
  int64_t int64(int row, int column) const;
  bool boolean(int row, int column) const;
  std::optional<int64_t> optional_int64(int row, int column) const;
  std::optional<std::string> optional_text(int row, int column) const;
  // Rows inserted, updated, deleted or copied by the command.
  int64_t affected_rows() const;

 private:
  struct Deleter {
    void operator()(PGresult* result) const { PQclear(result); }
  };
  std::unique_ptr<PGresult, Deleter> result_;
};

// The data of a COPY ... FROM STDIN in text format, built row by row with
// every value escaped.
class PgCopyBuffer {
 public:
  void add_text(std::string_view value);
  void add_int64(int64_t value);
  void add_double(double value);
  void add_bool(bool value);
  void add_bytea(std::string_view bytes);
  void add_null();
  void add_optional_text(const std::optional<std::string>& value);
  void add_optional_int64(const std::optional<int64_t>& value);
  // Ends the current row.
  void end_row();

  const std::string& data() const { return data_; }
  void clear() { data_.clear(); }

 private:
  void separate();

  std::string data_;
  bool row_started_ = false;
};

// `{"a","b"}`: an array literal of `elements` for a `$1::text[]` parameter
// (or any element type that reads its text form).
std::string pg_array_literal(std::span<const std::string> elements);

// A timestamptz literal for `us` (microseconds since the Unix epoch, UTC),
// accepted whatever the session's time zone. REQUIRES: year 0000..9999.
std::string pg_timestamp(int64_t us);

// SQL evaluating to the microseconds since the Unix epoch of the timestamptz
// expression `column` (exact, as bigint).
std::string pg_epoch_us(std::string_view column);

// One connection. Not thread-safe: use from one thread at a time.
class PgConnection {
 public:
  // Connects to `url` (libpq URL or key=value string). Throws PostgresError.
  explicit PgConnection(const std::string& url);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one or more statements without parameters; the last one's result.
  PgResult exec(std::string_view sql);
  // Runs one statement with parameters as a prepared statement, prepared on
  // this connection the first time `sql` is seen.
  PgResult exec(const std::string& sql, const PgParams& params, PgFormat results = PgFormat::kText);
  // Runs `copy_sql` (a COPY ... FROM STDIN) fed with `data`, which must be
  // in the COPY's format. Returns the rows copied.
  int64_t copy_from(std::string_view copy_sql, std::string_view data);

  // True once the connection is lost; it cannot be used again.
  bool broken() const { return PQstatus(conn_) != CONNECTION_OK; }
  // True when no transaction is open.
  bool idle() const { return PQtransactionStatus(conn_) == PQTRANS_IDLE; }
  PGconn* handle() const { return conn_; }

 private:
  // Throws the error of `result` (which may be null) unless its status is `expected`.
  PgResult check(PGresult* result, ExecStatusType expected, std::string_view context);

  PGconn* conn_ = nullptr;
  std::map<std::string, std::string, std::less<>> prepared_;  // SQL -> statement name
};

// BEGIN at construction; ROLLBACK at destruction unless commit() ran.
class PgTransaction {
 public:
  enum class Mode {
    kReadWrite,         // READ COMMITTED
    kReadOnlySnapshot,  // REPEATABLE READ, READ ONLY: several statements, one snapshot
  };

  explicit PgTransaction(PgConnection& connection, Mode mode = Mode::kReadWrite);
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;

  void commit();

 private:
  PgConnection& connection_;
  bool done_ = false;
};

// Up to `max_size` connections to one database, shared by threads; idle ones
// are kept for reuse. Thread-safe.
class PgPool {
 public:
  // Runs once on every new connection (session settings).
  using SetUp = std::function<void(PgConnection&)>;

  PgPool(std::string url, size_t max_size, SetUp set_up = {});
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // A connection for one thread's exclusive use, returned to the pool at
  // destruction unless it broke or was left inside a transaction.
  class Lease {
   public:
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PgConnection& operator*() const { return *connection_; }
    PgConnection* operator->() const { return connection_.get(); }
    // True when the connection had served an earlier lease, so it may have
    // been cut by a server restart since.
    bool reused() const { return reused_; }

   private:
    friend class PgPool;
    Lease(PgPool* pool, std::unique_ptr<PgConnection> connection, bool reused)
        : pool_(pool), connection_(std::move(connection)), reused_(reused) {}
    PgPool* pool_;
    std::unique_ptr<PgConnection> connection_;
    bool reused_;
  };

  // Waits while `max_size` connections are leased. Throws PostgresError when
  // a new connection fails.
  Lease acquire() EXCLUDES(mutex_);

  // Closes the idle connections, e.g. after one turned out to have been cut
  // by a server restart (which cut the others too).
  void discard_idle() EXCLUDES(mutex_);

  const std::string& url() const { return url_; }

 private:
  void release(std::unique_ptr<PgConnection> connection) EXCLUDES(mutex_);

  const std::string url_;
  const size_t max_size_;
  const SetUp set_up_;
  Mutex mutex_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<PgConnection>> idle_ GUARDED_BY(mutex_);
  size_t open_ GUARDED_BY(mutex_) = 0;  // leased + idle
};

}  // namespace genalytics
