// One program on purpose (over 400 lines): the API's answers and the raw
// SQL cross-check of every figure share the loader and the store.
//
// query_bench: the 30-day overview, models and trends over a store of 10M
// events, timed over HTTP (p50/p99/max), each beside the time of computing the
// same answer from the raw generation_events table with SQL, with a cross-check
// of the answers. See bench/README.md.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <CLI/CLI.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "event/time.h"
#include "harness.h"
#include "server/app_server.h"
#include "sketch/hyperloglog.h"
#include "store/sqlite_store.h"

namespace genalytics::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kDays = 30;
constexpr size_t kLoadBatch = 50'000;  // events per BatchWriter::write
constexpr double kP99GoalMs = 10;
// DDSketch's relative accuracy, plus the API's rounding to whole milliseconds.
constexpr double kQuantileTolerance = 0.01;

struct Flags {
  int64_t events = 10'000'000;
  std::string data_dir;  // kept and reused when given; a scratch dir otherwise
  std::string scratch_parent;
  int iterations = 200;
  int warmups = 10;
  int64_t rollup_cache_mb = 256;
  int raw_runs = 3;
};

[[noreturn]] void fail(const std::string& message) {
  fmt::print(stderr, "query_bench: {}\n", message);
  std::exit(1);
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// ---- Loading ----

// A store holding this share of --events is reused.
constexpr double kReuseShare = 0.9;

// Fills an empty store with ~`events` demo events (30 days ending now);
// reuses a store that already holds about that many. Returns the count.
int64_t populate(const std::string& dir, int64_t events) {
  SqliteStore store(dir);
  const int64_t stored = store.count_generation_events();
  if (static_cast<double>(stored) >= kReuseShare * static_cast<double>(events)) {
    fmt::print("reusing {}: {} events\n", store.path(), with_commas(stored));
    return stored;
  }
  if (stored > 0) {
    fail(fmt::format(
        "{} holds {} events, too few for --events {}: remove it or pass another --data-dir",
        store.path(), stored, events));
  }
  // The demo's volume for a given rate varies by several percent, so: make a
  // little more traffic than needed, count it, and keep each generation (all
  // its events or none) with the probability that leaves ~`events`.
  DemoOptions options;
  options.days = kDays;
  options.end_us = now_us();
  options.mean_generations_per_hour = 1.1 * demo_rate_for_events(events, kDays, options.end_us);
  int64_t generated = 0;
  generate_demo_traffic(options, 50'000, [&](std::vector<GenerationEvent>&& batch) {
    generated += static_cast<int64_t>(batch.size());
  });
  const double keep = std::min(1.0, static_cast<double>(events) / static_cast<double>(generated));
  const auto kept = [threshold = keep * 0x1p64](const GenerationEvent& e) {
    return static_cast<double>(hash64(e.generation_id)) < threshold;
  };
  fmt::print(
      "loading ~{} demo events ({} days ending now; {:.1f}% of the generations of {:.0f}/hour) "
      "into {}\n",
      with_commas(events), kDays, 100 * keep, options.mean_generations_per_hour, store.path());
  std::fflush(stdout);

  BatchWriter writer(&store, BatchWriter::Options{});
  const auto started = Clock::now();
  int64_t loaded = 0;
  int64_t reported = 0;
  std::vector<GenerationEvent> pending;
  const auto write_pending = [&] {
    WriteResult result = writer.write(std::move(pending));
    pending.clear();
    if (!result.ok) fail("loading: " + result.error);
    loaded += static_cast<int64_t>(result.accepted);
    if (loaded - reported >= 1'000'000) {
      reported = loaded;
      fmt::print(stderr, "  {} events loaded, {:.0f} s\n", with_commas(loaded),
                 ms_since(started) / 1000);
    }
  };
  generate_demo_traffic(options, 50'000, [&](std::vector<GenerationEvent>&& batch) {
    for (GenerationEvent& e : batch) {
      if (kept(e)) pending.push_back(std::move(e));
    }
    if (pending.size() >= kLoadBatch) write_pending();
  });
  if (!pending.empty()) write_pending();
  writer.shutdown();
  fmt::print(
      "loaded {} events in {:.0f} s ({} events/s through BatchWriter::write)\n",
      with_commas(loaded), ms_since(started) / 1000,
      with_commas(static_cast<int64_t>(static_cast<double>(loaded) * 1000 / ms_since(started))));
  return loaded;
}

// ---- The API side ----

struct Latency {
  double first = 0;  // the first request, before any warm-up
  double p50 = 0, p99 = 0, max = 0;
  boost::json::object answer;  // the last one
};

Latency time_endpoint(KeepAliveClient& client, const std::string& target, const Flags& flags) {
  std::vector<double> ms;
  double first = 0;
  HttpReply reply;
  for (int i = 0; i < flags.warmups + flags.iterations; ++i) {
    const auto started = Clock::now();
    reply = client.get(target);
    const double elapsed = ms_since(started);
    if (reply.status != 200) fail(fmt::format("GET {}: {} {}", target, reply.status, reply.body));
    if (i >= flags.warmups) ms.push_back(elapsed);
    if (i == 0) first = elapsed;
  }
  Latency latency;
  latency.first = first;
  latency.p50 = percentile(ms, 0.50);
  latency.p99 = percentile(ms, 0.99);
  latency.max = ms.back();  // sorted by percentile()
  latency.answer = boost::json::parse(reply.body).as_object();
  return latency;
}

// ---- The raw-table side ----

void bind_window(sqlite3_stmt* stmt, const std::string& start, const std::string& end) {
  sqlite3_bind_text(stmt, 1, start.data(), static_cast<int>(start.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 2, end.data(), static_cast<int>(end.size()), SQLITE_TRANSIENT);
}

// The measures of one group of raw events, computed exactly.
struct RawGroup {
  int64_t requests = 0, successes = 0, failures = 0, cancellations = 0, images = 0;
  int64_t users = 0;  // COUNT(DISTINCT user_id), when asked for
  double avg_duration_ms = 0, avg_queue_wait_ms = 0, avg_generation_time_ms = 0;
  std::optional<double> p50, p95, p99;
};

// What an endpoint groups by, as an SQL expression over generation_events.
struct Grouping {
  std::string expression;  // "''" for one group
  std::string filter;      // extra WHERE condition, or ""
  bool distinct_users;     // the endpoint reports unique_users
};

// Computes every group's measures from the raw rows in [start, end): one
// aggregate query and one ordered scan of the durations for exact percentiles
// (SQLite has no PERCENTILE_CONT), ranks floor(q * (n - 1)) as DDSketch.
std::map<std::string, RawGroup> raw_answer(sqlite3* db, const Grouping& g, const std::string& start,
                                           const std::string& end) {
  const std::string where =
      "timestamp >= ?1 AND timestamp < ?2" + (g.filter.empty() ? "" : " AND " + g.filter);
  SqliteStmt aggregate = prepare_sqlite(
      db, fmt::format("SELECT {0}, SUM(event_type = 'request'), "
                      "SUM(event_type = 'completion' AND success = 1), "
                      "SUM(event_type = 'completion' AND COALESCE(success, 0) = 0), "
                      "SUM(event_type = 'cancellation'), "
                      "SUM(CASE WHEN event_type = 'completion' AND success = 1 THEN "
                      "COALESCE(batch_size, 1) END), "
                      "AVG(CASE WHEN event_type = 'completion' THEN duration_ms END), "
                      "AVG(CASE WHEN event_type = 'completion' THEN queue_wait_time_ms END), "
                      "AVG(CASE WHEN event_type = 'completion' THEN generation_time_ms END), "
                      "{1} FROM generation_events WHERE {2} GROUP BY 1",
                      g.expression, g.distinct_users ? "COUNT(DISTINCT user_id)" : "0", where));
  bind_window(aggregate.get(), start, end);
  std::map<std::string, RawGroup> groups;
  while (sqlite3_step(aggregate.get()) == SQLITE_ROW) {
    sqlite3_stmt* s = aggregate.get();
    RawGroup& r = groups[reinterpret_cast<const char*>(sqlite3_column_text(s, 0))];
    r.requests = sqlite3_column_int64(s, 1);
    r.successes = sqlite3_column_int64(s, 2);
    r.failures = sqlite3_column_int64(s, 3);
    r.cancellations = sqlite3_column_int64(s, 4);
    r.images = sqlite3_column_int64(s, 5);
    r.avg_duration_ms = sqlite3_column_double(s, 6);
    r.avg_queue_wait_ms = sqlite3_column_double(s, 7);
    r.avg_generation_time_ms = sqlite3_column_double(s, 8);
    r.users = sqlite3_column_int64(s, 9);
  }

  SqliteStmt durations = prepare_sqlite(
      db,
      fmt::format(
          "SELECT {0}, duration_ms FROM generation_events WHERE {1} AND event_type = 'completion' "
          "AND duration_ms IS NOT NULL ORDER BY 1, 2",
          g.expression, where));
  bind_window(durations.get(), start, end);
  std::string current;
  std::vector<double> values;
  auto finish_group = [&] {
    if (values.empty()) return;
    auto rank = [&](double q) {
      return values[static_cast<size_t>(std::floor(q * static_cast<double>(values.size() - 1)))];
    };
    RawGroup& r = groups[current];
    r.p50 = rank(0.50);
    r.p95 = rank(0.95);
    r.p99 = rank(0.99);
    values.clear();
  };
  while (sqlite3_step(durations.get()) == SQLITE_ROW) {
    const char* group = reinterpret_cast<const char*>(sqlite3_column_text(durations.get(), 0));
    if (current != group) {
      finish_group();
      current = group;
    }
    values.push_back(static_cast<double>(sqlite3_column_int64(durations.get(), 1)));
  }
  finish_group();
  return groups;
}

// ---- Comparing answers ----

class CrossCheck {
 public:
  void equal(const std::string& what, int64_t api, int64_t raw) {
    ++checks_;
    if (api != raw) problem(fmt::format("{}: API {} != raw {}", what, api, raw));
  }
  void quantile(const std::string& what, const boost::json::value& api,
                const std::optional<double>& raw) {
    ++checks_;
    if (!raw || api.is_null()) {
      if (raw.has_value() != !api.is_null()) problem(what + ": present on one side only");
      return;
    }
    const double value = api.to_number<double>();
    const double error = std::abs(value - *raw) / *raw;
    worst_ = std::max(worst_, error);
    if (std::abs(value - *raw) > kQuantileTolerance * *raw + 0.5) {
      problem(fmt::format("{}: API {} vs exact {} ({:.2f}% off)", what, value, *raw, 100 * error));
    }
  }
  bool ok() const { return problems_.empty(); }
  int checks() const { return checks_; }
  double worst_quantile_error() const { return worst_; }
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  void problem(std::string text) {
    if (problems_.size() < 20)
      problems_.push_back(std::move(text));
    else if (problems_.size() == 20)
      problems_.push_back("...");
  }
  int checks_ = 0;
  double worst_ = 0;
  std::vector<std::string> problems_;
};

int64_t field(const boost::json::object& o, std::string_view key) {
  return o.at(key).to_number<int64_t>();
}

// Compares one API object (overview fields) with its raw group.
void compare(CrossCheck& check, const std::string& where, const boost::json::object& api,
             const RawGroup& raw) {
  check.equal(where + " total_requests", field(api, "total_requests"), raw.requests);
  check.equal(where + " successful_generations", field(api, "successful_generations"),
              raw.successes);
  check.equal(where + " failed_generations", field(api, "failed_generations"), raw.failures);
  check.equal(where + " cancelled_generations", field(api, "cancelled_generations"),
              raw.cancellations);
  check.quantile(where + " p50_duration_ms", api.at("p50_duration_ms"), raw.p50);
  check.quantile(where + " p95_duration_ms", api.at("p95_duration_ms"), raw.p95);
  check.quantile(where + " p99_duration_ms", api.at("p99_duration_ms"), raw.p99);
}

void compare_answers(CrossCheck& check, const std::string& name, const boost::json::object& api,
                     const std::map<std::string, RawGroup>& raw) {
  static const RawGroup kEmpty;
  auto raw_group = [&](const std::string& key) -> const RawGroup& {
    auto it = raw.find(key);
    return it == raw.end() ? kEmpty : it->second;
  };
  if (name == "overview") {
    compare(check, "overview", api, raw_group(""));
  } else if (name == "models") {
    const auto& models = api.at("models").as_array();
    check.equal("models count", static_cast<int64_t>(models.size()),
                static_cast<int64_t>(raw.size()));
    for (const auto& m : models) {
      const std::string model(m.at("model_checkpoint").as_string());
      compare(check, "models[" + model + "]", m.as_object(), raw_group(model));
    }
  } else {  // trends: buckets keyed by the timestamp's first 13 (hourly) or 10 (daily) characters
    const size_t key_length = api.at("interval").as_string() == "hourly" ? 13 : 10;
    for (const auto& point : api.at("data_points").as_array()) {
      const std::string key(
          std::string_view(point.at("timestamp").as_string()).substr(0, key_length));
      compare(check, "trends[" + key + "]", point.as_object(), raw_group(key));
    }
  }
}

struct Endpoint {
  std::string name;   // analytics endpoint
  std::string query;  // its query string
  Grouping grouping;  // the same answer from the raw table
};

int run(const Flags& flags) {
  fmt::print(
      "query_bench: {} events, {} iterations after {} warm-ups, {} raw runs, {} hardware threads\n",
      with_commas(flags.events), flags.iterations, flags.warmups, flags.raw_runs,
      std::thread::hardware_concurrency());
  std::optional<ScratchDir> scratch;
  std::string dir = flags.data_dir;
  if (dir.empty()) {
    scratch.emplace(flags.scratch_parent);
    dir = scratch->path();
  }
  const int64_t stored = populate(dir, flags.events);
  std::error_code ignored;
  const auto db_bytes =
      std::filesystem::file_size(std::filesystem::path(dir) / "genalytics.db", ignored);
  fmt::print("store: {} events, {} MB database file\n", with_commas(stored),
             with_commas(static_cast<int64_t>(db_bytes >> 20)));

  AppServerOptions options;
  options.data_dir = dir;
  options.http.port = 0;
  options.rollup_cache_bytes = static_cast<size_t>(flags.rollup_cache_mb) << 20;
  AppServer server(options);

  SqliteHandle db =
      open_sqlite((std::filesystem::path(dir) / "genalytics.db").string(), SQLITE_OPEN_READONLY);
  // The store's reader pragmas, and sorts in memory.
  sqlite3_exec(db.get(),
               "PRAGMA mmap_size=1073741824; PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
               nullptr, nullptr, nullptr);

  const std::vector<Endpoint> endpoints = {
      {"overview", "days=30", {"''", "", true}},
      {"models", "days=30", {"model_checkpoint", "model_checkpoint IS NOT NULL", false}},
      {"trends", "days=30&interval=hourly", {"substr(timestamp, 1, 13)", "", true}},
      {"trends", "days=30&interval=daily", {"substr(timestamp, 1, 10)", "", true}},
  };
  fmt::print(
      "\n30-day overview, models and trends over {} stored events: API over HTTP (keep-alive) "
      "beside the same answer from the raw table\n",
      with_commas(stored));
  CrossCheck check;
  bool goals_met = true;
  for (const Endpoint& e : endpoints) {
    const std::string label = e.name + "?" + e.query;
    // A connection of its own: the raw side below takes longer than the server's idle timeout.
    KeepAliveClient client(server.port());
    const Latency api = time_endpoint(client, "/api/v1/analytics/generation/" + label, flags);
    const boost::json::object& window = api.answer.at("window").as_object();
    const std::string start = format_rfc3339_micros(*parse_rfc3339(window.at("start").as_string()));
    const std::string end = format_rfc3339_micros(*parse_rfc3339(window.at("end").as_string()));
    std::vector<double> raw_ms;
    std::map<std::string, RawGroup> raw;
    for (int r = 0; r < flags.raw_runs; ++r) {
      const auto started = Clock::now();
      raw = raw_answer(db.get(), e.grouping, start, end);
      raw_ms.push_back(ms_since(started));
    }
    const double raw_median = median(raw_ms);
    const bool met = api.p99 < kP99GoalMs;
    goals_met = goals_met && met;
    fmt::print(
        "  {}: p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms (goal p99 < {:.0f} ms: {}), first "
        "request {:.1f} ms; raw table: {} ms ({}x the p50)\n",
        label, api.p50, api.p99, api.max, kP99GoalMs, met ? "met" : "MISSED", api.first,
        with_commas(std::llround(raw_median)), with_commas(std::llround(raw_median / api.p50)));
    std::fflush(stdout);
    compare_answers(check, e.name, api.answer, raw);
    if (e.name == "overview") {
      const RawGroup& all = raw[""];
      fmt::print(
          "    cross-check: total_requests {} / {}, successful {} / {}, failed {} / {} (API / "
          "raw); "
          "p95 {} / {} ms; unique_users {} / {} (HLL / exact)\n",
          field(api.answer, "total_requests"), all.requests,
          field(api.answer, "successful_generations"), all.successes,
          field(api.answer, "failed_generations"), all.failures,
          boost::json::serialize(api.answer.at("p95_duration_ms")), all.p95.value_or(-1),
          field(api.answer, "unique_users"), all.users);
    }
  }
  fmt::print(
      "  cross-check of every count and percentile above (counts equal, p50/p95/p99 within 1% + "
      "0.5 ms): "
      "{} checks, worst percentile error {:.3f}%: {}\n",
      check.checks(), 100 * check.worst_quantile_error(), check.ok() ? "ok" : "FAILED");
  for (const std::string& p : check.problems()) fmt::print("    {}\n", p);
  if (const auto* sqlite = dynamic_cast<const SqliteStore*>(&server.store())) {
    const RollupCache::Stats cache = sqlite->rollup_cache_stats();
    fmt::print(
        "  rollup cache ({} MB allowed; --rollup-cache-mb 0 measures without it): {} entries, "
        "{:.1f} MB, {} hours read from memory, {} from SQLite\n",
        flags.rollup_cache_mb, cache.entries, static_cast<double>(cache.bytes) / (1 << 20),
        with_commas(static_cast<int64_t>(cache.hits)),
        with_commas(static_cast<int64_t>(cache.misses)));
  }
  server.stop();
  if (!goals_met) fmt::print("  (a p99 goal was missed; see the figures above)\n");
  return check.ok() ? 0 : 1;
}

}  // namespace
}  // namespace genalytics::bench

int main(int argc, char** argv) {
  genalytics::bench::Flags flags;
  CLI::App app{"query_bench: analytics API latency beside the same answers from the raw table"};
  app.add_option("--events", flags.events, "events in the store (default 10M)")
      ->check(CLI::Range(int64_t{1'000}, int64_t{1'000'000'000}));
  app.add_option(
      "--data-dir", flags.data_dir,
      "store to use and keep: loaded when empty, reused when it holds >= 90% of --events");
  app.add_option("--scratch-dir", flags.scratch_parent,
                 "where the scratch store goes without --data-dir (default: the system temp dir)");
  app.add_option("--iterations", flags.iterations, "timed requests per endpoint")
      ->check(CLI::Range(1, 100'000));
  app.add_option("--rollup-cache-mb", flags.rollup_cache_mb,
                 "the server's rollup cache (storage.rollup_cache_mb); 0 turns it off")
      ->capture_default_str();
  app.add_option("--warmups", flags.warmups, "untimed requests first")
      ->check(CLI::Range(0, 100'000));
  app.add_option("--raw-runs,--runs", flags.raw_runs, "raw SQL repetitions; the median is printed")
      ->check(CLI::Range(1, 100));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  try {
    return genalytics::bench::run(flags);
  } catch (const std::exception& e) {
    genalytics::bench::fail(e.what());
  }
}
