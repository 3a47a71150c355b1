// Over 400 lines: the three model rollup families, sightings and worker
// states, each against an exact computation on generated events.
#include "rollup/model_rollup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "event/time.h"
#include "rollup/rollup_bucket.h"
#include "testing/fixed_times.h"

namespace genalytics {
namespace {

using testing::kHour;

constexpr int64_t kMinute = 60 * kMicrosPerSecond;

// Lifecycle events cannot reach generation metrics, nor generation events
// lifecycle ones: the types do not allow it.
template <typename Target, typename Event>
constexpr bool kAdds = requires(Target target, const Event& event) {
  target.add(event);
};
static_assert(kAdds<ModelUsageBucket, GenerationEvent> && !kAdds<ModelUsageBucket, ModelEvent>);
static_assert(kAdds<ModelUsageDelta, GenerationEvent> && !kAdds<ModelUsageDelta, ModelEvent>);
static_assert(kAdds<ModelLifecycleBucket, ModelEvent> &&
              !kAdds<ModelLifecycleBucket, GenerationEvent>);
static_assert(kAdds<ModelLifecycleDelta, ModelEvent> &&
              !kAdds<ModelLifecycleDelta, GenerationEvent>);
static_assert(!kAdds<RollupBucket, ModelEvent> && !kAdds<RollupDelta, ModelEvent>);

GenerationEvent generation(GenerationEventType type, int64_t timestamp_us,
                           std::optional<std::string> checkpoint = std::nullopt,
                           std::optional<std::string> params = std::nullopt) {
  GenerationEvent event;
  event.event_type = type;
  event.timestamp_us = timestamp_us;
  event.model_checkpoint = std::move(checkpoint);
  event.params_json = std::move(params);
  return event;
}

GenerationEvent completion(int64_t timestamp_us, const std::string& checkpoint, bool success,
                           std::optional<int64_t> generation_time_ms,
                           std::optional<std::string> params = std::nullopt) {
  GenerationEvent event =
      generation(GenerationEventType::kCompletion, timestamp_us, checkpoint, std::move(params));
  event.success = success;
  event.generation_time_ms = generation_time_ms;
  return event;
}

ModelEvent model_event(ModelEventType type, int64_t timestamp_us, const std::string& model_id) {
  ModelEvent event;
  event.event_type = type;
  event.timestamp_us = timestamp_us;
  event.model_id = model_id;
  return event;
}

// ---------------------------------------------------------------------------
// ModelUsageBucket

TEST(ModelUsageBucketTest, CountsRequestsCompletionsAndTheirMeasures) {
  ModelUsageBucket bucket;
  bucket.add(generation(GenerationEventType::kRequest, kHour));
  bucket.add(generation(GenerationEventType::kRequest, kHour));
  bucket.add(generation(GenerationEventType::kStart, kHour));
  bucket.add(generation(GenerationEventType::kCancellation, kHour));
  GenerationEvent fast = completion(kHour, "m", true, 1000);
  fast.gpu_memory_mb = 8000;
  bucket.add(fast);
  bucket.add(completion(kHour, "m", false, 3000));
  GenerationEvent untimed = completion(kHour, "m", true, std::nullopt);
  untimed.success.reset();  // not a success
  bucket.add(untimed);

  EXPECT_EQ(bucket.uses, 2);
  EXPECT_EQ(bucket.completions, 3);
  EXPECT_EQ(bucket.successes, 1);
  EXPECT_EQ(bucket.generation_time_count, 2);
  EXPECT_EQ(bucket.generation_time_sum, 4000);
  EXPECT_EQ(bucket.generation_times.count(), 2u);
  EXPECT_NEAR(*bucket.generation_times.quantile(1), 3000, 30);
  EXPECT_EQ(bucket.gpu_memory.count(), 1u);
  EXPECT_NEAR(*bucket.gpu_memory.quantile(0.5), 8000, 80);
}

TEST(ModelUsageBucketTest, MergeEqualsBucketOfTheUnion) {
  ModelUsageBucket left, right, all;
  for (int i = 0; i < 300; ++i) {
    GenerationEvent event =
        i % 3 == 0 ? generation(GenerationEventType::kRequest, kHour)
                   : completion(kHour, "m", i % 5 != 0,
                                i % 7 ? std::optional<int64_t>(100 + i * 37) : std::nullopt);
    if (i % 4 == 1) event.gpu_memory_mb = 4000 + i;
    (i < 120 ? left : right).add(event);
    all.add(event);
  }
  left.merge(right);
  EXPECT_EQ(left, all);
}

// ---------------------------------------------------------------------------
// ModelLifecycleBucket

TEST(ModelLifecycleBucketTest, CountsEachTypeItsOwnWay) {
  ModelLifecycleBucket bucket;
  ModelEvent load = model_event(ModelEventType::kLoad, kHour, "m");
  load.duration_ms = 4000;
  load.gpu_memory_mb = 7000;
  load.size_bytes = 6'938'078'334;
  bucket.add(load);
  ModelEvent failed_load = load;
  failed_load.success = false;  // its time and memory are not a load's
  failed_load.size_bytes = 7'000'000'000;
  bucket.add(failed_load);
  ModelEvent untimed_load = model_event(ModelEventType::kLoad, kHour, "m");
  untimed_load.success = true;
  bucket.add(untimed_load);
  for (const char* reason : {"idle", "idle", "evicted", "manual", "error"}) {
    ModelEvent unload = model_event(ModelEventType::kUnload, kHour, "m");
    unload.reason = reason;
    bucket.add(unload);
  }
  bucket.add(model_event(ModelEventType::kUnload, kHour, "m"));  // no reason
  ModelEvent download = model_event(ModelEventType::kDownload, kHour, "m");
  download.duration_ms = 60'000;
  bucket.add(download);
  download.success = false;
  bucket.add(download);
  bucket.add(model_event(ModelEventType::kHealthCheck, kHour, "m"));
  ModelEvent check_failed = model_event(ModelEventType::kHealthCheck, kHour, "m");
  check_failed.success = false;
  bucket.add(check_failed);

  EXPECT_EQ(bucket.loads, 3);
  EXPECT_EQ(bucket.load_failures, 1);
  EXPECT_EQ(bucket.load_time_count, 1);
  EXPECT_EQ(bucket.load_time_sum, 4000);
  EXPECT_EQ(bucket.load_times.count(), 1u);
  EXPECT_EQ(bucket.loaded_gpu_memory.count(), 1u);
  EXPECT_EQ(bucket.unloads, 6);
  EXPECT_EQ(bucket.unloads_idle, 2);
  EXPECT_EQ(bucket.unloads_evicted, 1);
  EXPECT_EQ(bucket.unloads_manual, 1);
  EXPECT_EQ(bucket.unloads_error, 1);
  EXPECT_EQ(bucket.downloads, 2);
  EXPECT_EQ(bucket.download_failures, 1);
  EXPECT_EQ(bucket.download_time_sum, 60'000);
  EXPECT_EQ(bucket.health_checks, 2);
  EXPECT_EQ(bucket.health_check_failures, 1);
  EXPECT_EQ(bucket.max_size_bytes, 7'000'000'000);
}

// ---------------------------------------------------------------------------
// ModelUsageDelta against an exact computation.

// A generated generation event and what it says, written down independently
// of models_used and for_each_param.
struct GeneratedUse {
  GenerationEvent event;
  std::vector<std::pair<std::string, std::string>>
      models;                                            // (id, kind): distinct, checkpoint first
  std::set<std::pair<std::string, std::string>> params;  // (key, value), distinct
};

std::vector<GeneratedUse> generate_uses(uint64_t seed, size_t count) {
  std::mt19937_64 random(seed);
  const std::string checkpoints[] = {"sdxl", "sd15", "flux"};
  const std::string loras[] = {"detail", "anime", "sdxl"};  // "sdxl" duplicates a checkpoint
  const std::string samplers[] = {"euler", "dpmpp_2m"};
  std::vector<GeneratedUse> uses;
  for (size_t i = 0; i < count; ++i) {
    GeneratedUse use;
    const auto type = static_cast<GenerationEventType>(random() % 4);
    const int64_t timestamp = kHour + static_cast<int64_t>(random() % (5 * kMicrosPerHour));
    use.event = generation(type, timestamp);
    if (random() % 8 != 0) {
      const std::string& checkpoint = checkpoints[random() % 3];
      use.event.model_checkpoint = random() % 4 == 0 ? " " + checkpoint + "\t" : checkpoint;
      use.models.emplace_back(checkpoint, "checkpoint");
    }
    if (random() % 5 != 0) {
      std::string params = "{";
      const std::string sampler = samplers[random() % 2];
      const int64_t steps = 20 + static_cast<int64_t>(random() % 3) * 5;
      params += R"("sampler":")" + sampler + R"(","steps":)" + std::to_string(steps);
      use.params.emplace("sampler", sampler);
      use.params.emplace("steps", std::to_string(steps));
      if (random() % 2 == 0) {
        // Two LoRAs, maybe the same twice.
        const std::string& a = loras[random() % 3];
        const std::string& b = loras[random() % 3];
        params += R"(,"lora":[")" + a + R"(",{"name":")" + b + R"(","weight":0.5}])";
        for (const std::string& lora : {a, b}) {
          use.params.emplace("lora", lora);
          bool known = false;
          for (const auto& [model, kind] : use.models) known = known || model == lora;
          if (!known) use.models.emplace_back(lora, "lora");
        }
      }
      if (random() % 3 == 0) {
        params += R"(,"tags":["a","b","a"])";
        use.params.emplace("tags", "a");
        use.params.emplace("tags", "b");
      }
      use.event.params_json = params + "}";
    }
    if (type == GenerationEventType::kCompletion) {
      if (random() % 5 != 0) use.event.success = random() % 4 != 0;
      if (random() % 6 != 0) use.event.generation_time_ms = static_cast<int64_t>(random() % 90'000);
      if (random() % 2 == 0)
        use.event.gpu_memory_mb = 2000 + static_cast<int64_t>(random() % 20'000);
    }
    uses.push_back(std::move(use));
  }
  return uses;
}

struct ExpectedUsage {
  std::map<ModelHourKey, ModelUsageBucket> usage;
  std::map<ModelParamKey, ModelParamBucket> params;
  std::map<std::string, std::tuple<int64_t, std::optional<int64_t>, std::string>>
      sightings;  // first_seen, last_used, kind
};

ExpectedUsage expected_usage(const std::vector<GeneratedUse>& uses) {
  ExpectedUsage expected;
  for (const GeneratedUse& use : uses) {
    const GenerationEvent& e = use.event;
    const int64_t hour = e.timestamp_us / kMicrosPerHour * kMicrosPerHour;
    const bool request = e.event_type == GenerationEventType::kRequest;
    const bool completion = e.event_type == GenerationEventType::kCompletion;
    for (const auto& [model, kind] : use.models) {
      ModelUsageBucket& bucket = expected.usage[{hour, model}];
      bucket.uses += request;
      bucket.completions += completion;
      bucket.successes += completion && e.success == true;
      if (completion && e.generation_time_ms) {
        ++bucket.generation_time_count;
        bucket.generation_time_sum += *e.generation_time_ms;
        bucket.generation_times.add(static_cast<double>(*e.generation_time_ms));
      }
      if (completion && e.gpu_memory_mb)
        bucket.gpu_memory.add(static_cast<double>(*e.gpu_memory_mb));
      for (const auto& [key, value] : use.params) {
        if (request) ++expected.params[{hour, model, key, value}].uses;
        if (completion && e.generation_time_ms) {
          ModelParamBucket& param = expected.params[{hour, model, key, value}];
          ++param.timed;
          param.generation_time_sum += *e.generation_time_ms;
        }
      }
      auto [it, inserted] =
          expected.sightings.try_emplace(model, e.timestamp_us, std::nullopt, kind);
      auto& [first_seen, last_used, latest_kind] = it->second;
      first_seen = std::min(first_seen, e.timestamp_us);
      if (request && (!last_used || *last_used < e.timestamp_us)) last_used = e.timestamp_us;
      latest_kind = kind;  // implied kinds: the later in the batch wins
    }
  }
  return expected;
}

TEST(ModelUsageDeltaTest, MatchesAnExactComputation) {
  const std::vector<GeneratedUse> uses = generate_uses(10, 3000);
  ModelUsageDelta delta;
  for (const GeneratedUse& use : uses) delta.add(use.event);
  const ExpectedUsage expected = expected_usage(uses);

  EXPECT_EQ(delta.usage(), expected.usage);
  EXPECT_EQ(delta.params(), expected.params);
  ASSERT_EQ(delta.sightings().size(), expected.sightings.size());
  for (const auto& [model, sighting] : delta.sightings()) {
    const auto& [first_seen, last_used, kind] = expected.sightings.at(model);
    EXPECT_EQ(sighting.first_seen_us, first_seen) << model;
    EXPECT_EQ(sighting.last_used_us, last_used) << model;
    EXPECT_EQ(sighting.model_kind, kind) << model;
    EXPECT_TRUE(sighting.kind_implied);
    EXPECT_EQ(sighting.last_event_us, std::nullopt);
    EXPECT_EQ(sighting.base_model, std::nullopt);
    EXPECT_EQ(sighting.size_bytes, std::nullopt);
  }
  // The generated batch covers every family widely.
  EXPECT_EQ(expected.usage.size(), 5u * 5u);  // every hour, every model
  EXPECT_GT(expected.params.size(), 100u);
}

TEST(ModelUsageDeltaTest, MergeOfSplitHalvesIsTheWhole) {
  const std::vector<GeneratedUse> uses = generate_uses(11, 2000);
  ModelUsageDelta first, second, whole;
  for (size_t i = 0; i < uses.size(); ++i) {
    (i < uses.size() / 2 ? first : second).add(uses[i].event);
    whole.add(uses[i].event);
  }
  std::map<ModelHourKey, ModelUsageBucket> usage = first.usage();
  for (const auto& [key, bucket] : second.usage()) usage[key].merge(bucket);
  EXPECT_EQ(usage, whole.usage());
  std::map<ModelParamKey, ModelParamBucket> params = first.params();
  for (const auto& [key, bucket] : second.params()) params[key].merge(bucket);
  EXPECT_EQ(params, whole.params());
  std::map<std::string, ModelSighting> sightings = first.sightings();
  for (const auto& [model, sighting] : second.sightings()) {
    const auto [it, inserted] = sightings.try_emplace(model, sighting);
    if (!inserted) it->second.merge(sighting);
  }
  ASSERT_EQ(sightings.size(), whole.sightings().size());
  for (const auto& [model, sighting] : whole.sightings()) {
    EXPECT_EQ(sightings.at(model).first_seen_us, sighting.first_seen_us);
    EXPECT_EQ(sightings.at(model).last_used_us, sighting.last_used_us);
    EXPECT_EQ(sightings.at(model).model_kind, sighting.model_kind);
  }
}

TEST(ModelUsageDeltaTest, EventsNamingNoModelChangeNothing) {
  ModelUsageDelta delta;
  delta.add(generation(GenerationEventType::kRequest, kHour));
  delta.add(generation(GenerationEventType::kRequest, kHour, "  ", R"({"steps":30,"lora":""})"));
  delta.add(generation(GenerationEventType::kRequest, kHour, std::nullopt, "not json"));
  EXPECT_TRUE(delta.empty());
  EXPECT_TRUE(delta.params().empty());
  EXPECT_TRUE(delta.sightings().empty());
}

TEST(ModelUsageDeltaTest, ParamsRowsForEveryModelTheEventUses) {
  ModelUsageDelta delta;
  const std::string params = R"({"lora":"detail","cfg":7.5E0,"tags":["x","x"],"o":{"a":1}})";
  delta.add(generation(GenerationEventType::kRequest, kHour + kMinute, "sdxl", params));
  delta.add(generation(GenerationEventType::kStart, kHour + 2 * kMinute, "sdxl", params));
  delta.add(completion(kHour + 3 * kMinute, "sdxl", true, 5000, params));
  delta.add(completion(kHour + 4 * kMinute, "sdxl", true, std::nullopt, params));  // untimed

  const ModelParamBucket both{1, 1, 5000};
  std::map<ModelParamKey, ModelParamBucket> expected;
  for (const std::string model : {"sdxl", "detail"}) {
    expected[{kHour, model, "cfg", "7.5"}] = both;
    expected[{kHour, model, "lora", "detail"}] = both;
    expected[{kHour, model, "tags", "x"}] = both;  // once per event
  }
  EXPECT_EQ(delta.params(), expected);
  // The start event is counted nowhere but is a sighting.
  EXPECT_EQ(delta.usage().at({kHour, "detail"}).uses, 1);
  EXPECT_EQ(delta.usage().at({kHour, "detail"}).completions, 2);
  EXPECT_EQ(delta.sightings().at("detail").first_seen_us, kHour + kMinute);
  EXPECT_EQ(delta.sightings().at("detail").last_used_us, kHour + kMinute);
  EXPECT_EQ(delta.sightings().at("detail").model_kind, "lora");
}

TEST(ModelUsageDeltaTest, HoursAreUtcHourStarts) {
  ModelUsageDelta delta;
  delta.add(generation(GenerationEventType::kRequest, kHour - 1, "m"));
  delta.add(generation(GenerationEventType::kRequest, kHour, "m"));
  delta.add(generation(GenerationEventType::kRequest, kHour + kMicrosPerHour - 1, "m"));
  ASSERT_EQ(delta.usage().size(), 2u);
  EXPECT_EQ(delta.usage().begin()->first.hour_us, kHour - kMicrosPerHour);
  EXPECT_EQ(delta.usage().at({kHour, "m"}).uses, 2);
}

// ---------------------------------------------------------------------------
// ModelLifecycleDelta against an exact computation.

struct ExpectedWorker {
  bool loaded;
  int64_t at_us;
  std::optional<int64_t> gpu_memory_mb;
};

std::vector<ModelEvent> generate_model_events(uint64_t seed, size_t count) {
  std::mt19937_64 random(seed);
  const std::string models[] = {"sdxl", "detail", "vae_fix", "flux"};
  const std::string workers[] = {"gpu-0", "gpu-1"};
  std::vector<ModelEvent> events;
  for (size_t i = 0; i < count; ++i) {
    // Whole minutes, so that ties in time happen.
    const int64_t timestamp = kHour + static_cast<int64_t>(random() % 300) * kMinute;
    ModelEvent event =
        model_event(static_cast<ModelEventType>(random() % 4), timestamp, models[random() % 4]);
    if (random() % 3 != 0) event.success = random() % 4 != 0;
    if (random() % 3 != 0) event.duration_ms = static_cast<int64_t>(random() % 30'000);
    if (random() % 3 == 0) event.gpu_memory_mb = 500 + static_cast<int64_t>(random() % 10'000);
    if (random() % 3 == 0) event.size_bytes = static_cast<int64_t>(random() % 8'000'000'000);
    if (random() % 4 == 0) event.model_kind = std::string(kModelKinds[random() % 6]);
    if (random() % 4 == 0) event.base_model = models[random() % 4];
    if (event.event_type == ModelEventType::kUnload && random() % 5 != 0) {
      event.reason = std::string(kUnloadReasons[random() % 4]);
    }
    if (random() % 5 != 0) event.worker_id = workers[random() % 2];
    events.push_back(std::move(event));
  }
  return events;
}

TEST(ModelLifecycleDeltaTest, MatchesAnExactComputation) {
  const std::vector<ModelEvent> events = generate_model_events(20, 3000);
  ModelLifecycleDelta delta;
  for (const ModelEvent& event : events) delta.add(event);

  std::map<ModelHourKey, ModelLifecycleBucket> lifecycle;
  std::map<std::pair<std::string, std::string>, ExpectedWorker> workers;
  for (const ModelEvent& e : events) {
    ModelLifecycleBucket& b =
        lifecycle[{e.timestamp_us / kMicrosPerHour * kMicrosPerHour, e.model_id}];
    const bool ok = e.success.value_or(true);
    switch (e.event_type) {
      case ModelEventType::kLoad:
        ++b.loads;
        b.load_failures += !ok;
        if (ok && e.duration_ms) {
          ++b.load_time_count;
          b.load_time_sum += *e.duration_ms;
          b.load_times.add(static_cast<double>(*e.duration_ms));
        }
        if (ok && e.gpu_memory_mb) b.loaded_gpu_memory.add(static_cast<double>(*e.gpu_memory_mb));
        break;
      case ModelEventType::kUnload:
        ++b.unloads;
        b.unloads_idle += e.reason == "idle";
        b.unloads_evicted += e.reason == "evicted";
        b.unloads_manual += e.reason == "manual";
        b.unloads_error += e.reason == "error";
        break;
      case ModelEventType::kDownload:
        ++b.downloads;
        b.download_failures += !ok;
        if (ok && e.duration_ms) b.download_time_sum += *e.duration_ms;
        break;
      case ModelEventType::kHealthCheck:
        ++b.health_checks;
        b.health_check_failures += !ok;
        break;
    }
    if (e.size_bytes && *e.size_bytes > b.max_size_bytes) b.max_size_bytes = *e.size_bytes;
    if (e.event_type == ModelEventType::kLoad || e.event_type == ModelEventType::kUnload) {
      const bool loaded = e.event_type == ModelEventType::kLoad && ok;
      const ExpectedWorker state{loaded, e.timestamp_us, loaded ? e.gpu_memory_mb : std::nullopt};
      const auto key = std::pair(e.model_id, e.worker_id.value_or(""));
      const auto it = workers.find(key);
      if (it == workers.end() || it->second.at_us <= e.timestamp_us) workers[key] = state;
    }
  }
  EXPECT_EQ(delta.lifecycle(), lifecycle);
  ASSERT_EQ(delta.worker_states().size(), workers.size());
  for (const auto& [key, change] : delta.worker_states()) {
    const ExpectedWorker& state = workers.at(key);
    EXPECT_EQ(change.loaded, state.loaded) << key.first << "@" << key.second;
    EXPECT_EQ(change.at_us, state.at_us);
    EXPECT_EQ(change.gpu_memory_mb, state.gpu_memory_mb);
  }
  EXPECT_TRUE(workers.contains({"sdxl", ""}));  // events without a worker

  // Sightings: per model, the first and last event; each descriptive field
  // from the latest event carrying it unless a later event already described
  // the model (described_at), as the stores merge them.
  for (const auto& [model, sighting] : delta.sightings()) {
    int64_t first = INT64_MAX, last = INT64_MIN, described_at = 0;
    std::optional<std::string> kind, base;
    std::optional<int64_t> size;
    for (const ModelEvent& e : events) {
      if (e.model_id != model) continue;
      first = std::min(first, e.timestamp_us);
      last = std::max(last, e.timestamp_us);
      if (!e.model_kind && !e.base_model && !e.size_bytes) continue;
      const bool later = e.timestamp_us >= described_at;
      if (e.model_kind && (!kind || later)) kind = e.model_kind;
      if (e.base_model && (!base || later)) base = e.base_model;
      if (e.size_bytes && (!size || later)) size = e.size_bytes;
      described_at = std::max(described_at, e.timestamp_us);
    }
    EXPECT_EQ(sighting.first_seen_us, first);
    EXPECT_EQ(sighting.last_event_us, last);
    EXPECT_EQ(sighting.described_at_us, described_at);
    EXPECT_EQ(sighting.last_used_us, std::nullopt);
    EXPECT_FALSE(sighting.kind_implied);
    EXPECT_EQ(sighting.model_kind, kind) << model;
    EXPECT_EQ(sighting.base_model, base) << model;
    EXPECT_EQ(sighting.size_bytes, size) << model;
  }
  EXPECT_EQ(delta.sightings().size(), 4u);
}

TEST(ModelLifecycleDeltaTest, MergeOfSplitHalvesIsTheWhole) {
  const std::vector<ModelEvent> events = generate_model_events(21, 2000);
  ModelLifecycleDelta first, second, whole;
  for (size_t i = 0; i < events.size(); ++i) {
    (i < events.size() / 2 ? first : second).add(events[i]);
    whole.add(events[i]);
  }
  std::map<ModelHourKey, ModelLifecycleBucket> lifecycle = first.lifecycle();
  for (const auto& [key, bucket] : second.lifecycle()) lifecycle[key].merge(bucket);
  EXPECT_EQ(lifecycle, whole.lifecycle());
}

TEST(ModelLifecycleDeltaTest, WorkerStateFollowsTheLatestLoadOrUnload) {
  ModelLifecycleDelta delta;
  ModelEvent load = model_event(ModelEventType::kLoad, kHour + 10 * kMinute, "m");
  load.worker_id = "gpu-0";
  load.gpu_memory_mb = 7000;
  delta.add(load);
  // Downloads and health checks leave it alone, even later ones.
  ModelEvent check = model_event(ModelEventType::kHealthCheck, kHour + 20 * kMinute, "m");
  check.worker_id = "gpu-0";
  check.success = false;
  delta.add(check);
  // An older unload arriving later in the batch does not win.
  ModelEvent old_unload = model_event(ModelEventType::kUnload, kHour + 5 * kMinute, "m");
  old_unload.worker_id = "gpu-0";
  delta.add(old_unload);
  const WorkerStateChange& state = delta.worker_states().at({"m", "gpu-0"});
  EXPECT_TRUE(state.loaded);
  EXPECT_EQ(state.at_us, kHour + 10 * kMinute);
  EXPECT_EQ(state.gpu_memory_mb, 7000);

  // A tie: the later in the batch wins.
  ModelEvent tied_unload = model_event(ModelEventType::kUnload, kHour + 10 * kMinute, "m");
  tied_unload.worker_id = "gpu-0";
  tied_unload.gpu_memory_mb = 7000;
  delta.add(tied_unload);
  EXPECT_FALSE(delta.worker_states().at({"m", "gpu-0"}).loaded);
  EXPECT_EQ(delta.worker_states().at({"m", "gpu-0"}).gpu_memory_mb, std::nullopt);

  // A failed load is not loaded; no worker is worker "".
  ModelEvent failed = model_event(ModelEventType::kLoad, kHour, "m");
  failed.success = false;
  delta.add(failed);
  EXPECT_FALSE(delta.worker_states().at({"m", ""}).loaded);
  EXPECT_EQ(delta.worker_states().size(), 2u);
}

// ---------------------------------------------------------------------------
// ModelSighting::merge

ModelSighting sighting_at(int64_t at_us, std::optional<std::string> kind, bool implied = false) {
  ModelSighting sighting;
  sighting.model_kind = std::move(kind);
  sighting.kind_implied = implied;
  sighting.first_seen_us = at_us;
  sighting.described_at_us = implied ? 0 : at_us;
  return sighting;
}

TEST(ModelSightingTest, KeepsTheEarliestFirstAndTheLatestLastTimes) {
  ModelSighting a = sighting_at(100, std::nullopt);
  a.last_used_us = 150;
  ModelSighting b = sighting_at(50, std::nullopt);
  b.last_event_us = 60;
  a.merge(b);
  EXPECT_EQ(a.first_seen_us, 50);
  EXPECT_EQ(a.last_used_us, 150);
  EXPECT_EQ(a.last_event_us, 60);
  ModelSighting c = sighting_at(200, std::nullopt);
  c.last_used_us = 120;
  c.last_event_us = 210;
  a.merge(c);
  EXPECT_EQ(a.first_seen_us, 50);
  EXPECT_EQ(a.last_used_us, 150);
  EXPECT_EQ(a.last_event_us, 210);
}

TEST(ModelSightingTest, TheLaterDescriptionWinsFieldByField) {
  ModelSighting early = sighting_at(100, "checkpoint");
  early.base_model = "b1";
  early.size_bytes = 10;
  ModelSighting late = sighting_at(200, "lora");
  late.size_bytes = 20;  // no base_model: the earlier one stays
  ModelSighting merged = early;
  merged.merge(late);
  EXPECT_EQ(merged.model_kind, "lora");
  EXPECT_EQ(merged.base_model, "b1");
  EXPECT_EQ(merged.size_bytes, 20);
  EXPECT_EQ(merged.described_at_us, 200);
  // In the other order, the same.
  ModelSighting reversed = late;
  reversed.merge(early);
  EXPECT_EQ(reversed.model_kind, "lora");
  EXPECT_EQ(reversed.base_model, "b1");
  EXPECT_EQ(reversed.size_bytes, 20);
  EXPECT_EQ(reversed.described_at_us, 200);
}

TEST(ModelSightingTest, AnExplicitKindBeatsAnImpliedOne) {
  ModelSighting explicit_kind = sighting_at(100, "embedding");
  ModelSighting implied = sighting_at(500, "lora", true);
  ModelSighting a = explicit_kind;
  a.merge(implied);
  EXPECT_EQ(a.model_kind, "embedding");
  EXPECT_FALSE(a.kind_implied);
  ModelSighting b = implied;
  b.merge(explicit_kind);
  EXPECT_EQ(b.model_kind, "embedding");
  EXPECT_FALSE(b.kind_implied);
  // Between implied kinds, the later merged wins.
  ModelSighting c = implied;
  c.merge(sighting_at(400, "vae", true));
  EXPECT_EQ(c.model_kind, "vae");
  EXPECT_TRUE(c.kind_implied);
  // A sighting without a kind changes none.
  ModelSighting d = explicit_kind;
  d.merge(sighting_at(900, std::nullopt));
  EXPECT_EQ(d.model_kind, "embedding");
}

}  // namespace
}  // namespace genalytics
