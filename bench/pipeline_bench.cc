// One program on purpose (over 400 lines): each figure and its comparison
// (COPY, plain XADD) run against the same servers in the same run.
//
// pipeline_bench: the production engine on a real redis-server and
// PostgreSQL 15 (started in temporary directories, as the tests do).
// 1. Redis stream -> PostgreSQL with exactly-once (StreamWorker into
//    PostgresStore), beside a plain COPY of the same rows into the same table.
// 2. The PostgreSQL-backed API's models and overview answers, beside the
//    seed's raw SQL (PERCENTILE_CONT over generation_events) on the same
//    database, with a cross-check of the counts.
// See bench/README.md.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <boost/json/parse.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "event/time.h"
#include "harness.h"
#include "pipeline/redis_client.h"
#include "pipeline/stream_ingest.h"
#include "pipeline/stream_publisher.h"
#include "pipeline/stream_worker.h"
#include "server/app_server.h"
#include "store/postgres.h"
#include "store/postgres_store.h"
#include "testing/postgres_server.h"
#include "testing/redis_server.h"

namespace genalytics::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  bool pipeline = true;
  bool query = true;
  int64_t pipeline_events = 200'000;
  int64_t query_events = 2'000'000;
  int runs = 3;
  std::vector<int> workers = {1, 2};
  size_t batch_size = 5'000;  // StreamWorker's default; also the COPY baseline's chunk
  std::string appendfsync = "always";
  int load_threads = 2;
  int warmups = 5;
  int64_t rollup_cache_mb = 256;
  int iterations = 50;
};

// Thrown, not exited: unwinding stops the servers and removes their directories.
[[noreturn]] void fail(const std::string& message) { throw std::runtime_error(message); }

// The first exception thrown in any of several threads, for the thread that
// joins them to rethrow. Thread-safe.
class FirstException {
 public:
  // REQUIRES: called from a catch block.
  void capture() {
    std::lock_guard lock(mutex_);
    if (!first_) first_ = std::current_exception();
  }
  void rethrow_if_caught() const {
    std::lock_guard lock(mutex_);
    if (first_) std::rethrow_exception(first_);
  }

 private:
  mutable std::mutex mutex_;
  std::exception_ptr first_;  // GUARDED_BY(mutex_)
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// User + system CPU seconds of this process so far.
double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// User + system CPU seconds of the running processes `parent` and its children
// (/proc/<pid>/stat), e.g. a postmaster and its backends. Processes that
// exited are not counted.
double process_tree_cpu_seconds(pid_t parent) {
  double ticks = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    // After "pid (comm) ": state, ppid, ... utime and stime are fields 14 and 15.
    const size_t comm_end = stat.rfind(')');
    if (comm_end == std::string::npos) continue;
    std::istringstream fields(stat.substr(comm_end + 2));
    std::string state;
    long ppid = 0;
    fields >> state >> ppid;
    const long pid = std::strtol(entry.path().filename().c_str(), nullptr, 10);
    if (pid != parent && ppid != parent) continue;
    std::string skipped;
    for (int i = 0; i < 9; ++i) fields >> skipped;
    double utime = 0, stime = 0;
    fields >> utime >> stime;
    ticks += utime + stime;
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The postmaster's PID, from the first line of postmaster.pid.
pid_t postmaster_pid(const testing::PostgresServer& postgres) {
  std::ifstream in(postgres.data_dir() + "/postmaster.pid");
  long pid = 0;
  if (!(in >> pid)) throw std::runtime_error("cannot read postmaster.pid");
  return static_cast<pid_t>(pid);
}

// used_cpu_sys + used_cpu_user of INFO cpu: the redis-server process's CPU seconds.
double redis_cpu_seconds(RedisClient& redis) {
  const RedisReply reply = redis.command({"INFO", "cpu"});
  std::istringstream lines{std::string(reply_text(*reply))};
  double total = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("used_cpu_sys:") || line.starts_with("used_cpu_user:")) {
      total += std::strtod(line.c_str() + line.find(':') + 1, nullptr);
    }
  }
  return total;
}

// CPU seconds (or CPU-seconds per second) of this process, redis-server and
// PostgreSQL.
struct CpuSample {
  double bench = 0, redis = 0, postgres = 0;
};

std::string goal(bool met) { return met ? "met" : "NOT met"; }

// The two servers, each in a temporary directory removed at exit.
struct Servers {
  testing::RedisServer redis;
  testing::PostgresServer postgres;

  void drop_database(const std::string& name) {
    PgConnection admin(postgres.url());
    admin.exec(fmt::format("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", name));
  }
};

// ---------------------------------------------------------------------------
// 1. Redis -> PostgreSQL beside a plain COPY


// A fresh database with the store's schema and the partitions of every month
// of `events`, all tables empty: the store writes one event of each month
// (creating its partition), then the tables are emptied.
std::string create_copy_database(Servers& servers, const std::string& name,
                                 const std::vector<GenerationEvent>& events) {
  std::string url = servers.postgres.create_database(name);
  PostgresStore store(url, 1);
  std::set<std::string> months;
  std::vector<uint8_t> inserted;
  for (const GenerationEvent& e : events) {
    if (months.insert(format_date(e.timestamp_us).substr(0, 7)).second) {
      store.write(std::span(&e, 1), &inserted);
    }
  }
  PgConnection(url).exec(
      "TRUNCATE generation_events, generation_metrics_hourly, generation_dimension_hourly");
  return url;
}

// Plain COPY of the pre-built `chunks` into generation_events, one
// transaction each. Returns the seconds taken.
double copy_rows(const std::string& url, const std::vector<std::string>& chunks, int64_t expected) {
  const std::string copy_sql = fmt::format("COPY generation_events ({}) FROM STDIN", kGenerationEventCopyColumns);
  PgConnection connection(url);
  const auto started = Clock::now();
  int64_t copied = 0;
  for (const std::string& chunk : chunks) copied += connection.copy_from(copy_sql, chunk);
  const double seconds = seconds_since(started);
  if (copied != expected) fail(fmt::format("COPY stored {} rows of {}", copied, expected));
  return seconds;
}

// PostgresStore::write alone, without Redis: the same
// events in batches of `batch` into a fresh database, one thread. Returns
// the seconds taken.
double store_rows(Servers& servers, const std::string& name,
                  const std::vector<GenerationEvent>& events, size_t batch) {
  const std::string url = servers.postgres.create_database(name);
  double seconds = 0;
  {
    PostgresStore store(url, 1);
    std::vector<uint8_t> inserted;
    const auto started = Clock::now();
    for (size_t i = 0; i < events.size(); i += batch) {
      store.write(
          std::span(events).subspan(i, std::min(batch, events.size() - i)), &inserted);
    }
    seconds = seconds_since(started);
    if (store.count_generation_events() != static_cast<int64_t>(events.size())) {
      fail("the store did not store every event");
    }
  }
  servers.drop_database(name);
  return seconds;
}

struct PipelineRun {
  double publish_seconds = 0;
  double drain_seconds = 0;
  CpuSample drain_cpu;  // CPU-seconds per second while draining
};

int64_t redis_integer(RedisClient& redis, std::initializer_list<std::string_view> command) {
  RedisReply reply = redis.command(command);
  if (reply->type == REDIS_REPLY_INTEGER) return reply->integer;
  // XPENDING's summary form: [count, first id, last id, consumers].
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
      reply->element[0]->type == REDIS_REPLY_INTEGER) {
    return reply->element[0]->integer;
  }
  fail("unexpected Redis reply");
}

// Publishes `events` to a fresh stream, then times `workers` StreamWorkers,
// each with its own PostgresStore (as separate worker processes would have),
// until they have stored and acknowledged every event. Fails unless the
// store, its rollups and the stream then say exactly once.
PipelineRun pipeline_run(Servers& servers, const Flags& flags,
                         const std::vector<GenerationEvent>& events, int workers,
                         const std::string& name) {
  const int64_t expected = static_cast<int64_t>(events.size());
  const std::string url = servers.postgres.create_database(name);
  StreamPublisher::Options publisher_options;
  publisher_options.ns = name;
  StreamPublisher publisher(servers.redis.options(), publisher_options);

  // As StreamIngest publishes by default: a few threads, each XADDing up to
  // max_events_per_publish events per call on a connection of its own.
  const StreamIngest::Options ingest;
  PipelineRun run;
  FirstException publish_error;
  auto started = Clock::now();
  {
    std::atomic<size_t> next{0};
    std::vector<std::jthread> publishers;
    for (int t = 0; t < ingest.threads; ++t) {
      publishers.emplace_back([&] {
        const size_t chunk = ingest.max_events_per_publish;
        try {
          for (size_t i = next.fetch_add(chunk); i < events.size(); i = next.fetch_add(chunk)) {
            publisher.publish(std::span(events).subspan(i, std::min(chunk, events.size() - i)));
          }
        } catch (...) {
          publish_error.capture();
        }
      });
    }
  }
  run.publish_seconds = seconds_since(started);
  publish_error.rethrow_if_caught();

  std::vector<std::unique_ptr<PostgresStore>> stores;
  std::vector<std::unique_ptr<StreamWorker>> consumers;
  for (int w = 0; w < workers; ++w) {
    stores.push_back(std::make_unique<PostgresStore>(url, 2));
    StreamWorker::Options options;
    options.ns = name;
    options.consumer = fmt::format("bench-{}", w);
    options.batch_size = flags.batch_size;
    options.block_ms = 100;  // so that the workers notice the stop soon after the end
    consumers.push_back(
        std::make_unique<StreamWorker>(stores.back().get(), servers.redis.options(), options));
  }
  auto totals = [&] {
    StreamWorker::Stats sum;
    for (const auto& worker : consumers) {
      const StreamWorker::Stats stats = worker->stats();
      sum.entries_acknowledged += stats.entries_acknowledged;
      sum.inserted += stats.inserted;
      sum.duplicates += stats.duplicates;
      sum.dead_lettered += stats.dead_lettered;
      sum.store_failures += stats.store_failures;
      sum.redis_failures += stats.redis_failures;
      if (!stats.last_error.empty()) sum.last_error = stats.last_error;
    }
    return sum;
  };

  RedisClient redis(servers.redis.options());
  const pid_t postmaster = postmaster_pid(servers.postgres);
  auto sample_cpu = [&] {
    return CpuSample{process_cpu_seconds(), redis_cpu_seconds(redis),
                     process_tree_cpu_seconds(postmaster)};
  };
  FirstException worker_error;
  const CpuSample cpu_before = sample_cpu();
  started = Clock::now();
  {
    std::vector<std::jthread> threads;  // stopped and joined at scope exit, also by a throw
    for (const auto& worker : consumers) {
      threads.emplace_back([&worker, &worker_error](const std::stop_token& stop) {
        try {
          worker->run(stop);
        } catch (...) {
          worker_error.capture();
        }
      });
    }
    uint64_t last_acknowledged = 0;
    auto last_progress = Clock::now();
    for (;;) {
      worker_error.rethrow_if_caught();
      const StreamWorker::Stats sum = totals();
      if (static_cast<int64_t>(sum.entries_acknowledged) >= expected) break;
      if (sum.entries_acknowledged != last_acknowledged) {
        last_acknowledged = sum.entries_acknowledged;
        last_progress = Clock::now();
      } else if (seconds_since(last_progress) > 120) {
        fail(
            fmt::format("the workers acknowledged nothing for 2 minutes ({} of {}); last error: {}",
                        sum.entries_acknowledged, expected, sum.last_error));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const double seconds = run.drain_seconds = seconds_since(started);
    const CpuSample cpu_after = sample_cpu();
    run.drain_cpu = CpuSample{(cpu_after.bench - cpu_before.bench) / seconds,
                              (cpu_after.redis - cpu_before.redis) / seconds,
                              (cpu_after.postgres - cpu_before.postgres) / seconds};
  }

  const StreamWorker::Stats sum = totals();
  const std::string stream = stream_key(event_kind<GenerationKind>(), name);
  const int64_t stream_length = redis_integer(redis, {"XLEN", stream});
  const int64_t pending = redis_integer(redis, {"XPENDING", stream, StreamWorker::Options().group});
  PgConnection check(url);
  const int64_t stored = check.exec("SELECT COUNT(*) FROM generation_events").int64(0, 0);
  const int64_t rolled_up =
      check.exec("SELECT COALESCE(SUM(event_count), 0) FROM generation_metrics_hourly").int64(0, 0);
  if (static_cast<int64_t>(sum.inserted) != expected || sum.duplicates != 0 ||
      sum.dead_lettered != 0 || stored != expected || rolled_up != expected || stream_length != 0 ||
      pending != 0) {
    fail(fmt::format(
        "{}: not exactly once: {} inserted, {} duplicates, {} dead-lettered by the workers; {} "
        "events and {} in the hourly rollups stored; {} left in the stream, {} pending; of {}",
        name, sum.inserted, sum.duplicates, sum.dead_lettered, stored, rolled_up, stream_length,
        pending, expected));
  }
  if (sum.store_failures + sum.redis_failures > 0) {
    fmt::print(stderr, "  {}: {} store and {} Redis failures (retried); last: {}\n", name,
               sum.store_failures, sum.redis_failures, sum.last_error);
  }
  redis.command({"DEL", stream});
  consumers.clear();
  stores.clear();
  servers.drop_database(name);
  return run;
}

void run_pipeline_section(Servers& servers, const Flags& flags) {
  fmt::print(stderr, "pipeline: generating {} demo events...\n", flags.pipeline_events);
  const std::vector<GenerationEvent> events = demo_events(flags.pipeline_events);
  const auto rows = static_cast<double>(events.size());

  // The baseline's COPY text, built once, outside the timing.
  std::vector<std::string> chunks;
  for (size_t i = 0; i < events.size(); i += flags.batch_size) {
    PgCopyBuffer buffer;
    for (size_t j = i; j < std::min(events.size(), i + flags.batch_size); ++j) {
      append_generation_event_copy_row(buffer, events[j]);
    }
    chunks.push_back(buffer.data());
  }

  std::vector<double> copy_rates, store_rates, publish_rates;
  std::map<int, std::vector<double>> drain_rates, ratios;
  std::map<int, std::vector<CpuSample>> cpu_per_second;
  for (int r = 1; r <= flags.runs; ++r) {
    const std::string copy_name = fmt::format("copy_{}", r);
    const std::string url = create_copy_database(servers, copy_name, events);
    const double copy_seconds = copy_rows(url, chunks, static_cast<int64_t>(events.size()));
    servers.drop_database(copy_name);
    copy_rates.push_back(rows / copy_seconds);
    store_rates.push_back(
        rows / store_rows(servers, fmt::format("store_{}", r), events, flags.batch_size));
    std::string line = fmt::format("  run {}: COPY {:.0f} rows/s; store alone {:.0f} events/s", r,
                                   copy_rates.back(), store_rates.back());
    for (int workers : flags.workers) {
      const PipelineRun run =
          pipeline_run(servers, flags, events, workers, fmt::format("pipeline_{}_{}", r, workers));
      publish_rates.push_back(rows / run.publish_seconds);
      drain_rates[workers].push_back(rows / run.drain_seconds);
      cpu_per_second[workers].push_back(run.drain_cpu);
      ratios[workers].push_back((rows / run.drain_seconds) / copy_rates.back());
      line += fmt::format("; {} worker(s) {:.0f} events/s (publish {:.0f}/s)", workers,
                          rows / run.drain_seconds, rows / run.publish_seconds);
    }
    fmt::print(stderr, "{}\n", line);
  }

  auto plural = [](int workers) { return workers == 1 ? "" : "s"; };
  fmt::print("\npipeline: Redis stream -> PostgreSQL, exactly-once, beside a plain COPY\n");
  fmt::print(
      "  {} demo events; worker batch and COPY chunk {}; Redis AOF appendfsync {}; "
      "medians of {} runs\n",
      with_commas(flags.pipeline_events), with_commas(static_cast<int64_t>(flags.batch_size)),
      flags.appendfsync, flags.runs);
  fmt::print("  plain COPY of the same rows into generation_events: {} rows/s\n",
             with_commas(std::llround(median(copy_rates))));
  for (int workers : flags.workers) {
    const double ratio = median(ratios[workers]);
    fmt::print(
        "  Redis -> PostgreSQL, {} worker{}: {} events/s, {:.2f}x the COPY (goal >= 0.5x: {})\n",
        workers, plural(workers), with_commas(std::llround(median(drain_rates[workers]))), ratio,
        goal(ratio >= 0.5));
    auto cpu = [&](double CpuSample::*part) {
      std::vector<double> values;
      for (const CpuSample& sample : cpu_per_second[workers]) values.push_back(sample.*part);
      return median(values);
    };
    fmt::print(
        "    CPU-seconds per second while draining: pipeline_bench {:.2f}, redis-server "
        "{:.2f}, PostgreSQL {:.2f} (of {} cores)\n",
        cpu(&CpuSample::bench), cpu(&CpuSample::redis), cpu(&CpuSample::postgres),
        std::thread::hardware_concurrency());
  }
  fmt::print(
      "  for context: PostgresStore::write alone (no Redis, 1 thread) "
      "{} events/s; publish (XADD as StreamIngest: {} connections, pipelined) {} events/s\n",
      with_commas(std::llround(median(store_rates))), StreamIngest::Options().threads,
      with_commas(std::llround(median(publish_rates))));
  fmt::print(
      "  exactly-once check (every event stored once, in the rollups once, stream drained): ok\n");
}

// ---------------------------------------------------------------------------
// 2. The API beside the seed's raw SQL

// /work/shared/seeds/001: "Model Performance Analysis", verbatim.
constexpr const char* kSeedModelsSql = R"sql(
SELECT
    model_checkpoint,
    COUNT(*) FILTER (WHERE event_type = 'completion') as total_generations,
    COUNT(*) FILTER (WHERE event_type = 'completion' AND success = true) as successful,
    COUNT(*) FILTER (WHERE event_type = 'completion' AND success = false) as failed,
    (COUNT(*) FILTER (WHERE event_type = 'completion' AND success = true)::FLOAT /
     NULLIF(COUNT(*) FILTER (WHERE event_type = 'completion'), 0) * 100)::NUMERIC(5,2) as success_rate_pct,
    PERCENTILE_CONT(0.50) WITHIN GROUP (ORDER BY duration_ms)::INTEGER as p50_duration_ms,
    PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY duration_ms)::INTEGER as p95_duration_ms,
    AVG(duration_ms)::INTEGER as avg_duration_ms
FROM generation_events
WHERE timestamp >= NOW() - INTERVAL '30 days'
    AND model_checkpoint IS NOT NULL
GROUP BY model_checkpoint
ORDER BY total_generations DESC;
)sql";

// The overview's fields in the seed's style: counts, averages, exact
// percentiles and distinct users over the last 30 days.
constexpr const char* kOverviewSql = R"sql(
SELECT
    COUNT(*) FILTER (WHERE event_type = 'request') as total_requests,
    COUNT(*) FILTER (WHERE event_type = 'completion' AND success = true) as successful_generations,
    COUNT(*) FILTER (WHERE event_type = 'completion' AND success IS NOT TRUE) as failed_generations,
    COUNT(*) FILTER (WHERE event_type = 'cancellation') as cancelled_generations,
    AVG(duration_ms) FILTER (WHERE event_type = 'completion')::INTEGER as avg_duration_ms,
    PERCENTILE_CONT(0.50) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE event_type = 'completion')::INTEGER as p50_duration_ms,
    PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE event_type = 'completion')::INTEGER as p95_duration_ms,
    PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE event_type = 'completion')::INTEGER as p99_duration_ms,
    AVG(queue_wait_time_ms) FILTER (WHERE event_type = 'completion')::INTEGER as avg_queue_wait_ms,
    AVG(generation_time_ms) FILTER (WHERE event_type = 'completion')::INTEGER as avg_generation_time_ms,
    COUNT(DISTINCT user_id) as unique_users,
    COALESCE(SUM(COALESCE(batch_size, 1)) FILTER (WHERE event_type = 'completion' AND success = true), 0) as total_images_generated
FROM generation_events
WHERE timestamp >= NOW() - INTERVAL '30 days';
)sql";

// Events per PostgresStore::write call while loading.
constexpr size_t kLoadBatch = 20'000;

// The counts of the cross-check, over the window the API reported.
constexpr const char* kModelCountsSql =
    "SELECT model_checkpoint, COUNT(*) FILTER (WHERE event_type = 'completion') "
    "FROM generation_events WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz "
    "AND model_checkpoint IS NOT NULL GROUP BY model_checkpoint";
constexpr const char* kOverviewCountsSql =
    "SELECT COUNT(*) FILTER (WHERE event_type = 'request'), "
    "COUNT(*) FILTER (WHERE event_type = 'completion' AND success = true), "
    "COUNT(*) FILTER (WHERE event_type = 'completion' AND success IS NOT TRUE), "
    "COUNT(*) FILTER (WHERE event_type = 'cancellation') "
    "FROM generation_events WHERE timestamp >= $1::timestamptz AND timestamp < $2::timestamptz";

// Demo traffic for about `target` events over 30 days ending now, written
// through PostgresStore::write by `threads` threads in
// batches of `batch` (a bounded queue between the generator and them).
// Returns the events stored.
int64_t load_events(const std::string& url, int64_t target, size_t batch, int threads) {
  DemoOptions options;
  options.days = 30;
  options.end_us = now_us();
  options.mean_generations_per_hour = demo_rate_for_events(target, options.days, options.end_us);
  PostgresStore store(url, static_cast<size_t>(threads));

  constexpr size_t kMaxQueued = 4;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::vector<GenerationEvent>> queue;  // GUARDED_BY(mutex)
  bool done = false;                               // GUARDED_BY(mutex)
  FirstException error;
  std::atomic<int64_t> stored{0};
  std::vector<std::jthread> writers;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&] {
      std::vector<uint8_t> inserted;
      for (;;) {
        std::vector<GenerationEvent> events;
        {
          std::unique_lock lock(mutex);
          changed.wait(lock, [&] { return !queue.empty() || done; });
          if (queue.empty()) return;
          events = std::move(queue.front());
          queue.pop_front();
        }
        changed.notify_all();
        try {
          store.write(events, &inserted);
        } catch (...) {
          error.capture();
          std::lock_guard lock(mutex);
          done = true;
          queue.clear();
          changed.notify_all();
          return;
        }
        stored += std::count(inserted.begin(), inserted.end(), 1);
      }
    });
  }
  int64_t generated = 0;
  int64_t next_report = target / 10;
  generate_demo_traffic(options, batch, [&](std::vector<GenerationEvent>&& events) {
    generated += static_cast<int64_t>(events.size());
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return queue.size() < kMaxQueued || done; });
    if (done) return;  // a writer failed: drop the rest
    queue.push_back(std::move(events));
    lock.unlock();
    changed.notify_all();
    if (generated >= next_report) {
      fmt::print(stderr, "  generated {} events, stored {}\n", generated, stored.load());
      next_report += target / 10;
    }
  });
  {
    std::lock_guard lock(mutex);
    done = true;
  }
  changed.notify_all();
  writers.clear();  // joins
  error.rethrow_if_caught();
  return stored;
}

struct Latency {
  double p50_ms = 0;
  double p99_ms = 0;
  boost::json::value answer;  // the last response's body
};

Latency time_endpoint(KeepAliveClient& client, const std::string& target, const Flags& flags) {
  Latency latency;
  std::vector<double> ms;
  for (int i = 0; i < flags.warmups + flags.iterations; ++i) {
    const auto started = Clock::now();
    HttpReply reply = client.get(target);
    const double elapsed = seconds_since(started) * 1000;
    if (reply.status != 200) {
      fail(fmt::format("{}: status {}: {}", target, reply.status, reply.body));
    }
    if (i >= flags.warmups) ms.push_back(elapsed);
    if (i + 1 == flags.warmups + flags.iterations) latency.answer = boost::json::parse(reply.body);
  }
  latency.p50_ms = percentile(ms, 0.50);
  latency.p99_ms = percentile(ms, 0.99);
  return latency;
}

// Runs `sql` `runs` times; the median seconds and the last result.
std::pair<double, PgResult> time_sql(PgConnection& connection, const char* sql, int runs) {
  std::vector<double> seconds;
  std::optional<PgResult> result;
  for (int r = 0; r < runs; ++r) {
    const auto started = Clock::now();
    result.emplace(connection.exec(sql));
    seconds.push_back(seconds_since(started));
  }
  return {median(seconds), std::move(*result)};
}

int64_t json_int(const boost::json::value& value, std::string_view key) {
  return value.at(key).to_number<int64_t>();
}

std::string json_ms(const boost::json::value& value, std::string_view key) {
  const boost::json::value& field = value.at(key);
  return field.is_null() ? "null" : std::to_string(field.to_number<int64_t>());
}

int run_query_section(Servers& servers, const Flags& flags) {
  const std::string url = servers.postgres.create_database("query");
  fmt::print(stderr, "query: loading about {} demo events (30 days ending now)...\n",
             flags.query_events);
  const auto load_started = Clock::now();
  const int64_t loaded = load_events(url, flags.query_events, kLoadBatch, flags.load_threads);
  const double load_seconds = seconds_since(load_started);
  fmt::print(stderr, "  stored {} events in {:.0f} s; VACUUM ANALYZE...\n", loaded, load_seconds);
  {
    PgConnection admin(url);
    admin.exec("VACUUM ANALYZE");  // visibility map and statistics, for the raw SQL's plans
    admin.exec("CHECKPOINT");
  }

  // The API twice: as configured (rollup cache on), then without the cache,
  // reading and decoding every hourly row per request.
  auto time_api = [&](size_t rollup_cache_bytes) {
    AppServerOptions options;
    ProductionOptions production;
    production.redis_url = servers.redis.url();
    production.postgres_url = url;
    production.run_worker = false;
    options.production = production;
    options.http.port = 0;
    options.rollup_cache_bytes = rollup_cache_bytes;
    AppServer server(options);
    KeepAliveClient client(server.port());
    fmt::print(stderr, "  timing the API, rollup cache {} MB ({} + {} requests per endpoint)...\n",
               rollup_cache_bytes >> 20, flags.warmups, flags.iterations);
    std::pair<Latency, Latency> latencies{
        time_endpoint(client, "/api/v1/analytics/generation/models?days=30", flags),
        time_endpoint(client, "/api/v1/analytics/generation/overview?days=30", flags)};
    server.stop();
    return latencies;
  };
  const auto [models, overview] = time_api(static_cast<size_t>(flags.rollup_cache_mb) << 20);
  const auto [models_uncached, overview_uncached] = time_api(0);

  fmt::print(stderr, "  timing the raw SQL ({} runs each)...\n", flags.runs);
  PgConnection raw(url);
  raw.exec("SET work_mem = '256MB'");  // in-memory sorts: the raw side at its best
  auto [models_sql_seconds, models_sql] = time_sql(raw, kSeedModelsSql, flags.runs);
  auto [overview_sql_seconds, overview_sql] = time_sql(raw, kOverviewSql, flags.runs);

  // Cross-check over the API's own window (whole hours; the seed's NOW() - 30
  // days starts up to an hour earlier).
  const boost::json::value& window = models.answer.at("window");
  const std::string start(window.at("start").as_string());
  const std::string end(window.at("end").as_string());
  const PgParams window_params = PgParams().text(start).text(end);
  std::map<std::string, std::pair<int64_t, int64_t>> per_model;  // API, SQL
  for (const boost::json::value& m : models.answer.at("models").as_array()) {
    per_model[std::string(m.at("model_checkpoint").as_string())].first =
        json_int(m, "total_generations");
  }
  const PgResult model_counts = raw.exec(kModelCountsSql, window_params);
  for (int r = 0; r < model_counts.rows(); ++r) {
    per_model[std::string(model_counts.text(r, 0))].second = model_counts.int64(r, 1);
  }
  std::vector<std::string> mismatches;
  for (const auto& [model, counts] : per_model) {
    if (counts.first != counts.second) {
      mismatches.push_back(fmt::format("{}: total_generations {} (API) / {} (SQL)", model,
                                       counts.first, counts.second));
    }
  }
  const PgResult overview_counts = raw.exec(kOverviewCountsSql, window_params);
  int column = 0;
  for (const char* field : {"total_requests", "successful_generations", "failed_generations",
                            "cancelled_generations"}) {
    const int64_t api = json_int(overview.answer, field);
    const int64_t sql = overview_counts.int64(0, column++);
    if (api != sql)
      mismatches.push_back(fmt::format("overview {}: {} (API) / {} (SQL)", field, api, sql));
  }

  auto print_endpoint = [&](const char* name, const Latency& api, double sql_seconds,
                            const char* sql_name) {
    const double speedup = sql_seconds * 1000 / api.p50_ms;
    fmt::print(
        "  {}: API p50 {:.2f} ms, p99 {:.2f} ms ({} requests); {} {} ms (median of {}): "
        "{}x the p50 (goal >= 200x: {})\n",
        name, api.p50_ms, api.p99_ms, flags.iterations, sql_name,
        with_commas(std::llround(sql_seconds * 1000)), flags.runs,
        with_commas(std::llround(speedup)), goal(speedup >= 200));
  };
  fmt::print("\nquery: PostgreSQL-backed API beside the seed's raw SQL, same database\n");
  fmt::print(
      "  {} demo events over 30 days (loaded in {:.0f} s: {} events/s through "
      "PostgresStore, {} threads, batches of {})\n",
      with_commas(loaded), load_seconds,
      with_commas(std::llround(static_cast<double>(loaded) / load_seconds)), flags.load_threads,
      with_commas(static_cast<int64_t>(kLoadBatch)));
  print_endpoint("models?days=30", models, models_sql_seconds, "seed SQL");
  print_endpoint("overview?days=30", overview, overview_sql_seconds, "overview SQL");
  fmt::print(
      "  without the rollup cache (storage.rollup_cache_mb 0): models p50 {:.2f} ms, p99 "
      "{:.2f} ms; overview p50 {:.2f} ms, p99 {:.2f} ms\n",
      models_uncached.p50_ms, models_uncached.p99_ms, overview_uncached.p50_ms,
      overview_uncached.p99_ms);
  fmt::print(
      "    models: {} (API) / {} (SQL); overview p50/p95/p99 {}/{}/{} ms (API, DDSketch) / "
      "{}/{}/{} ms (SQL, PERCENTILE_CONT)\n",
      models.answer.at("models").as_array().size(), models_sql.rows(),
      json_ms(overview.answer, "p50_duration_ms"), json_ms(overview.answer, "p95_duration_ms"),
      json_ms(overview.answer, "p99_duration_ms"), overview_sql.text(0, 5), overview_sql.text(0, 6),
      overview_sql.text(0, 7));
  if (!mismatches.empty()) {
    fmt::print("  cross-check over the API's window {} .. {}: FAILED\n", start, end);
    for (const std::string& m : mismatches) fmt::print("    {}\n", m);
    return 1;
  }
  fmt::print(
      "  cross-check over the API's window {} .. {}: total_generations of {} models and "
      "4 overview counts equal the SQL counts: ok\n",
      start, end, per_model.size());
  servers.drop_database("query");
  return 0;
}

// While alive, SIGINT, SIGTERM and SIGHUP stop PostgreSQL at once (SIGQUIT to
// the postmaster) instead of ending the process: the statement in progress
// fails and the unwinding removes both servers and their directories, which
// the default action would leave behind. REQUIRES: constructed on the main
// thread before any other thread starts, and after the servers started
// (their processes would inherit the blocked signals).
class InterruptGuard {
 public:
  explicit InterruptGuard(pid_t postmaster) {
    sigemptyset(&signals_);
    for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&signals_, signal);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    watcher_ = std::thread([this, postmaster] {
      int signal = 0;
      sigwait(&signals_, &signal);
      if (signal == SIGUSR1) return;  // from the destructor
      fmt::print(stderr, "pipeline_bench: interrupted; stopping PostgreSQL\n");
      kill(postmaster, SIGQUIT);
    });
  }
  // The signals stay blocked: a second Ctrl-C must not end the process while
  // the servers are being stopped.
  ~InterruptGuard() {
    pthread_kill(watcher_.native_handle(), SIGUSR1);
    watcher_.join();
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  sigset_t signals_{};
  std::thread watcher_;
};

int run(const Flags& flags) {
  fmt::print(stderr, "starting redis-server and PostgreSQL 15...\n");
  Servers servers;
  InterruptGuard interrupt_guard(postmaster_pid(servers.postgres));
  RedisClient(servers.redis.options()).command({"CONFIG", "SET", "appendfsync", flags.appendfsync});
  if (flags.pipeline) run_pipeline_section(servers, flags);
  return flags.query ? run_query_section(servers, flags) : 0;
}

}  // namespace
}  // namespace genalytics::bench

int main(int argc, char** argv) {
  genalytics::bench::Flags flags;
  bool skip_pipeline = false;
  bool skip_query = false;
  CLI::App app{
      "pipeline_bench: Redis -> PostgreSQL beside a plain COPY; the PostgreSQL-backed API "
      "beside the seed's raw SQL"};
  app.add_option("--pipeline-events", flags.pipeline_events, "events through the pipeline")
      ->check(CLI::Range(int64_t{1'000}, int64_t{100'000'000}));
  app.add_option("--query-events,--events", flags.query_events,
                 "events in the query section's database (10000000 for the full figure)")
      ->check(CLI::Range(int64_t{10'000}, int64_t{1'000'000'000}));
  app.add_option("--runs", flags.runs, "pipeline and raw SQL repetitions; medians are printed")
      ->check(CLI::Range(1, 100));
  app.add_option("--workers", flags.workers, "worker counts to measure, e.g. --workers 1 2")
      ->check(CLI::Range(1, 16));
  app.add_option("--batch-size", flags.batch_size, "worker batch and COPY chunk, in events")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}));
  app.add_option("--appendfsync", flags.appendfsync, "Redis AOF fsync policy (tests: always)")
      ->check(CLI::IsMember({"always", "everysec", "no"}));
  app.add_option("--load-threads", flags.load_threads, "writer threads loading the query database")
      ->check(CLI::Range(1, 16));
  app.add_option("--iterations", flags.iterations, "timed API requests per endpoint")
      ->check(CLI::Range(1, 100'000));
  app.add_option("--rollup-cache-mb", flags.rollup_cache_mb,
                 "the API server's rollup cache (storage.rollup_cache_mb)")
      ->capture_default_str();
  app.add_option("--warmups", flags.warmups, "untimed API requests first")
      ->check(CLI::Range(0, 100'000));
  app.add_flag("--skip-pipeline", skip_pipeline, "skip section 1 (Redis -> PostgreSQL)");
  app.add_flag("--skip-query", skip_query, "skip section 2 (API beside the seed's SQL)");
  CLI11_PARSE(app, argc, argv);
  flags.pipeline = !skip_pipeline;
  flags.query = !skip_query;
  spdlog::set_level(spdlog::level::warn);
  try {
    return genalytics::bench::run(flags);
  } catch (const std::exception& e) {
    fmt::print(stderr, "pipeline_bench: {}\n", e.what());
    return 1;
  }
}
