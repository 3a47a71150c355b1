#include "store/postgres_rollup_changes.h"

#include <fmt/format.h>

#include <string>
#include <vector>

namespace genalytics {

void log_rollup_changes(PgConnection& c, const RollupDelta& delta) {
  static const std::string kLogSql =
      "WITH s AS (UPDATE rollup_sequence SET seq = seq + 1 WHERE id = 1 RETURNING seq) "
      "INSERT INTO rollup_changes (seq, dimension, timestamp) "
      "SELECT DISTINCT s.seq, k.dimension, k.timestamp FROM s, "
      "unnest($1::text[], $2::timestamptz[]) AS k(dimension, timestamp)";
  std::vector<std::string> dimensions, hours;
  dimensions.reserve(delta.buckets().size());
  hours.reserve(delta.buckets().size());
  for (const auto& entry : delta.buckets()) {
    dimensions.emplace_back(to_string(entry.first.dimension));
    hours.push_back(pg_timestamp(entry.first.hour_us));
  }
  c.exec(kLogSql, PgParams().text(pg_array_literal(dimensions)).text(pg_array_literal(hours)));
}

uint64_t replay_rollup_changes(PgConnection& c, RollupCache& cache) {
  static const std::string kChangesSql = fmt::format(
      "SELECT seq, dimension, {} FROM rollup_changes WHERE seq > $1::bigint AND seq <= $2::bigint "
      "ORDER BY seq",
      pg_epoch_us("timestamp"));
  const PgResult sequence = c.exec("SELECT seq FROM rollup_sequence");
  if (sequence.rows() != 1) {
    throw StoreError("postgres: rollup_sequence has no row", StoreFailure::kCorrupt);
  }
  const auto seq = static_cast<uint64_t>(sequence.int64(0, 0));
  const uint64_t known = cache.known_seq();
  if (seq <= known || seq - known > kMaxChangesReplayed) return seq;
  const PgResult changes = c.exec(
      kChangesSql,
      PgParams().int64(static_cast<int64_t>(known)).int64(static_cast<int64_t>(seq)));
  std::vector<RollupCache::Key> keys;
  for (int r = 0; r < changes.rows(); ++r) {
    const auto change = static_cast<uint64_t>(changes.int64(r, 0));
    auto changed = parse_dimension(changes.text(r, 1));
    if (!changed) {
      throw StoreError("postgres: unknown dimension in rollup_changes", StoreFailure::kCorrupt);
    }
    keys.push_back(RollupCache::Key{*changed, changes.int64(r, 2)});
    if (r + 1 == changes.rows() || static_cast<uint64_t>(changes.int64(r + 1, 0)) != change) {
      cache.invalidate(change, keys);
      keys.clear();
    }
  }
  return seq;
}

void prune_rollup_changes(PgConnection& c) {
  c.exec("DELETE FROM rollup_changes WHERE changed_at < NOW() - INTERVAL '1 day'");
}

}  // namespace genalytics
