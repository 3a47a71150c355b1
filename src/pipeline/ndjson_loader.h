// Bulk loading of an NDJSON file of events of one kind through the same
// decoding (the kind's decode_body) and group-commit path as HTTP ingest.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "event/decode_limits.h"
#include "event/rejected_event.h"
#include "pipeline/batch_writer.h"

namespace genalytics {

struct LoadStats {
  uint64_t accepted = 0;
  uint64_t duplicates = 0;
  uint64_t rejected = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_total = 0;
};

struct RejectedLine {
  uint64_t line;  // 1-based line number in the file
  std::vector<FieldError> errors;
};

// Reads `path` in chunks of whole lines, decodes them as events of `kind`
// under `options` and writes the valid events. Calls `progress` after each
// chunk and `on_rejected` for the first `options.limits.max_rejected_listed`
// bad lines of the file (LoadStats::rejected counts them all), so a file of
// bad lines costs no memory per line. Throws std::runtime_error when the
// file cannot be read and StoreError when a commit fails (chunks committed
// before it stay committed; re-running is safe because events are
// idempotent on event_id).
LoadStats load_ndjson_file(const std::string& path, BatchWriter& writer, EventKind kind,
                           const EventDecodeOptions& options,
                           const std::function<void(const LoadStats&)>& progress,
                           const std::function<void(const RejectedLine&)>& on_rejected);

}  // namespace genalytics
