// What the decoder tests of this directory share: the server's clock they
// decode against, FieldError in failure messages, the shape of a rejection
// case, and a stream entry's fields and what they decode to.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event/rejected_event.h"
#include "event/stream_fields.h"

namespace genalytics {

// FieldError as GoogleTest prints it: {"/field", "message"}.
inline void PrintTo(const FieldError& error, std::ostream* out) {
  *out << "{\"" << error.field << "\", \"" << error.message << "\"}";
}

namespace testing {

// 2025-01-15T12:00:00Z: the server's clock while decoding (timestamps may
// be at most an hour ahead of it).
inline constexpr int64_t kNow = 1'736'942'400'000'000;

// `text` in double quotes: a JSON string when it needs no escaping.
inline std::string json_string(std::string_view text) { return '"' + std::string(text) + '"'; }

// A body the decoder must refuse, with exactly the errors it must give.
struct BadEventCase {
  std::string json;
  std::vector<FieldError> errors;
};

// The field/value pairs of one stream entry, as a producer XADDs them.
using Pairs = std::vector<std::pair<std::string, std::string>>;

inline std::vector<StreamField> views(const Pairs& pairs) { return {pairs.begin(), pairs.end()}; }

// A stream entry decoded to an `Event`.
template <typename Event>
struct Decoded {
  Event event;
  std::vector<FieldError> errors;  // conversion errors, else the decoder's
  bool ok = false;
};

}  // namespace testing
}  // namespace genalytics
