#include "rollup/dimension.h"

#include "event/json_fields.h"

namespace genalytics {
std::optional<Dimension> Dimension::attribute(std::string_view key) {
  if (!is_valid_attribute_key(key)) return std::nullopt;
  Dimension dimension;
  dimension.kind_ = kAttribute;
  dimension.name_.reserve(kAttributePrefix.size() + key.size());
  dimension.name_.append(kAttributePrefix).append(key);
  return dimension;
}

std::string_view Dimension::attribute_key() const {
  if (name_.size() < kAttributePrefix.size()) return {};  // fixed (or a bare Kind kAttribute)
  return std::string_view(name_).substr(kAttributePrefix.size());
}

DimensionView Dimension::view() const { return DimensionView{kind_, attribute_key()}; }

Dimension Dimension::of(const DimensionView& view) {
  if (view.kind != kAttribute) return Dimension(view.kind);
  Dimension dimension;
  dimension.kind_ = kAttribute;
  dimension.name_.reserve(kAttributePrefix.size() + view.attribute_key.size());
  dimension.name_.append(kAttributePrefix).append(view.attribute_key);
  return dimension;
}

bool is_valid_attribute_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return false;
  }
  // Bytes bound code points from above: a short key needs no counting.
  if (key.size() > Dimension::kMaxAttributeKeyLength &&
      utf8_length(key) > Dimension::kMaxAttributeKeyLength) {
    return false;
  }
  return is_utf8(key);
}

std::string_view to_string(const Dimension& dimension) {
  switch (dimension.kind()) {
    case Dimension::kAll: return "all";
    case Dimension::kModelCheckpoint: return "model_checkpoint";
    case Dimension::kErrorType: return "error_type";
    case Dimension::kGenerationType: return "generation_type";
    case Dimension::kAttribute: break;
  }
  return dimension.name_;
}

std::optional<Dimension> parse_dimension(std::string_view text) {
  for (Dimension::Kind kind : kFixedDimensions) {
    if (to_string(kind) == text) return Dimension(kind);
  }
  if (text.starts_with(Dimension::kAttributePrefix)) {
    return Dimension::attribute(text.substr(Dimension::kAttributePrefix.size()));
  }
  return std::nullopt;
}

}  // namespace genalytics
