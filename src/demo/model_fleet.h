// The model fleet behind the demo's generation traffic (issue 10): a few GPU
// workers that load the models each job needs, evict the least recently used
// ones when VRAM runs out and unload idle ones after a keep-alive, plus what
// happens to the model files beside the traffic: downloads, daily health
// checks (one damaged model fails them), models on disk that nothing uses.
// Its model events never change the generation events.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "demo/traffic_generator.h"
#include "event/generation_event.h"
#include "event/model_event.h"
#include "event/time.h"

namespace genalytics {

struct DemoFleetOptions {
  int workers = 4;                                 // GPU workers "worker-0", "worker-1", ...
  int64_t vram_budget_mb = 24576;                  // per worker, for the weights of loaded models
  uint64_t seed = 42;                              // the fleet's own random stream
  int64_t keep_alive_us = 600 * kMicrosPerSecond;  // an unused model stays loaded this long
};

// Simulates the fleet over the window of `DemoOptions` (its days ending at
// end_us), fed the window's generation events. Every event it returns is one
// decode_model_event accepts (event_id a canonical UUID, model_kind one of
// kModelKinds, reason one of kUnloadReasons, only on unloads). Loads, unloads,
// downloads and health checks are stamped when they began; duration_ms says how
// long they took. Deterministic: the same options and events give the same
// model events, however the events are split into batches. Not thread-safe.
class DemoModelFleet {
 public:
  // REQUIRES: fleet.workers >= 1.
  DemoModelFleet(const DemoOptions& demo, const DemoFleetOptions& fleet);
  ~DemoModelFleet();
  DemoModelFleet(const DemoModelFleet&) = delete;
  DemoModelFleet& operator=(const DemoModelFleet&) = delete;

  // Feeds the next generation events (REQUIRES: in timestamp order, after the
  // previous batch's) and returns the model events they cause, in timestamp
  // order: when a job starts (its start event) on the worker it lands on (the
  // one with the least VRAM to load for it, then the fewest running jobs), a load
  // of each model its request named (checkpoint, LoRAs, VAE, ControlNet) that
  // is not loaded there, after evicting least recently used models the
  // running jobs do not need until they fit in the budget (unload reason
  // "evicted"); an unload with reason "idle" keep_alive after a model's last
  // job ended; a manual unload or two of an idle model. Loads carry
  // gpu_memory_mb, worker_id, model_kind, base_model (LoRAs, VAEs and
  // ControlNets: their family's base checkpoint) and a duration that grows
  // with the model's size. A job whose models fit on no worker beside the
  // running jobs' (only under load far beyond the fleet) leaves no events.
  std::vector<ModelEvent> observe(std::span<const GenerationEvent> events);

  // The rest of the window, in timestamp order: idle unloads due after the
  // last event; a download (size_bytes, model_kind, base_model) before each
  // model's first use, and early in the window for the catalogued models no
  // generation named (on disk, never used); a daily health check of every
  // model downloaded by then, which the damaged model fails. Models still
  // loaded at the window's end stay loaded. REQUIRES: called once, after the
  // last observe().
  std::vector<ModelEvent> finish();

 private:
  class Simulation;
  std::unique_ptr<Simulation> simulation_;
};

}  // namespace genalytics
