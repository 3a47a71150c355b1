// The change log that keeps every process's rollup cache fresh on
// PostgreSQL (migration 3; the protocol is store/rollup_cache.h's): each
// transaction that changes generation rollup rows takes the next number of
// rollup_sequence, in commit order, and logs the (dimension, hour) keys it
// changed in rollup_changes; a reader replays the log since its cache last
// looked before it looks up.
#pragma once

#include <cstdint>

#include "rollup/rollup_bucket.h"
#include "store/postgres.h"
#include "store/rollup_cache.h"

namespace genalytics {

// Logs, in the transaction open on `c`, that it changed the rollup rows of
// the keys of `delta`. Throws PostgresError. REQUIRES: a read-write
// transaction is open on `c`; delta is not empty.
void log_rollup_changes(PgConnection& c, const RollupDelta& delta);

// Returns the rollup sequence number the snapshot open on `c` sees, after
// reporting to `cache` (invalidate) the logged writes since cache.known_seq().
// A reader further behind than kMaxChangesReplayed writes replays nothing:
// the cache then sees a gap and starts afresh. Throws StoreError (kCorrupt
// when the log or the sequence is malformed). REQUIRES: a read-only snapshot
// transaction (PgTransaction::Mode::kReadOnlySnapshot) is open on `c`.
uint64_t replay_rollup_changes(PgConnection& c, RollupCache& cache);
inline constexpr uint64_t kMaxChangesReplayed = 10'000;

// Deletes the log entries older than a day: a reader idle that long finds
// numbers missing and starts its cache afresh. Throws PostgresError.
void prune_rollup_changes(PgConnection& c);

}  // namespace genalytics
