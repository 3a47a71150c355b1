// A real SqliteStore behind a decorator that refuses chosen events the way a
// store refuses a transaction holding a corrupt or invalid row: for tests of
// what the pipeline does with StoreError kCorrupt / kInvalid / kUnavailable.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "store/sqlite_store.h"

namespace genalytics::testing {

// SqliteStore refusing, as a whole, every write that holds one of `refused`
// event ids (as a store does when one row of a transaction fails), with
// `failure`; and failing call number `unavailable_call` as unavailable.
class RefusingStore final : public Store {
 public:
  explicit RefusingStore(const std::string& dir) : store_(dir) {}

  void write(EventSpan events, std::vector<uint8_t>* inserted) override {
    std::visit([&](auto span) { check(span); }, events);
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

  std::set<std::string> refused;  // event ids; every one when refuse_all
  bool refuse_all = false;
  StoreFailure failure = StoreFailure::kCorrupt;
  int unavailable_call = -1;
  int calls = 0;

 private:
  template <typename Event>
  void check(std::span<const Event> events) {
    if (calls++ == unavailable_call) throw StoreError("connection lost");
    for (const Event& event : events) {
      if (refuse_all || refused.contains(event.event_id)) {
        throw StoreError("rollup sketch of the hour does not decode", failure);
      }
    }
  }

  SqliteStore store_;
};

}  // namespace genalytics::testing
