// How the embedded store writes a batch of events of any kind: raw rows and
// the rollup changes of the ones inserted, in one durable transaction.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "store/sqlite.h"

namespace genalytics {

// In one write transaction on `writer`: runs `insert_sql` (an INSERT that
// ignores an event_id already stored) for each event, its parameters bound
// by `bind(statement, event)`; adds each event it inserted to a Delta;
// calls `merge(delta)` unless nothing was inserted; commits. Sets
// (*inserted)[i] to 1 when events[i] was inserted, 0 when a duplicate. On
// an exception nothing is committed and every (*inserted)[i] is 0.
template <typename Delta, typename Event, typename Bind, typename Merge>
void write_event_batch(SqliteDatabase& writer, const std::string& insert_sql,
                       std::span<const Event> events, std::vector<uint8_t>* inserted, Bind&& bind,
                       Merge&& merge) {
  inserted->assign(events.size(), 0);
  if (events.empty()) return;
  Delta delta;
  try {
    SqliteTransaction transaction(writer, SqliteTransaction::Mode::kWrite);
    SqliteStatement& insert = writer.prepare_cached(insert_sql);
    for (size_t i = 0; i < events.size(); ++i) {
      insert.reset();
      bind(insert, events[i]);
      insert.step();
      if (writer.changes() == 1) {
        (*inserted)[i] = 1;
        delta.add(events[i]);
      }
    }
    if (!delta.empty()) merge(delta);
    transaction.commit();
  } catch (...) {
    inserted->assign(events.size(), 0);
    throw;
  }
}

}  // namespace genalytics
