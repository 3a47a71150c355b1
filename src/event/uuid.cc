#include "event/uuid.h"

#include <array>
#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <cstdint>
#include <random>

namespace genalytics {
namespace {

constexpr size_t kUuidLength = 36;
constexpr char kHexDigits[] = "0123456789abcdef";

// The lowercase form of each hex digit character; 0 for other characters.
constexpr auto kLowercaseHex = [] {
  std::array<char, 256> lowercase{};
  for (char c = '0'; c <= '9'; ++c) lowercase[static_cast<unsigned char>(c)] = c;
  for (char c = 'a'; c <= 'f'; ++c) {
    lowercase[static_cast<unsigned char>(c)] = c;
    lowercase[static_cast<unsigned char>(c - 'a' + 'A')] = c;
  }
  return lowercase;
}();

// The namespace of event ids derived from an event's content.
constexpr boost::uuids::uuid kEventIdNamespace = {{0x9a, 0x3e, 0x51, 0xc2, 0x0d, 0x7f, 0x4b, 0x86,
                                                   0xa1, 0x64, 0x2f, 0xe8, 0x5b, 0x90, 0x3c, 0x17}};

constexpr bool is_hyphen_position(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

// Each thread has its own engine, so no lock is needed. It is seeded with 256
// bits from the OS: a single 32-bit seed would make two threads (or two runs)
// repeat each other's idempotency keys after about 2^16 seedings.
std::mt19937_64& thread_engine() {
  thread_local std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(),
                       device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return engine;
}

}  // namespace

std::optional<std::string> canonical_uuid(std::string_view text) {
  if (text.size() == kUuidLength + 2 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, kUuidLength);
  }
  if (text.size() != kUuidLength) return std::nullopt;
  std::string canonical(kUuidLength, '-');
  for (size_t i = 0; i < kUuidLength; ++i) {
    if (is_hyphen_position(i)) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    const char digit = kLowercaseHex[static_cast<unsigned char>(text[i])];
    if (digit == 0) return std::nullopt;
    canonical[i] = digit;
  }
  return canonical;
}

std::string random_uuid() {
  std::mt19937_64& engine = thread_engine();
  uint64_t high = engine();
  uint64_t low = engine();
  high = (high & ~uint64_t{0xf000}) | 0x4000;                // version 4
  low = (low & ~(uint64_t{3} << 62)) | (uint64_t{2} << 62);  // RFC 4122 variant
  std::string uuid(kUuidLength, '-');
  size_t nibble = 0;
  for (size_t i = 0; i < kUuidLength; ++i) {
    if (is_hyphen_position(i)) continue;
    const uint64_t word = nibble < 16 ? high : low;
    const int shift = 60 - 4 * static_cast<int>(nibble % 16);
    uuid[i] = kHexDigits[(word >> shift) & 0xf];
    ++nibble;
  }
  return uuid;
}

std::string name_based_uuid(std::string_view name) {
  return boost::uuids::to_string(boost::uuids::name_generator_sha1(kEventIdNamespace)(name.data(), name.size()));
}

}  // namespace genalytics
