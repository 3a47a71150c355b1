#include "event/json_writer.h"

#include <boost/json.hpp>

#include <charconv>
#include <cmath>

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

void append_value(const boost::json::value& value, std::string* out) {
  switch (value.kind()) {
    case boost::json::kind::null:
      *out += "null";
      break;
    case boost::json::kind::bool_:
      *out += value.get_bool() ? "true" : "false";
      break;
    case boost::json::kind::int64:
      append_integer(value.get_int64(), out);
      break;
    case boost::json::kind::uint64:
      append_integer(value.get_uint64(), out);
      break;
    case boost::json::kind::double_:
      append_json_double(value.get_double(), out);
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
        append_value(element, out);
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
        append_value(member.value(), out);
      }
      out->push_back('}');
      break;
    }
  }
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
  append_value(value, &out);
  return out;
}

}  // namespace genalytics
