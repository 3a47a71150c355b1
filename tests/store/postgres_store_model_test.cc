// Over 400 lines: the PostgreSQL-only behaviour of one kind's tables, each
// case on generated data against an exact computation, in one place.
//
// PostgresStore's model tables (issue 10) beyond the shared suite:
// concurrent writers of overlapping batches of both kinds that feed them,
// the per-hour params cap under concurrency, atomicity, retention of the
// model_usage_events partitions, stored data that does not decode, and the
// migration from version 3.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "event/model_uses.h"
#include "event/time.h"
#include "event/uuid.h"
#include "rollup/dimension_cap.h"
#include "rollup/model_rollup.h"
#include "store/partition_months.h"
#include "store/postgres.h"
#include "store/postgres_migrations.h"
#include "store/postgres_store.h"
#include "testing/events.h"
#include "testing/model_events.h"
#include "testing/postgres_server.h"
#include "testing/store_failure.h"

namespace genalytics {
namespace {

using testing::failure_of;
using testing::make_event;
using testing::make_model_event;
using testing::PostgresServer;

// The store's clock: partitions and retention are decided from it.
const int64_t kStoreNow = *parse_rfc3339("2026-03-15T12:00:00Z");
// The first hour of the generated traffic.
const int64_t kStart = kStoreNow - 8 * kMicrosPerHour;
constexpr const char* kKinds[] = {"checkpoint", "lora", "vae", "controlnet"};

// 600 model events over about six hours, each at its own time: every type,
// failures, durations, a size on each that grows over time, VRAM, kinds and
// base models, unload reasons (and none), three workers (and none).
std::vector<ModelEvent> lifecycle_events() {
  std::mt19937_64 rng(3);
  std::vector<ModelEvent> events;
  for (int i = 0; i < 600; ++i) {
    const int m = static_cast<int>(rng() % 8);
    ModelEvent e = make_model_event(static_cast<ModelEventType>(i % 4), fmt::format("model-{}", m),
                                    kStart + int64_t{i} * 37'000'003);
    if (i % 7 == 0) e.success = false;
    if (i % 7 == 1) e.success = true;
    if (e.event_type != ModelEventType::kUnload) e.duration_ms = 100 + rng() % 5000;
    e.size_bytes = (m + 1) * 1'000'000'000LL + i;
    if (e.event_type == ModelEventType::kLoad) e.gpu_memory_mb = 2000 + rng() % 6000;
    e.model_kind = kKinds[m % 4];
    if (m % 4 == 1) e.base_model = "model-0";
    if (e.event_type == ModelEventType::kUnload && i % 8 != 3) e.reason = kUnloadReasons[i % 4];
    if (i % 10 != 0) e.worker_id = fmt::format("gpu-{}", rng() % 3);
    events.push_back(std::move(e));
  }
  return events;
}

// 400 generations over about six hours: requests and completions of three
// checkpoints with LoRAs (a string or a list), a VAE, a sampler, steps and
// a seed of their own (fewer values per hour than the default cap).
std::vector<GenerationEvent> usage_events() {
  std::vector<GenerationEvent> events;
  const char* samplers[] = {"euler", "dpm++", "ddim"};
  for (int i = 0; i < 400; ++i) {
    const int64_t t = kStart + int64_t{i} * 53'000'001;
    GenerationEvent e;
    if (i % 2 == 0) {
      e = make_event(GenerationEventType::kRequest, t);
    } else {
      e = testing::make_completion(t, i % 5 != 1, 1000 + i);
      e.generation_time_ms = 900 + 7 * i;
      e.gpu_memory_mb = 4000 + i;
    }
    e.model_checkpoint = fmt::format("model-{}", i % 3);
    const std::string lora = i % 4 == 0 ? R"(["model-4","model-5"])" : R"("model-4")";
    e.params_json =
        fmt::format(R"({{"lora":{},"vae":"model-6","sampler":"{}","steps":{},"seed":{}}})", lora,
                    samplers[i % 3], 20 + (i % 4) * 5, i);
    events.push_back(std::move(e));
  }
  return events;
}

// `r` as text, for readable failures.
std::string describe(const ModelRecord& r) {
  auto text = [](const auto& value) {
    return value ? fmt::format("{}", *value) : std::string("-");
  };
  return fmt::format(
      "{} kind={} base={} path={} size={} first_seen={} last_used={} "
      "last_event={} registered={}",
      r.model_id, text(r.model_kind), text(r.base_model), text(r.path), text(r.size_bytes),
      text(r.first_seen_us), text(r.last_used_us), text(r.last_event_us), text(r.registered_us));
}

class PostgresStoreModelTest : public ::testing::Test {
 protected:
  std::unique_ptr<PostgresStore> open() const {
    return std::make_unique<PostgresStore>(url_, PostgresStore::kDefaultPoolSize,
                                           PostgresStore::kDefaultRollupCacheBytes,
                                           [] { return kStoreNow; });
  }

  PostgresServer& server_ = PostgresServer::shared();
  const std::string url_ = server_.create_database();
};

// Writes every event of `events` through `store` in batches of `batch_size`,
// in the order `seed` shuffles them to; (*inserted)[i] is event i's flag.
template <typename Event>
void write_shuffled(Store& store, const std::vector<Event>& events, size_t batch_size, int seed,
                    std::vector<uint8_t>* inserted) {
  std::vector<size_t> order(events.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(seed));
  inserted->assign(events.size(), 0);
  for (size_t i = 0; i < order.size(); i += batch_size) {
    std::vector<Event> batch;
    for (size_t j = i; j < std::min(order.size(), i + batch_size); ++j) {
      batch.push_back(events[order[j]]);
    }
    std::vector<uint8_t> flags;
    store.write(batch, &flags);
    for (size_t j = 0; j < flags.size(); ++j) (*inserted)[order[i + j]] = flags[j];
  }
}

TEST_F(PostgresStoreModelTest, ConcurrentWritersOfOverlappingBatchesCountEachEventOnce) {
  const auto model_events = lifecycle_events();
  const auto generations = usage_events();
  auto first = open();
  auto second = open();
  // Each writer sends everything of both kinds, in its own order and batches.
  std::vector<uint8_t> model_flags[2], generation_flags[2];
  auto write_all = [&](Store& store, int writer) {
    write_shuffled(store, model_events, 50 + 20 * writer, writer, &model_flags[writer]);
    write_shuffled(store, generations, 40 + 15 * writer, 7 + writer, &generation_flags[writer]);
  };
  std::thread a([&] { write_all(*first, 0); });
  std::thread b([&] { write_all(*second, 1); });
  a.join();
  b.join();
  for (size_t i = 0; i < model_events.size(); ++i) {
    ASSERT_EQ(model_flags[0][i] + model_flags[1][i], 1) << "model event " << i;
  }
  for (size_t i = 0; i < generations.size(); ++i) {
    ASSERT_EQ(generation_flags[0][i] + generation_flags[1][i], 1) << "generation " << i;
  }

  const int64_t end = kStoreNow + kMicrosPerHour;
  ModelLifecycleDelta lifecycle;
  for (const ModelEvent& e : model_events) lifecycle.add(e);
  const auto lifecycle_rows = first->read_model_lifecycle(kStart, end, std::nullopt);
  ASSERT_EQ(lifecycle_rows.size(), lifecycle.lifecycle().size());
  auto want_lifecycle = lifecycle.lifecycle().begin();
  for (const ModelLifecycleRow& row : lifecycle_rows) {
    EXPECT_EQ(row.key, want_lifecycle->first);
    EXPECT_TRUE(row.bucket == want_lifecycle->second) << row.key.model_id;
    ++want_lifecycle;
  }

  ModelUsageDelta usage;
  for (const GenerationEvent& e : generations) usage.add(e);
  const auto usage_rows = second->read_model_usage(kStart, end, std::nullopt, true);
  ASSERT_EQ(usage_rows.size(), usage.usage().size());
  auto want_usage = usage.usage().begin();
  for (const ModelUsageRow& row : usage_rows) {
    EXPECT_EQ(row.key, want_usage->first);
    EXPECT_TRUE(row.bucket == want_usage->second) << row.key.model_id;
    ++want_usage;
  }
  const auto param_rows = second->read_model_params(kStart, end, std::nullopt);
  ASSERT_EQ(param_rows.size(), usage.params().size());
  auto want_params = usage.params().begin();
  for (const ModelParamRow& row : param_rows) {
    EXPECT_EQ(row.key, want_params->first);
    EXPECT_EQ(row.bucket, want_params->second) << row.key.key << "=" << row.key.value;
    ++want_params;
  }

  // Each worker's state is its latest load or unload, whichever writer
  // stored which.
  std::map<std::pair<std::string, std::string>, const ModelEvent*> latest;
  for (const ModelEvent& e : model_events) {
    if (e.event_type != ModelEventType::kLoad && e.event_type != ModelEventType::kUnload) continue;
    const ModelEvent*& at = latest[{e.model_id, e.worker_id.value_or("")}];
    if (at == nullptr || at->timestamp_us < e.timestamp_us) at = &e;
  }
  std::vector<ModelWorkerState> want_states;
  for (const auto& [key, e] : latest) {
    const bool loaded = e->event_type == ModelEventType::kLoad && e->succeeded();
    want_states.push_back(ModelWorkerState{key.first, key.second, loaded, e->timestamp_us,
                                           loaded ? e->gpu_memory_mb : std::nullopt});
  }
  EXPECT_EQ(first->read_model_worker_states(), want_states);

  // The inventory: times from both kinds; the size of the latest model
  // event, whatever order the batches were stored in; the kind model events
  // give, not the one a generation implies.
  std::map<std::string, ModelRecord> want_models;
  for (const ModelEvent& e : model_events) {
    ModelRecord& r = want_models[e.model_id];
    r.model_id = e.model_id;
    r.model_kind = e.model_kind;
    r.base_model = e.base_model;
    r.first_seen_us = std::min(r.first_seen_us.value_or(e.timestamp_us), e.timestamp_us);
    if (!r.last_event_us || *r.last_event_us < e.timestamp_us) {
      r.last_event_us = e.timestamp_us;
      r.size_bytes = e.size_bytes;
    }
  }
  for (const GenerationEvent& e : generations) {
    for (const ModelUse& use : models_used(e)) {
      ModelRecord& r = want_models[use.model_id];
      r.model_id = use.model_id;
      if (!r.model_kind) r.model_kind = std::string(model_kind_of(use.role));
      r.first_seen_us = std::min(r.first_seen_us.value_or(e.timestamp_us), e.timestamp_us);
      if (e.event_type == GenerationEventType::kRequest) {
        r.last_used_us = std::max(r.last_used_us.value_or(e.timestamp_us), e.timestamp_us);
      }
    }
  }
  std::vector<std::string> want_inventory;
  for (const auto& entry : want_models) want_inventory.push_back(describe(entry.second));
  std::vector<std::string> inventory;
  for (const ModelRecord& r : first->read_models()) inventory.push_back(describe(r));
  EXPECT_EQ(inventory, want_inventory);
}

TEST_F(PostgresStoreModelTest, ParamsCapHoldsWithConcurrentWriters) {
  // 60 requests of one model in one hour, each with its own seed and one of
  // two samplers; a cap of 5 values per (hour, model, key).
  const int64_t hour = floor_hour(kStart);
  std::vector<GenerationEvent> events;
  for (int i = 0; i < 60; ++i) {
    GenerationEvent e = make_event(GenerationEventType::kRequest, hour + i * kMicrosPerSecond);
    e.model_checkpoint = "sdxl";
    e.params_json =
        fmt::format(R"({{"seed":{},"sampler":"{}"}})", 1000 + i, i % 3 == 0 ? "euler" : "ddim");
    events.push_back(std::move(e));
  }
  auto first = open();
  auto second = open();
  first->set_max_values_per_dimension_hour(5);
  second->set_max_values_per_dimension_hour(5);
  std::vector<uint8_t> flags[2];
  std::thread a([&] { write_shuffled(*first, events, 4, 1, &flags[0]); });
  std::thread b([&] { write_shuffled(*second, events, 6, 2, &flags[1]); });
  a.join();
  b.join();

  std::map<std::string, std::set<std::string>> values;
  std::map<std::string, int64_t> uses;
  for (const ModelParamRow& row : first->read_model_params(hour, hour + kMicrosPerHour, "sdxl")) {
    EXPECT_EQ(row.key.hour_us, hour);
    values[row.key.key].insert(row.key.value);
    uses[row.key.key] += row.bucket.uses;
  }
  // Five seeds of their own and the rest in "(other)"; every request counted.
  EXPECT_EQ(values["seed"].size(), 6u);
  EXPECT_TRUE(values["seed"].contains(std::string(kOtherValue)));
  EXPECT_EQ(values["sampler"], (std::set<std::string>{"ddim", "euler"}));
  EXPECT_EQ(uses["seed"], 60);
  EXPECT_EQ(uses["sampler"], 60);
  const auto usage = first->read_model_usage(hour, hour + kMicrosPerHour, "sdxl", false);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].bucket.uses, 60);
}

// Everything the model tables hold, for comparing before and after.
struct ModelTables {
  std::vector<ModelLifecycleRow> lifecycle;
  std::vector<ModelUsageRow> usage;
  std::vector<ModelParamRow> params;
  std::vector<ModelRecord> models;
  std::vector<ModelWorkerState> workers;
  int64_t generation_events = 0;

  explicit ModelTables(const Store& store) {
    const int64_t end = kStoreNow + kMicrosPerHour;
    lifecycle = store.read_model_lifecycle(kStart, end, std::nullopt);
    usage = store.read_model_usage(kStart, end, std::nullopt, true);
    params = store.read_model_params(kStart, end, std::nullopt);
    models = store.read_models();
    workers = store.read_model_worker_states();
    generation_events = store.count_generation_events();
  }
  bool operator==(const ModelTables& other) const {
    auto same = [](const auto& a, const auto& b) {
      return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
        return x.key == y.key && x.bucket == y.bucket;
      });
    };
    return same(lifecycle, other.lifecycle) && same(usage, other.usage) &&
           same(params, other.params) && models == other.models && workers == other.workers &&
           generation_events == other.generation_events;
  }
};

TEST_F(PostgresStoreModelTest, FailedTransactionLeavesNothingBehind) {
  auto store = open();
  std::vector<uint8_t> inserted;
  ModelEvent load = make_model_event(ModelEventType::kLoad, "sdxl", kStart);
  load.worker_id = "gpu-0";
  store->write(std::vector{load}, &inserted);
  GenerationEvent request = make_event(GenerationEventType::kRequest, kStart);
  request.model_checkpoint = "sdxl";
  store->write(std::vector{request}, &inserted);
  const ModelTables before(*store);

  // Fails the last step of each kind's merge (inventory, worker state) for
  // the model "boom", after the raw rows and the hourly rows were written.
  PgConnection(url_).exec(R"sql(
    CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.model_id = 'boom' THEN RAISE EXCEPTION 'injected failure'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER boom BEFORE INSERT OR UPDATE ON model_worker_state
      FOR EACH ROW EXECUTE FUNCTION boom();
    CREATE TRIGGER boom BEFORE INSERT OR UPDATE ON model_inventory
      FOR EACH ROW EXECUTE FUNCTION boom();
  )sql");
  auto expect_injected_failure = [&](const std::function<void()>& write) {
    try {
      write();
      ADD_FAILURE() << "no error";
    } catch (const PostgresError& e) {
      EXPECT_EQ(e.sqlstate(), "P0001");
    }
  };
  ModelEvent unload = make_model_event(ModelEventType::kUnload, "sdxl", kStart + 1);
  unload.worker_id = "gpu-0";
  ModelEvent boom = make_model_event(ModelEventType::kLoad, "boom", kStart + 2);
  expect_injected_failure([&] { store->write(std::vector{unload, boom}, &inserted); });
  EXPECT_EQ(inserted, (std::vector<uint8_t>{0, 0}));
  GenerationEvent with_boom = make_event(GenerationEventType::kRequest, kStart + 3);
  with_boom.model_checkpoint = "sdxl";
  with_boom.params_json = R"({"lora":"boom","steps":30})";
  expect_injected_failure([&] { store->write(std::vector{request, with_boom}, &inserted); });
  EXPECT_EQ(inserted, (std::vector<uint8_t>{0, 0}));
  EXPECT_TRUE(ModelTables(*store) == before);
  size_t scanned = 0;
  store->scan_model_events(kStart, kStoreNow, [&](const ModelEvent&) { ++scanned; });
  EXPECT_EQ(scanned, 1u);

  // The store stays usable after the failures.
  boom.model_id = "flux";
  store->write(std::vector{unload, boom}, &inserted);
  EXPECT_EQ(inserted, (std::vector<uint8_t>{1, 1}));
  const auto states = store->read_model_worker_states();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[1], (ModelWorkerState{"sdxl", "gpu-0", false, kStart + 1, std::nullopt}));
}

TEST_F(PostgresStoreModelTest, RetentionDropsModelEventPartitionsAndKeepsTheirRollups) {
  auto writer = open();
  auto janitor = open();
  const int64_t old = kStoreNow - 400 * kMicrosPerDay;
  ModelEvent load = make_model_event(ModelEventType::kLoad, "sd15", old);
  load.duration_ms = 1200;
  std::vector<uint8_t> inserted;
  writer->write(std::vector{load}, &inserted);
  PgConnection db(url_);
  const std::string partition = partition_name("model_usage_events", month_of(old));
  EXPECT_EQ(db.exec(fmt::format("SELECT to_regclass('{}') IS NOT NULL", partition)).text(0, 0),
            "t");
  EXPECT_EQ(janitor->drop_partitions_older_than(90), 1);
  EXPECT_EQ(db.exec(fmt::format("SELECT to_regclass('{}') IS NULL", partition)).text(0, 0), "t");
  // `writer` still believes the month's partition exists.
  load.event_id = random_uuid();
  load.duration_ms = 800;
  writer->write(std::vector{load}, &inserted);
  EXPECT_EQ(inserted, std::vector<uint8_t>{1});
  size_t scanned = 0;
  writer->scan_model_events(old - kMicrosPerDay, old + kMicrosPerDay,
                            [&](const ModelEvent&) { ++scanned; });
  EXPECT_EQ(scanned, 1u);
  // The hourly rows and the inventory are kept.
  const auto rows =
      writer->read_model_lifecycle(floor_hour(old), floor_hour(old) + kMicrosPerHour, std::nullopt);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bucket.loads, 2);
  EXPECT_EQ(rows[0].bucket.load_time_sum, 2000);
  ASSERT_EQ(writer->read_models().size(), 1u);
  EXPECT_EQ(writer->read_models()[0].first_seen_us, old);
}

// A stream worker retries only unavailable failures: a row that cannot be
// read back must say corrupt, or one bad row would stall its stream forever.
TEST_F(PostgresStoreModelTest, StoredDataThatDoesNotDecodeIsCorruptNotUnavailable) {
  auto store = open();
  const int64_t hour = floor_hour(kStart);
  const int64_t next = hour + kMicrosPerHour;
  ModelEvent load = make_model_event(ModelEventType::kLoad, "sdxl", hour);
  load.duration_ms = 900;
  GenerationEvent completion = testing::make_completion(hour, true, 2000, "", "sdxl");
  completion.generation_time_ms = 1800;
  std::vector<uint8_t> inserted;
  store->write(std::vector{load}, &inserted);
  store->write(std::vector{completion}, &inserted);
  PgConnection db(url_);
  db.exec("UPDATE model_lifecycle_hourly SET load_time_sketch = '\\xff'::bytea");
  db.exec("UPDATE model_usage_hourly SET gpu_memory_sketch = '\\xff'::bytea");
  db.exec("UPDATE model_usage_events SET event_type = 'model_explode'");

  EXPECT_EQ(failure_of([&] { store->read_model_lifecycle(hour, next, std::nullopt); }),
            StoreFailure::kCorrupt);
  EXPECT_EQ(failure_of([&] { store->read_model_usage(hour, next, "sdxl", true); }),
            StoreFailure::kCorrupt);
  EXPECT_EQ(failure_of([&] { store->scan_model_events(hour, next, [](const ModelEvent&) {}); }),
            StoreFailure::kCorrupt);
  // Without the sketches the counters still read.
  const auto counters = store->read_model_usage(hour, next, "sdxl", false);
  ASSERT_EQ(counters.size(), 1u);
  EXPECT_EQ(counters[0].bucket.completions, 1);
  EXPECT_EQ(counters[0].bucket.generation_time_sum, 1800);

  // A write that must merge into a corrupt row fails whole, as corrupt.
  load.event_id = random_uuid();
  EXPECT_EQ(failure_of([&] { store->write(std::vector{load}, &inserted); }),
            StoreFailure::kCorrupt);
  EXPECT_EQ(inserted, std::vector<uint8_t>{0});
  completion.event_id = random_uuid();
  EXPECT_EQ(failure_of([&] { store->write(std::vector{completion}, &inserted); }),
            StoreFailure::kCorrupt);
  EXPECT_EQ(inserted, std::vector<uint8_t>{0});
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM model_usage_events").int64(0, 0), 1);
  EXPECT_EQ(store->count_generation_events(), 1);
}

TEST_F(PostgresStoreModelTest, MigratesAVersion3Database) {
  {
    // What a version-3 build left, with a generation event.
    PgConnection db(url_);
    db.exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
        "applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW())");
    for (int version = 1; version <= 3; ++version) {
      db.exec(postgres_migrations()[version - 1].sql);
      db.exec(fmt::format("INSERT INTO schema_migrations (version) VALUES ({})", version));
    }
  }
  {
    auto store = open();
    std::vector<uint8_t> inserted;
    store->write(std::vector{make_model_event(ModelEventType::kDownload, "flux", kStart)},
                 &inserted);
    EXPECT_EQ(inserted, std::vector<uint8_t>{1});
  }
  PgConnection db(url_);
  EXPECT_EQ(db.exec("SELECT MAX(version) FROM schema_migrations").int64(0, 0), 4);
  EXPECT_EQ(PostgresStore::schema_version(), 4);
  // The model events got this month's partition and the months ahead.
  EXPECT_EQ(db.exec("SELECT COUNT(*) FROM pg_inherits "
                    "WHERE inhparent = 'model_usage_events'::regclass")
                .int64(0, 0),
            PostgresStore::kDefaultMonthsAhead + 1);
  EXPECT_EQ(db.exec("SELECT downloads FROM model_lifecycle_hourly").int64(0, 0), 1);
}

}  // namespace
}  // namespace genalytics
