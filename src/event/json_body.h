// The framing of an ingest request body into events, shared by the decoders
// of every event type: one JSON object, a JSON array of objects, or NDJSON.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "event/decode_limits.h"
#include "event/rejected_event.h"

namespace genalytics {

// Receives the values of one body from decode_json_body.
class EventCollector {
 public:
  virtual ~EventCollector() = default;

  // A hint: about `count` events will be added.
  virtual void reserve(size_t count) = 0;

  // Decodes and keeps the event in `value`. Returns false, keeping nothing,
  // and appends its problems to `errors` when it is not a valid event.
  virtual bool add(const boost::json::value& value, std::vector<FieldError>* errors) = 0;

  // Drops every event added so far.
  virtual void clear() = 0;
};

// Splits `body` into values and hands each to `collector` in body order;
// returns the rejections (the first limits.max_rejected_listed listed, all
// counted). The rules, which
// decode_generation_body documents, are the same for every event type: NDJSON
// when `ndjson` is true or when more text follows the first value on a later
// line; "malformed JSON: <reason> at byte <offset>" and "too many events in
// one body (limit N)" reject the whole body (the collector is cleared) except
// for a malformed NDJSON line, which rejects that line alone.
Rejections decode_json_body(std::string_view body, bool ndjson, const DecodeLimits& limits,
                            EventCollector* collector);

// An EventCollector that appends to a vector of events, decoding each with
// `decode(value, &event, errors) -> bool`.
template <typename Event, typename Decode>
class VectorEventCollector final : public EventCollector {
 public:
  VectorEventCollector(std::vector<Event>* events, Decode decode)
      : events_(events), decode_(std::move(decode)) {}

  void reserve(size_t count) override { events_->reserve(events_->size() + count); }

  bool add(const boost::json::value& value, std::vector<FieldError>* errors) override {
    Event& event = events_->emplace_back();
    if (decode_(value, &event, errors)) return true;
    events_->pop_back();
    return false;
  }

  void clear() override { *events_ = {}; }

 private:
  std::vector<Event>* events_;
  Decode decode_;
};

}  // namespace genalytics
