// The scalar members of a JSON object as (key, value text) pairs: how custom
// attributes ({"style": "anime", "steps": 30, "beta": true}) become rollup
// dimension values, without building a JSON document per event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace genalytics {

// Reusable: after the first few parses, parse() allocates nothing. Not
// thread-safe; one per thread (or per RollupDelta).
class AttributePairs {
 public:
  enum class Type : uint8_t { kString, kNumber, kBool };

  struct Pair {
    std::string_view key;    // unescaped
    std::string_view value;  // a string unescaped; a number or boolean as its JSON text
    Type type;
  };

  // Reads `json`, which must be one JSON object (RFC 8259; whitespace
  // allowed, as PostgreSQL's jsonb prints it), and keeps the members whose
  // values are strings, numbers or booleans, in the order they appear
  // (duplicate keys included); members that are null, objects or arrays are
  // skipped. Numbers keep their text as written ("30", "1.5": the
  // decoder's canonical form, json_writer.h). Returns false, and keeps no
  // pairs, for any other input: not an object, malformed JSON, text that is
  // not UTF-8, a lone UTF-16 surrogate escape, values nested deeper than
  // kMaxDepth, or text of 4 GiB or more.
  // Never reads outside `json`. The views returned by pairs() stay valid
  // until the next parse() or the end of this object.
  bool parse(std::string_view json);

  // Nesting deeper than this (inside skipped values) is refused, so hostile
  // input cannot exhaust the stack.
  static constexpr int kMaxDepth = 64;

  size_t size() const { return spans_.size(); }
  bool empty() const { return spans_.empty(); }
  // REQUIRES: i < size().
  Pair operator[](size_t i) const;

 private:
  struct Span {
    uint32_t key_begin, key_size, value_begin, value_size;
    Type type;
  };
  class Reader;

  std::string text_;         // every kept key and value, unescaped, back to back
  std::vector<Span> spans_;  // into text_
};

}  // namespace genalytics
