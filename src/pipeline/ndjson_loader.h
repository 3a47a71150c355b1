// Bulk loading of an NDJSON file of generation events through the same
// decoding and group-commit path as HTTP ingest.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "event/generation_decoder.h"
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

// Reads `path` in chunks of whole lines, decodes them and writes the valid
// events. Calls `progress` after each chunk and `on_rejected` for the first
// `limits.max_rejected_listed` bad lines of the file (LoadStats::rejected
// counts them all), so a file of bad lines costs no memory per line. Throws std::runtime_error when the file cannot be read and StoreError
// when a commit fails (chunks committed before it stay committed; re-running
// is safe because events are idempotent on event_id).
LoadStats load_ndjson_file(const std::string& path, BatchWriter& writer, const DecodeLimits& limits,
                           const std::function<void(const LoadStats&)>& progress,
                           const std::function<void(const RejectedLine&)>& on_rejected);

}  // namespace genalytics
