// Over 400 lines: one month of demo traffic and its fleet, generated once,
// checked from every side a model analytics reader relies on (the replayed
// VRAM state, the files' lifecycle, the traffic's models and trends).
#include "demo/model_fleet.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "demo/model_catalog.h"
#include "demo/traffic_generator.h"
#include "event/decode_limits.h"
#include "event/model_decoder.h"
#include "event/model_uses.h"
#include "event/time.h"
#include "testing/fixed_times.h"

namespace genalytics {
namespace {

using demo_model::base_checkpoint;
using demo_model::find_model_file;
using demo_model::kDamagedModelId;

using testing::kDemoEndUs;

DemoOptions demo_days(int days) {
  DemoOptions options;
  options.days = days;
  options.end_us = kDemoEndUs;
  return options;
}

int64_t begin_of(const DemoOptions& options) {
  return options.end_us - options.days * kMicrosPerDay;
}

std::vector<GenerationEvent> demo_generations(const DemoOptions& options) {
  std::vector<GenerationEvent> events;
  generate_demo_traffic(options, 20'000, [&](std::vector<GenerationEvent>&& batch) {
    for (GenerationEvent& event : batch) events.push_back(std::move(event));
  });
  return events;
}

struct FleetRun {
  std::vector<ModelEvent> observed;  // observe()'s, batch after batch
  std::vector<ModelEvent> finished;  // finish()'s
};

// Feeds `generations` to a fleet in batches of `batch_size`, as `genalytics demo` does.
FleetRun run_fleet(const DemoOptions& demo, const DemoFleetOptions& fleet_options,
                   std::span<const GenerationEvent> generations, size_t batch_size) {
  DemoModelFleet fleet(demo, fleet_options);
  FleetRun run;
  for (size_t begin = 0; begin < generations.size(); begin += batch_size) {
    const size_t size = std::min(batch_size, generations.size() - begin);
    for (ModelEvent& event : fleet.observe(generations.subspan(begin, size))) {
      run.observed.push_back(std::move(event));
    }
  }
  run.finished = fleet.finish();
  return run;
}

auto fields(const ModelEvent& e) {
  return std::tie(e.event_id, e.event_type, e.model_id, e.timestamp_us, e.duration_ms, e.success,
                  e.error_type, e.error_message, e.size_bytes, e.gpu_memory_mb, e.model_kind,
                  e.base_model, e.reason, e.worker_id);
}

bool is_load(const ModelEvent& e) { return e.event_type == ModelEventType::kLoad; }
bool is_unload(const ModelEvent& e) { return e.event_type == ModelEventType::kUnload; }

// Replays loads and unloads in the order given, checking each against the
// state before it; what is still loaded at the end is left in `loaded`.
struct VramReplay {
  explicit VramReplay(int64_t budget) : budget_mb(budget) {}

  int64_t budget_mb;
  std::map<std::string, std::map<std::string, int64_t>> loaded;  // worker -> model -> MB
  std::map<std::string, int64_t> used_mb;                        // by worker
  int64_t loads = 0;
  int64_t unloads = 0;

  void apply(const ModelEvent& event) {
    if (!is_load(event) && !is_unload(event)) return;
    SCOPED_TRACE(event.model_id + " on " + event.worker_id.value_or("?"));
    ASSERT_TRUE(event.worker_id.has_value());
    ASSERT_TRUE(event.gpu_memory_mb.has_value() || !event.succeeded());
    std::map<std::string, int64_t>& worker = loaded[*event.worker_id];
    if (is_load(event)) {
      ASSERT_FALSE(worker.contains(event.model_id)) << "loaded twice";
      if (!event.succeeded()) return;
      worker[event.model_id] = *event.gpu_memory_mb;
      used_mb[*event.worker_id] += *event.gpu_memory_mb;
      ASSERT_LE(used_mb[*event.worker_id], budget_mb);
      ++loads;
    } else {
      ASSERT_TRUE(worker.contains(event.model_id)) << "unloaded while not loaded";
      EXPECT_EQ(worker[event.model_id], *event.gpu_memory_mb);
      used_mb[*event.worker_id] -= worker[event.model_id];
      worker.erase(event.model_id);
      ++unloads;
    }
  }

  bool is_loaded(const std::string& worker, const std::string& model) const {
    const auto it = loaded.find(worker);
    return it != loaded.end() && it->second.contains(model);
  }
};

// Replays observe()'s events then finish()'s: every load and unload is
// consistent, no worker is ever over its budget, and every successful load
// is unloaded or still loaded at the end.
void expect_consistent_vram(const FleetRun& run, const DemoFleetOptions& options) {
  VramReplay replay{options.vram_budget_mb};
  for (const ModelEvent& event : run.observed) ASSERT_NO_FATAL_FAILURE(replay.apply(event));
  for (const ModelEvent& event : run.finished) ASSERT_NO_FATAL_FAILURE(replay.apply(event));
  int64_t still_loaded = 0;
  for (const auto& [worker, models] : replay.loaded) still_loaded += models.size();
  EXPECT_GT(replay.loads, 0);
  EXPECT_EQ(replay.loads, replay.unloads + still_loaded);
  for (const auto& [worker, used] : replay.used_mb) {
    EXPECT_TRUE(worker.starts_with("worker-")) << worker;
    EXPECT_LT(std::stoi(worker.substr(7)), options.workers) << worker;
  }
}

// The Mann-Kendall statistic of `series`, normal approximation with the
// correction for ties: above 2.58 an increasing trend at p < 0.01, below
// -2.58 a decreasing one.
double mann_kendall_z(const std::vector<int64_t>& series) {
  const size_t n = series.size();
  double s = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) s += (series[j] > series[i]) - (series[j] < series[i]);
  }
  std::map<int64_t, double> ties;
  for (int64_t value : series) ++ties[value];
  double variance = n * (n - 1.0) * (2.0 * n + 5);
  for (const auto& [value, t] : ties) variance -= t * (t - 1) * (2 * t + 5);
  variance /= 18;
  return s == 0 ? 0 : (s - (s > 0 ? 1 : -1)) / std::sqrt(variance);
}

// One month of default demo traffic and the default fleet's events.
class ModelFleetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    generations_ = demo_generations(demo_days(30));
    run_ = run_fleet(demo_days(30), DemoFleetOptions{}, generations_, 20'000);
  }
  static void TearDownTestSuite() {
    generations_.clear();
    run_ = {};
  }
  static const std::vector<GenerationEvent>& generations() { return generations_; }
  static const FleetRun& run() { return run_; }
  // The first `days` days of the month as a window of their own.
  static DemoOptions first_days(int days) {
    DemoOptions window = demo_days(days);
    window.end_us = begin_of(demo_days(30)) + days * kMicrosPerDay;
    return window;
  }
  // The month's generation events up to the end of `window`, one of first_days().
  static std::span<const GenerationEvent> generations_until_end_of(const DemoOptions& window) {
    const auto end = std::upper_bound(
        generations_.begin(), generations_.end(), window.end_us,
        [](int64_t end_us, const GenerationEvent& event) { return end_us < event.timestamp_us; });
    return std::span(generations_.begin(), end);
  }
  static std::vector<ModelEvent> all_events() {
    std::vector<ModelEvent> all = run_.observed;
    all.insert(all.end(), run_.finished.begin(), run_.finished.end());
    return all;
  }
  // Each download, by model.
  static std::map<std::string, ModelEvent> downloads() {
    std::map<std::string, ModelEvent> result;
    for (const ModelEvent& event : run_.finished) {
      if (event.event_type != ModelEventType::kDownload) continue;
      EXPECT_TRUE(result.emplace(event.model_id, event).second)
          << "second download of " << event.model_id;
    }
    return result;
  }
  // The first request naming each model.
  static std::map<std::string, int64_t> first_uses() {
    std::map<std::string, int64_t> result;
    for (const GenerationEvent& event : generations_) {
      if (event.event_type != GenerationEventType::kRequest) continue;
      for (const ModelUse& use : models_used(event))
        result.emplace(use.model_id, event.timestamp_us);
    }
    return result;
  }

 private:
  inline static std::vector<GenerationEvent> generations_;
  inline static FleetRun run_;
};

// Three days, not the month: they hold everything the fleet carries from one
// batch to the next (idle unloads due later, evictions, the manual unloads,
// the damaged model's failed load and its retry, as checked here, and in
// batches of 777 events many jobs running across a batch's end), so they show
// that batching changes nothing as well as the month would.
TEST_F(ModelFleetTest, SameInputsGiveIdenticalEventsHoweverTheyAreBatched) {
  const DemoOptions window = first_days(3);
  const std::span<const GenerationEvent> inputs = generations_until_end_of(window);
  const FleetRun one_batch = run_fleet(window, DemoFleetOptions{}, inputs, inputs.size());
  std::set<std::string> reasons;
  int64_t failed_loads = 0;
  for (const ModelEvent& event : one_batch.observed) {
    if (is_unload(event)) reasons.insert(*event.reason);
    failed_loads += is_load(event) && !event.succeeded();
  }
  EXPECT_EQ(reasons, (std::set<std::string>{"evicted", "idle", "manual"}));
  EXPECT_GE(failed_loads, 1);

  const FleetRun batched = run_fleet(window, DemoFleetOptions{}, inputs, 777);
  ASSERT_EQ(batched.observed.size(), one_batch.observed.size());
  for (size_t i = 0; i < batched.observed.size(); ++i) {
    ASSERT_TRUE(fields(batched.observed[i]) == fields(one_batch.observed[i])) << "event " << i;
  }
  ASSERT_EQ(batched.finished.size(), one_batch.finished.size());
  for (size_t i = 0; i < batched.finished.size(); ++i) {
    ASSERT_TRUE(fields(batched.finished[i]) == fields(one_batch.finished[i])) << "event " << i;
  }
}

// Three days of the month, not all of it: their thousands of loads and
// unloads already draw on the seed.
TEST_F(ModelFleetTest, OtherSeedGivesOtherEvents) {
  const DemoOptions window = first_days(3);
  const std::span<const GenerationEvent> inputs = generations_until_end_of(window);
  DemoFleetOptions options;
  options.seed = 7;
  const FleetRun usual = run_fleet(window, DemoFleetOptions{}, inputs, 20'000);
  const FleetRun other = run_fleet(window, options, inputs, 20'000);
  ASSERT_FALSE(other.observed.empty());
  EXPECT_NE(other.observed.front().event_id, usual.observed.front().event_id);
  // Not only the ids: what happens, where and when.
  const auto what_happened = [](const std::vector<ModelEvent>& events) {
    std::vector<std::tuple<ModelEventType, std::string, std::optional<std::string>, int64_t,
                           std::optional<int64_t>>>
        sequence;
    for (const ModelEvent& e : events) {
      sequence.emplace_back(e.event_type, e.model_id, e.worker_id, e.timestamp_us, e.duration_ms);
    }
    return sequence;
  };
  EXPECT_NE(what_happened(other.observed), what_happened(usual.observed));
}

TEST_F(ModelFleetTest, EventsAreInTimestampOrderInsideTheWindow) {
  const int64_t begin_us = begin_of(demo_days(30));
  for (const std::vector<ModelEvent>* events : {&run().observed, &run().finished}) {
    ASSERT_FALSE(events->empty());
    EXPECT_GE(events->front().timestamp_us, begin_us);
    EXPECT_LE(events->back().timestamp_us, kDemoEndUs);
    for (size_t i = 1; i < events->size(); ++i) {
      ASSERT_LE((*events)[i - 1].timestamp_us, (*events)[i].timestamp_us) << "event " << i;
    }
  }
}

TEST_F(ModelFleetTest, EveryEventDecodesToItself) {
  std::set<std::string> event_ids;
  for (const ModelEvent& event : all_events()) {
    SCOPED_TRACE(event.event_id + " " + event.model_id);
    ModelEvent decoded;
    std::vector<FieldError> errors;
    ASSERT_TRUE(decode_model_event(boost::json::value(to_json(event)), kDemoEndUs, DecodeLimits{},
                                   &decoded, &errors))
        << (errors.empty() ? "" : errors.front().field + ": " + errors.front().message);
    EXPECT_TRUE(fields(decoded) == fields(event));  // canonical ids, lower-case kinds and reasons
    EXPECT_TRUE(event_ids.insert(event.event_id).second) << "duplicate event_id";
    EXPECT_TRUE(event.model_kind.has_value());
    EXPECT_EQ(event.reason.has_value(), is_unload(event));
    EXPECT_EQ(event.worker_id.has_value(), is_load(event) || is_unload(event));
    EXPECT_EQ(event.duration_ms.has_value(), !is_unload(event));
  }
}

TEST_F(ModelFleetTest, VramStaysWithinTheBudgetAndEveryLoadIsUnloadedOrStillLoaded) {
  expect_consistent_vram(run(), DemoFleetOptions{});
}

TEST(ModelFleetBudgetTest, SmallerFleetsKeepTheirBudgetToo) {
  DemoFleetOptions options;
  options.workers = 2;
  options.vram_budget_mb = 12'000;  // flux1_dev (17.4 GB) fits on none: its jobs are not placed
  options.keep_alive_us = 30 * kMicrosPerSecond;
  const std::vector<GenerationEvent> generations = demo_generations(demo_days(3));
  const FleetRun run = run_fleet(demo_days(3), options, generations, 5'000);
  expect_consistent_vram(run, options);
  for (const ModelEvent& event : run.observed) EXPECT_NE(event.model_id, "flux1_dev");
}

TEST_F(ModelFleetTest, EveryJobStartsWithAllItsModelsLoadedOnOneWorker) {
  VramReplay replay{DemoFleetOptions{}.vram_budget_mb};
  std::map<std::string, std::vector<ModelUse>> requested;
  size_t next = 0;
  int64_t starts = 0;
  for (const GenerationEvent& event : generations()) {
    while (next < run().observed.size() &&
           run().observed[next].timestamp_us <= event.timestamp_us) {
      ASSERT_NO_FATAL_FAILURE(replay.apply(run().observed[next++]));
    }
    if (event.event_type == GenerationEventType::kRequest) {
      requested[event.generation_id] = models_used(event);
    } else if (event.event_type == GenerationEventType::kStart) {
      const std::vector<ModelUse>& uses = requested.at(event.generation_id);
      bool placed = false;
      for (const auto& worker : replay.loaded) {
        const auto& models = worker.second;  // clang 14 cannot capture a structured binding
        placed = placed || std::all_of(uses.begin(), uses.end(), [&](const ModelUse& use) {
                   return models.contains(use.model_id);
                 });
      }
      ASSERT_TRUE(placed) << event.generation_id;
      ++starts;
    }
  }
  EXPECT_GT(starts, 50'000);
}

TEST_F(ModelFleetTest, UnloadsHaveTheirReasons) {
  const DemoFleetOptions options;
  std::map<std::string, int64_t> by_reason;
  std::map<std::pair<std::string, std::string>, int64_t> last_load;  // (worker, model)
  VramReplay replay{options.vram_budget_mb};
  const std::vector<ModelEvent>& events = run().observed;
  for (size_t i = 0; i < events.size(); ++i) {
    const ModelEvent& event = events[i];
    if (is_load(event) && event.succeeded()) {
      last_load[{*event.worker_id, event.model_id}] = event.timestamp_us;
    }
    if (is_unload(event)) {
      ++by_reason[*event.reason];
      // An idle model was loaded at least keep_alive earlier.
      if (*event.reason == "idle") {
        EXPECT_LE(last_load.at({*event.worker_id, event.model_id}) + options.keep_alive_us,
                  event.timestamp_us);
      }
      // Evictions stop as soon as the loads beside them fit: without the last
      // one of a run, they would not.
      if (*event.reason == "evicted" &&
          (i + 1 == events.size() || !is_unload(events[i + 1]) ||
           *events[i + 1].reason != "evicted" || events[i + 1].worker_id != event.worker_id)) {
        int64_t loading_mb = 0;
        for (size_t j = i + 1; j < events.size() && events[j].timestamp_us == event.timestamp_us &&
                               is_load(events[j]) && events[j].worker_id == event.worker_id;
             ++j) {
          if (events[j].succeeded()) loading_mb += *events[j].gpu_memory_mb;
        }
        EXPECT_GT(replay.used_mb[*event.worker_id] + loading_mb, options.vram_budget_mb)
            << "evicted " << event.model_id << " at " << event.timestamp_us;
      }
    }
    ASSERT_NO_FATAL_FAILURE(replay.apply(event));
  }
  EXPECT_GT(by_reason["idle"], 1000);
  EXPECT_GT(by_reason["evicted"], 100);
  EXPECT_GE(by_reason["manual"], 1);
  EXPECT_LE(by_reason["manual"], 2);
  EXPECT_EQ(by_reason.size(), 3u);
}

TEST_F(ModelFleetTest, LoadTimesGrowWithSize) {
  std::map<std::string, std::pair<int64_t, int64_t>> load_ms;  // model -> (sum, count)
  for (const ModelEvent& event : run().observed) {
    if (!is_load(event) || !event.succeeded()) continue;
    const double expected_ms =
        300 + static_cast<double>(find_model_file(event.model_id)->size_bytes) / 1.5e6;
    EXPECT_GT(*event.duration_ms, 0.3 * expected_ms) << event.model_id;
    EXPECT_LT(*event.duration_ms, 3 * expected_ms) << event.model_id;
    auto& [sum, count] = load_ms[event.model_id];
    sum += *event.duration_ms;
    ++count;
  }
  const auto mean = [&](const std::string& model) {
    return static_cast<double>(load_ms[model].first) / static_cast<double>(load_ms[model].second);
  };
  EXPECT_GT(mean("flux1_dev"), 2.5 * mean("sdxl_base_1.0"));
  EXPECT_GT(mean("sdxl_base_1.0"), 10 * mean("add_detail_xl"));
}

TEST_F(ModelFleetTest, TheDamagedModelAloneFailsHealthChecksAndLoads) {
  std::map<std::string, std::pair<int64_t, int64_t>> checks;  // model -> (passed, failed)
  for (const ModelEvent& event : run().finished) {
    if (event.event_type != ModelEventType::kHealthCheck) continue;
    auto& [passed, failed] = checks[event.model_id];
    ++(event.succeeded() ? passed : failed);
    EXPECT_EQ(event.error_type.has_value(), !event.succeeded());
  }
  for (const auto& [model, counts] : checks) {
    if (model == kDamagedModelId) {
      EXPECT_EQ(counts.first, 0);
      EXPECT_GE(counts.second, 29);
    } else {
      EXPECT_EQ(counts.second, 0) << model;
    }
  }
  int64_t load_failures = 0;
  const std::vector<ModelEvent>& events = run().observed;
  for (size_t i = 0; i < events.size(); ++i) {
    if (!is_load(events[i]) || events[i].succeeded()) continue;
    ++load_failures;
    EXPECT_EQ(events[i].model_id, kDamagedModelId);
    EXPECT_TRUE(events[i].error_type.has_value());
    // Retried at once, successfully, on the same worker.
    ASSERT_LT(i + 1, events.size());
    EXPECT_TRUE(is_load(events[i + 1]) && events[i + 1].succeeded());
    EXPECT_EQ(events[i + 1].model_id, events[i].model_id);
    EXPECT_EQ(events[i + 1].worker_id, events[i].worker_id);
    EXPECT_EQ(events[i + 1].timestamp_us, events[i].timestamp_us);
  }
  EXPECT_GE(load_failures, 1);
  EXPECT_LE(load_failures, 2);
}

TEST_F(ModelFleetTest, EachDayChecksEveryModelDownloadedByThen) {
  const std::map<std::string, ModelEvent> downloaded = downloads();
  std::map<int64_t, std::vector<const ModelEvent*>> by_day;
  for (const ModelEvent& event : run().finished) {
    if (event.event_type == ModelEventType::kHealthCheck) {
      by_day[event.timestamp_us / kMicrosPerDay].push_back(&event);
    }
  }
  EXPECT_GE(by_day.size(), 29u);
  for (const auto& [day, checks] : by_day) {
    std::set<std::string> checked, expected;
    for (const ModelEvent* check : checks) checked.insert(check->model_id);
    for (const auto& [model, download] : downloaded) {
      if (download.timestamp_us + *download.duration_ms * 1000 <= checks.front()->timestamp_us) {
        expected.insert(model);
      }
    }
    EXPECT_EQ(checked, expected) << "day " << day;
    EXPECT_EQ(checks.size(), checked.size()) << "day " << day;
  }
}

TEST_F(ModelFleetTest, DownloadsComeBeforeFirstUseWithTheFilesSizes) {
  const std::map<std::string, ModelEvent> downloaded = downloads();
  for (const auto& [model, first_use_us] : first_uses()) {
    ASSERT_TRUE(downloaded.contains(model)) << model;
    EXPECT_LE(downloaded.at(model).timestamp_us, first_use_us) << model;
  }
  for (const auto& [model, download] : downloaded) {
    SCOPED_TRACE(model);
    ASSERT_TRUE(download.size_bytes.has_value());
    const int64_t size = *download.size_bytes;
    const std::string& kind = *download.model_kind;
    constexpr int64_t kMb = 1'000'000;
    if (kind == "checkpoint") {
      EXPECT_GE(size, 2'000 * kMb);
      EXPECT_LE(size, 24'000 * kMb);
      EXPECT_FALSE(download.base_model.has_value());
    } else {
      if (kind == "lora") {
        EXPECT_GE(size, 20 * kMb);
        EXPECT_LE(size, 400 * kMb);
      } else if (kind == "vae") {
        EXPECT_NEAR(size, 335 * kMb, 30 * kMb);
      } else {
        EXPECT_EQ(kind, "controlnet");
        EXPECT_NEAR(size, 1'400 * kMb, 100 * kMb);
      }
      ASSERT_TRUE(download.base_model.has_value());
      EXPECT_EQ(*download.base_model, base_checkpoint(find_model_file(model)->family));
    }
    EXPECT_EQ(size, find_model_file(model)->size_bytes);
    EXPECT_GT(*download.duration_ms, 0);
  }
}

TEST_F(ModelFleetTest, ModelsOnDiskThatNothingUses) {
  const std::map<std::string, int64_t> used = first_uses();
  std::set<std::string> unused;
  for (const auto& [model, download] : downloads()) {
    if (used.contains(model)) continue;
    unused.insert(model);
    // Downloaded early in the window.
    EXPECT_LT(download.timestamp_us, begin_of(demo_days(30)) + 4 * kMicrosPerDay) << model;
  }
  EXPECT_EQ(unused, (std::set<std::string>{"animagineXL_v31", "claymation_xl", "cyberpunk_style_xl",
                                           "papercut_sd15"}));
  for (const ModelEvent& event : run().observed) {
    EXPECT_FALSE(unused.contains(event.model_id)) << event.model_id;
  }
}

TEST_F(ModelFleetTest, AddOnsAreUsedWithCheckpointsOfTheirFamily) {
  const std::map<std::string, ModelEvent> downloaded = downloads();
  std::map<std::string, int64_t> pairs_by_base;  // requests with a LoRA, by its base_model
  int64_t requests = 0, with_lora = 0, with_loras = 0, with_vae = 0, with_controlnet = 0;
  for (const GenerationEvent& event : generations()) {
    if (event.event_type != GenerationEventType::kRequest) continue;
    ++requests;
    const std::string family_base(
        base_checkpoint(find_model_file(*event.model_checkpoint)->family));
    int loras = 0;
    for (const ModelUse& use : models_used(event)) {
      if (use.role == ModelRole::kCheckpoint) continue;
      EXPECT_EQ(downloaded.at(use.model_id).base_model.value_or(""), family_base)
          << use.model_id << " with " << *event.model_checkpoint;
      loras += use.role == ModelRole::kLora;
      with_vae += use.role == ModelRole::kVae;
      with_controlnet += use.role == ModelRole::kControlnet;
      if (use.role == ModelRole::kLora) ++pairs_by_base[family_base];
    }
    with_lora += loras == 1;
    with_loras += loras > 1;
    EXPECT_EQ(loras > 1, event.params_json->find("\"loras\":[") != std::string::npos);
  }
  EXPECT_EQ(pairs_by_base.size(), 3u);  // SDXL, SD 1.5 and Flux LoRAs
  EXPECT_GT(with_lora, requests / 5);
  EXPECT_GT(with_loras, requests / 20);
  EXPECT_GT(with_vae, requests / 10);
  EXPECT_GT(with_controlnet, requests / 100);
  EXPECT_LT(with_controlnet, requests / 10);
}

TEST_F(ModelFleetTest, ParamsNameTheResolutionOnRequestsAndCompletions) {
  std::map<std::string, std::string> request_params;
  for (const GenerationEvent& event : generations()) {
    if (event.event_type == GenerationEventType::kRequest) {
      const boost::json::object params = boost::json::parse(*event.params_json).as_object();
      const boost::json::object dimensions =
          boost::json::parse(*event.image_dimensions_json).as_object();
      EXPECT_EQ(std::string_view(params.at("resolution").as_string()),
                std::to_string(dimensions.at("width").as_int64()) + "x" +
                    std::to_string(dimensions.at("height").as_int64()));
      for (const char* key : {"steps", "cfg", "sampler"}) EXPECT_TRUE(params.contains(key)) << key;
      request_params[event.generation_id] = *event.params_json;
    } else if (event.is_completion()) {
      ASSERT_TRUE(event.params_json.has_value());
      EXPECT_EQ(*event.params_json, request_params.at(event.generation_id));
    }
  }
}

TEST_F(ModelFleetTest, GenerationsWithTheDamagedModelFailOften) {
  std::map<bool, std::pair<int64_t, int64_t>> by_damaged;  // (failures, completions)
  for (const GenerationEvent& event : generations()) {
    if (!event.is_completion()) continue;
    const std::vector<ModelUse> uses = models_used(event);
    const bool damaged = std::any_of(uses.begin(), uses.end(), [](const ModelUse& use) {
      return use.model_id == kDamagedModelId;
    });
    by_damaged[damaged].first += !*event.success;
    ++by_damaged[damaged].second;
  }
  const auto rate = [&](bool damaged) {
    return static_cast<double>(by_damaged[damaged].first) /
           static_cast<double>(by_damaged[damaged].second);
  };
  EXPECT_GT(rate(true), 0.25);  // its success rate is under 80%
  EXPECT_LT(rate(false), 0.10);
}

TEST_F(ModelFleetTest, OneCheckpointRisesAndOneDeclines) {
  const int64_t begin_us = begin_of(demo_days(30));
  std::map<std::string, std::vector<int64_t>> daily;
  for (const GenerationEvent& event : generations()) {
    if (event.event_type != GenerationEventType::kRequest) continue;
    std::vector<int64_t>& days = daily[*event.model_checkpoint];
    days.resize(30);
    ++days[static_cast<size_t>((event.timestamp_us - begin_us) / kMicrosPerDay)];
  }
  const auto week = [&](const std::string& model, size_t first_day) {
    int64_t sum = 0;
    for (size_t day = first_day; day < first_day + 7; ++day) sum += daily[model][day];
    return sum;
  };
  EXPECT_GT(week("realvisXL_v5", 23), 4 * week("realvisXL_v5", 0));
  EXPECT_GT(mann_kendall_z(daily["realvisXL_v5"]), 2.58);
  EXPECT_GT(week("dreamshaper_8", 0), 4 * week("dreamshaper_8", 23));
  EXPECT_LT(mann_kendall_z(daily["dreamshaper_8"]), -2.58);
  // The rest change with the service's traffic only.
  for (const char* model : {"illustriousXL_v01", "sd15_pruned", "flux1_dev"}) {
    const double ratio = static_cast<double>(week(model, 23)) / static_cast<double>(week(model, 0));
    EXPECT_GT(ratio, 0.7) << model;
    EXPECT_LT(ratio, 1.6) << model;
  }
}

TEST(ModelFleetCatalogueTest, ModelsOutsideTheCatalogueGetTheKindTheirRoleImplies) {
  const DemoOptions demo = demo_days(1);
  const int64_t at_us = kDemoEndUs - 2 * kMicrosPerHour;
  std::vector<GenerationEvent> events(3);
  const GenerationEventType types[] = {GenerationEventType::kRequest, GenerationEventType::kStart,
                                       GenerationEventType::kCompletion};
  for (size_t i = 0; i < events.size(); ++i) {
    events[i].event_type = types[i];
    events[i].generation_id = "b1b2c3d4-0000-4000-8000-000000000001";
    events[i].timestamp_us = at_us + static_cast<int64_t>(i) * kMicrosPerSecond;
    events[i].model_checkpoint = "my_finetune";
  }
  events[0].params_json = R"({"steps":20,"lora":"my_style","vae":"my_vae"})";
  DemoModelFleet fleet(demo, DemoFleetOptions{});
  const std::vector<ModelEvent> observed = fleet.observe(events);
  std::map<std::string, std::string> loaded_kinds;
  for (const ModelEvent& event : observed) {
    ASSERT_TRUE(is_load(event));
    EXPECT_EQ(event.timestamp_us, at_us + kMicrosPerSecond);  // when the job started
    EXPECT_EQ(event.worker_id, "worker-0");
    EXPECT_FALSE(event.base_model.has_value());
    loaded_kinds[event.model_id] = *event.model_kind;
  }
  EXPECT_EQ(loaded_kinds,
            (std::map<std::string, std::string>{
                {"my_finetune", "checkpoint"}, {"my_style", "lora"}, {"my_vae", "vae"}}));
  // Idle ten minutes after the job's end, then unloaded; each downloaded before its use.
  int64_t idle_unloads = 0;
  std::set<std::string> downloaded;
  for (const ModelEvent& event : fleet.finish()) {
    if (is_unload(event)) {
      EXPECT_EQ(*event.reason, "idle");
      EXPECT_EQ(event.timestamp_us,
                at_us + 2 * kMicrosPerSecond + DemoFleetOptions{}.keep_alive_us);
      ++idle_unloads;
    }
    if (event.event_type == ModelEventType::kDownload && loaded_kinds.contains(event.model_id)) {
      EXPECT_LE(event.timestamp_us, at_us);
      EXPECT_GT(*event.size_bytes, 0);
      downloaded.insert(event.model_id);
    }
  }
  EXPECT_EQ(idle_unloads, 3);
  EXPECT_EQ(downloaded.size(), 3u);
}

TEST(ModelFleetCatalogueTest, NoDaysGiveNoEvents) {
  DemoModelFleet fleet(demo_days(0), DemoFleetOptions{});
  EXPECT_TRUE(fleet.observe({}).empty());
  EXPECT_TRUE(fleet.finish().empty());
}

}  // namespace
}  // namespace genalytics
