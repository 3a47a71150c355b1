// What the benchmarks share: scratch directories, raw SQLite handles, a
// keep-alive HTTP client, medians and percentiles, peak RSS, number
// formatting, and demo traffic of a wanted event count.
#pragma once

#include <sqlite3.h>
#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/http/span_body.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "demo/traffic_generator.h"
#include "event/time.h"

namespace genalytics::bench {

// A fresh directory under `parent` (the system temp dir when empty), removed
// with everything in it at scope exit.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& parent = "") {
    const std::filesystem::path base =
        parent.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(parent);
    std::filesystem::create_directories(base);
    std::string pattern = (base / "genalytics-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed in " + base.string());
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Owners of raw SQLite handles, for the benchmarks' raw-table baselines.
using SqliteHandle = std::unique_ptr<sqlite3, decltype(&sqlite3_close)>;
using SqliteStmt = std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>;

// Opens `path` with `flags` (SQLITE_OPEN_*); throws std::runtime_error.
inline SqliteHandle open_sqlite(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  SqliteHandle handle(db, &sqlite3_close);
  if (rc != SQLITE_OK) throw std::runtime_error("cannot open " + path + ": " + sqlite3_errstr(rc));
  return handle;
}

// Prepares `sql` on `db`; throws std::runtime_error with SQLite's message.
inline SqliteStmt prepare_sqlite(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string(sqlite3_errmsg(db)) + ": " + sql);
  }
  return SqliteStmt(stmt, &sqlite3_finalize);
}

struct HttpReply {
  int status = 0;
  bool retry_after = false;  // the Retry-After header was present
  std::string body;
};

// One HTTP/1.1 connection to 127.0.0.1:port, reused for every request and
// reopened when the server closes it. Not thread-safe: one per thread.
class KeepAliveClient {
 public:
  explicit KeepAliveClient(uint16_t port) : port_(port), stream_(io_) { connect(); }

  // Sends one request; `body` is sent from where it lies, without a copy.
  // Throws boost::system::system_error when the connection fails.
  HttpReply send(boost::beast::http::verb method, const std::string& target,
                 std::string_view body = {}, std::string_view content_type = {}) {
    namespace http = boost::beast::http;
    if (!open_) connect();
    http::request<http::span_body<const char>> request(method, target, 11);
    request.set(http::field::host, "127.0.0.1");
    request.keep_alive(true);
    if (!content_type.empty()) request.set(http::field::content_type, content_type);
    request.body() = boost::span<const char>(body.data(), body.size());
    request.prepare_payload();
    http::write(stream_, request);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 30);
    http::read(stream_, buffer_, parser);
    auto& response = parser.get();
    HttpReply reply;
    reply.status = static_cast<int>(response.result_int());
    reply.retry_after = response.find(http::field::retry_after) != response.end();
    if (!response.keep_alive()) close();
    reply.body = std::move(response.body());
    return reply;
  }

  HttpReply get(const std::string& target) { return send(boost::beast::http::verb::get, target); }

 private:
  void connect() {
    stream_.connect(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_));
    stream_.socket().set_option(boost::asio::ip::tcp::no_delay(true));
    buffer_.clear();
    open_ = true;
  }
  void close() {
    boost::beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    open_ = false;
  }

  uint16_t port_;
  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  bool open_ = false;
};

// The value at rank floor(q * (n - 1)) of `values` (sorted in place), the
// same definition as DDSketch::quantile. REQUIRES: !values.empty().
inline double percentile(std::vector<double>& values, double q) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(std::floor(q * static_cast<double>(values.size() - 1)))];
}

// The middle value (the mean of the middle two for an even count).
inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// 1234567 -> "1,234,567".
inline std::string with_commas(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string text;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return value < 0 ? "-" + text : text;
}

// A field of /proc/self/status in kB ("VmHWM", "VmRSS"); nullopt when absent.
inline std::optional<int64_t> proc_status_kb(std::string_view field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(field) && line.size() > field.size() && line[field.size()] == ':') {
      return std::strtoll(line.c_str() + field.size() + 1, nullptr, 10);
    }
  }
  return std::nullopt;
}

// Resets VmHWM to the current RSS (Linux >= 4.0); false when not permitted.
inline bool reset_peak_rss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  return clear_refs.good();
}

// The demo's mean_generations_per_hour that yields about `events` events over
// `days` days ending at `end_us`, from a small pilot run (a generation makes
// about three events; cancellations make fewer). Within about 6%: the demo's
// daily and hourly noise does not scale away.
inline double demo_rate_for_events(int64_t events, int days, int64_t end_us) {
  constexpr double kPilotRate = 20;
  DemoOptions pilot;
  pilot.days = days;
  pilot.end_us = end_us;
  pilot.mean_generations_per_hour = kPilotRate;
  int64_t pilot_events = 0;
  generate_demo_traffic(pilot, 50'000, [&](std::vector<GenerationEvent>&& batch) {
    pilot_events += static_cast<int64_t>(batch.size());
  });
  return kPilotRate * static_cast<double>(events) /
         static_cast<double>(std::max<int64_t>(pilot_events, 1));
}

// Exactly `count` demo events: 30 days of traffic ending now, cut at
// `count`. Throws std::runtime_error when the demo made fewer.
inline std::vector<GenerationEvent> demo_events(int64_t count) {
  DemoOptions options;
  options.days = 30;
  options.end_us = now_us();
  options.mean_generations_per_hour =
      1.15 * demo_rate_for_events(count, options.days, options.end_us);
  std::vector<GenerationEvent> events;
  events.reserve(static_cast<size_t>(count));
  generate_demo_traffic(options, 50'000, [&](std::vector<GenerationEvent>&& batch) {
    for (GenerationEvent& e : batch) {
      if (static_cast<int64_t>(events.size()) < count) events.push_back(std::move(e));
    }
  });
  if (static_cast<int64_t>(events.size()) < count) {
    throw std::runtime_error("the demo made only " + std::to_string(events.size()) + " events");
  }
  return events;
}

}  // namespace genalytics::bench
