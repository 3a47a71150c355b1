#include "event/json_fields.h"

#include <cmath>

#include "event/generation_decoder.h"
#include "event/time.h"

namespace genalytics {

namespace json = boost::json;

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

IntegerCheck check_integer(const json::value& value, int64_t minimum, int64_t* out) {
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
      if (number > static_cast<double>(kMaxEventInteger)) return IntegerCheck::kTooLarge;
      if (number < static_cast<double>(minimum)) return IntegerCheck::kTooSmall;
      integer = static_cast<int64_t>(number);
      break;
    }
    default:
      return IntegerCheck::kNotInteger;
  }
  if (integer < minimum) return IntegerCheck::kTooSmall;
  if (integer > kMaxEventInteger) return IntegerCheck::kTooLarge;
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
