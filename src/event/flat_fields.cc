#include "event/flat_fields.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>

#include "event/json_fields.h"

namespace genalytics {
namespace {

namespace json = boost::json;

constexpr std::string_view kJsonField = "json";
constexpr std::string_view kNotObjectText = "must be JSON text of an object";
constexpr std::string_view kNotUtf8 = "must be UTF-8 text";

// The JSON number written in `text` (nothing else, no surrounding space), or
// nullopt. Out-of-range integers come out as uint64 or double, which the
// decoders report as too large.
std::optional<json::value> parse_number(std::string_view text, const json::storage_ptr& storage) {
  const std::string_view digits = text.starts_with('-') ? text.substr(1) : text;
  if (digits.empty() || !std::isdigit(static_cast<unsigned char>(digits.front())) ||
      !std::isdigit(static_cast<unsigned char>(text.back()))) {
    return std::nullopt;
  }
  // The common case, a plain integer, without a parser.
  int64_t integer = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), integer);
  if (error == std::errc() && end == text.data() + text.size() &&
      (digits.size() == 1 || digits.front() != '0')) {
    return json::value(integer, storage);
  }
  json::error_code parse_error;
  json::value number = json::parse(text, parse_error, storage);
  if (parse_error || !number.is_number()) return std::nullopt;
  return number;
}

// The object written in `text`, or nullopt.
std::optional<json::object> parse_object(std::string_view text, const json::storage_ptr& storage) {
  json::error_code error;
  json::value value = json::parse(text, error, storage);
  if (error || !value.is_object()) return std::nullopt;
  return std::move(value.get_object());
}

}  // namespace

json::object flat_fields_to_json(std::span<const StreamField> fields,
                                 std::span<const FlatFieldType> types,
                                 std::vector<FieldError>* errors,
                                 const json::storage_ptr& storage) {
  const auto whole = std::find_if(fields.rbegin(), fields.rend(),
                                  [](const StreamField& f) { return f.first == kJsonField; });
  if (whole != fields.rend()) {
    if (std::optional<json::object> object = parse_object(whole->second, storage)) {
      return std::move(*object);
    }
    errors->push_back({"/json", std::string(kNotObjectText)});
    return json::object(storage);
  }

  json::object object(storage);
  object.reserve(fields.size());
  for (const auto& [name, text] : fields) {
    // Redis values are bytes; JSON text (and PostgreSQL) must be UTF-8.
    // Objects are checked by the JSON parser.
    if (!is_utf8(name)) continue;  // not a field of any event
    if (!is_utf8(text)) {
      object.erase(name);  // an earlier, valid value of the field does not count either
      errors->push_back({std::string("/").append(name), std::string(kNotUtf8)});
      continue;
    }
    const auto type =
        std::find_if(types.begin(), types.end(),
                     [name = name](const FlatFieldType& t) { return t.name == name; });
    if (type == types.end()) {
      object[name] = text;
      continue;
    }
    switch (type->kind) {
      case FlatFieldKind::kInteger:
        if (std::optional<json::value> number = parse_number(text, storage)) {
          object[name] = std::move(*number);
        } else {
          object[name] = text;
        }
        break;
      case FlatFieldKind::kBoolean:
        if (text == "true" || text == "false") {
          object[name] = text == "true";
        } else {
          object[name] = text;
        }
        break;
      case FlatFieldKind::kObject:
        if (std::optional<json::object> nested = parse_object(text, storage)) {
          object[name] = std::move(*nested);
        } else {
          object.erase(name);  // an earlier, valid value of the field does not count either
          errors->push_back({std::string("/").append(name), std::string(kNotObjectText)});
        }
        break;
    }
  }
  return object;
}

}  // namespace genalytics
