#include "event/attribute_pairs.h"

#include <limits>

#include "event/json_fields.h"

namespace genalytics {

// A recursive-descent reader over one JSON text, appending what it keeps to
// `out`. Every method returns false on malformed input and then leaves the
// position anywhere: the caller discards everything.
class AttributePairs::Reader {
 public:
  Reader(std::string_view json, std::string* out) : json_(json), out_(out) {}

  bool at_end() {
    skip_space();
    return pos_ == json_.size();
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < json_.size() && json_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < json_.size() && json_[pos_] == c;
  }

  // A string, after its opening quote is consumed; appends it unescaped.
  bool read_string() {
    while (pos_ < json_.size()) {
      // A run of plain bytes is appended at once.
      const size_t run = pos_;
      while (pos_ < json_.size() && json_[pos_] != '"' && json_[pos_] != '\\' &&
             static_cast<unsigned char>(json_[pos_]) >= 0x20) {
        ++pos_;
      }
      out_->append(json_.substr(run, pos_ - run));
      if (pos_ == json_.size()) break;
      const char c = json_[pos_++];
      if (c == '"') return true;
      if (c != '\\') return false;  // a control character
      if (pos_ == json_.size()) return false;
      switch (json_[pos_++]) {
        case '"': out_->push_back('"'); break;
        case '\\': out_->push_back('\\'); break;
        case '/': out_->push_back('/'); break;
        case 'b': out_->push_back('\b'); break;
        case 'f': out_->push_back('\f'); break;
        case 'n': out_->push_back('\n'); break;
        case 'r': out_->push_back('\r'); break;
        case 't': out_->push_back('\t'); break;
        case 'u':
          if (!read_unicode_escape()) return false;
          break;
        default: return false;
      }
    }
    return false;  // unterminated
  }

  // A number's text, appended as written. JSON's grammar exactly:
  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool read_number() {
    skip_space();
    const size_t begin = pos_;
    if (pos_ < json_.size() && json_[pos_] == '-') ++pos_;
    if (pos_ < json_.size() && json_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      return false;
    }
    if (pos_ < json_.size() && json_[pos_] == '.') {
      ++pos_;
      if (!digits()) return false;
    }
    if (pos_ < json_.size() && (json_[pos_] == 'e' || json_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < json_.size() && (json_[pos_] == '+' || json_[pos_] == '-')) ++pos_;
      if (!digits()) return false;
    }
    out_->append(json_.substr(begin, pos_ - begin));
    return true;
  }

  // Consumes `word` (true, false, null) when it comes next.
  bool literal(std::string_view word) {
    skip_space();
    if (json_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // Any value, checked and dropped (`out` is restored).
  bool skip_value(int depth) {
    if (depth > kMaxDepth) return false;
    const size_t kept = out_->size();
    bool ok = skip_value_inner(depth);
    out_->resize(kept);
    return ok;
  }

 private:
  void skip_space() {
    while (pos_ < json_.size()) {
      const char c = json_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  bool digits() {
    const size_t begin = pos_;
    while (pos_ < json_.size() && json_[pos_] >= '0' && json_[pos_] <= '9') ++pos_;
    return pos_ > begin;
  }

  bool hex4(uint32_t* code) {
    if (json_.size() - pos_ < 4) return false;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = json_[pos_++];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    *code = value;
    return true;
  }

  // After "\u": one code point, or a surrogate pair written as two escapes.
  bool read_unicode_escape() {
    uint32_t code = 0;
    if (!hex4(&code)) return false;
    if (code >= 0xDC00 && code <= 0xDFFF) return false;  // a low surrogate first
    if (code >= 0xD800 && code <= 0xDBFF) {
      uint32_t low = 0;
      if (json_.substr(pos_, 2) != "\\u") return false;
      pos_ += 2;
      if (!hex4(&low) || low < 0xDC00 || low > 0xDFFF) return false;
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(code);
    return true;
  }

  void append_utf8(uint32_t code) {
    if (code < 0x80) {
      out_->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out_->push_back(static_cast<char>(0xC0 | (code >> 6)));
      out_->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out_->push_back(static_cast<char>(0xE0 | (code >> 12)));
      out_->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out_->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out_->push_back(static_cast<char>(0xF0 | (code >> 18)));
      out_->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out_->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out_->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  bool skip_value_inner(int depth) {
    if (consume('"')) return read_string();
    if (consume('{')) {
      if (consume('}')) return true;
      do {
        if (!consume('"') || !read_string() || !consume(':') || !skip_value(depth + 1)) {
          return false;
        }
      } while (consume(','));
      return consume('}');
    }
    if (consume('[')) {
      if (consume(']')) return true;
      do {
        if (!skip_value(depth + 1)) return false;
      } while (consume(','));
      return consume(']');
    }
    if (literal("true") || literal("false") || literal("null")) return true;
    return read_number();
  }

  std::string_view json_;
  size_t pos_ = 0;
  std::string* out_;
};

bool AttributePairs::parse(std::string_view json) {
  text_.clear();
  spans_.clear();
  // Offsets are 32-bit; JSON must be UTF-8, so raw bytes need no check below.
  if (json.size() > std::numeric_limits<uint32_t>::max() || !is_utf8(json)) return false;

  Reader reader(json, &text_);
  auto fail = [&] {
    text_.clear();
    spans_.clear();
    return false;
  };
  if (!reader.consume('{')) return fail();
  if (!reader.consume('}')) {
    do {
      const size_t key_begin = text_.size();
      if (!reader.consume('"') || !reader.read_string() || !reader.consume(':')) return fail();
      const size_t value_begin = text_.size();
      Type type = Type::kString;
      bool kept = true;
      if (reader.consume('"')) {
        if (!reader.read_string()) return fail();
      } else if (reader.literal("true")) {
        text_.append("true");
        type = Type::kBool;
      } else if (reader.literal("false")) {
        text_.append("false");
        type = Type::kBool;
      } else if (reader.literal("null")) {
        kept = false;
      } else if (reader.peek('{') || reader.peek('[')) {
        if (!reader.skip_value(1)) return fail();
        kept = false;
      } else {
        if (!reader.read_number()) return fail();
        type = Type::kNumber;
      }
      if (kept) {
        spans_.push_back(Span{static_cast<uint32_t>(key_begin),
                              static_cast<uint32_t>(value_begin - key_begin),
                              static_cast<uint32_t>(value_begin),
                              static_cast<uint32_t>(text_.size() - value_begin), type});
      } else {
        text_.resize(key_begin);
      }
    } while (reader.consume(','));
    if (!reader.consume('}')) return fail();
  }
  if (!reader.at_end()) return fail();
  return true;
}

AttributePairs::Pair AttributePairs::operator[](size_t i) const {
  const Span& span = spans_[i];
  const std::string_view text(text_);
  return Pair{text.substr(span.key_begin, span.key_size),
              text.substr(span.value_begin, span.value_size), span.type};
}

}  // namespace genalytics
