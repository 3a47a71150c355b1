// A Store that forwards every call to a real store it owns (SqliteStore or
// PostgresStore), for tests that wrap writes with a hook, a gate or a
// refusal: derive, override write(), and call store_.write() to pass on.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
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
  int64_t count_generation_events() const override { return store_.count_generation_events(); }

 protected:
  Inner store_;
};

}  // namespace genalytics::testing
