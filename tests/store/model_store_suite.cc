// Over 400 lines: the model part of the Store contract (seed 003, issue 10)
// is one suite, its cases sharing one generated fleet of events and the
// exact in-memory expectations they compare against. It runs on every
// store that instantiates StoreSuite.
//
// Usage and params rows come from generation events, lifecycle rows from
// model events; both are compared whole (every key, every bucket field)
// against the deltas of rollup/model_rollup.h over the distinct events.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "event/model_uses.h"
#include "event/time.h"
#include "event/uuid.h"
#include "rollup/dimension_cap.h"
#include "rollup/model_rollup.h"
#include "store/model_rollup_columns.h"
#include "store/model_span_cache.h"
#include "store/store_suite.h"
#include "testing/events.h"
#include "testing/model_events.h"
#include "testing/temp_dir.h"

namespace genalytics::testing {
namespace {

constexpr int64_t kAllStart = kBase - kMicrosPerDay;
constexpr int64_t kAllEnd = kBase + kMicrosPerDay;
constexpr int64_t kMinute = 60 * kMicrosPerSecond;

constexpr const char* kLoras[] = {"lora-a", "lora-b", "lora-c", "lora-d", "lora-e", "lora-f"};
constexpr const char* kVaes[] = {"vae-ft-mse", "vae-anime"};
constexpr const char* kControlnets[] = {"cn-canny", "cn-depth"};
constexpr const char* kSamplers[] = {"euler", "dpmpp_2m", "ddim"};

std::string checkpoint(int i) { return fmt::format("ckpt-{:02}", i % 12); }

// The params of the i-th generation: the common keys, and LoRAs (a string,
// a list, objects under "loras"), a VAE or ControlNets in turn; sometimes
// none, or JSON that is not an object.
std::optional<std::string> params_of(int i) {
  if (i % 31 == 0) return std::nullopt;
  if (i % 37 == 0) return "[1,2]";
  std::string p =
      fmt::format(R"({{"steps":{},"sampler":"{}","cfg":{},"resolution":"{}")", 20 + i % 3 * 10,
                  kSamplers[i % 3], i % 2 ? "7.5" : "7", i % 4 ? "1024x1024" : "768x768");
  // Which models, by k and m: not tied to the hour (i % 6) nor to each other.
  const int k = i / 7, m = i / 42;
  switch (k % 6) {
    case 0:
      p += fmt::format(R"(,"lora":"{}")", kLoras[m % 6]);
      break;
    case 1:
      p += fmt::format(R"(,"lora":["{}","{}"])", kLoras[(m + 1) % 6], kLoras[(m + 2) % 6]);
      break;
    case 2:
      p += fmt::format(R"(,"loras":[{{"name":"{}","weight":0.8}}])", kLoras[(m + 3) % 6]);
      break;
    case 3:
      p += fmt::format(R"(,"vae":"{}")", kVaes[m % 2]);
      break;
    case 4:
      p +=
          fmt::format(R"(,"controlnet":[{{"model":"{}"}},"{}"])", kControlnets[0], kControlnets[1]);
      break;
    default:
      break;
  }
  return p + "}";
}

// 600 generation events over 6 hours, each hour naming 12 checkpoints (some none),
// with the params above; completions with and without a generation time
// and GPU memory, some failed. Timestamps are distinct.
std::vector<GenerationEvent> sample_generation_events() {
  constexpr GenerationEventType kTypes[] = {
      GenerationEventType::kRequest, GenerationEventType::kRequest, GenerationEventType::kStart,
      GenerationEventType::kCompletion, GenerationEventType::kCancellation};
  std::vector<GenerationEvent> events;
  for (int i = 0; i < 600; ++i) {
    GenerationEvent e = make_event(kTypes[i % 5], kBase + (i % 6) * kMicrosPerHour + i * 1000);
    if (i % 23 != 0) e.model_checkpoint = checkpoint(i / 6 * 5);
    e.params_json = params_of(i);
    if (e.is_completion()) {
      e.success = i % 9 != 0;
      if (i % 10 != 3) e.generation_time_ms = 1000 + (i * 131) % 20000;
      if (i % 4 != 0) e.gpu_memory_mb = 6000 + i % 5 * 1000;
    }
    events.push_back(std::move(e));
  }
  return events;
}

// 240 model events over the same 6 hours: loads (some failed) on three
// workers (some on none), unloads by every reason (and none), downloads
// with sizes, health checks (ckpt-03 always failing); explicit kinds and
// LoRAs' base models now and then. Timestamps are distinct.
std::vector<ModelEvent> sample_model_events() {
  constexpr ModelEventType kTypes[] = {ModelEventType::kLoad, ModelEventType::kUnload,
                                       ModelEventType::kDownload, ModelEventType::kHealthCheck};
  constexpr const char* kReasons[] = {"idle", "evicted", "manual", "error"};
  std::vector<ModelEvent> events;
  for (int i = 0; i < 240; ++i) {
    const bool lora = i % 5 == 4;
    ModelEvent e = make_model_event(kTypes[i % 4], lora ? kLoras[i / 6 % 6] : checkpoint(i / 6),
                                    kBase + (i % 6) * kMicrosPerHour + i * 1000 + 500);
    if (i % 13 != 0) e.worker_id = "gpu-" + std::to_string(i % 3);
    switch (e.event_type) {
      case ModelEventType::kLoad:
        e.duration_ms = 2000 + i * 37 % 5000;
        if (i % 3 != 0) e.success = i % 11 != 0;
        if (e.succeeded()) e.gpu_memory_mb = 4000 + i % 4 * 1000;
        break;
      case ModelEventType::kUnload:
        if (i % 5 != 0) e.reason = kReasons[i % 4];
        break;
      case ModelEventType::kDownload:
        e.size_bytes = int64_t{1 + i % 7} << 30;
        e.duration_ms = 10'000 + i;
        if (i % 7 == 2) {
          e.success = false;
          e.error_type = "network";
          e.error_message = "connection reset";
        }
        break;
      case ModelEventType::kHealthCheck:
        e.duration_ms = 50 + i;
        e.success = e.model_id != "ckpt-03";
        if (!*e.success) e.error_type = "checksum";
        break;
    }
    if (i % 8 == 0) e.model_kind = lora ? "lora" : "checkpoint";
    if (lora && i % 2 == 0) e.base_model = "ckpt-00";
    events.push_back(std::move(e));
  }
  return events;
}

// Writes `events` in batches of `size`, the batches in `order`; each batch
// also carries its own first event twice and the first event of the batch
// written before it (duplicates the store must ignore).
template <typename Event>
void write_in_batches(Store& store, const std::vector<Event>& events, size_t size,
                      bool reverse = false) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < events.size(); i += size) starts.push_back(i);
  if (reverse) std::reverse(starts.begin(), starts.end());
  std::optional<size_t> previous;
  for (size_t start : starts) {
    std::vector<Event> batch(events.begin() + start,
                             events.begin() + std::min(events.size(), start + size));
    const size_t fresh = batch.size();
    batch.push_back(batch.front());
    if (previous) batch.push_back(events[*previous]);
    previous = start;
    std::vector<uint8_t> inserted;
    store.write(batch, &inserted);
    ASSERT_EQ(static_cast<size_t>(std::count(inserted.begin(), inserted.end(), 1)), fresh);
  }
}

template <typename Fields>
std::string describe_counters(std::span<const char* const> names, const Fields& fields) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    text += fmt::format("{}={} ", names[i], *fields[i]);
  }
  return text;
}
std::string describe(const ModelUsageBucket& b) {
  return describe_counters(model_usage_columns::kCounters, model_usage_columns::counters(b)) +
         fmt::format("generation_times.count={} gpu_memory.count={}", b.generation_times.count(),
                     b.gpu_memory.count());
}
std::string describe(const ModelParamBucket& b) {
  return describe_counters(model_param_columns::kCounters, model_param_columns::counters(b));
}
std::string describe(const ModelLifecycleBucket& b) {
  return describe_counters(model_lifecycle_columns::kCounters,
                           model_lifecycle_columns::counters(b)) +
         fmt::format("load_times.count={} loaded_gpu_memory.count={}", b.load_times.count(),
                     b.loaded_gpu_memory.count());
}
std::string describe(const ModelHourKey& k) {
  return format_rfc3339_micros(k.hour_us) + " " + k.model_id;
}
std::string describe(const ModelParamKey& k) {
  return fmt::format("{} {} {}={}", format_rfc3339_micros(k.hour_us), k.model_id, k.key, k.value);
}

// Expects `rows` to be exactly the entries of `want` (every key and every
// bucket field) whose hour is in [start, end) and model is `model` when
// given, in key order.
template <typename Row, typename Map>
void expect_rows(const std::vector<Row>& rows, const Map& want, int64_t start, int64_t end,
                 const std::optional<std::string>& model = std::nullopt) {
  std::vector<const typename Map::value_type*> wanted;
  for (const auto& entry : want) {
    if (entry.first.hour_us >= start && entry.first.hour_us < end &&
        (!model || entry.first.model_id == *model)) {
      wanted.push_back(&entry);
    }
  }
  ASSERT_EQ(rows.size(), wanted.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_TRUE(rows[i].key == wanted[i]->first)
        << "got " << describe(rows[i].key) << ", want " << describe(wanted[i]->first);
    EXPECT_TRUE(rows[i].bucket == wanted[i]->second)
        << describe(rows[i].key) << "\ngot  " << describe(rows[i].bucket) << "\nwant "
        << describe(wanted[i]->second);
  }
}

ModelUsageDelta usage_of(const std::vector<GenerationEvent>& events) {
  ModelUsageDelta delta;
  for (const GenerationEvent& e : events) delta.add(e);
  return delta;
}
ModelLifecycleDelta lifecycle_of(const std::vector<ModelEvent>& events) {
  ModelLifecycleDelta delta;
  for (const ModelEvent& e : events) delta.add(e);
  return delta;
}

void expect_same_model_event(const ModelEvent& actual, const ModelEvent& expected) {
  EXPECT_EQ(actual.event_id, expected.event_id);
  EXPECT_EQ(actual.event_type, expected.event_type);
  EXPECT_EQ(actual.model_id, expected.model_id);
  EXPECT_EQ(actual.timestamp_us, expected.timestamp_us);
  EXPECT_EQ(actual.duration_ms, expected.duration_ms);
  EXPECT_EQ(actual.success, expected.success);
  EXPECT_EQ(actual.error_type, expected.error_type);
  EXPECT_EQ(actual.error_message, expected.error_message);
  EXPECT_EQ(actual.size_bytes, expected.size_bytes);
  EXPECT_EQ(actual.gpu_memory_mb, expected.gpu_memory_mb);
  EXPECT_EQ(actual.model_kind, expected.model_kind);
  EXPECT_EQ(actual.base_model, expected.base_model);
  EXPECT_EQ(actual.reason, expected.reason);
  EXPECT_EQ(actual.worker_id, expected.worker_id);
}

// Everything a store reads back of the model tables over the whole sample.
struct ModelTables {
  std::vector<ModelUsageRow> usage;
  std::vector<ModelParamRow> params;
  std::vector<ModelLifecycleRow> lifecycle;
  std::vector<ModelRecord> models;
  std::vector<ModelWorkerState> worker_states;
};

ModelTables read_model_tables(const Store& store) {
  return {store.read_model_usage(kAllStart, kAllEnd, std::nullopt, true),
          store.read_model_params(kAllStart, kAllEnd, std::nullopt),
          store.read_model_lifecycle(kAllStart, kAllEnd, std::nullopt), store.read_models(),
          store.read_model_worker_states()};
}

template <typename Row>
void expect_same_rows(const std::vector<Row>& actual, const std::vector<Row>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_TRUE(actual[i].key == expected[i].key) << describe(actual[i].key);
    EXPECT_TRUE(actual[i].bucket == expected[i].bucket) << describe(actual[i].key);
  }
}

void expect_same_tables(const ModelTables& actual, const ModelTables& expected) {
  expect_same_rows(actual.usage, expected.usage);
  expect_same_rows(actual.params, expected.params);
  expect_same_rows(actual.lifecycle, expected.lifecycle);
  EXPECT_EQ(actual.models, expected.models);
  EXPECT_EQ(actual.worker_states, expected.worker_states);
}

std::vector<ModelWorkerState> worker_states_of(const ModelLifecycleDelta& delta) {
  std::vector<ModelWorkerState> states;
  for (const auto& [model_worker, change] : delta.worker_states()) {
    states.push_back({model_worker.first, model_worker.second, change.loaded, change.at_us,
                      change.gpu_memory_mb});
  }
  return states;
}

TEST_P(StoreSuite, ModelUsageAndParamsRowsAreExactOverBatchesWithDuplicates) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  const auto events = sample_generation_events();
  write_in_batches(*store, events, 37);
  const ModelUsageDelta want = usage_of(events);
  ASSERT_GT(want.usage().size(), 60u);  // the sample names many models each hour

  expect_rows(store->read_model_usage(kAllStart, kAllEnd, std::nullopt, true), want.usage(),
              kAllStart, kAllEnd);
  expect_rows(store->read_model_params(kAllStart, kAllEnd, std::nullopt), want.params(), kAllStart,
              kAllEnd);
  // A window and one model; a LoRA is a model like a checkpoint.
  const int64_t start = kBase + kMicrosPerHour, end = kBase + 4 * kMicrosPerHour;
  expect_rows(store->read_model_usage(start, end, std::nullopt, true), want.usage(), start, end);
  for (const std::string model : {"ckpt-05", "lora-b", "vae-anime", "cn-depth"}) {
    SCOPED_TRACE(model);
    expect_rows(store->read_model_usage(start, end, model, true), want.usage(), start, end, model);
    expect_rows(store->read_model_params(start, end, model), want.params(), start, end, model);
  }
  EXPECT_TRUE(store->read_model_usage(kAllStart, kAllEnd, "nowhere", true).empty());
  EXPECT_TRUE(store->read_model_params(start, start, std::nullopt).empty());

  // Without sketches: the same counters, the sketches left empty.
  std::map<ModelHourKey, ModelUsageBucket> counters_only = want.usage();
  for (auto& [key, bucket] : counters_only) {
    bucket.generation_times = DDSketch();
    bucket.gpu_memory = DDSketch();
  }
  expect_rows(store->read_model_usage(kAllStart, kAllEnd, std::nullopt, false), counters_only,
              kAllStart, kAllEnd);
}

TEST_P(StoreSuite, ModelLifecycleRowsWorkerStatesAndEventsAreExact) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  const auto events = sample_model_events();
  // Newest batches first: older loads and unloads arrive after newer ones.
  write_in_batches(*store, events, 29, /*reverse=*/true);
  const ModelLifecycleDelta want = lifecycle_of(events);

  expect_rows(store->read_model_lifecycle(kAllStart, kAllEnd, std::nullopt), want.lifecycle(),
              kAllStart, kAllEnd);
  const int64_t start = kBase + 2 * kMicrosPerHour, end = kBase + 5 * kMicrosPerHour;
  expect_rows(store->read_model_lifecycle(start, end, std::nullopt), want.lifecycle(), start, end);
  expect_rows(store->read_model_lifecycle(start, end, "ckpt-03"), want.lifecycle(), start, end,
              std::string("ckpt-03"));
  EXPECT_EQ(store->read_model_worker_states(), worker_states_of(want));

  std::vector<ModelEvent> expected;
  for (const ModelEvent& e : events) {
    if (e.timestamp_us >= start && e.timestamp_us < end) expected.push_back(e);
  }
  std::sort(expected.begin(), expected.end(), [](const ModelEvent& a, const ModelEvent& b) {
    return a.timestamp_us < b.timestamp_us;
  });
  std::vector<ModelEvent> seen;
  store->scan_model_events(start, end, [&](const ModelEvent& e) { seen.push_back(e); });
  ASSERT_EQ(seen.size(), expected.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    SCOPED_TRACE(i);
    expect_same_model_event(seen[i], expected[i]);
  }
}

TEST_P(StoreSuite, InventoryOfTheFleetHasEveryModelWithItsTimes) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  const auto generations = sample_generation_events();
  const auto model_events = sample_model_events();
  write_in_batches(*store, generations, 50);
  write_in_batches(*store, model_events, 50);

  std::map<std::string, ModelRecord> want;
  auto seen = [&](const std::string& id, int64_t t) -> ModelRecord& {
    ModelRecord& r = want[id];
    r.model_id = id;
    r.first_seen_us = std::min(r.first_seen_us.value_or(t), t);
    return r;
  };
  for (const GenerationEvent& e : generations) {
    for (const ModelUse& use : models_used(e)) {
      ModelRecord& r = seen(use.model_id, e.timestamp_us);
      // Every model of the sample has one role, and explicit kinds agree with it.
      r.model_kind = std::string(model_kind_of(use.role));
      if (e.event_type == GenerationEventType::kRequest) {
        r.last_used_us = std::max(r.last_used_us.value_or(e.timestamp_us), e.timestamp_us);
      }
    }
  }
  for (const ModelEvent& e : model_events) {
    ModelRecord& r = seen(e.model_id, e.timestamp_us);
    r.last_event_us = std::max(r.last_event_us.value_or(e.timestamp_us), e.timestamp_us);
  }
  const std::vector<ModelRecord> records = store->read_models();
  ASSERT_EQ(records.size(), want.size());
  auto it = want.begin();
  for (const ModelRecord& r : records) {
    const ModelRecord& w = (it++)->second;
    SCOPED_TRACE(w.model_id);
    ASSERT_EQ(r.model_id, w.model_id);
    EXPECT_EQ(r.model_kind, w.model_kind);
    EXPECT_EQ(r.first_seen_us, w.first_seen_us);
    EXPECT_EQ(r.last_used_us, w.last_used_us);
    EXPECT_EQ(r.last_event_us, w.last_event_us);
    EXPECT_EQ(r.registered_us, std::nullopt);
    EXPECT_EQ(r.path, std::nullopt);
  }
}

TEST_P(StoreSuite, WritingModelDataTwiceChangesNothing) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  const auto generations = sample_generation_events();
  const auto model_events = sample_model_events();
  std::vector<uint8_t> inserted;
  store->write(generations, &inserted);
  store->write(model_events, &inserted);
  const ModelTables before = read_model_tables(*store);
  store->write(generations, &inserted);
  EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 0);
  store->write(model_events, &inserted);
  EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 0);
  expect_same_tables(read_model_tables(*store), before);
}

// One (hour, model, key) keeps at most the cap's values in rows of their
// own; the rest are one "(other)" row, and no use is lost.
TEST_P(StoreSuite, ModelParamValuesOverTheCapFoldIntoOther) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  constexpr size_t kCap = kDefaultMaxValuesPerDimensionHour;
  std::vector<GenerationEvent> events;
  std::map<std::string, int64_t> uses_by_seed;
  for (size_t i = 0; i < kCap + 50; ++i) {
    GenerationEvent e = make_event(GenerationEventType::kRequest,
                                   kBase + static_cast<int64_t>(i) * kMicrosPerSecond);
    e.model_checkpoint = "capped";
    const std::string seed = std::to_string(i % (kCap + 30));  // some seeds twice
    e.params_json = fmt::format(R"({{"seed":"{}","steps":30}})", seed);
    ++uses_by_seed[seed];
    events.push_back(std::move(e));
  }
  // Two batches: the second brings new values to an hour already at the cap.
  std::vector<uint8_t> inserted;
  const std::span<const GenerationEvent> all(events);
  store->write(all.first(kCap - 10), &inserted);
  store->write(all.subspan(kCap - 10), &inserted);

  const auto rows = store->read_model_params(kBase, kBase + kMicrosPerHour, std::string("capped"));
  int64_t real_values = 0, seed_uses = 0, other_uses = 0, folded_uses = 0;
  std::set<std::string> kept;
  for (const ModelParamRow& row : rows) {
    ASSERT_EQ(row.key.hour_us, kBase);
    if (row.key.key == "steps") {
      EXPECT_EQ(row.key.value, "30");
      EXPECT_EQ(row.bucket.uses, static_cast<int64_t>(events.size()));
      continue;
    }
    ASSERT_EQ(row.key.key, "seed");
    seed_uses += row.bucket.uses;
    if (row.key.value == kOtherValue) {
      other_uses = row.bucket.uses;
      continue;
    }
    ++real_values;
    kept.insert(row.key.value);
    EXPECT_EQ(row.bucket.uses, uses_by_seed.at(row.key.value)) << row.key.value;
  }
  EXPECT_EQ(real_values, static_cast<int64_t>(kCap));
  for (const auto& [seed, uses] : uses_by_seed) {
    if (!kept.contains(seed)) folded_uses += uses;
  }
  EXPECT_GT(other_uses, 0);
  EXPECT_EQ(other_uses, folded_uses);
  EXPECT_EQ(seed_uses, static_cast<int64_t>(events.size()));
  // Usage itself is never capped.
  const auto usage = store->read_model_usage(kBase, kBase + kMicrosPerHour, "capped", false);
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_EQ(usage[0].bucket.uses, static_cast<int64_t>(events.size()));
}

// What the inventory learns from generations, model events and
// registrations: first_seen the earliest, last_used/last_event the latest;
// an explicit kind beats one implied by a role; a model event older than
// the description the inventory holds does not override it; a
// registration replaces the fields it gives.
TEST_P(StoreSuite, InventoryMergesEventsAndRegistrations) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto at = [](int64_t minutes) { return kBase + minutes * kMinute; };
  std::vector<uint8_t> inserted;
  auto generation = [&](GenerationEventType type, int64_t t) {
    GenerationEvent e = make_event(type, t);
    e.model_checkpoint = "base-x";
    e.params_json = R"({"lora":"lora-y"})";
    if (e.is_completion()) e.success = true;
    store->write(std::vector{e}, &inserted);
  };
  auto model_event = [&](ModelEventType type, int64_t t, auto&& fill) {
    ModelEvent e = make_model_event(type, "lora-y", t);
    fill(e);
    store->write(std::vector{e}, &inserted);
  };
  auto record = [&](const std::string& id) {
    for (const ModelRecord& r : store->read_models()) {
      if (r.model_id == id) return r;
    }
    ADD_FAILURE() << id << " is not in the inventory";
    return ModelRecord{};
  };

  generation(GenerationEventType::kRequest, at(10));
  generation(GenerationEventType::kCompletion, at(5));
  EXPECT_EQ(record("base-x"),
            (ModelRecord{"base-x", "checkpoint", std::nullopt, std::nullopt, std::nullopt, at(5),
                         at(10), std::nullopt, std::nullopt}));
  EXPECT_EQ(record("lora-y").model_kind, "lora");  // implied by the role

  // An explicit kind replaces the implied one, whatever the times.
  model_event(ModelEventType::kDownload, at(1), [](ModelEvent& e) {
    e.model_kind = "embedding";
    e.base_model = "base-x";
    e.size_bytes = 100;
  });
  EXPECT_EQ(record("lora-y"), (ModelRecord{"lora-y", "embedding", "base-x", std::nullopt, 100,
                                           at(1), at(10), at(1), std::nullopt}));
  // A generation's implied kind never replaces a stored one.
  generation(GenerationEventType::kRequest, at(20));
  EXPECT_EQ(record("lora-y").model_kind, "embedding");
  EXPECT_EQ(record("lora-y").last_used_us, at(20));
  // An older model event arriving later: earlier first_seen, fields kept.
  model_event(ModelEventType::kDownload, kBase + 30 * kMicrosPerSecond, [](ModelEvent& e) {
    e.model_kind = "lora";
    e.size_bytes = 50;
  });
  EXPECT_EQ(record("lora-y"),
            (ModelRecord{"lora-y", "embedding", "base-x", std::nullopt, 100,
                         kBase + 30 * kMicrosPerSecond, at(20), at(1), std::nullopt}));
  // A newer one replaces what it gives.
  model_event(ModelEventType::kHealthCheck, at(30), [](ModelEvent& e) { e.size_bytes = 200; });
  EXPECT_EQ(record("lora-y").size_bytes, 200);
  EXPECT_EQ(record("lora-y").last_event_us, at(30));

  const std::vector<ModelRecord> registrations = {
      {"lora-y", std::nullopt, std::nullopt, "/models/loras/lora-y.safetensors", 300, std::nullopt,
       std::nullopt, std::nullopt, at(40)},
      {"never-used", "vae", std::nullopt, "/models/vae/never-used.safetensors", 10,
       kBase - kMicrosPerDay, std::nullopt, std::nullopt, at(40)},
      {"base-x", std::nullopt, std::nullopt, std::nullopt, std::nullopt, at(60), std::nullopt,
       std::nullopt, at(41)},
  };
  store->register_models(registrations);
  // A model event older than the registration does not override it.
  model_event(ModelEventType::kDownload, at(35), [](ModelEvent& e) { e.size_bytes = 999; });
  // A newer one does.
  model_event(ModelEventType::kLoad, at(50), [](ModelEvent& e) { e.model_kind = "lora"; });

  const std::vector<ModelRecord> want = {
      {"base-x", "checkpoint", std::nullopt, std::nullopt, std::nullopt, at(5), at(20),
       std::nullopt, at(41)},
      {"lora-y", "lora", "base-x", "/models/loras/lora-y.safetensors", 300,
       kBase + 30 * kMicrosPerSecond, at(20), at(50), at(40)},
      {"never-used", "vae", std::nullopt, "/models/vae/never-used.safetensors", 10,
       kBase - kMicrosPerDay, std::nullopt, std::nullopt, at(40)},
  };
  EXPECT_EQ(store->read_models(), want);
  store->register_models({});
  EXPECT_EQ(store->read_models(), want);
}

TEST_P(StoreSuite, ModelWorkerStateKeepsTheLatestChange) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto at = [](int64_t minutes) { return kBase + minutes * kMinute; };
  auto event = [&](ModelEventType type, const std::string& model,
                   const std::optional<std::string>& worker, int64_t t,
                   std::optional<int64_t> gpu_memory_mb = std::nullopt) {
    ModelEvent e = make_model_event(type, model, t);
    e.worker_id = worker;
    e.gpu_memory_mb = gpu_memory_mb;
    return e;
  };
  using enum ModelEventType;
  std::vector<uint8_t> inserted;
  store->write(
      std::vector{event(kLoad, "m1", "w1", at(20), 8000), event(kUnload, "m1", "w2", at(10))},
      &inserted);
  // Older than the stored state of (m1, w1): ignored; newer for (m1, w2): applied.
  store->write(
      std::vector{event(kUnload, "m1", "w1", at(15)), event(kLoad, "m1", "w2", at(25), 7000),
                  event(kLoad, "m2", std::nullopt, at(5), 3000)},
      &inserted);
  EXPECT_EQ(store->read_model_worker_states(),
            (std::vector<ModelWorkerState>{{"m1", "w1", true, at(20), 8000},
                                           {"m1", "w2", true, at(25), 7000},
                                           {"m2", "", true, at(5), 3000}}));
  // At the same time as the stored state: the one written later wins.
  store->write(std::vector{event(kUnload, "m1", "w1", at(20))}, &inserted);
  EXPECT_EQ(store->read_model_worker_states()[0],
            (ModelWorkerState{"m1", "w1", false, at(20), std::nullopt}));
}

TEST_P(StoreSuite, ScanModelUsesVisitsRequestsInTimestampOrder) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  auto events = sample_generation_events();
  std::reverse(events.begin(), events.end());  // stored out of order
  write_in_batches(*store, events, 101);
  const int64_t start = kBase + kMicrosPerHour, end = kBase + 4 * kMicrosPerHour;
  std::vector<std::pair<int64_t, std::vector<ModelUse>>> expected;
  for (const GenerationEvent& e : events) {
    if (e.event_type != GenerationEventType::kRequest || e.timestamp_us < start ||
        e.timestamp_us >= end) {
      continue;
    }
    std::vector<ModelUse> uses = models_used(e);
    if (!uses.empty()) expected.emplace_back(e.timestamp_us, std::move(uses));
  }
  std::sort(expected.begin(), expected.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  ASSERT_GT(expected.size(), 50u);
  std::vector<std::pair<int64_t, std::vector<ModelUse>>> seen;
  store->scan_model_uses(start, end, [&](int64_t t, std::span<const ModelUse> uses) {
    seen.emplace_back(t, std::vector<ModelUse>(uses.begin(), uses.end()));
  });
  EXPECT_EQ(seen, expected);
}

TEST_P(StoreSuite, ModelDataSurvivesReopening) {
  TempDir dir;
  const auto generations = sample_generation_events();
  const auto model_events = sample_model_events();
  const std::vector<ModelRecord> registration = {
      {"on-disk", "checkpoint", std::nullopt, "/models/checkpoints/on-disk.ckpt", 1 << 20,
       kBase - kMicrosPerDay, std::nullopt, std::nullopt, kBase}};
  ModelTables before;
  {
    auto store = GetParam().open(dir.path());
    std::vector<uint8_t> inserted;
    store->write(generations, &inserted);
    store->write(model_events, &inserted);
    store->register_models(registration);
    before = read_model_tables(*store);
  }
  auto store = GetParam().open(dir.path());
  expect_same_tables(read_model_tables(*store), before);
  expect_rows(before.usage, usage_of(generations).usage(), kAllStart, kAllEnd);
  expect_rows(before.lifecycle, lifecycle_of(model_events).lifecycle(), kAllStart, kAllEnd);
  // Still idempotent after reopening.
  std::vector<uint8_t> inserted;
  store->write(model_events, &inserted);
  EXPECT_EQ(std::count(inserted.begin(), inserted.end(), 1), 0);
  expect_same_tables(read_model_tables(*store), before);
}

// Lifecycle events never change generation metrics (issue 10), nor usage.
TEST_P(StoreSuite, ModelEventsNeverChangeGenerationRollups) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  std::vector<uint8_t> inserted;
  store->write(sample_generation_events(), &inserted);
  auto generation_rows = [&](Dimension dimension) {
    return store->read_rollups(dimension, kAllStart, kAllEnd, std::nullopt,
                               RollupColumns{true, true, true});
  };
  const auto all = generation_rows(Dimension::kAll);
  const auto by_model = generation_rows(Dimension::kModelCheckpoint);
  const auto usage = store->read_model_usage(kAllStart, kAllEnd, std::nullopt, true);
  const auto params = store->read_model_params(kAllStart, kAllEnd, std::nullopt);
  const int64_t count = store->count_generation_events();

  store->write(sample_model_events(), &inserted);
  for (const auto& [before, after] :
       {std::pair(all, generation_rows(Dimension::kAll)),
        std::pair(by_model, generation_rows(Dimension::kModelCheckpoint))}) {
    ASSERT_EQ(after.size(), before.size());
    for (size_t i = 0; i < after.size(); ++i) {
      EXPECT_TRUE(after[i].key == before[i].key);
      EXPECT_TRUE(after[i].bucket == before[i].bucket) << after[i].key.value;
    }
  }
  expect_same_rows(store->read_model_usage(kAllStart, kAllEnd, std::nullopt, true), usage);
  expect_same_rows(store->read_model_params(kAllStart, kAllEnd, std::nullopt), params);
  EXPECT_EQ(store->count_generation_events(), count);
}

TEST_P(StoreSuite, GenerationEventsNeverCreateLifecycleRows) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  std::vector<uint8_t> inserted;
  store->write(sample_generation_events(), &inserted);
  EXPECT_TRUE(store->read_model_lifecycle(kAllStart, kAllEnd, std::nullopt).empty());
  EXPECT_TRUE(store->read_model_worker_states().empty());
  size_t scanned = 0;
  store->scan_model_events(kAllStart, kAllEnd, [&](const ModelEvent&) { ++scanned; });
  EXPECT_EQ(scanned, 0u);
  const auto models = store->read_models();
  EXPECT_FALSE(models.empty());
  for (const ModelRecord& r : models) EXPECT_EQ(r.last_event_us, std::nullopt) << r.model_id;
}

// The sample's generations spread over three UTC days (kBase - 36 h to
// kBase + 36 h), `shift` hours later still.
std::vector<GenerationEvent> generations_over_days(int shift) {
  std::vector<GenerationEvent> events = sample_generation_events();
  for (size_t i = 0; i < events.size(); ++i) {
    events[i].event_id = random_uuid();
    events[i].timestamp_us += (static_cast<int64_t>(i / 5 % 12) - 6 + shift) * 6 * kMicrosPerHour;
  }
  return events;
}

// What Store::read_model_spans must return: the exact rows of `events`
// merged into the pieces.
ModelSpans expected_spans(const std::vector<GenerationEvent>& events, int64_t start, int64_t end,
                          std::span<const int64_t> cuts) {
  const ModelUsageDelta want = usage_of(events);
  std::vector<ModelUsageRow> usage;
  for (const auto& [key, bucket] : want.usage()) usage.push_back({key, bucket});
  std::vector<ModelParamRow> params;
  for (const auto& [key, bucket] : want.params()) params.push_back({key, bucket});
  return build_model_spans(model_span_keys(start, end, cuts), usage, params);
}

void expect_same_spans(const ModelSpans& actual, const ModelSpans& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    ASSERT_EQ(actual[i]->size(), expected[i]->size()) << "piece " << i;
    for (size_t j = 0; j < actual[i]->size(); ++j) {
      EXPECT_TRUE((*actual[i])[j] == (*expected[i])[j])
          << "piece " << i << " model " << (*expected[i])[j].model_id;
    }
  }
}

TEST_P(StoreSuite, ModelSpansAreTheRowsMergedAndFollowEveryWrite) {
  TempDir dir;
  auto store = GetParam().open(dir.path());
  // kBase is a Sunday: the window holds the week from Monday kBase + 1 day.
  const int64_t start = kBase - 2 * kMicrosPerDay, end = kBase + 9 * kMicrosPerDay;
  const int64_t cuts[] = {kBase + 5 * kMicrosPerHour};
  std::vector<GenerationEvent> events = generations_over_days(0);
  write_in_batches(*store, events, 50);
  const ModelSpans first = store->read_model_spans(start, end, cuts);
  // Days -2 and -1; day 0's hours 0-4 (the cut), 5 and its last three
  // quarters; the week (with day 1's generations); day 8.
  ASSERT_EQ(first.size(), 2u + 9 + 1 + 1);
  ASSERT_EQ((*first[11])[0].hours, 168);
  expect_same_spans(first, expected_spans(events, start, end, cuts));
  // Again (from memory where the store caches), and a window moved by an hour.
  expect_same_spans(store->read_model_spans(start, end, cuts), first);
  expect_same_spans(store->read_model_spans(start + kMicrosPerHour, end, cuts),
                    expected_spans(events, start + kMicrosPerHour, end, cuts));

  // More generations in the same days, through this store ...
  const std::vector<GenerationEvent> later = generations_over_days(1);
  write_in_batches(*store, later, 70);
  events.insert(events.end(), later.begin(), later.end());
  expect_same_spans(store->read_model_spans(start, end, cuts),
                    expected_spans(events, start, end, cuts));
  // ... and through another opened on the same data, as another process.
  {
    auto other = GetParam().open(dir.path());
    const std::vector<GenerationEvent> elsewhere = generations_over_days(-1);
    write_in_batches(*other, elsewhere, 90);
    events.insert(events.end(), elsewhere.begin(), elsewhere.end());
  }
  expect_same_spans(store->read_model_spans(start, end, cuts),
                    expected_spans(events, start, end, cuts));
  EXPECT_TRUE(store->read_model_spans(start, start, cuts).empty());
}

}  // namespace
}  // namespace genalytics::testing
