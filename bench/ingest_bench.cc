// One program on purpose (over 400 lines): the figure and its comparisons
// are measured in the same run, so the setup they share lives here.
//
// ingest_bench: ingest over HTTP (NDJSON, durable ack) beside the raw SQLite
// prepared-insert rate of the same rows into the same schema, plus the
// decode-only rate; then an ingest flood against a small queue, showing the
// 503s with Retry-After and the peak RSS. See bench/README.md.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <CLI/CLI.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <malloc.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <latch>
#include <limits>
#include <mutex>
#include <thread>

#include "event/generation_decoder.h"
#include "event/time.h"
#include "harness.h"
#include "server/app_server.h"
#include "store/sqlite_store.h"

namespace genalytics::bench {
namespace {

using Clock = std::chrono::steady_clock;
namespace http = boost::beast::http;

constexpr const char* kIngestTarget = "/api/v1/events/generation";

// src/store/sqlite_store.cc: kInsertEventSql, and the writer's pragmas.
constexpr const char* kInsertEventSql =
    "INSERT OR IGNORE INTO generation_events (event_type, generation_id, user_id, timestamp, "
    "generation_type, duration_ms, success, error_type, error_message, queue_wait_time_ms, "
    "generation_time_ms, model_checkpoint, image_dimensions, batch_size, prompt_tokens, "
    "created_at, event_id, costs, tokens, params, attributes, retry_count, gpu_memory_mb, "
    "queue_length) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
constexpr const char* kWriterPragmas =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-131072;"
    "PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=4096;";
constexpr size_t kRowsPerTransaction = 50'000;

struct Flags {
  int64_t events = 1'000'000;
  int runs = 3;
  int clients = 4;
  size_t body_events = 5'000;
  std::string data_dir;  // parent of the scratch stores; the system temp dir when empty
  bool flood = true;
  int flood_clients = 64;
  size_t flood_queue = 20'000;
  int64_t flood_events = 500'000;
  int retry_ms = 2;
  int flood_retry_ms = 10;
};

[[noreturn]] void fail(const std::string& message) {
  fmt::print(stderr, "ingest_bench: {}\n", message);
  std::exit(1);
}

std::vector<std::string> ndjson_bodies(const std::vector<GenerationEvent>& events,
                                       size_t per_body) {
  std::vector<std::string> bodies;
  for (size_t i = 0; i < events.size(); i += per_body) {
    std::string body;
    for (size_t j = i; j < std::min(events.size(), i + per_body); ++j) {
      body += boost::json::serialize(to_json(events[j]));
      body += '\n';
    }
    bodies.push_back(std::move(body));
  }
  return bodies;
}

struct PostResult {
  double seconds = 0;            // first send to last 200
  int64_t accepted = 0;          // sum of the 200s' "accepted"
  int64_t queue_full = 0;        // 503 queue_full answers (each retried)
  int64_t with_retry_after = 0;  // ... of which carried Retry-After
};

// Posts every body over `clients` keep-alive connections until each got 200;
// a 503 queue_full is retried after `retry_sleep`. Fails on anything else.
PostResult post_all(uint16_t port, const std::vector<std::string>& bodies, int clients,
                    std::chrono::milliseconds retry_sleep) {
  std::atomic<size_t> next{0};
  std::atomic<int64_t> accepted{0}, queue_full{0}, with_retry_after{0};
  std::mutex error_mutex;
  std::string error;  // GUARDED_BY(error_mutex): the first failure
  std::latch connected(clients);
  std::latch go(1);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      bool counted = false;
      try {
        KeepAliveClient client(port);
        connected.count_down();
        counted = true;
        go.wait();
        for (size_t i = next++; i < bodies.size(); i = next++) {
          for (;;) {
            HttpReply reply =
                client.send(http::verb::post, kIngestTarget, bodies[i], "application/x-ndjson");
            if (reply.status == 200) {
              accepted += boost::json::parse(reply.body).at("accepted").to_number<int64_t>();
              break;
            }
            if (reply.status == 503 && reply.body.find("\"queue_full\"") != std::string::npos) {
              ++queue_full;
              if (reply.retry_after) ++with_retry_after;
              std::this_thread::sleep_for(retry_sleep);
              continue;
            }
            throw std::runtime_error(
                fmt::format("unexpected answer {}: {}", reply.status, reply.body));
          }
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(error_mutex);
        if (error.empty()) error = e.what();
        next = bodies.size();
        if (!counted) connected.count_down();
      }
    });
  }
  connected.wait();
  const auto started = Clock::now();
  go.count_down();
  for (std::thread& t : threads) t.join();
  PostResult result;
  result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (!error.empty()) fail("HTTP ingest: " + error);
  result.accepted = accepted;
  result.queue_full = queue_full;
  result.with_retry_after = with_retry_after;
  return result;
}

// Polls the server's queued_events (GET /health) every few milliseconds on
// a connection of its own, keeping the largest value seen, until destroyed.
class QueueSampler {
 public:
  explicit QueueSampler(uint16_t port) : thread_([this, port] { run(port); }) {}
  ~QueueSampler() {
    stopping_ = true;
    thread_.join();
  }
  QueueSampler(const QueueSampler&) = delete;
  QueueSampler& operator=(const QueueSampler&) = delete;
  int64_t max_queued() const { return max_queued_; }

 private:
  void run(uint16_t port) {
    KeepAliveClient client(port);
    while (!stopping_) {
      HttpReply reply = client.get("/health");
      if (reply.status == 200) {
        const int64_t queued =
            boost::json::parse(reply.body).at("queued_events").to_number<int64_t>();
        max_queued_ = std::max<int64_t>(max_queued_, queued);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> max_queued_{0};
  std::thread thread_;
};

struct HttpIngestRun {
  PostResult posted;
  int64_t max_queued = 0;   // the largest queue seen, when sampled
  int64_t peak_rss_kb = 0;  // VmHWM when the last body was acknowledged
  int64_t stored = 0;
};

int64_t vm_hwm_kb() { return proc_status_kb("VmHWM").value_or(0); }

HttpIngestRun http_ingest(const Flags& flags, const std::vector<std::string>& bodies, int clients,
                          size_t max_queued_events, std::chrono::milliseconds retry_sleep,
                          bool sample_queue) {
  ScratchDir dir(flags.data_dir);
  AppServerOptions options;
  options.data_dir = dir.path();
  options.http.port = 0;
  options.writer.max_queued_events = max_queued_events;
  AppServer server(options);
  HttpIngestRun run;
  {
    std::optional<QueueSampler> sampler;
    if (sample_queue) sampler.emplace(server.port());
    run.posted = post_all(server.port(), bodies, clients, retry_sleep);
    run.peak_rss_kb = vm_hwm_kb();
    if (sampler) run.max_queued = sampler->max_queued();
  }
  run.stored = server.store().count_generation_events();
  server.stop();
  return run;
}

void check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    fail(fmt::format("raw SQLite {}: {}", what, sqlite3_errmsg(db)));
  }
}

void bind_text(sqlite3_stmt* s, int i, const std::optional<std::string>& v) {
  if (v) {
    sqlite3_bind_text(s, i, v->data(), static_cast<int>(v->size()), SQLITE_STATIC);
  } else {
    sqlite3_bind_null(s, i);
  }
}

void bind_int(sqlite3_stmt* s, int i, const std::optional<int64_t>& v) {
  if (v) {
    sqlite3_bind_int64(s, i, *v);
  } else {
    sqlite3_bind_null(s, i);
  }
}

// Inserts `events` with one prepared INSERT into a fresh store's schema, in
// transactions of kRowsPerTransaction rows; returns seconds spent inserting.
double raw_insert(const Flags& flags, const std::vector<GenerationEvent>& events) {
  ScratchDir dir(flags.data_dir);
  std::string path;
  {
    SqliteStore schema(dir.path());
    path = schema.path();
  }
  SqliteHandle handle = open_sqlite(path, SQLITE_OPEN_READWRITE);
  sqlite3* db = handle.get();
  check(db, sqlite3_exec(db, kWriterPragmas, nullptr, nullptr, nullptr), "pragmas");
  SqliteStmt statement = prepare_sqlite(db, kInsertEventSql);
  sqlite3_stmt* insert = statement.get();

  const auto started = Clock::now();
  std::string now_text;
  for (size_t i = 0; i < events.size(); ++i) {
    if (i % kRowsPerTransaction == 0) {
      check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), "begin");
      now_text = format_rfc3339_micros(now_us());
    }
    const GenerationEvent& e = events[i];
    const std::string_view type = to_string(e.event_type);
    const std::string timestamp = format_rfc3339_micros(e.timestamp_us);
    sqlite3_bind_text(insert, 1, type.data(), static_cast<int>(type.size()), SQLITE_STATIC);
    sqlite3_bind_text(insert, 2, e.generation_id.data(), static_cast<int>(e.generation_id.size()),
                      SQLITE_STATIC);
    bind_text(insert, 3, e.user_id);
    sqlite3_bind_text(insert, 4, timestamp.data(), static_cast<int>(timestamp.size()),
                      SQLITE_STATIC);
    bind_text(insert, 5, e.generation_type);
    bind_int(insert, 6, e.duration_ms);
    bind_int(insert, 7, e.success ? std::optional<int64_t>(*e.success ? 1 : 0) : std::nullopt);
    bind_text(insert, 8, e.error_type);
    bind_text(insert, 9, e.error_message);
    bind_int(insert, 10, e.queue_wait_time_ms);
    bind_int(insert, 11, e.generation_time_ms);
    bind_text(insert, 12, e.model_checkpoint);
    bind_text(insert, 13, e.image_dimensions_json);
    bind_int(insert, 14, e.batch_size);
    bind_int(insert, 15, e.prompt_tokens);
    sqlite3_bind_text(insert, 16, now_text.data(), static_cast<int>(now_text.size()),
                      SQLITE_STATIC);
    sqlite3_bind_text(insert, 17, e.event_id.data(), static_cast<int>(e.event_id.size()),
                      SQLITE_STATIC);
    bind_text(insert, 18, e.costs_json);
    bind_text(insert, 19, e.tokens_json);
    bind_text(insert, 20, e.params_json);
    bind_text(insert, 21, e.attributes_json);
    bind_int(insert, 22, e.retry_count);
    bind_int(insert, 23, e.gpu_memory_mb);
    bind_int(insert, 24, e.queue_length);
    check(db, sqlite3_step(insert), "insert");
    sqlite3_reset(insert);
    if ((i + 1) % kRowsPerTransaction == 0 || i + 1 == events.size()) {
      check(db, sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), "commit");
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  SqliteStmt count = prepare_sqlite(db, "SELECT COUNT(*) FROM generation_events");
  check(db, sqlite3_step(count.get()), "count");
  const int64_t stored = sqlite3_column_int64(count.get(), 0);
  if (stored != static_cast<int64_t>(events.size())) {
    fail(fmt::format("raw SQLite stored {} of {} rows", stored, events.size()));
  }
  return seconds;
}

// Decodes every body on this thread; returns seconds.
double decode_only(const std::vector<std::string>& bodies, int64_t expected_events) {
  const DecodeLimits limits;
  int64_t decoded = 0;
  const auto started = Clock::now();
  for (const std::string& body : bodies) {
    DecodedBatch batch = decode_generation_body(body, /*ndjson=*/true, now_us(), limits);
    if (!batch.rejected.empty()) fail("the decoder rejected a demo event");
    decoded += static_cast<int64_t>(batch.events.size());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  if (decoded != expected_events)
    fail(fmt::format("decoded {} of {} events", decoded, expected_events));
  return seconds;
}

std::string mb(int64_t kb) { return fmt::format("{} MB", with_commas((kb + 512) / 1024)); }

// One flood against a queue of `max_queued_events`; prints its line.
void flood_once(const Flags& flags, const std::vector<std::string>& bodies, int64_t events,
                size_t max_queued_events, const std::string& label) {
  malloc_trim(0);  // what earlier phases freed should not count as this one's
  const bool reset = reset_peak_rss();
  const int64_t before = vm_hwm_kb();
  HttpIngestRun run =
      http_ingest(flags, bodies, flags.flood_clients, max_queued_events,
                  std::chrono::milliseconds(flags.flood_retry_ms), /*sample_queue=*/true);
  const int64_t after = run.peak_rss_kb;
  if (run.stored != events || run.posted.accepted != events) {
    fail(fmt::format("flood stored {} and acknowledged {} of {} events", run.stored,
                     run.posted.accepted, events));
  }
  fmt::print(
      "  {}: {} answers 503 queue_full, {} of them with Retry-After; all {} events stored "
      "({} events/s)\n",
      label, with_commas(run.posted.queue_full), with_commas(run.posted.with_retry_after),
      with_commas(events),
      with_commas(static_cast<int64_t>(static_cast<double>(events) / run.posted.seconds)));
  fmt::print(
      "    queue at most {} events (GET /health every 2 ms); peak RSS (VmHWM) {} before, {} after: "
      "+{}{}\n",
      with_commas(run.max_queued), mb(before), mb(after), mb(after - before),
      reset ? "" : " (VmHWM could not be reset: peak of the whole process)");
}

void flood(const Flags& flags, const std::vector<GenerationEvent>& all_events) {
  const int64_t events =
      std::min<int64_t>(flags.flood_events, static_cast<int64_t>(all_events.size()));
  const std::vector<GenerationEvent> subset(all_events.begin(), all_events.begin() + events);
  const std::vector<std::string> bodies = ndjson_bodies(subset, flags.body_events);
  fmt::print(
      "\nMemory stays bounded under an ingest flood: a full queue answers 503 with Retry-After\n");
  fmt::print("  {} clients, {} bodies of {} events, a 503 retried after {} ms\n",
             flags.flood_clients, bodies.size(), flags.body_events, flags.flood_retry_ms);
  flood_once(
      flags, bodies, events, flags.flood_queue,
      fmt::format("max_queued_events {}", with_commas(static_cast<int64_t>(flags.flood_queue))));
  // The comparison: a queue that never fills, so it holds whatever the clients send.
  flood_once(flags, bodies, events, std::numeric_limits<size_t>::max(),
             "no queue limit (comparison)");
}

int run(const Flags& flags) {
  fmt::print(
      "ingest_bench: {} events, {} runs, {} HTTP clients, {} events per body, {} hardware "
      "threads\n",
      with_commas(flags.events), flags.runs, flags.clients, flags.body_events,
      std::thread::hardware_concurrency());
  const auto prepare_started = Clock::now();
  const std::vector<GenerationEvent> events = demo_events(flags.events);
  const std::vector<std::string> bodies = ndjson_bodies(events, flags.body_events);
  size_t body_bytes = 0;
  for (const std::string& b : bodies) body_bytes += b.size();
  fmt::print("prepared {} NDJSON bodies ({} MB) in {:.1f} s\n", bodies.size(),
             with_commas(static_cast<int64_t>(body_bytes >> 20)),
             std::chrono::duration<double>(Clock::now() - prepare_started).count());

  const double n = static_cast<double>(flags.events);
  std::vector<double> http_rates, raw_rates, decode_rates;
  int64_t queue_full = 0;
  for (int r = 1; r <= flags.runs; ++r) {
    HttpIngestRun http_run =
        http_ingest(flags, bodies, flags.clients, BatchWriter::Options{}.max_queued_events,
                    std::chrono::milliseconds(flags.retry_ms), /*sample_queue=*/false);
    if (http_run.stored != flags.events || http_run.posted.accepted != flags.events) {
      fail(fmt::format("HTTP ingest stored {} and acknowledged {} of {} events", http_run.stored,
                       http_run.posted.accepted, flags.events));
    }
    queue_full += http_run.posted.queue_full;
    http_rates.push_back(n / http_run.posted.seconds);
    raw_rates.push_back(n / raw_insert(flags, events));
    decode_rates.push_back(n / decode_only(bodies, flags.events));
    fmt::print("  run {}: HTTP {} events/s, raw SQLite {} rows/s, decode {} events/s\n", r,
               with_commas(static_cast<int64_t>(http_rates.back())),
               with_commas(static_cast<int64_t>(raw_rates.back())),
               with_commas(static_cast<int64_t>(decode_rates.back())));
    std::fflush(stdout);
  }
  const double http_rate = median(http_rates);
  const double raw_rate = median(raw_rates);
  const double ratio = http_rate / raw_rate;
  fmt::print(
      "\nIngest over HTTP NDJSON with durable ack, beside the raw SQLite prepared-insert rate\n");
  fmt::print(
      "  ingest over HTTP (NDJSON, durable ack): {} events/s (median of {}; {} retried 503s)\n",
      with_commas(static_cast<int64_t>(http_rate)), flags.runs, with_commas(queue_full));
  fmt::print("  raw SQLite prepared insert, same rows/schema: {} rows/s (median of {})\n",
             with_commas(static_cast<int64_t>(raw_rate)), flags.runs);
  fmt::print("  ratio: {:.3f}x (goal >= 0.5x: {}); aim 200,000 events/s: {}\n", ratio,
             ratio >= 0.5 ? "met" : "MISSED", http_rate >= 200'000 ? "met" : "not reached");
  fmt::print("  decode only (decode_generation_body, 1 thread): {} events/s (median of {})\n",
             with_commas(static_cast<int64_t>(median(decode_rates))), flags.runs);
  fmt::print("  peak RSS so far (VmHWM): {}\n", mb(vm_hwm_kb()));
  std::fflush(stdout);

  if (flags.flood) flood(flags, events);
  return 0;
}

}  // namespace
}  // namespace genalytics::bench

int main(int argc, char** argv) {
  genalytics::bench::Flags flags;
  CLI::App app{"ingest_bench: HTTP NDJSON ingest beside raw SQLite inserts, and an ingest flood"};
  app.add_option("--events", flags.events, "events to ingest per run")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  app.add_option("--runs", flags.runs, "repetitions; medians are printed")
      ->check(CLI::Range(1, 100));
  app.add_option("--clients", flags.clients, "concurrent keep-alive HTTP connections")
      ->check(CLI::Range(1, 256));
  app.add_option("--body-events", flags.body_events, "events per NDJSON body")
      ->check(CLI::Range(1, 1'000'000));
  app.add_option("--data-dir", flags.data_dir,
                 "where the scratch stores go (default: the system temp dir)");
  app.add_option("--retry-ms", flags.retry_ms, "sleep before retrying a 503")
      ->check(CLI::Range(0, 10'000));
  app.add_flag("!--no-flood", flags.flood, "skip the flood section");
  app.add_option("--flood-clients", flags.flood_clients, "connections in the flood")
      ->check(CLI::Range(1, 500));
  app.add_option("--flood-queue", flags.flood_queue, "max_queued_events in the flood")
      ->check(CLI::Range(1, 100'000'000));
  app.add_option("--flood-events", flags.flood_events, "events posted in each flood")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  app.add_option("--flood-retry-ms", flags.flood_retry_ms,
                 "sleep before retrying a 503 in the flood")
      ->check(CLI::Range(0, 10'000));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  try {
    return genalytics::bench::run(flags);
  } catch (const std::exception& e) {
    genalytics::bench::fail(e.what());
  }
}
