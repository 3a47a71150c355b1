// The state of an event kind's stream and its consumer group, for
// GET /api/v1/analytics/pipeline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "pipeline/redis_client.h"
#include "pipeline/stream_keys.h"

namespace genalytics {

struct StreamStatus {
  EventKind kind{};
  std::string stream_key;
  int64_t length = 0;                 // entries in the stream (pending ones included)
  int64_t pending = 0;                // delivered to a consumer, not yet acknowledged
  int64_t consumers = 0;              // consumers known to the group
  std::optional<double> oldest_pending_age_s;
  std::optional<int64_t> first_entry_us;  // XADD time of the oldest entry still in the stream
  std::optional<int64_t> last_entry_us;   // XADD time of the newest entry still in the stream
  std::string dead_letter_key;
  int64_t dead_letters = 0;
};

// Reads the status of the `kind` stream of namespace `ns` with XLEN, XINFO
// GROUPS, XPENDING, XRANGE and XREVRANGE. A stream or group that does not
// exist yet reads as empty. Throws RedisError.
StreamStatus read_stream_status(RedisClient& redis, EventKind kind, const std::string& ns,
                                const std::string& group, int64_t now_us);

}  // namespace genalytics
