// The part of an event decoder's validator that does not depend on the kind
// of event: the object's members by field, the errors collected so far, and
// the reads of field types every event has (UUIDs, timestamps, strings,
// integers, error messages, choices from a list), with the same messages
// everywhere; and the writing of optional fields back by to_json.
// generation_decoder, route_decoder and model_decoder derive their
// validators from it.
#pragma once

#include <array>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "event/decode_limits.h"
#include "event/rejected_event.h"
#include "event/json_fields.h"
#include "event/uuid.h"

namespace genalytics {

// The member of `names` that `text` spells in any case, or nullopt.
template <size_t kCount>
std::optional<std::string_view> find_ignoring_case(const std::string_view (&names)[kCount],
                                                   std::string_view text) {
  const auto lower = [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  };
  for (std::string_view name : names) {
    if (text.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < text.size() && same; ++i) same = lower(text[i]) == lower(name[i]);
    if (same) return name;
  }
  return std::nullopt;
}

// Adds `name`: `*value` to `object` when `value` holds one.
template <typename T>
void put_optional(boost::json::object* object, std::string_view name,
                  const std::optional<T>& value) {
  if (value) object->emplace(name, *value);
}

// `Field` is an enum of kFieldCount fields numbered from 0.
template <typename Field, size_t kFieldCount>
class FieldValidator {
 public:
  using Pointers = std::array<std::string_view, kFieldCount>;
  // The index of the field named `key`, or kFieldCount when there is none.
  using FieldIndex = size_t (*)(std::string_view key);

  // `pointers` holds each field's JSON pointer ("/" + its wire name).
  // REQUIRES: `limits`, `errors` and `pointers` outlive the validator.
  FieldValidator(const boost::json::object& object, const DecodeLimits& limits,
                 std::vector<FieldError>* errors, const Pointers& pointers, FieldIndex field_index)
      : limits_(limits), errors_(errors), pointers_(pointers) {
    for (const boost::json::key_value_pair& member : object) {
      if (member.value().is_null()) continue;  // null means absent
      const size_t index = field_index(member.key());
      if (index < kFieldCount) values_[index] = &member.value();
    }
  }

  // The value of `field`, or nullptr when it is absent or null.
  const boost::json::value* find(Field field) const { return values_[index(field)]; }

  std::string_view pointer_of(Field field) const { return pointers_[index(field)]; }

  void fail(std::string pointer, std::string message) {
    errors_->push_back({std::move(pointer), std::move(message)});
  }
  void fail(Field field, std::string message) {
    fail(std::string(pointer_of(field)), std::move(message));
  }

  // Leaves `*id` alone when the field is absent.
  void read_uuid(Field field, std::string* id) {
    const boost::json::value* value = find(field);
    if (value == nullptr) return;
    std::optional<std::string> canonical;
    if (value->is_string()) canonical = canonical_uuid(view(value->get_string()));
    if (canonical) {
      *id = std::move(*canonical);
    } else {
      fail(field, "must be a UUID");
    }
  }

  void read_uuid(Field field, std::optional<std::string>* id) {
    if (find(field) == nullptr) return;
    read_uuid(field, &id->emplace());
  }

  // `now_us` when the field is absent. A time before kMinEventTimestampUs or
  // more than limits.max_future_skew_us after `now_us` is an error.
  void read_timestamp(Field field, int64_t now_us, int64_t* timestamp_us) {
    const boost::json::value* value = find(field);
    if (value == nullptr) {
      *timestamp_us = now_us;
      return;
    }
    const std::optional<int64_t> parsed = parse_event_timestamp(*value);
    if (!parsed) {
      fail(field, "must be an RFC 3339 date-time");
    } else if (*parsed < kMinEventTimestampUs) {
      fail(field, "must not be before 2000-01-01T00:00:00Z");
    } else if (*parsed - now_us > limits_.max_future_skew_us) {
      fail(field, "must not be more than " + std::to_string(limits_.max_future_skew_us / 1'000'000) +
                      " seconds ahead of the server's clock");
    } else {
      *timestamp_us = *parsed;
    }
  }

  // A string of at most max_string_length characters, without NUL.
  void read_string(Field field, std::optional<std::string>* out) {
    const boost::json::value* value = find(field);
    if (value == nullptr) return;
    if (!value->is_string()) return fail(field, "must be a string");
    const std::string_view text = view(value->get_string());
    if (too_long(text)) {
      fail(field, too_long_message());
    } else if (text.find('\0') != std::string_view::npos) {
      fail(field, kNulMessage);
    } else {
      out->emplace(text);
    }
  }

  // Cut, not refused, when longer than max_error_message_length: the message
  // is for reading.
  void read_error_message(Field field, std::optional<std::string>* out) {
    const boost::json::value* value = find(field);
    if (value == nullptr) return;
    if (!value->is_string()) return fail(field, "must be a string");
    const std::string_view text = view(value->get_string());
    if (text.find('\0') != std::string_view::npos) return fail(field, kNulMessage);
    out->emplace(truncate_utf8(text, limits_.max_error_message_length));
  }

  // One of `choices` in any case, stored as `choices` spells it.
  template <size_t kCount>
  void read_choice(Field field, const std::string_view (&choices)[kCount],
                   std::optional<std::string>* out) {
    const boost::json::value* value = find(field);
    if (value == nullptr) return;
    std::optional<std::string_view> parsed;
    if (value->is_string()) parsed = find_ignoring_case(choices, view(value->get_string()));
    if (!parsed) return fail(field, one_of(choices));
    out->emplace(*parsed);
  }

  // Reads an integer in [minimum, maximum] (`minimum` 0 or 1) found at
  // `pointer`; nullopt (and an error) when it is not one.
  std::optional<int64_t> read_integer(const boost::json::value& value, int64_t minimum,
                                      std::string_view pointer,
                                      int64_t maximum = kMaxEventInteger) {
    int64_t integer = 0;
    switch (check_integer(value, minimum, &integer, maximum)) {
      case IntegerCheck::kOk:
        return integer;
      case IntegerCheck::kNotInteger:
      case IntegerCheck::kTooSmall:
        fail(std::string(pointer),
             minimum > 0 ? "must be a positive integer" : "must be a non-negative integer");
        break;
      case IntegerCheck::kTooLarge:
        // append(), not "..." + to_string(): GCC 12 at -O3 reports a bogus overflow
        // in the inlined insert at the front of the temporary (GCC PR 105329).
        fail(std::string(pointer), std::string("must be at most ").append(std::to_string(maximum)));
        break;
    }
    return std::nullopt;
  }

  // Leaves `*out` alone when the field is absent.
  void read_integer(Field field, int64_t minimum, std::optional<int64_t>* out,
                    int64_t maximum = kMaxEventInteger) {
    if (const boost::json::value* value = find(field)) {
      *out = read_integer(*value, minimum, pointer_of(field), maximum);
    }
  }

 protected:
  // Whether `text` has more than `max_length` characters.
  static bool too_long(std::string_view text, size_t max_length) {
    return text.size() > max_length && utf8_length(text) > max_length;
  }
  static std::string too_long_message(size_t max_length) {
    return "must be at most " + std::to_string(max_length) + " characters";
  }
  bool too_long(std::string_view text) const { return too_long(text, limits_.max_string_length); }
  std::string too_long_message() const { return too_long_message(limits_.max_string_length); }

  const DecodeLimits& limits_;
  std::vector<FieldError>* errors_;

 private:
  static size_t index(Field field) { return static_cast<size_t>(field); }

  // "must be one of a, b, c".
  template <size_t kCount>
  static std::string one_of(const std::string_view (&names)[kCount]) {
    std::string text = "must be one of ";
    for (size_t i = 0; i < kCount; ++i) {
      if (i > 0) text += ", ";
      text += names[i];
    }
    return text;
  }

  const Pointers& pointers_;
  std::array<const boost::json::value*, kFieldCount> values_{};  // indexed by Field
};

}  // namespace genalytics
