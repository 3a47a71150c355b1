// Over 400 lines: one simulation (the workers' VRAM, the jobs running on
// them, the files' downloads and checks) whose parts share its random stream
// and its model registry; split, they would have to pass that state around.
#include "demo/model_fleet.h"

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "demo/demo_model.h"
#include "demo/model_catalog.h"
#include "event/model_uses.h"

namespace genalytics {
namespace {

using demo_model::DemoRng;
using demo_model::floor_div;
using demo_model::ModelFile;
using demo_model::RngStream;

// A load reads the file from the worker's NVMe disk and copies it to the GPU.
constexpr double kLoadBytesPerMs = 1.5e6;  // 1.5 GB/s
constexpr double kLoadOverheadMs = 300;
constexpr double kLoadNoiseSigma = 0.2;
// Downloads come from a model hub; they finish well before the first use.
constexpr double kDownloadBytesPerMs = 60e3;  // 60 MB/s median
constexpr double kDownloadNoiseSigma = 0.5;
constexpr double kDownloadLeadMeanUs = 2.0 * kMicrosPerHour;  // from its end to the first use
// Models nothing uses were downloaded in this part of the window.
constexpr double kUnusedDownloadFrom = 0.02;
constexpr double kUnusedDownloadTo = 0.12;
// The daily health check hashes every file and compares the hash recorded at download.
constexpr double kHashBytesPerMs = 2e6;  // 2 GB/s
constexpr double kHealthCheckOverheadMs = 40;
constexpr int64_t kHealthCheckPauseUs = 100'000;  // between two files
constexpr int64_t kHealthCheckHour = 4;           // UTC, the quietest hour
// The damaged model's first load fails, and a later one now and then; each is retried at once.
constexpr int kMaxDamagedLoadFailures = 2;
constexpr double kDamagedLoadFailureRate = 0.2;
// An operator frees VRAM by hand at these points of the window, during office hours.
constexpr std::array<double, 2> kManualUnloadProgress = {0.35, 0.7};
constexpr int64_t kManualUnloadHour = 10;

// What the fleet assumes of a model the catalogue does not hold, by ModelRole.
struct FileSize {
  int64_t size_bytes;
  int64_t vram_mb;
};
constexpr std::array<FileSize, 4> kUncataloguedSizes = {{
    {6'938'000'000, 6'900},  // checkpoint: an SDXL one
    {150'000'000, 145},      // LoRA
    {334'600'000, 160},      // VAE
    {1'400'000'000, 1'340},  // ControlNet
}};

// A model as the fleet knows it.
struct FleetModel {
  std::string id;
  ModelRole role = ModelRole::kCheckpoint;
  std::optional<std::string_view> base_model;  // LoRAs, VAEs, ControlNets of the catalogue
  int64_t size_bytes = 0;
  int64_t vram_mb = 0;
  std::optional<int64_t> first_use_us;  // the first request naming it
  int64_t downloaded_us = 0;            // when its download finished
};

struct LoadedModel {
  const FleetModel* model;
  int64_t last_used_us;  // when a job using it last started or ended
  int running;           // jobs using it now
};

struct Worker {
  std::string id;
  std::vector<LoadedModel> loaded;  // in load order
  int64_t used_mb = 0;
  int running = 0;  // jobs running on it
};

// A generation from its request to its end.
struct FleetJob {
  std::vector<const FleetModel*> models;
  int worker = -1;  // until it starts
};

bool contains(const std::vector<const FleetModel*>& models, const FleetModel* model) {
  return std::find(models.begin(), models.end(), model) != models.end();
}

}  // namespace

class DemoModelFleet::Simulation {
 public:
  Simulation(const DemoOptions& demo, const DemoFleetOptions& fleet)
      : fleet_(fleet),
        begin_us_(demo.end_us - static_cast<int64_t>(demo.days) * kMicrosPerDay),
        end_us_(demo.end_us),
        rng_(fleet.seed, RngStream::kModelFleet),
        ids_(fleet.seed, RngStream::kModelFleetIds) {
    for (int i = 0; i < fleet.workers; ++i) {
      workers_.emplace_back().id = "worker-" + std::to_string(i);
    }
    for (double progress : kManualUnloadProgress) {
      const int64_t day = floor_div(begin_us_ + at_progress(progress), kMicrosPerDay);
      const int64_t at_us = day * kMicrosPerDay + kManualUnloadHour * kMicrosPerHour +
                            static_cast<int64_t>(rng_.uniform() * kMicrosPerHour);
      if (begin_us_ < at_us && at_us < end_us_) manual_unloads_us_.push_back(at_us);
    }
    std::sort(manual_unloads_us_.begin(), manual_unloads_us_.end());
  }

  std::vector<ModelEvent> observe(std::span<const GenerationEvent> events) {
    std::vector<ModelEvent> out;
    for (const GenerationEvent& event : events) {
      advance_to(event.timestamp_us, &out);
      switch (event.event_type) {
        case GenerationEventType::kRequest:
          jobs_.insert_or_assign(event.generation_id, FleetJob{.models = models_of(event)});
          break;
        case GenerationEventType::kStart:
          start(event, &out);
          break;
        case GenerationEventType::kCompletion:
        case GenerationEventType::kCancellation:
          end(event);
          break;
      }
    }
    return out;
  }

  std::vector<ModelEvent> finish() {
    std::vector<ModelEvent> out;
    if (end_us_ <= begin_us_) return out;
    advance_to(end_us_, &out);
    for (const ModelFile& file : demo_model::kModelFiles) {
      if (!models_.contains(file.id)) add_model(file.id, file.role);
    }
    for (auto& [id, model] : models_) download(&model, &out);
    health_checks(&out);
    std::stable_sort(out.begin(), out.end(), [](const ModelEvent& a, const ModelEvent& b) {
      return a.timestamp_us < b.timestamp_us;
    });
    return out;
  }

 private:
  int64_t at_progress(double progress) const {
    return static_cast<int64_t>(progress * static_cast<double>(end_us_ - begin_us_));
  }

  FleetModel& add_model(std::string_view id, ModelRole role) {
    FleetModel& model = models_[std::string(id)];
    model.id = id;
    const ModelFile* file = demo_model::find_model_file(id);
    if (file != nullptr) {
      model.role = file->role;
      if (file->role != ModelRole::kCheckpoint) {
        model.base_model = demo_model::base_checkpoint(file->family);
      }
      model.size_bytes = file->size_bytes;
      model.vram_mb = file->vram_mb;
    } else {
      model.role = role;
      model.size_bytes = kUncataloguedSizes[static_cast<size_t>(role)].size_bytes;
      model.vram_mb = kUncataloguedSizes[static_cast<size_t>(role)].vram_mb;
    }
    return model;
  }

  // The models `event` names, each registered at its first use.
  std::vector<const FleetModel*> models_of(const GenerationEvent& event) {
    std::vector<const FleetModel*> models;
    for (const ModelUse& use : models_used(event)) {
      const auto it = models_.find(use.model_id);
      FleetModel& model = it != models_.end() ? it->second : add_model(use.model_id, use.role);
      if (!model.first_use_us) model.first_use_us = event.timestamp_us;
      models.push_back(&model);
    }
    return models;
  }

  ModelEvent model_event(ModelEventType type, const FleetModel& model, int64_t at_us) {
    ModelEvent event;
    event.event_id = ids_.uuid();
    event.event_type = type;
    event.model_id = model.id;
    event.timestamp_us = at_us;
    event.model_kind = std::string(model_kind_of(model.role));
    if (model.base_model) event.base_model = std::string(*model.base_model);
    return event;
  }

  // Unloads due up to `now_us`, in time order: idle models keep_alive after
  // their last use, and the manual ones.
  void advance_to(int64_t now_us, std::vector<ModelEvent>* out) {
    while (true) {
      int64_t idle_us = std::numeric_limits<int64_t>::max();
      size_t idle_worker = 0;
      size_t idle_slot = 0;
      for (size_t w = 0; w < workers_.size(); ++w) {
        for (size_t slot = 0; slot < workers_[w].loaded.size(); ++slot) {
          const LoadedModel& loaded = workers_[w].loaded[slot];
          if (loaded.running == 0 && loaded.last_used_us + fleet_.keep_alive_us < idle_us) {
            idle_us = loaded.last_used_us + fleet_.keep_alive_us;
            idle_worker = w;
            idle_slot = slot;
          }
        }
      }
      const int64_t manual_us = next_manual_unload_ < manual_unloads_us_.size()
                                    ? manual_unloads_us_[next_manual_unload_]
                                    : std::numeric_limits<int64_t>::max();
      if (std::min(idle_us, manual_us) > now_us) return;
      if (idle_us <= manual_us) {
        unload(idle_worker, idle_slot, idle_us, "idle", out);
      } else {
        manual_unload(manual_us, out);
        ++next_manual_unload_;
      }
    }
  }

  // The operator unloads the largest idle model of the fleet, if any.
  void manual_unload(int64_t at_us, std::vector<ModelEvent>* out) {
    std::optional<std::pair<size_t, size_t>> largest;
    int64_t largest_mb = 0;
    for (size_t w = 0; w < workers_.size(); ++w) {
      for (size_t slot = 0; slot < workers_[w].loaded.size(); ++slot) {
        const LoadedModel& loaded = workers_[w].loaded[slot];
        if (loaded.running == 0 && loaded.model->vram_mb > largest_mb) {
          largest = {w, slot};
          largest_mb = loaded.model->vram_mb;
        }
      }
    }
    if (largest) unload(largest->first, largest->second, at_us, "manual", out);
  }

  void unload(size_t w, size_t slot, int64_t at_us, std::string_view reason,
              std::vector<ModelEvent>* out) {
    Worker& worker = workers_[w];
    const FleetModel& model = *worker.loaded[slot].model;
    ModelEvent event = model_event(ModelEventType::kUnload, model, at_us);
    event.gpu_memory_mb = model.vram_mb;
    event.reason = std::string(reason);
    event.worker_id = worker.id;
    out->push_back(std::move(event));
    worker.used_mb -= model.vram_mb;
    worker.loaded.erase(worker.loaded.begin() + static_cast<std::ptrdiff_t>(slot));
  }

  void start(const GenerationEvent& event, std::vector<ModelEvent>* out) {
    auto it = jobs_.find(event.generation_id);
    if (it == jobs_.end()) {  // its request came before the events fed
      it = jobs_.emplace(event.generation_id, FleetJob{.models = models_of(event)}).first;
    }
    FleetJob& job = it->second;
    if (job.worker >= 0) return;
    job.worker = pick_worker(job.models);
    if (job.worker < 0) {
      jobs_.erase(it);
      return;
    }
    Worker& worker = workers_[static_cast<size_t>(job.worker)];
    while (worker.used_mb + missing_mb(worker, job.models) > fleet_.vram_budget_mb) {
      evict_one(static_cast<size_t>(job.worker), job.models, event.timestamp_us, out);
    }
    for (const FleetModel* model : job.models) {
      auto loaded = std::find_if(worker.loaded.begin(), worker.loaded.end(),
                                 [&](const LoadedModel& l) { return l.model == model; });
      if (loaded == worker.loaded.end()) {
        load(&worker, *model, event.timestamp_us, out);
        loaded = worker.loaded.end() - 1;
      }
      ++loaded->running;
      loaded->last_used_us = event.timestamp_us;
    }
    ++worker.running;
  }

  void end(const GenerationEvent& event) {
    const auto it = jobs_.find(event.generation_id);
    if (it == jobs_.end()) return;
    if (it->second.worker >= 0) {
      Worker& worker = workers_[static_cast<size_t>(it->second.worker)];
      for (LoadedModel& loaded : worker.loaded) {
        if (contains(it->second.models, loaded.model)) {
          --loaded.running;
          loaded.last_used_us = event.timestamp_us;
        }
      }
      --worker.running;
    }
    jobs_.erase(it);
  }

  // VRAM the models not yet loaded on `worker` need.
  static int64_t missing_mb(const Worker& worker, const std::vector<const FleetModel*>& models) {
    int64_t mb = 0;
    for (const FleetModel* model : models) {
      const bool loaded = std::any_of(worker.loaded.begin(), worker.loaded.end(),
                                      [&](const LoadedModel& l) { return l.model == model; });
      if (!loaded) mb += model->vram_mb;
    }
    return mb;
  }

  // The worker a job needing `models` lands on: among those where they fit
  // after evicting models no running job needs, the one with the least VRAM
  // to load, then the fewest running jobs, then the least to evict; -1 if
  // none. A worker with the models loaded thus wins however busy it is.
  int pick_worker(const std::vector<const FleetModel*>& models) const {
    int best = -1;
    std::tuple<int64_t, int, int64_t> best_key;  // (load_mb, running jobs, evict_mb)
    for (size_t w = 0; w < workers_.size(); ++w) {
      const Worker& worker = workers_[w];
      int64_t evictable_mb = 0;
      for (const LoadedModel& loaded : worker.loaded) {
        if (loaded.running == 0 && !contains(models, loaded.model)) {
          evictable_mb += loaded.model->vram_mb;
        }
      }
      const int64_t load_mb = missing_mb(worker, models);
      const int64_t free_mb = fleet_.vram_budget_mb - worker.used_mb;
      if (load_mb > free_mb + evictable_mb) continue;
      const std::tuple key(load_mb, worker.running, std::max<int64_t>(load_mb - free_mb, 0));
      if (best < 0 || key < best_key) {
        best = static_cast<int>(w);
        best_key = key;
      }
    }
    return best;
  }

  // Unloads the least recently used model of worker `w` that no running job
  // and not `keep` needs. REQUIRES: there is one.
  void evict_one(size_t w, const std::vector<const FleetModel*>& keep, int64_t at_us,
                 std::vector<ModelEvent>* out) {
    const std::vector<LoadedModel>& loaded = workers_[w].loaded;
    size_t victim = loaded.size();
    for (size_t slot = 0; slot < loaded.size(); ++slot) {
      if (loaded[slot].running > 0 || contains(keep, loaded[slot].model)) continue;
      if (victim == loaded.size() || loaded[slot].last_used_us < loaded[victim].last_used_us) {
        victim = slot;
      }
    }
    unload(w, victim, at_us, "evicted", out);
  }

  void load(Worker* worker, const FleetModel& model, int64_t at_us, std::vector<ModelEvent>* out) {
    if (model.id == demo_model::kDamagedModelId &&
        damaged_load_failures_ < kMaxDamagedLoadFailures &&
        (damaged_load_failures_ == 0 || rng_.chance(kDamagedLoadFailureRate))) {
      ++damaged_load_failures_;
      ModelEvent failed = model_event(ModelEventType::kLoad, model, at_us);
      failed.duration_ms = static_cast<int64_t>(rng_.lognormal(kLoadOverheadMs, 0.3));
      failed.success = false;
      failed.error_type = "load_failed";
      failed.error_message = "safetensors header is truncated; retrying";
      failed.worker_id = worker->id;
      out->push_back(std::move(failed));
    }
    ModelEvent event = model_event(ModelEventType::kLoad, model, at_us);
    event.duration_ms = static_cast<int64_t>(
        (kLoadOverheadMs + static_cast<double>(model.size_bytes) / kLoadBytesPerMs) *
        rng_.noise(kLoadNoiseSigma));
    event.success = true;
    event.gpu_memory_mb = model.vram_mb;
    event.worker_id = worker->id;
    out->push_back(std::move(event));
    worker->loaded.push_back(LoadedModel{.model = &model, .last_used_us = at_us, .running = 0});
    worker->used_mb += model.vram_mb;
  }

  // The model's download: before its first use, or early in the window for a
  // model nothing used.
  void download(FleetModel* model, std::vector<ModelEvent>* out) {
    const int64_t duration_ms =
        static_cast<int64_t>(static_cast<double>(model->size_bytes) / kDownloadBytesPerMs *
                             rng_.noise(kDownloadNoiseSigma));
    int64_t at_us = 0;
    if (model->first_use_us) {
      at_us = *model->first_use_us - duration_ms * 1000 -
              static_cast<int64_t>(rng_.exponential(kDownloadLeadMeanUs));
      if (at_us < begin_us_) {  // too early for the window: between its start and the first use
        at_us =
            begin_us_ + static_cast<int64_t>(rng_.uniform() *
                                             static_cast<double>(*model->first_use_us - begin_us_));
      }
    } else {
      at_us = begin_us_ + at_progress(rng_.uniform(kUnusedDownloadFrom, kUnusedDownloadTo));
    }
    model->downloaded_us = at_us + duration_ms * 1000;
    ModelEvent event = model_event(ModelEventType::kDownload, *model, at_us);
    event.duration_ms = duration_ms;
    event.success = true;
    event.size_bytes = model->size_bytes;
    out->push_back(std::move(event));
  }

  // Each day at kHealthCheckHour, one file after another, every model downloaded by then.
  void health_checks(std::vector<ModelEvent>* out) {
    for (int64_t day = floor_div(begin_us_, kMicrosPerDay) * kMicrosPerDay; day < end_us_;
         day += kMicrosPerDay) {
      int64_t at_us = day + kHealthCheckHour * kMicrosPerHour +
                      static_cast<int64_t>(rng_.uniform() * kMicrosPerHour / 4);
      if (at_us < begin_us_) continue;
      for (const auto& [id, model] : models_) {
        if (at_us > end_us_) return;
        if (model.downloaded_us > at_us) continue;
        ModelEvent event = model_event(ModelEventType::kHealthCheck, model, at_us);
        event.duration_ms =
            static_cast<int64_t>(kHealthCheckOverheadMs + static_cast<double>(model.size_bytes) /
                                                              kHashBytesPerMs * rng_.noise(0.1));
        event.size_bytes = model.size_bytes;
        const bool damaged = model.id == demo_model::kDamagedModelId;
        event.success = !damaged;
        if (damaged) {
          event.error_type = "checksum_mismatch";
          event.error_message = "SHA-256 of the file differs from the hash recorded at download";
        }
        at_us += *event.duration_ms * 1000 + kHealthCheckPauseUs;
        out->push_back(std::move(event));
      }
    }
  }

  const DemoFleetOptions fleet_;
  const int64_t begin_us_;
  const int64_t end_us_;
  DemoRng rng_;  // every decision of the fleet
  DemoRng ids_;  // event ids

  std::map<std::string, FleetModel, std::less<>> models_;  // by id; nodes never move
  std::vector<Worker> workers_;
  std::unordered_map<std::string, FleetJob> jobs_;  // by generation_id, until the job ends
  std::vector<int64_t> manual_unloads_us_;     // ascending
  size_t next_manual_unload_ = 0;
  int damaged_load_failures_ = 0;
};

DemoModelFleet::DemoModelFleet(const DemoOptions& demo, const DemoFleetOptions& fleet)
    : simulation_(std::make_unique<Simulation>(demo, fleet)) {}

DemoModelFleet::~DemoModelFleet() = default;

std::vector<ModelEvent> DemoModelFleet::observe(std::span<const GenerationEvent> events) {
  return simulation_->observe(events);
}

std::vector<ModelEvent> DemoModelFleet::finish() { return simulation_->finish(); }

}  // namespace genalytics
