#include "event/json_fields.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <vector>

#include "event/time.h"
#include "event/uuid.h"

namespace genalytics {

namespace json = boost::json;

namespace {

void append_canonical(const json::value& value, std::string* out) {
  if (const json::object* object = value.if_object()) {
    std::vector<const json::key_value_pair*> members;
    members.reserve(object->size());
    for (const json::key_value_pair& member : *object) members.push_back(&member);
    std::sort(members.begin(), members.end(),
              [](const json::key_value_pair* a, const json::key_value_pair* b) {
                return a->key() < b->key();
              });
    out->push_back('{');
    for (const json::key_value_pair* member : members) {
      if (out->back() != '{') out->push_back(',');
      out->append(json::serialize(json::string_view(member->key())));
      out->push_back(':');
      append_canonical(member->value(), out);
    }
    out->push_back('}');
  } else if (const json::array* array = value.if_array()) {
    out->push_back('[');
    for (const json::value& element : *array) {
      if (out->back() != '[') out->push_back(',');
      append_canonical(element, out);
    }
    out->push_back(']');
  } else {
    out->append(json::serialize(value));
  }
}

}  // namespace

std::string canonical_json(const json::value& value) {
  std::string text;
  append_canonical(value, &text);
  return text;
}

std::string derived_event_id(std::string_view kind, json::object event, bool timestamp_sent) {
  event.erase("event_id");
  if (!timestamp_sent) event.erase("timestamp");
  std::string name(kind);
  name.push_back(':');
  name.append(canonical_json(event));
  return name_based_uuid(name);
}

void append_pointer_token(std::string* pointer, std::string_view token) {
  pointer->push_back('/');
  for (char c : token) {
    if (c == '~') {
      pointer->append("~0");
    } else if (c == '/') {
      pointer->append("~1");
    } else {
      pointer->push_back(c);
    }
  }
}

bool is_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length;
    unsigned char low = 0x80;  // the bounds of the second byte
    unsigned char high = 0xbf;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead == 0xe0) low = 0xa0;   // overlong
      if (lead == 0xed) high = 0x9f;  // surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead == 0xf0) low = 0x90;   // overlong
      if (lead == 0xf4) high = 0x8f;  // beyond U+10FFFF
    } else {
      return false;
    }
    if (text.size() - i < length) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if (byte < (k == 1 ? low : 0x80) || byte > (k == 1 ? high : 0xbf)) return false;
    }
    i += length;
  }
  return true;
}

size_t utf8_length(std::string_view text) {
  size_t length = 0;
  for (char c : text) length += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return length;
}

std::string_view truncate_utf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  return text.substr(0, end);
}

IntegerCheck check_integer(const json::value& value, int64_t minimum, int64_t* out,
                           int64_t maximum) {
  int64_t integer;
  switch (value.kind()) {
    case json::kind::int64:
      integer = value.get_int64();
      break;
    case json::kind::uint64:
      return IntegerCheck::kTooLarge;  // the parser only uses uint64 beyond int64
    case json::kind::double_: {
      const double number = value.get_double();
      if (std::isnan(number) || std::trunc(number) != number) return IntegerCheck::kNotInteger;
      if (number > static_cast<double>(maximum)) return IntegerCheck::kTooLarge;
      if (number < static_cast<double>(minimum)) return IntegerCheck::kTooSmall;
      integer = static_cast<int64_t>(number);
      break;
    }
    default:
      return IntegerCheck::kNotInteger;
  }
  if (integer < minimum) return IntegerCheck::kTooSmall;
  if (integer > maximum) return IntegerCheck::kTooLarge;
  *out = integer;
  return IntegerCheck::kOk;
}

std::optional<int64_t> parse_event_timestamp(const json::value& value) {
  if (!value.is_string()) return std::nullopt;
  const std::string_view text = view(value.get_string());
  std::optional<int64_t> parsed = parse_rfc3339(text);
  if (!parsed && text.size() <= 32) parsed = parse_rfc3339(std::string(text) + "Z");
  return parsed;
}

}  // namespace genalytics
