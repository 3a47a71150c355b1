#include "event/route_normalizer.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "event/json_fields.h"
#include "event/uuid.h"

namespace genalytics {
namespace {

constexpr std::string_view kIdTemplate = "{id}";
constexpr size_t kMinHexIdLength = 16;

// The value of a hex digit, or -1.
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return hex_value(c) >= 0; });
}

bool is_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Percent-decodes one name or value of a query string, '+' as a space. A '%'
// not followed by two hex digits is itself. Text whose decoding is not UTF-8
// is kept as sent.
std::string percent_decode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      decoded.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
               hex_value(text[i + 2]) >= 0) {
      decoded.push_back(static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2])));
      i += 2;
    } else {
      decoded.push_back(text[i]);
    }
  }
  if (!is_utf8(decoded)) return std::string(text);
  return decoded;
}

// quote_plus of one name or value.
void append_quoted(std::string* out, std::string_view text) {
  constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '.' || c == '-' || c == '~') {
      out->push_back(c);
    } else if (c == ' ') {
      out->push_back('+');
    } else {
      out->push_back('%');
      out->push_back(kHex[byte >> 4]);
      out->push_back(kHex[byte & 0xf]);
    }
  }
}

}  // namespace

bool is_id_segment(std::string_view segment) {
  return is_digits(segment) || (segment.size() >= kMinHexIdLength && is_hex(segment)) ||
         canonical_uuid(segment).has_value();
}

std::string template_path(std::string_view path) {
  std::string templated;
  templated.reserve(path.size());
  size_t start = 0;
  while (true) {
    const size_t end = std::min(path.find('/', start), path.size());
    const std::string_view segment = path.substr(start, end - start);
    templated.append(is_id_segment(segment) ? kIdTemplate : segment);
    if (end == path.size()) break;
    templated.push_back('/');
    start = end + 1;
  }
  return templated;
}

bool parse_query_string(std::string_view query, QueryParams* params) {
  size_t start = 0;
  while (start <= query.size()) {
    const size_t end = std::min(query.find('&', start), query.size());
    const std::string_view pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const size_t equals = pair.find('=');
    std::string name = percent_decode(pair.substr(0, equals));
    std::string value =
        equals == std::string_view::npos ? std::string() : percent_decode(pair.substr(equals + 1));
    if (name.find('\0') != std::string::npos || value.find('\0') != std::string::npos) {
      return false;
    }
    (*params)[std::move(name)] = std::move(value);
  }
  return true;
}

std::string urlencode(const QueryParams& params) {
  std::string encoded;
  for (const auto& [name, value] : params) {
    if (!encoded.empty()) encoded.push_back('&');
    append_quoted(&encoded, name);
    encoded.push_back('=');
    append_quoted(&encoded, value);
  }
  return encoded;
}

std::string query_params_json(const QueryParams& params,
                              const std::vector<std::string>& leave_out) {
  boost::json::object object;
  object.reserve(params.size());
  for (const auto& [name, value] : params) {
    if (std::find(leave_out.begin(), leave_out.end(), name) == leave_out.end()) {
      object.emplace(name, value);
    }
  }
  return boost::json::serialize(object);
}

SplitUrl split_url(std::string_view url) {
  url = url.substr(0, url.find('#'));
  const size_t question = url.find('?');
  if (question == std::string_view::npos) return {url, {}};
  return {url.substr(0, question), url.substr(question + 1)};
}

NormalizedRoute normalize_route(std::string_view path, const QueryParams& params,
                                const RouteNormalization& normalization) {
  NormalizedRoute normalized;
  normalized.route = normalization.template_ids ? template_path(path) : std::string(path);
  normalized.route_full = path;
  if (!params.empty()) normalized.route_full.append("?").append(urlencode(params));
  normalized.query_params_json = query_params_json(params);
  normalized.query_params_normalized_json =
      query_params_json(params, normalization.variable_params);
  return normalized;
}

void normalize_route_event(RouteEvent* event, const RouteNormalization& normalization) {
  const std::string target = event->route_full.empty() ? event->route : event->route_full;
  const SplitUrl url = split_url(target);
  QueryParams params;
  parse_query_string(url.query, &params);
  NormalizedRoute normalized = normalize_route(url.path, params, normalization);
  event->route = std::move(normalized.route);
  event->route_full = std::move(normalized.route_full);
  event->query_params_json = std::move(normalized.query_params_json);
  event->query_params_normalized_json = std::move(normalized.query_params_normalized_json);
}

}  // namespace genalytics
