// UUIDs as text: validation, canonical form, random (version 4) and
// name-based (version 5) generation.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace genalytics {

// Returns the canonical form (lowercase, 8-4-4-4-12 hyphenated) of `text`,
// which may use either case and may be wrapped in braces; nullopt when `text`
// is not a UUID.
std::optional<std::string> canonical_uuid(std::string_view text);

// A random (version 4) UUID in canonical form. Thread-safe.
std::string random_uuid();

// The name-based (version 5, SHA-1) UUID of `name` in genalytics' namespace
// for event ids, in canonical form: equal names give equal ids, different
// names different ones (short of a SHA-1 collision).
std::string name_based_uuid(std::string_view name);

}  // namespace genalytics
