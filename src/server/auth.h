// API keys: who may call which endpoint. A key has one role; the role a
// request needs comes from a small table of paths and methods (auth.cc).
// Keys are held only as SHA-256 digests and a presented key is compared with
// every configured digest in constant time.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http_server.h"

namespace genalytics {

// kIngest: POST events. kRead: analytics GETs. kAdmin: everything.
enum class ApiRole { kIngest, kRead, kAdmin };

// "ingest", "read" or "admin" -> the role; anything else -> nullopt.
std::optional<ApiRole> parse_api_role(std::string_view name);
std::string_view api_role_name(ApiRole role);

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest sha256(std::string_view bytes);
// 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

// The configured keys. Empty means authentication is off.
class ApiKeys {
 public:
  // Adds a key given in clear (config file, environment).
  // REQUIRES: !key.empty().
  void add_key(ApiRole role, std::string_view key);
  // Adds a key given as the hex SHA-256 of the key. Throws
  // std::invalid_argument unless `hex` is 64 hex digits.
  void add_key_hash(ApiRole role, std::string_view hex);

  // Adds GENALYTICS_API_KEYS-style text: comma-separated `role:key` pairs
  // ("ingest:k1,read:k2,admin:k3"; spaces around items ignored). Throws
  // std::invalid_argument naming the bad item (without its key) on an
  // unknown role or an empty key.
  void add_key_list(std::string_view text);

  // Adds a keys file: one `role:sha256hex` per line; blank lines and lines
  // starting with '#' are skipped. Throws std::invalid_argument naming the
  // file and line on anything else, or when the file cannot be read.
  void add_key_file(const std::string& path);

  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }

  struct Match {
    bool known = false;    // some configured key equals `key`
    bool allowed = false;  // one of them has `needed` or kAdmin
    ApiRole role = ApiRole::kRead;  // when known: the role of the last match (for messages)
  };
  // Compares `key` with every configured key in constant time (SHA-256
  // digests, every byte of every digest, no early exit).
  Match match(std::string_view key, ApiRole needed) const;

 private:
  struct Entry {
    ApiRole role;
    Sha256Digest digest;
  };
  std::vector<Entry> keys_;
};

// The role `method` on `path` needs; nullopt for open paths (/health).
// Paths the table does not list need kAdmin.
std::optional<ApiRole> required_role(boost::beast::http::verb method, std::string_view path);

// True for addresses only this machine can reach: 127.0.0.0/8, ::1,
// "localhost". Host names and unparsable text are not loopback.
bool is_loopback_host(const std::string& host);

// Decides a request from its method, target and headers. The key is taken
// from `Authorization: Bearer KEY` (scheme case-insensitive) or, failing
// that, `X-API-Key: KEY`. Thread-safe (const after construction).
class Authorizer {
 public:
  explicit Authorizer(ApiKeys keys) : keys_(std::move(keys)) {}

  // nullopt: let the request through (no keys configured, an open path, or
  // a key whose role allows it). Otherwise the answer to send: 401 with
  // `WWW-Authenticate: Bearer` when no valid key was presented, 403 when the
  // key's role does not allow the request; both JSON errors.
  std::optional<HttpResponse> refuse(const HttpRequest& request) const;

  bool enabled() const { return !keys_.empty(); }

 private:
  ApiKeys keys_;
};

}  // namespace genalytics
