// A Store that forwards every call to a real store it owns (SqliteStore or
// PostgresStore), for tests that wrap writes with a hook, a gate or a
// refusal: derive, override write(), and call store_.write() to pass on.
// And what such a hook throws to stand for the process dying.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace genalytics::testing {

template <typename Inner>
class ForwardingStore : public Store {
 public:
  template <typename... Args>
  explicit ForwardingStore(Args&&... args) : store_(std::forward<Args>(args)...) {}

  void write(EventSpan events, std::vector<uint8_t>* inserted) override {
    store_.write(events, inserted);
  }
  std::vector<RollupRow> read_rollups(Dimension d, int64_t s, int64_t e,
                                      const std::optional<std::string>& v,
                                      const RollupColumns& c) const override {
    return store_.read_rollups(d, s, e, v, c);
  }
  void scan_user_events(const std::string& u, int64_t s, int64_t e,
                        const std::function<void(const GenerationEvent&)>& f) const override {
    store_.scan_user_events(u, s, e, f);
  }
  void scan_events(int64_t s, int64_t e,
                   const std::function<void(const GenerationEvent&)>& f) const override {
    store_.scan_events(s, e, f);
  }
  std::vector<RouteRollupRow> read_route_rollups(
      int64_t s, int64_t e, const std::optional<std::string>& r) const override {
    return store_.read_route_rollups(s, e, r);
  }
  void scan_route_events(int64_t s, int64_t e,
                         const std::function<void(const RouteEvent&)>& f) const override {
    store_.scan_route_events(s, e, f);
  }
  std::vector<ModelUsageRow> read_model_usage(int64_t s, int64_t e,
                                              const std::optional<std::string>& m,
                                              bool sketches) const override {
    return store_.read_model_usage(s, e, m, sketches);
  }
  std::vector<ModelParamRow> read_model_params(int64_t s, int64_t e,
                                               const std::optional<std::string>& m) const override {
    return store_.read_model_params(s, e, m);
  }
  std::vector<ModelLifecycleRow> read_model_lifecycle(
      int64_t s, int64_t e, const std::optional<std::string>& m) const override {
    return store_.read_model_lifecycle(s, e, m);
  }
  std::vector<ModelRecord> read_models() const override { return store_.read_models(); }
  std::vector<ModelWorkerState> read_model_worker_states() const override {
    return store_.read_model_worker_states();
  }
  void register_models(std::span<const ModelRecord> records) override {
    store_.register_models(records);
  }
  void scan_model_events(int64_t s, int64_t e,
                         const std::function<void(const ModelEvent&)>& f) const override {
    store_.scan_model_events(s, e, f);
  }
  void scan_model_uses(
      int64_t s, int64_t e,
      const std::function<void(int64_t, std::span<const ModelUse>)>& f) const override {
    store_.scan_model_uses(s, e, f);
  }
  int64_t count_generation_events() const override { return store_.count_generation_events(); }

 protected:
  Inner store_;
};

// Stands for the process dying in a write hook: not a StoreError, so it
// escapes StreamWorker::run_once().
struct SimulatedCrash : std::runtime_error {
  SimulatedCrash() : std::runtime_error("simulated crash") {}
};

}  // namespace genalytics::testing
