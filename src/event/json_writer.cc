#include "event/json_writer.h"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace genalytics {
namespace {

// Boost.JSON's escapes: '"', '\\', the short forms of \b \f \n \r \t, and
// \u00XX for the other control characters; everything else as it is.
void append_string(boost::json::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        if (byte < 0x20) {
          *out += "\\u00";
          out->push_back(kHex[byte >> 4]);
          out->push_back(kHex[byte & 15]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

template <typename Integer>
void append_integer(Integer value, std::string* out) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out->append(buffer, end);
}

// Appends an int64, uint64 or double.
void append_number(const boost::json::value& number, std::string* out) {
  if (number.is_int64()) {
    append_integer(number.get_int64(), out);
  } else if (number.is_uint64()) {
    append_integer(number.get_uint64(), out);
  } else {
    append_json_double(number.get_double(), out);
  }
}

// Appends `value`, each number as its canonical_number when `canonical`.
// Returns false (the text is then unfinished) when a number has none.
bool append_value(const boost::json::value& value, bool canonical, std::string* out) {
  switch (value.kind()) {
    case boost::json::kind::null:
      *out += "null";
      break;
    case boost::json::kind::bool_:
      *out += value.get_bool() ? "true" : "false";
      break;
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      if (canonical) {
        const std::optional<boost::json::value> number = canonical_number(value);
        if (!number) return false;
        append_number(*number, out);
      } else {
        append_number(value, out);
      }
      break;
    case boost::json::kind::string:
      append_string(value.get_string(), out);
      break;
    case boost::json::kind::array: {
      out->push_back('[');
      bool first = true;
      for (const boost::json::value& element : value.get_array()) {
        if (!first) out->push_back(',');
        first = false;
        if (!append_value(element, canonical, out)) return false;
      }
      out->push_back(']');
      break;
    }
    case boost::json::kind::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& member : value.get_object()) {
        if (!first) out->push_back(',');
        first = false;
        append_string(member.key(), out);
        out->push_back(':');
        if (!append_value(member.value(), canonical, out)) return false;
      }
      out->push_back('}');
      break;
    }
  }
  return true;
}

}  // namespace

void append_json_double(double value, std::string* out) {
  if (!std::isfinite(value)) {
    *out += "null";
    return;
  }
  if (value == 0) {  // also -0: a reader wants 0
    out->push_back('0');
    return;
  }
  // Python's repr switches to an exponent below 1e-4 and from 1e16 on.
  const double magnitude = std::fabs(value);
  const auto format = magnitude >= 1e-4 && magnitude < 1e16 ? std::chars_format::fixed
                                                            : std::chars_format::scientific;
  char buffer[64];  // the longest shortest fixed form below 1e16 is ~25 characters
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value, format);
  out->append(buffer, end);
}

std::string serialize_json(const boost::json::value& value) {
  std::string out;
  append_value(value, false, &out);
  return out;
}

std::optional<boost::json::value> canonical_number(const boost::json::value& value) {
  double number = 0;
  switch (value.kind()) {
    case boost::json::kind::int64:
      return boost::json::value(value.get_int64());
    case boost::json::kind::uint64:
      number = static_cast<double>(value.get_uint64());
      break;
    case boost::json::kind::double_:
      number = value.get_double();
      break;
    default:
      return std::nullopt;
  }
  if (!std::isfinite(number)) return std::nullopt;
  // Both conversions are exact (correctly rounded), unlike Boost.JSON's.
  char digits[32];  // "-d.dddddddddddddde-308"
  const auto written =
      std::to_chars(digits, digits + sizeof digits, number, std::chars_format::scientific, 14);
  double rounded = 0;
  const auto read = std::from_chars(digits, written.ptr, rounded);
  if (read.ec != std::errc()) {
    if (std::fabs(number) > 1) return std::nullopt;  // past the largest double
    rounded = 0;                                     // below the smallest
  }
  // Subnormals hold too few digits to come back from text as themselves.
  if (std::fabs(rounded) < std::numeric_limits<double>::min()) {
    return boost::json::value(int64_t{0});
  }
  constexpr double kTwoTo63 = 9223372036854775808.0;
  if (rounded >= -kTwoTo63 && rounded < kTwoTo63 && std::trunc(rounded) == rounded) {
    return boost::json::value(static_cast<int64_t>(rounded));
  }
  return boost::json::value(rounded);
}

std::optional<std::string> serialize_canonical_json(const boost::json::value& value) {
  std::string out;
  if (!append_value(value, true, &out)) return std::nullopt;
  return out;
}

bool canonicalize_numbers(boost::json::value* value) {
  if (boost::json::object* object = value->if_object()) {
    bool all = true;
    for (auto& member : *object) all &= canonicalize_numbers(&member.value());
    return all;
  }
  if (boost::json::array* array = value->if_array()) {
    bool all = true;
    for (boost::json::value& element : *array) all &= canonicalize_numbers(&element);
    return all;
  }
  if (!value->is_number()) return true;
  const std::optional<boost::json::value> number = canonical_number(*value);
  if (!number) return false;
  if (number->is_int64()) {
    value->emplace_int64() = number->get_int64();
  } else {
    value->emplace_double() = number->get_double();
  }
  return true;
}

}  // namespace genalytics
