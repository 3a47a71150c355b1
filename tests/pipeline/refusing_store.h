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

#include "testing/forwarding_store.h"
#include "store/sqlite_store.h"

namespace genalytics::testing {

// SqliteStore refusing, as a whole, every write that holds one of `refused`
// event ids (as a store does when one row of a transaction fails), with
// `failure`; and failing call number `unavailable_call` as unavailable.
class RefusingStore final : public ForwardingStore<SqliteStore> {
 public:
  using ForwardingStore::ForwardingStore;

  void write(EventSpan events, std::vector<uint8_t>* inserted) override {
    std::visit([&](auto span) { check(span); }, events);
    store_.write(events, inserted);
  }

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

};

}  // namespace genalytics::testing
