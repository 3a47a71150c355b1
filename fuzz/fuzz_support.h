// What the fuzz targets share: a fixed clock, the split of one input into
// parts, the check that turns a broken invariant into a crash (which
// libFuzzer reports with the input that caused it), and the invariants of
// every body decoder's rejections.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "event/decode_limits.h"
#include "event/rejected_event.h"

namespace genalytics::fuzz {

// The targets' "now": 2025-01-15T12:00:00Z. Never the wall clock, so that an
// input behaves the same on every run and every day.
inline constexpr int64_t kFuzzNowUs = 1'736'942'400'000'000;

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The parts of `input` between `separator`s: "a\0b\0" -> {"a", "b", ""}.
inline std::vector<std::string_view> split(std::string_view input, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = input.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(input.substr(start));
      return parts;
    }
    parts.push_back(input.substr(start, end - start));
    start = end + 1;
  }
}

// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or code
// points past U+10FFFF), as JSON text must be.
inline bool is_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t point = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if (byte >= 0xc2 && byte <= 0xdf) {
      length = 2, point = byte & 0x1f;
    } else if (byte >= 0xe0 && byte <= 0xef) {
      length = 3, point = byte & 0x0f;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      length = 4, point = byte & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      point = (point << 6) | (next & 0x3f);
    }
    if ((length == 3 && point < 0x800) || (length == 4 && point < 0x10000) || point > 0x10ffff ||
        (point >= 0xd800 && point <= 0xdfff)) {
      return false;
    }
    i += length;
  }
  return true;
}

// Aborts with `what` when `ok` is false: an invariant of the code under test
// does not hold for this input.
inline void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz: invariant broken: %s\n", what);
  std::abort();
}

// A body decoder's rejections are listed by increasing index, each with its
// errors, no more than the limit, and counted at least as often as listed.
inline void check_rejections(const Rejections& rejected, const DecodeLimits& limits) {
  check(rejected.listed.size() <= rejected.count, "more rejections listed than counted");
  check(rejected.listed.size() <= limits.max_rejected_listed,
        "more rejections listed than the limit");
  for (size_t i = 1; i < rejected.listed.size(); ++i) {
    check(rejected.listed[i - 1].index < rejected.listed[i].index, "rejections out of order");
  }
  for (const RejectedEvent& event : rejected.listed) {
    check(!event.errors.empty(), "a rejection without errors");
  }
}

}  // namespace genalytics::fuzz
