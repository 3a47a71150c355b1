// LEB128 varints, as both sketches encode their integers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace genalytics::varint {

inline void put(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// Consumes one minimally encoded varint of at most 64 bits from `in`.
inline bool get(std::string_view* in, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    if (shift == 63 && byte > 1) return false;
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      if (byte == 0 && shift > 0) return false;
      *value = result;
      return true;
    }
  }
  return false;
}

}  // namespace genalytics::varint
