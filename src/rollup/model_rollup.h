// The hourly model rollups (issue 10, seed 003): what each model's use and
// lifecycle look like per hour, mergeable so that any window is the merge of
// its hours (percentiles from merged DDSketches, never averaged).
//
// Three families, each keyed by hour and model:
//   model_usage_hourly      from generation events: requests naming the
//                           model (its uses), completions, successes,
//                           generation times and GPU memory;
//   model_param_hourly      from generation events: per params key and
//                           value, how many requests named it and how long
//                           the completions carrying it took; values per
//                           (hour, model, key) capped as open dimensions
//                           are (rollup/dimension_cap.h);
//   model_lifecycle_hourly  from model events: loads (and their times and
//                           VRAM), unloads by reason, downloads, health checks.
// Plus what the inventory learns from a batch (ModelSighting) and each
// worker's latest loaded state (WorkerStateChange).
//
// ModelUsageBucket::add takes a GenerationEvent and ModelLifecycleBucket::add
// a ModelEvent: lifecycle events cannot reach generation metrics.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "event/generation_event.h"
#include "event/model_event.h"
#include "rollup/dimension_cap.h"
#include "rollup/rollup_bucket.h"
#include "sketch/ddsketch.h"

namespace genalytics {

struct ModelHourKey {
  int64_t hour_us = 0;  // start of the UTC hour
  std::string model_id;
  auto operator<=>(const ModelHourKey&) const = default;
};

// One model's generation use in one hour.
struct ModelUsageBucket {
  int64_t uses = 0;         // request events naming the model
  int64_t completions = 0;  // completion events naming it
  int64_t successes = 0;    // completions with success true
  int64_t generation_time_count = 0;  // completions carrying generation_time_ms
  int64_t generation_time_sum = 0;
  DDSketch generation_times;  // those completions' generation_time_ms
  DDSketch gpu_memory;        // gpu_memory_mb of completions carrying it

  // Accounts for one generation event naming the model.
  void add(const GenerationEvent& event);
  void merge(const ModelUsageBucket& other);
  bool operator==(const ModelUsageBucket&) const = default;
};

// One (hour, model, params key, value). `value` is the member name
// dimension_cap.h's fold_to_cap expects.
struct ModelParamKey {
  int64_t hour_us = 0;
  std::string model_id;
  std::string key;
  std::string value;
  auto operator<=>(const ModelParamKey&) const = default;
};

struct ModelParamBucket {
  int64_t uses = 0;   // request events naming the model with this value
  int64_t timed = 0;  // completions with this value and a generation_time_ms
  int64_t generation_time_sum = 0;  // over those

  void merge(const ModelParamBucket& other);
  bool operator==(const ModelParamBucket&) const = default;
};

// One model's lifecycle in one hour.
struct ModelLifecycleBucket {
  int64_t loads = 0;             // model_load events
  int64_t load_failures = 0;     // of them, unsuccessful
  int64_t load_time_count = 0;   // successful loads carrying duration_ms
  int64_t load_time_sum = 0;
  DDSketch load_times;           // their duration_ms
  DDSketch loaded_gpu_memory;    // gpu_memory_mb of successful loads carrying it
  int64_t unloads = 0;
  int64_t unloads_idle = 0;      // by reason; unloads without one count in none
  int64_t unloads_evicted = 0;
  int64_t unloads_manual = 0;
  int64_t unloads_error = 0;
  int64_t downloads = 0;
  int64_t download_failures = 0;
  int64_t download_time_sum = 0;  // successful downloads' duration_ms
  int64_t health_checks = 0;
  int64_t health_check_failures = 0;
  int64_t max_size_bytes = 0;     // largest size_bytes seen (0: none)

  void add(const ModelEvent& event);
  void merge(const ModelLifecycleBucket& other);
  bool operator==(const ModelLifecycleBucket&) const = default;
};

// What a batch tells the inventory about one model. Merging keeps the
// earliest first_seen and latest last_used/last_event; the descriptive
// fields of the later (by described_at; on a tie the one merged in) sighting
// win when it has them, except that an explicit kind always beats an
// implied one.
struct ModelSighting {
  std::optional<std::string> model_kind;  // from a model event, or implied by a role
  bool kind_implied = false;              // model_kind comes from a role only
  std::optional<std::string> base_model;
  std::optional<int64_t> size_bytes;
  int64_t first_seen_us = 0;
  std::optional<int64_t> last_used_us;    // latest generation request naming it
  std::optional<int64_t> last_event_us;   // latest model event naming it
  int64_t described_at_us = 0;            // time of the latest event giving any of
                                          // the fields; 0 when none did, or only
                                          // a role (an implied kind)

  void merge(const ModelSighting& other);
};

// The latest load or unload of (model, worker) in a batch. A store applies
// it when it is not older than the state it holds.
struct WorkerStateChange {
  bool loaded = false;
  int64_t at_us = 0;
  std::optional<int64_t> gpu_memory_mb;
};

// The rollup changes of a batch of generation events.
class ModelUsageDelta {
 public:
  // For each model the event uses (event/model_uses.h): its usage bucket,
  // for requests and completions its params rows, and its sighting.
  void add(const GenerationEvent& event);

  const std::map<ModelHourKey, ModelUsageBucket>& usage() const { return usage_; }
  // Ordered by (hour, model, key, value): each (hour, model, key) is a
  // contiguous range, as fold_to_cap needs.
  const std::map<ModelParamKey, ModelParamBucket>& params() const { return params_; }
  const std::map<std::string, ModelSighting>& sightings() const { return sightings_; }
  bool empty() const { return usage_.empty(); }

  // Applies the per-hour cap of rollup/dimension_cap.h to the params rows,
  // per (hour, model, key), as RollupDelta::fold_attribute_values does per
  // (hour, attribute dimension), so that both stores fold alike: for each
  // (hour, model, key) of the delta, in key order, calls
  // `stored_values(hour_us, model_id, key)` for the values it already has in
  // the store (a std::vector<std::string>), then folds the delta's values
  // over `cap` into kOtherValue (fold_to_cap), each weighing the events it
  // counts (uses + timed). Afterwards the merge of every bucket of a group
  // is what it was before. Throws what `stored_values` throws, leaving the
  // groups before it folded.
  template <typename StoredValues>
  void fold_param_values(size_t cap, StoredValues&& stored_values);

 private:
  std::map<ModelHourKey, ModelUsageBucket> usage_;
  std::map<ModelParamKey, ModelParamBucket> params_;
  std::map<std::string, ModelSighting> sightings_;
};

template <typename StoredValues>
void ModelUsageDelta::fold_param_values(size_t cap, StoredValues&& stored_values) {
  auto it = params_.begin();
  while (it != params_.end()) {
    const ModelParamKey& group = it->first;
    auto last = std::next(it);
    while (last != params_.end() && last->first.hour_us == group.hour_us &&
           last->first.model_id == group.model_id && last->first.key == group.key) {
      ++last;
    }
    const std::vector<std::string> stored = stored_values(group.hour_us, group.model_id, group.key);
    fold_to_cap(&params_, it, last, std::span<const std::string>(stored), cap,
                [](const ModelParamBucket& bucket) { return bucket.uses + bucket.timed; });
    it = last;
  }
}

// The rollup changes of a batch of generation events, as both stores merge
// them: the generation rollups, and the usage rollups of the models the
// events use.
struct GenerationDeltas {
  RollupDelta rollups;
  ModelUsageDelta models;

  void add(const GenerationEvent& event) {
    rollups.add(event);
    models.add(event);
  }
  // Nothing to merge: no event was added.
  bool empty() const { return rollups.empty() && models.empty(); }
};

// The rollup changes of a batch of model events.
class ModelLifecycleDelta {
 public:
  void add(const ModelEvent& event);

  const std::map<ModelHourKey, ModelLifecycleBucket>& lifecycle() const { return lifecycle_; }
  const std::map<std::string, ModelSighting>& sightings() const { return sightings_; }
  // (model_id, worker_id) -> the latest load/unload; events without a
  // worker_id are recorded under worker "".
  const std::map<std::pair<std::string, std::string>, WorkerStateChange>& worker_states() const {
    return worker_states_;
  }
  bool empty() const { return lifecycle_.empty(); }

 private:
  std::map<ModelHourKey, ModelLifecycleBucket> lifecycle_;
  std::map<std::string, ModelSighting> sightings_;
  std::map<std::pair<std::string, std::string>, WorkerStateChange> worker_states_;
};

}  // namespace genalytics
