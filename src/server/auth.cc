#include "server/auth.h"

#include <openssl/evp.h>

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <fmt/format.h>
#include <fstream>
#include <stdexcept>

#include "server/responses.h"

namespace genalytics {
namespace http = boost::beast::http;

namespace {

struct RoleRule {
  std::string_view path_prefix;  // a path equal to it or below it
  bool safe_methods_only;        // GET and HEAD; other methods need kAdmin
  bool post_only;                // POST; other methods need kAdmin
  std::optional<ApiRole> role;   // nullopt: open to anyone
  bool put_ingests = false;      // with safe_methods_only: PUT needs kIngest (registrations)
};

// The first rule whose prefix matches decides; no match needs kAdmin.
constexpr RoleRule kRoleRules[] = {
    {"/health", false, false, std::nullopt},
    {"/api/v1/health", false, false, std::nullopt},
    {"/api/v1/events/", false, true, ApiRole::kIngest},
    {"/api/v1/analytics/", true, false, ApiRole::kRead},
    {"/api/v1/models", true, false, ApiRole::kRead},
    {"/api/v1/models/", true, false, ApiRole::kRead, true},
};

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<Sha256Digest> parse_hex_digest(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Sha256Digest digest{};
  for (size_t i = 0; i < 64; ++i) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(hex[i])));
    int nibble;
    if (c >= '0' && c <= '9') {
      nibble = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      nibble = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    digest[i / 2] = static_cast<uint8_t>(digest[i / 2] << 4 | nibble);
  }
  return digest;
}

// The key a request presents, or nullopt.
std::optional<std::string_view> presented_key(const HttpRequest& request) {
  auto authorization = request.find(http::field::authorization);
  if (authorization != request.end()) {
    std::string_view value = trim(authorization->value());
    const size_t space = value.find(' ');
    if (space != std::string_view::npos && iequals(value.substr(0, space), "Bearer")) {
      std::string_view key = trim(value.substr(space + 1));
      if (!key.empty()) return key;
    }
  }
  auto api_key = request.find("X-API-Key");
  if (api_key != request.end()) {
    std::string_view key = trim(api_key->value());
    if (!key.empty()) return key;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ApiRole> parse_api_role(std::string_view name) {
  if (name == "ingest") return ApiRole::kIngest;
  if (name == "read") return ApiRole::kRead;
  if (name == "admin") return ApiRole::kAdmin;
  return std::nullopt;
}

std::string_view api_role_name(ApiRole role) {
  switch (role) {
    case ApiRole::kIngest:
      return "ingest";
    case ApiRole::kRead:
      return "read";
    case ApiRole::kAdmin:
      return "admin";
  }
  return "unknown";
}

Sha256Digest sha256(std::string_view bytes) {
  Sha256Digest digest{};
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size()) {
    throw std::runtime_error("SHA-256 failed (libcrypto)");
  }
  return digest;
}

std::string sha256_hex(std::string_view bytes) {
  std::string hex;
  for (uint8_t byte : sha256(bytes)) hex += fmt::format("{:02x}", byte);
  return hex;
}

void ApiKeys::add_key(ApiRole role, std::string_view key) { keys_.push_back({role, sha256(key)}); }

void ApiKeys::add_key_hash(ApiRole role, std::string_view hex) {
  std::optional<Sha256Digest> digest = parse_hex_digest(hex);
  if (!digest) throw std::invalid_argument("a key hash must be 64 hex digits (SHA-256)");
  keys_.push_back({role, *digest});
}

void ApiKeys::add_key_list(std::string_view text) {
  size_t index = 0;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    ++index;
    if (item.empty()) continue;
    const size_t colon = item.find(':');
    const std::optional<ApiRole> role =
        colon == std::string_view::npos ? std::nullopt : parse_api_role(trim(item.substr(0, colon)));
    if (!role) {
      throw std::invalid_argument(fmt::format(
          "API key {} must be role:key with role ingest, read or admin", index));
    }
    const std::string_view key = trim(item.substr(colon + 1));
    if (key.empty()) throw std::invalid_argument(fmt::format("API key {} is empty", index));
    add_key(*role, key);
  }
}

void ApiKeys::add_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(fmt::format("cannot read API keys file {}", path));
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string_view text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    const size_t colon = text.find(':');
    const std::optional<ApiRole> role =
        colon == std::string_view::npos ? std::nullopt : parse_api_role(trim(text.substr(0, colon)));
    const std::optional<Sha256Digest> digest =
        role ? parse_hex_digest(trim(text.substr(colon + 1))) : std::nullopt;
    if (!digest) {
      throw std::invalid_argument(fmt::format(
          "{}:{}: expected role:sha256hex (role ingest, read or admin; make the hash with "
          "genalytics hash-key)",
          path, number));
    }
    keys_.push_back({*role, *digest});
  }
}

ApiKeys::Match ApiKeys::match(std::string_view key, ApiRole needed) const {
  const Sha256Digest presented = sha256(key);
  Match result;
  for (const Entry& entry : keys_) {
    uint8_t difference = 0;
    for (size_t i = 0; i < presented.size(); ++i) difference |= presented[i] ^ entry.digest[i];
    const bool equal = difference == 0;
    result.known |= equal;
    result.allowed |= equal & (entry.role == needed || entry.role == ApiRole::kAdmin);
    if (equal) result.role = entry.role;
  }
  return result;
}

std::optional<ApiRole> required_role(http::verb method, std::string_view path) {
  for (const RoleRule& rule : kRoleRules) {
    const bool matches = rule.path_prefix.ends_with('/') ? path.starts_with(rule.path_prefix)
                                                         : path == rule.path_prefix;
    if (!matches) continue;
    const bool safe = method == http::verb::get || method == http::verb::head;
    if (rule.put_ingests && method == http::verb::put) return ApiRole::kIngest;
    if (rule.safe_methods_only && !safe) return ApiRole::kAdmin;
    if (rule.post_only && method != http::verb::post) return ApiRole::kAdmin;
    return rule.role;
  }
  return ApiRole::kAdmin;
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const boost::asio::ip::address address = boost::asio::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

std::optional<HttpResponse> Authorizer::refuse(const HttpRequest& request) const {
  if (keys_.empty()) return std::nullopt;
  // The same decoded path the API routes on, so an encoded path cannot pass
  // as another.
  auto url = boost::urls::parse_origin_form(request.target());
  const std::optional<ApiRole> needed =
      url ? required_role(request.method(), url->path()) : std::optional<ApiRole>(ApiRole::kAdmin);
  if (!needed) return std::nullopt;

  const unsigned version = request.version();
  const bool keep_alive = request.keep_alive();
  const std::optional<std::string_view> key = presented_key(request);
  const ApiKeys::Match match = key ? keys_.match(*key, *needed) : ApiKeys::Match{};
  if (!match.known) {
    HttpResponse response = error_response(
        http::status::unauthorized, "unauthorized",
        key ? "the API key is not valid"
            : "an API key is required: send Authorization: Bearer KEY or X-API-Key: KEY",
        version, keep_alive);
    response.set(http::field::www_authenticate,
                 key ? R"(Bearer realm="genalytics", error="invalid_token")" : R"(Bearer realm="genalytics")");
    return response;
  }
  if (match.allowed) return std::nullopt;
  return error_response(
      http::status::forbidden, "forbidden",
      fmt::format("this key's role ({}) may not {} {}: that needs the {} role",
                  api_role_name(match.role), std::string_view(request.method_string()),
                  std::string_view(request.target().data(), request.target().size()),
                  *needed == ApiRole::kAdmin ? "admin" : fmt::format("{} or admin", api_role_name(*needed))),
      version, keep_alive);
}

}  // namespace genalytics
