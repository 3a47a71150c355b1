#include "rollup/model_rollup.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "event/model_uses.h"
#include "event/time.h"

namespace genalytics {
namespace {

template <typename T>
void keep_latest(std::optional<T>* mine, const std::optional<T>& other) {
  if (other && (!*mine || **mine < *other)) *mine = other;
}

// Adds `sighting` to `sightings` under `model_id`: the first one as it is,
// later ones merged.
void add_sighting(std::map<std::string, ModelSighting>* sightings, const std::string& model_id,
                  const ModelSighting& sighting) {
  const auto [it, inserted] = sightings->try_emplace(model_id, sighting);
  if (!inserted) it->second.merge(sighting);
}

}  // namespace

void ModelUsageBucket::add(const GenerationEvent& event) {
  if (event.event_type == GenerationEventType::kRequest) {
    ++uses;
    return;
  }
  if (!event.is_completion()) return;
  ++completions;
  if (event.success.value_or(false)) ++successes;
  if (event.generation_time_ms) {
    ++generation_time_count;
    generation_time_sum += *event.generation_time_ms;
    generation_times.add(static_cast<double>(*event.generation_time_ms));
  }
  if (event.gpu_memory_mb) gpu_memory.add(static_cast<double>(*event.gpu_memory_mb));
}

void ModelUsageBucket::merge(const ModelUsageBucket& other) {
  uses += other.uses;
  completions += other.completions;
  successes += other.successes;
  generation_time_count += other.generation_time_count;
  generation_time_sum += other.generation_time_sum;
  generation_times.merge(other.generation_times);
  gpu_memory.merge(other.gpu_memory);
}

void ModelParamBucket::merge(const ModelParamBucket& other) {
  uses += other.uses;
  timed += other.timed;
  generation_time_sum += other.generation_time_sum;
}

void ModelLifecycleBucket::add(const ModelEvent& event) {
  const bool succeeded = event.succeeded();
  switch (event.event_type) {
    case ModelEventType::kLoad:
      ++loads;
      if (!succeeded) {
        ++load_failures;
        break;
      }
      if (event.duration_ms) {
        ++load_time_count;
        load_time_sum += *event.duration_ms;
        load_times.add(static_cast<double>(*event.duration_ms));
      }
      if (event.gpu_memory_mb) loaded_gpu_memory.add(static_cast<double>(*event.gpu_memory_mb));
      break;
    case ModelEventType::kUnload:
      ++unloads;
      if (event.reason == "idle") ++unloads_idle;
      if (event.reason == "evicted") ++unloads_evicted;
      if (event.reason == "manual") ++unloads_manual;
      if (event.reason == "error") ++unloads_error;
      break;
    case ModelEventType::kDownload:
      ++downloads;
      if (!succeeded) {
        ++download_failures;
      } else if (event.duration_ms) {
        download_time_sum += *event.duration_ms;
      }
      break;
    case ModelEventType::kHealthCheck:
      ++health_checks;
      if (!succeeded) ++health_check_failures;
      break;
  }
  if (event.size_bytes) max_size_bytes = std::max(max_size_bytes, *event.size_bytes);
}

void ModelLifecycleBucket::merge(const ModelLifecycleBucket& other) {
  loads += other.loads;
  load_failures += other.load_failures;
  load_time_count += other.load_time_count;
  load_time_sum += other.load_time_sum;
  load_times.merge(other.load_times);
  loaded_gpu_memory.merge(other.loaded_gpu_memory);
  unloads += other.unloads;
  unloads_idle += other.unloads_idle;
  unloads_evicted += other.unloads_evicted;
  unloads_manual += other.unloads_manual;
  unloads_error += other.unloads_error;
  downloads += other.downloads;
  download_failures += other.download_failures;
  download_time_sum += other.download_time_sum;
  health_checks += other.health_checks;
  health_check_failures += other.health_check_failures;
  max_size_bytes = std::max(max_size_bytes, other.max_size_bytes);
}

void ModelSighting::merge(const ModelSighting& other) {
  first_seen_us = std::min(first_seen_us, other.first_seen_us);
  keep_latest(&last_used_us, other.last_used_us);
  keep_latest(&last_event_us, other.last_event_us);
  // On a tie `other` is the later: it comes later in the batch.
  const bool other_later = other.described_at_us >= described_at_us;
  if (other.model_kind) {
    // An explicit kind beats an implied one whatever their times.
    const bool take =
        !model_kind || (kind_implied == other.kind_implied ? other_later : kind_implied);
    if (take) {
      model_kind = other.model_kind;
      kind_implied = other.kind_implied;
    }
  }
  if (other.base_model && (!base_model || other_later)) base_model = other.base_model;
  if (other.size_bytes && (!size_bytes || other_later)) size_bytes = other.size_bytes;
  described_at_us = std::max(described_at_us, other.described_at_us);
}

void ModelUsageDelta::add(const GenerationEvent& event) {
  const bool request = event.event_type == GenerationEventType::kRequest;
  const bool timed = event.is_completion() && event.generation_time_ms.has_value();
  GenerationModels models = read_generation_models(event, request || timed);
  const std::vector<ModelUse>& uses = models.uses;
  if (uses.empty()) return;
  const int64_t hour = floor_hour(event.timestamp_us);

  for (const ModelUse& use : uses) {
    usage_[ModelHourKey{hour, use.model_id}].add(event);
    ModelSighting sighting;
    sighting.model_kind = std::string(model_kind_of(use.role));
    sighting.kind_implied = true;
    sighting.first_seen_us = event.timestamp_us;
    if (request) sighting.last_used_us = event.timestamp_us;
    add_sighting(&sightings_, use.model_id, sighting);
  }

  // Each (key, value) once per event: a request counts once however often
  // its params repeat a value.
  std::vector<std::pair<std::string, std::string>>& params = models.params;
  std::sort(params.begin(), params.end());
  params.erase(std::unique(params.begin(), params.end()), params.end());
  for (const ModelUse& use : uses) {
    for (const auto& [key, value] : params) {
      ModelParamBucket& bucket = params_[ModelParamKey{hour, use.model_id, key, value}];
      if (request) {
        ++bucket.uses;
      } else {
        ++bucket.timed;
        bucket.generation_time_sum += *event.generation_time_ms;
      }
    }
  }
}

void ModelLifecycleDelta::add(const ModelEvent& event) {
  lifecycle_[ModelHourKey{floor_hour(event.timestamp_us), event.model_id}].add(event);

  ModelSighting sighting;
  sighting.model_kind = event.model_kind;
  sighting.base_model = event.base_model;
  sighting.size_bytes = event.size_bytes;
  sighting.first_seen_us = event.timestamp_us;
  sighting.last_event_us = event.timestamp_us;
  // An event that describes nothing must not make older descriptions stale.
  if (event.model_kind || event.base_model || event.size_bytes) {
    sighting.described_at_us = event.timestamp_us;
  }
  add_sighting(&sightings_, event.model_id, sighting);

  const bool load = event.event_type == ModelEventType::kLoad;
  if (!load && event.event_type != ModelEventType::kUnload) return;
  WorkerStateChange change;
  change.loaded = load && event.succeeded();
  change.at_us = event.timestamp_us;
  if (change.loaded) change.gpu_memory_mb = event.gpu_memory_mb;
  const auto [it, inserted] =
      worker_states_.try_emplace({event.model_id, event.worker_id.value_or("")}, change);
  // A later event in the batch wins a tie.
  if (!inserted && change.at_us >= it->second.at_us) it->second = change;
}

}  // namespace genalytics
