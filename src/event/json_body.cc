#include "event/json_body.h"

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <string>

namespace genalytics {
namespace {

namespace json = boost::json;

constexpr std::string_view kWhitespace = " \t\r\n";

std::string malformed_message(const json::error_code& error, size_t offset) {
  return "malformed JSON: " + error.message() + " at byte " + std::to_string(offset);
}

std::string too_many_message(const DecodeLimits& limits) {
  return "too many events in one body (limit " + std::to_string(limits.max_events_per_body) + ")";
}

bool is_blank(std::string_view line) { return line.find_first_not_of(kWhitespace) == line.npos; }

// Calls `visit(line)` for each non-blank line of `body`, in order.
template <typename Visit>
void for_each_nonblank_line(std::string_view body, Visit&& visit) {
  while (!body.empty()) {
    const size_t end = body.find('\n');
    const std::string_view line = body.substr(0, end);
    if (!is_blank(line)) visit(line);
    if (end == body.npos) break;
    body.remove_prefix(end + 1);
  }
}

// Decodes one body. Every event is parsed on its own, also in an array, so
// the whole body never exists as a DOM: one parser and one memory resource
// serve all events, and the resource's first block is inline, so a typical
// event is parsed without touching the heap.
class BodyDecoder {
 public:
  BodyDecoder(const DecodeLimits& limits, EventCollector* collector)
      : limits_(limits), collector_(collector), resource_(buffer_, sizeof(buffer_)) {}

  Rejections decode(std::string_view body, bool ndjson) {
    if (ndjson) {
      decode_lines(body);
    } else {
      decode_document(body);
    }
    return std::move(rejected_);
  }

 private:
  static constexpr size_t kRejected = std::string_view::npos;
  // Shorter than any valid event of any type, for reservations.
  static constexpr size_t kMinEventBytes = 64;

  // One value or an array of values; NDJSON when more values follow on later
  // lines.
  void decode_document(std::string_view body) {
    const size_t start = body.find_first_not_of(kWhitespace);
    if (start == body.npos) return;
    const size_t end = body[start] == '[' ? decode_array(body, start) : decode_single(body);
    if (end == kRejected || end == body.size()) return;
    const size_t value_end = body.find_last_not_of(kWhitespace, end - 1) + 1;
    clear();
    if (body.find('\n', value_end) != body.npos) {
      decode_lines(body);
    } else {
      reject(0, malformed_message(json::error::extra_data, end));
    }
  }

  // Returns where the value and the whitespace after it end, or kRejected.
  size_t decode_single(std::string_view body) {
    json::error_code error;
    const size_t consumed = parse(body, &error);
    if (error) {
      reject(0, malformed_message(error, consumed));
      return kRejected;
    }
    if (limits_.max_events_per_body < 1) {
      reject(0, too_many_message(limits_));
      return kRejected;
    }
    decode_event(parser_.release(), 0);
    return consumed;
  }

  // `body[open]` is '['. Returns where the array and the whitespace after it
  // end, or kRejected. A malformed array rejects the whole body.
  size_t decode_array(std::string_view body, size_t open) {
    size_t pos = skip_whitespace(body, open + 1);
    if (pos < body.size() && body[pos] == ']') return skip_whitespace(body, pos + 1);
    for (size_t index = 0;; ++index) {
      if (index == limits_.max_events_per_body) return reject_body(too_many_message(limits_));
      json::error_code error;
      const size_t consumed = parse(body.substr(pos), &error);
      pos += consumed;
      if (error) return reject_body(malformed_message(error, pos));
      if (index == 0) {
        // Guess the count from the first event's size (once, for speed only).
        collector_->reserve(std::min(limits_.max_events_per_body,
                                     body.size() / std::max(consumed, kMinEventBytes) + 1));
      }
      decode_event(parser_.release(), index);
      if (pos == body.size()) return reject_body(malformed_message(json::error::incomplete, pos));
      if (body[pos] == ']') return skip_whitespace(body, pos + 1);
      if (body[pos] != ',') return reject_body(malformed_message(json::error::syntax, pos));
      ++pos;
    }
  }

  // Index i is the i-th non-blank line.
  void decode_lines(std::string_view body) {
    size_t lines = 0;
    for_each_nonblank_line(body, [&](std::string_view) { ++lines; });
    if (lines > limits_.max_events_per_body) {
      reject(0, too_many_message(limits_));
      return;
    }
    // `{}` lines are not events: the reservation follows the bytes too.
    collector_->reserve(std::min(lines, body.size() / kMinEventBytes + 1));
    size_t index = 0;
    for_each_nonblank_line(body, [&](std::string_view line) {
      json::error_code error;
      const size_t consumed = parse(line, &error);
      if (!error && consumed < line.size()) error = json::error::extra_data;
      if (error) {
        reject(index++, malformed_message(error, consumed));
      } else {
        decode_event(parser_.release(), index++);
      }
    });
  }

  // Parses the value at the start of `text` (the previous value must be
  // released). Returns the characters consumed: the value and the whitespace
  // after it, or up to the error.
  size_t parse(std::string_view text, json::error_code* error) {
    parser_.reset(&resource_);  // drops any unreleased value, then its memory
    resource_.release();
    return parser_.write_some(text.data(), text.size(), *error);
  }

  static size_t skip_whitespace(std::string_view body, size_t pos) {
    pos = body.find_first_not_of(kWhitespace, pos);
    return pos == body.npos ? body.size() : pos;
  }

  // One vector of errors serves every event, so a body of rejected events
  // costs no memory per event beyond the listed ones.
  void decode_event(const json::value& value, size_t index) {
    errors_.clear();
    if (!collector_->add(value, &errors_)) record(index, errors_);
  }

  void reject(size_t index, std::string message) {
    errors_.clear();
    errors_.push_back({"", std::move(message)});
    record(index, errors_);
  }

  void record(size_t index, const std::vector<FieldError>& errors) {
    ++rejected_.count;
    if (rejected_.listed.size() < limits_.max_rejected_listed) {
      rejected_.listed.push_back({index, errors});
    }
  }

  void clear() {
    collector_->clear();
    rejected_ = {};
  }

  // Drops what was decoded and rejects the body as a whole.
  size_t reject_body(std::string message) {
    clear();
    reject(0, std::move(message));
    return kRejected;
  }

  const DecodeLimits& limits_;
  EventCollector* collector_;
  unsigned char buffer_[16 * 1024];
  json::monotonic_resource resource_;
  json::parser parser_;
  std::vector<FieldError> errors_;  // of the event being decoded
  Rejections rejected_;
};

}  // namespace

Rejections decode_json_body(std::string_view body, bool ndjson, const DecodeLimits& limits,
                            EventCollector* collector) {
  return BodyDecoder(limits, collector).decode(body, ndjson);
}

}  // namespace genalytics
