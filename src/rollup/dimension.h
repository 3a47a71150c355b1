// What a rollup row is grouped by besides the hour: one of the fixed
// dimensions of generation events, or an open one, `attribute:<key>`, that
// groups by the value of a custom attribute (`attributes.style = "anime"`
// counts under dimension "attribute:style", value "anime").
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace genalytics {

struct DimensionView;

// A value type, cheap to copy for the fixed dimensions (no allocation). It
// converts implicitly from its Kind, so `Dimension::kModelCheckpoint` reads
// as it did when Dimension was an enum.
class Dimension {
 public:
  enum Kind : uint8_t { kAll, kModelCheckpoint, kErrorType, kGenerationType, kAttribute };

  static constexpr std::string_view kAttributePrefix = "attribute:";
  // Longer attribute keys (in code points) make no dimension; the decoder's
  // default max_string_length, so every key it accepts by default fits.
  static constexpr size_t kMaxAttributeKeyLength = 256;

  // Dimension::kAll.
  Dimension() = default;
  // A fixed dimension. REQUIRES: kind != kAttribute (use attribute()).
  Dimension(Kind kind) : kind_(kind) {}  // NOLINT(google-explicit-constructor): enum-like use

  // The dimension of the attribute `key`, or nullopt when `key` is not a
  // valid attribute key (see is_valid_attribute_key).
  static std::optional<Dimension> attribute(std::string_view key);

  Kind kind() const { return kind_; }
  bool is_attribute() const { return kind_ == kAttribute; }
  // The attribute's key ("style" of "attribute:style"); "" for fixed ones.
  std::string_view attribute_key() const;
  // This dimension as a view (see DimensionView below), valid while it lives.
  DimensionView view() const;
  // The dimension `view` names. REQUIRES: a fixed kind, or kAttribute with
  // a key is_valid_attribute_key accepts.
  static Dimension of(const DimensionView& view);

  // Orders by kind, then by attribute key in byte order.
  friend bool operator==(const Dimension&, const Dimension&) = default;
  friend auto operator<=>(const Dimension&, const Dimension&) = default;
  friend std::string_view to_string(const Dimension& dimension);

 private:
  Kind kind_ = kAll;
  // "attribute:<key>" for kAttribute, so to_string() needs no allocation;
  // empty for the fixed dimensions.
  std::string name_;
};

// A dimension's parts, viewing the attribute key instead of owning it: what
// hot paths look rollup keys up with (rollup_bucket.h's RollupKeyView),
// building a Dimension only for a key they keep. Valid while the viewed key
// lives.
struct DimensionView {
  Dimension::Kind kind = Dimension::kAll;
  std::string_view attribute_key;  // "" for the fixed dimensions
};

// The fixed dimensions, in Kind order.
inline constexpr Dimension::Kind kFixedDimensions[] = {Dimension::kAll, Dimension::kModelCheckpoint,
                                                       Dimension::kErrorType,
                                                       Dimension::kGenerationType};

// Whether `key` may name an attribute dimension: non-empty, UTF-8, at most
// kMaxAttributeKeyLength code points, no control characters (U+0000-U+001F,
// U+007F).
bool is_valid_attribute_key(std::string_view key);

// "all", "model_checkpoint", "error_type", "generation_type", or
// "attribute:<key>". The view of an attribute dimension points into
// `dimension` and lives as long as it does; the fixed names are static.
std::string_view to_string(const Dimension& dimension);

// The dimension `text` names, as to_string() writes it; nullopt for any
// other text: unknown names, "attribute:" followed by an invalid key
// (empty, too long, not UTF-8, with control characters), other case or
// surrounding spaces.
std::optional<Dimension> parse_dimension(std::string_view text);

}  // namespace genalytics
