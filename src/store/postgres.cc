// About 400 lines: the whole libpq wrapper (connection, results, COPY,
// pool), each part small; splitting it would split one contract.
#include "store/postgres.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>

#include "event/time.h"

namespace genalytics {
namespace {

constexpr size_t kCopyChunkBytes = size_t{256} * 1024;
constexpr size_t kContextChars = 160;

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The statement an error happened in, shortened to one line for the message.
std::string context_of(std::string_view sql) {
  std::string text;
  for (char c : sql.substr(0, kContextChars)) text.push_back(c == '\n' ? ' ' : c);
  if (sql.size() > kContextChars) text += "...";
  return text;
}

PostgresError error_of(PGconn* conn, const PGresult* result, std::string_view context) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const char* detail = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL) : nullptr;
  std::string message = primary ? primary : trimmed(PQerrorMessage(conn));
  if (detail) message += fmt::format(" ({})", detail);
  std::string sqlstate = state ? state : (PQstatus(conn) == CONNECTION_OK ? "" : "08006");
  if (!sqlstate.empty()) message += fmt::format(" [SQLSTATE {}]", sqlstate);
  return PostgresError(fmt::format("postgres: {} in: {}", message, context_of(context)), sqlstate);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int64_t read_big_endian(const char* bytes, int length) {
  uint64_t value = 0;
  for (int i = 0; i < length; ++i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
  // Sign-extend from `length` bytes.
  const int shift = 64 - 8 * length;
  return static_cast<int64_t>(value << shift) >> shift;
}

}  // namespace

StoreFailure postgres_failure(std::string_view sqlstate) {
  if (sqlstate == "XX001" || sqlstate == "XX002") return StoreFailure::kCorrupt;
  const std::string_view sqlclass = sqlstate.substr(0, 2);
  if (sqlclass == "22" || sqlclass == "23" || sqlclass == "42") return StoreFailure::kInvalid;
  // 08, 40, 53, 57, "" and anything unknown: the same work may succeed later.
  return StoreFailure::kUnavailable;
}

PgParams& PgParams::text(std::string_view value) {
  values_.emplace_back(std::string(value));
  formats_.push_back(0);
  return *this;
}

PgParams& PgParams::int64(int64_t value) { return text(std::to_string(value)); }

PgParams& PgParams::optional_text(const std::optional<std::string>& value) {
  return value ? text(*value) : null();
}

PgParams& PgParams::bytea(std::string_view bytes) {
  values_.emplace_back(std::string(bytes));
  formats_.push_back(1);
  return *this;
}

PgParams& PgParams::null() {
  values_.emplace_back(std::nullopt);
  formats_.push_back(0);
  return *this;
}

std::string_view PgResult::text(int row, int column) const {
  return {PQgetvalue(result_.get(), row, column),
          static_cast<size_t>(PQgetlength(result_.get(), row, column))};
}

std::string PgResult::bytes(int row, int column) const {
  std::string_view value = text(row, column);
  if (PQfformat(result_.get(), column) == 1) return std::string(value);
  if (!value.starts_with("\\x") || value.size() % 2 != 0) {
    throw PostgresError("postgres: bytea value not in hex format", StoreFailure::kCorrupt);
  }
  std::string bytes;
  bytes.reserve(value.size() / 2 - 1);
  for (size_t i = 2; i < value.size(); i += 2) {
    const int high = hex_value(value[i]);
    const int low = hex_value(value[i + 1]);
    if (high < 0 || low < 0) throw PostgresError("postgres: bad hex digit in bytea value", StoreFailure::kCorrupt);
    bytes.push_back(static_cast<char>(high * 16 + low));
  }
  return bytes;
}

int64_t PgResult::int64(int row, int column) const {
  std::string_view value = text(row, column);
  if (PQfformat(result_.get(), column) == 1) {
    if (value.size() != 2 && value.size() != 4 && value.size() != 8) {
      throw PostgresError(fmt::format("postgres: column {} is not an integer", column),
                          StoreFailure::kCorrupt);
    }
    return read_big_endian(value.data(), static_cast<int>(value.size()));
  }
  int64_t number = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (ec != std::errc() || end != value.data() + value.size()) {
    throw PostgresError(fmt::format("postgres: column {} is not an integer: {}", column, value),
                        StoreFailure::kCorrupt);
  }
  return number;
}

bool PgResult::boolean(int row, int column) const {
  std::string_view value = text(row, column);
  if (PQfformat(result_.get(), column) == 1) return value.size() == 1 && value[0] != 0;
  return value == "t";
}

std::optional<int64_t> PgResult::optional_int64(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return int64(row, column);
}

std::optional<std::string> PgResult::optional_text(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return std::string(text(row, column));
}

int64_t PgResult::affected_rows() const {
  const char* text = PQcmdTuples(result_.get());
  return text[0] ? std::strtoll(text, nullptr, 10) : 0;
}

void PgCopyBuffer::separate() {
  if (row_started_) data_.push_back('\t');
  row_started_ = true;
}

void PgCopyBuffer::add_text(std::string_view value) {
  separate();
  // Backslash, tab, newline and carriage return are COPY's special characters.
  size_t start = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const char* escape = c == '\\'   ? "\\\\"
                         : c == '\t' ? "\\t"
                         : c == '\n' ? "\\n"
                         : c == '\r' ? "\\r"
                                     : nullptr;
    if (escape == nullptr) continue;
    data_.append(value.substr(start, i - start));
    data_.append(escape);
    start = i + 1;
  }
  data_.append(value.substr(start));
}

void PgCopyBuffer::add_int64(int64_t value) {
  separate();
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  data_.append(buffer, end);
}

void PgCopyBuffer::add_double(double value) {
  separate();
  data_.append(fmt::format("{}", value));
}

void PgCopyBuffer::add_bool(bool value) {
  separate();
  data_.push_back(value ? 't' : 'f');
}

void PgCopyBuffer::add_bytea(std::string_view bytes) {
  separate();
  static constexpr char kHex[] = "0123456789abcdef";
  data_.append("\\\\x");  // bytea's "\x" prefix with COPY's backslash escaped
  for (char c : bytes) {
    const auto byte = static_cast<uint8_t>(c);
    data_.push_back(kHex[byte >> 4]);
    data_.push_back(kHex[byte & 15]);
  }
}

void PgCopyBuffer::add_null() {
  separate();
  data_.append("\\N");
}

void PgCopyBuffer::add_optional_text(const std::optional<std::string>& value) {
  value ? add_text(*value) : add_null();
}

void PgCopyBuffer::add_optional_int64(const std::optional<int64_t>& value) {
  value ? add_int64(*value) : add_null();
}

void PgCopyBuffer::end_row() {
  data_.push_back('\n');
  row_started_ = false;
}

std::string pg_array_literal(std::span<const std::string> elements) {
  std::string literal = "{";
  for (size_t i = 0; i < elements.size(); ++i) {
    if (i) literal.push_back(',');
    literal.push_back('"');
    for (char c : elements[i]) {
      if (c == '"' || c == '\\') literal.push_back('\\');
      literal.push_back(c);
    }
    literal.push_back('"');
  }
  literal.push_back('}');
  return literal;
}

std::string pg_timestamp(int64_t us) {
  std::string text = format_rfc3339_micros(us);
  // PostgreSQL has no year 0: the proleptic Gregorian year 0 is its 1 BC.
  if (text.starts_with("0000-")) return "0001" + text.substr(4) + " BC";
  return text;
}

std::string pg_epoch_us(std::string_view column) {
  // EXTRACT returns numeric (exact) since PostgreSQL 14.
  return fmt::format("(EXTRACT(EPOCH FROM {}) * 1000000)::int8", column);
}

PgConnection::PgConnection(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
  if (conn_ == nullptr) throw PostgresError("postgres: out of memory while connecting", "08001");
  if (PQstatus(conn_) != CONNECTION_OK) {
    std::string message = trimmed(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw PostgresError(fmt::format("postgres: cannot connect: {}", message), "08001");
  }
}

PgConnection::~PgConnection() { PQfinish(conn_); }

PgResult PgConnection::check(PGresult* result, ExecStatusType expected, std::string_view context) {
  PgResult owned(result);
  if (result == nullptr || PQresultStatus(result) != expected) {
    throw error_of(conn_, result, context);
  }
  return owned;
}

PgResult PgConnection::exec(std::string_view sql) {
  std::string text(sql);
  PGresult* result = PQexec(conn_, text.c_str());
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  return check(result, status == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK, sql);
}

PgResult PgConnection::exec(const std::string& sql, const PgParams& params, PgFormat results) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = fmt::format("genalytics_{}", prepared_.size() + 1);
    check(PQprepare(conn_, name.c_str(), sql.c_str(), params.size(), nullptr), PGRES_COMMAND_OK,
          sql);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  std::vector<const char*> values(params.values_.size());
  std::vector<int> lengths(params.values_.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (params.values_[i]) {
      values[i] = params.values_[i]->data();
      lengths[i] = static_cast<int>(params.values_[i]->size());
    }
  }
  PGresult* result =
      PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(), lengths.data(),
                     params.formats_.data(), static_cast<int>(results));
  const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  return check(result, status == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK, sql);
}

int64_t PgConnection::copy_from(std::string_view copy_sql, std::string_view data) {
  std::string text(copy_sql);
  check(PQexec(conn_, text.c_str()), PGRES_COPY_IN, copy_sql);
  bool sent = true;
  for (size_t offset = 0; offset < data.size() && sent; offset += kCopyChunkBytes) {
    std::string_view chunk = data.substr(offset, kCopyChunkBytes);
    sent = PQputCopyData(conn_, chunk.data(), static_cast<int>(chunk.size())) == 1;
  }
  if (PQputCopyEnd(conn_, sent ? nullptr : "genalytics: sending COPY data failed") != 1) {
    sent = false;
  }
  // The COPY's own result, then null; keep the first failure.
  std::optional<PostgresError> failure;
  int64_t rows = 0;
  while (PGresult* result = PQgetResult(conn_)) {
    PgResult owned(result);
    if (PQresultStatus(result) == PGRES_COMMAND_OK) {
      rows = owned.affected_rows();
    } else if (!failure) {
      failure = error_of(conn_, result, copy_sql);
    }
    if (broken()) break;
  }
  if (failure) throw *failure;
  if (!sent) throw error_of(conn_, nullptr, copy_sql);
  return rows;
}

PgTransaction::PgTransaction(PgConnection& connection, Mode mode) : connection_(connection) {
  connection_.exec(mode == Mode::kReadWrite ? "BEGIN"
                                            : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
}

PgTransaction::~PgTransaction() {
  if (done_ || connection_.broken()) return;
  try {
    connection_.exec("ROLLBACK");
  } catch (const PostgresError&) {
    // The connection is unusable; the pool discards it and the server has
    // rolled the transaction back.
  }
}

void PgTransaction::commit() {
  done_ = true;
  connection_.exec("COMMIT");
}

PgPool::PgPool(std::string url, size_t max_size, SetUp set_up)
    : url_(std::move(url)), max_size_(max_size), set_up_(std::move(set_up)) {}

PgPool::~PgPool() = default;

PgPool::Lease::~Lease() {
  if (connection_) pool_->release(std::move(connection_));
}

PgPool::Lease PgPool::acquire() {
  {
    MutexLock lock(mutex_);
    released_.wait(lock.native(), [&] {
      mutex_.assert_held();
      return !idle_.empty() || open_ < max_size_;
    });
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(connection), /*reused=*/true);
    }
    ++open_;
  }
  try {
    auto connection = std::make_unique<PgConnection>(url_);
    if (set_up_) set_up_(*connection);
    return Lease(this, std::move(connection), /*reused=*/false);
  } catch (...) {
    MutexLock lock(mutex_);
    --open_;
    released_.notify_one();
    throw;
  }
}

void PgPool::discard_idle() {
  std::vector<std::unique_ptr<PgConnection>> discarded;
  {
    MutexLock lock(mutex_);
    discarded.swap(idle_);
    open_ -= discarded.size();
  }
  released_.notify_all();
}

void PgPool::release(std::unique_ptr<PgConnection> connection) {
  const bool reusable = !connection->broken() && connection->idle();
  {
    MutexLock lock(mutex_);
    if (reusable) {
      idle_.push_back(std::move(connection));
    } else {
      --open_;
    }
  }
  released_.notify_one();
  // A discarded connection closes here, outside the lock.
}

}  // namespace genalytics
