// What a decoder says about the events it refuses, for any event kind: per
// event, per field, and only the first few listed (DecodeLimits).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace genalytics {

// One problem with one field. `field` is a JSON pointer ("/duration_ms",
// "/tokens/input"), or "" when the problem is the event as a whole.
struct FieldError {
  std::string field;
  std::string message;
  bool operator==(const FieldError&) const = default;
};

struct RejectedEvent {
  size_t index;  // position in the body (array element, or NDJSON line not counting blank ones)
  std::vector<FieldError> errors;
};

// The rejections of one body: the first `limits.max_rejected_listed` by
// index, with their errors, and how many there were in all.
struct Rejections {
  std::vector<RejectedEvent> listed;  // by increasing index
  size_t count = 0;                   // listed ones included

  bool empty() const { return count == 0; }
};

}  // namespace genalytics
