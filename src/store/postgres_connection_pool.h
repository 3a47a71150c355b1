// The connections PostgresStore works through: a PgPool whose connections
// have the store's session settings, and one retry of work whose pooled
// connection turns out to have been cut (a server restart cuts every idle
// connection; the first use finds out).
#pragma once

#include <cstddef>
#include <string>

#include "store/postgres.h"

namespace genalytics {

class PostgresConnectionPool {
 public:
  // Opens nothing yet; at most `max_size` connections to `url` are open at
  // once. REQUIRES: max_size >= 1.
  PostgresConnectionPool(const std::string& url, size_t max_size);

  // Returns work(connection) run on a pooled connection; runs it once more on
  // a fresh connection when it threw PostgresError because a reused
  // connection was cut. `work` must therefore be safe to repeat: a write is,
  // being idempotent (repeating one whose COMMIT was cut reports its events
  // as duplicates). Throws what `work` throws, and PostgresError when no
  // connection can be made. Thread-safe.
  template <typename Work>
  auto with_connection(Work&& work);

  // The store's session settings, for a connection made outside the pool.
  static void set_up_session(PgConnection& c);

 private:
  PgPool pool_;
};

template <typename Work>
auto PostgresConnectionPool::with_connection(Work&& work) {
  for (int attempt = 0;; ++attempt) {
    PgPool::Lease lease = pool_.acquire();
    try {
      return work(*lease);
    } catch (const PostgresError&) {
      if (attempt > 0 || !lease.reused() || !lease->broken()) throw;
      pool_.discard_idle();
    }
  }
}

}  // namespace genalytics
