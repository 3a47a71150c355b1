#include "event/attribute_pairs.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "event/decode_limits.h"
#include "event/generation_decoder.h"

namespace genalytics {
namespace {

namespace json = boost::json;
using Type = AttributePairs::Type;
using Triple = std::tuple<std::string, std::string, Type>;

std::vector<Triple> pairs_of(const AttributePairs& pairs) {
  std::vector<Triple> out;
  for (size_t i = 0; i < pairs.size(); ++i) {
    out.emplace_back(std::string(pairs[i].key), std::string(pairs[i].value), pairs[i].type);
  }
  return out;
}

std::vector<Triple> parsed(std::string_view text) {
  AttributePairs pairs;
  EXPECT_TRUE(pairs.parse(text)) << text;
  return pairs_of(pairs);
}

TEST(AttributePairsTest, ReadsWhatTheDecoderStores) {
  const DecodedBatch batch = decode_generation_body(
      R"({"event_type": "request", "generation_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
          "timestamp": "2025-01-15T10:30:45Z",
          "attributes": {"style": "anime", "steps": 30, "cfg": 7.5, "beta": true,
                         "tier": "pro \"plus\"", "nsfw": false}})",
      false, 1'736'937'045'000'000, DecodeLimits{});
  ASSERT_EQ(batch.events.size(), 1u);
  ASSERT_TRUE(batch.events[0].attributes_json);
  EXPECT_EQ(parsed(*batch.events[0].attributes_json),
            (std::vector<Triple>{{"style", "anime", Type::kString},
                                 {"steps", "30", Type::kNumber},
                                 {"cfg", "7.5", Type::kNumber},
                                 {"beta", "true", Type::kBool},
                                 {"tier", "pro \"plus\"", Type::kString},
                                 {"nsfw", "false", Type::kBool}}));
}

TEST(AttributePairsTest, UnescapesStringsIncludingSurrogatePairs) {
  EXPECT_EQ(parsed(R"({"k\"e\\y\/":"a\b\f\n\r\t\u0041\u00e9\u4E2D\ud83d\ude00"})"),
            (std::vector<Triple>{
                {"k\"e\\y/", "a\b\f\n\r\tA\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", Type::kString}}));
  // Raw UTF-8, as Boost.JSON writes non-ASCII text.
  EXPECT_EQ(parsed("{\"スタイル\":\"アニメ 😀\"}"),
            (std::vector<Triple>{{"スタイル", "アニメ 😀", Type::kString}}));
  EXPECT_EQ(parsed(R"({"":""})"), (std::vector<Triple>{{"", "", Type::kString}}));
}

TEST(AttributePairsTest, NumbersKeepTheirTextAndNonScalarsAreSkipped) {
  EXPECT_EQ(parsed(R"({"a":-0,"b":null,"c":{"x":[1,{"y":null}]},"d":[],"e":1.25e-3,"f":-12E+2})"),
            (std::vector<Triple>{{"a", "-0", Type::kNumber},
                                 {"e", "1.25e-3", Type::kNumber},
                                 {"f", "-12E+2", Type::kNumber}}));
  EXPECT_EQ(parsed("{}"), std::vector<Triple>{});
  EXPECT_EQ(parsed(R"({"a":1,"a":2})"),
            (std::vector<Triple>{{"a", "1", Type::kNumber}, {"a", "2", Type::kNumber}}));
}

TEST(AttributePairsTest, ReadsJsonbsSpacedForm) {
  EXPECT_EQ(
      parsed(" {\"style\": \"anime\",\n\t\"steps\" : 30 }\r\n"),
      (std::vector<Triple>{{"style", "anime", Type::kString}, {"steps", "30", Type::kNumber}}));
}

TEST(AttributePairsTest, RefusesMalformedTextAndKeepsNothing) {
  std::string deep(AttributePairs::kMaxDepth + 1, '[');
  deep = "{\"a\":" + deep + std::string(AttributePairs::kMaxDepth + 1, ']') + "}";
  const std::vector<std::string_view> malformed = {
      "", " ", "[]", "\"a\"", "1", "null", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}",
      "{\"a\" 1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}",
      "{\"a\":+1}", "{\"a\":tru}", "{\"a\":True}", "{\"a\":nul}", "{\"a\":\"x}",
      "{\"a\":\"x\\\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12G4\"}",
      "{\"a\":\"\\ud800\"}", "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\udc00\\ud800\"}",
      "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", "{\"\xc3\":1}", "{a:1}", "{'a':1}",
      "{\"a\":1}{}", "{\"a\":1} x", "{\"a\":[1,]}", "{\"a\":[1}", "{\"a\":{\"b\"}}",
      "{\"a\":{1:2}}", "{\"a\":1 2}", deep};
  for (std::string_view text : malformed) {
    AttributePairs pairs;
    ASSERT_TRUE(pairs.parse(R"({"kept":"before"})"));
    EXPECT_FALSE(pairs.parse(text)) << "'" << text << "'";
    EXPECT_TRUE(pairs.empty()) << text;
  }
  std::string shallow(AttributePairs::kMaxDepth, '[');
  shallow = "{\"a\":" + shallow + std::string(AttributePairs::kMaxDepth, ']') + ",\"b\":1}";
  EXPECT_EQ(parsed(shallow), (std::vector<Triple>{{"b", "1", Type::kNumber}}));
}

TEST(AttributePairsTest, ParsesAgainAfterAFailure) {
  AttributePairs pairs;
  ASSERT_TRUE(pairs.parse(R"({"a":"one","b":2})"));
  EXPECT_FALSE(pairs.parse(R"({"c":"three",)"));
  ASSERT_TRUE(pairs.parse(R"({"d":false})"));
  EXPECT_EQ(pairs_of(pairs), (std::vector<Triple>{{"d", "false", Type::kBool}}));
}

// What Boost.JSON (the decoder's parser) reads from `text`: its scalar
// members, or nullopt when it refuses the text or it is not an object.
// `*out_of_range`: it refused a number beyond a double's exponent, which is
// valid JSON text (and never reaches a store: the decoder refuses it first).
std::optional<std::vector<Triple>> boost_pairs(std::string_view text,
                                               bool* out_of_range = nullptr) {
  boost::system::error_code error;
  const json::value value = json::parse(text, error);
  if (out_of_range) *out_of_range = error == json::error::exponent_overflow;
  if (error || !value.is_object()) return std::nullopt;
  std::vector<Triple> out;
  for (const json::key_value_pair& member : value.get_object()) {
    const json::value& v = member.value();
    if (v.is_string()) {
      out.emplace_back(std::string(member.key()), std::string(v.get_string()), Type::kString);
    } else if (v.is_bool()) {
      out.emplace_back(std::string(member.key()), v.get_bool() ? "true" : "false", Type::kBool);
    } else if (v.is_number()) {
      out.emplace_back(std::string(member.key()), json::serialize(v), Type::kNumber);
    }
  }
  return out;
}

// Numbers keep the text they were sent as; Boost.JSON's reprint of a number
// may differ (its default parser is not exact to the last bit), so they are
// compared as Boost.JSON reads them.
::testing::AssertionResult reads_alike(const AttributePairs& pairs,
                                       const std::vector<Triple>& expected) {
  if (pairs.size() != expected.size()) {
    return ::testing::AssertionFailure() << pairs.size() << " pairs, not " << expected.size();
  }
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& [key, value, type] = expected[i];
    const std::string read = type == Type::kNumber && pairs[i].type == Type::kNumber
                                 ? json::serialize(json::parse(pairs[i].value))
                                 : std::string(pairs[i].value);
    if (pairs[i].key != key || pairs[i].type != type || read != value) {
      return ::testing::AssertionFailure() << "pair " << i << ": " << pairs[i].key << "="
                                           << pairs[i].value << ", not " << key << "=" << value;
    }
  }
  return ::testing::AssertionSuccess();
}

std::string random_text(std::mt19937_64& random) {
  static const std::vector<std::string> kPieces = {
      "a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x7f", "é", "中", "😀", ":", "{",
      "}",
      "\xe2\x80\xa8", "0", "(other)"};
  std::string text;
  const size_t length = random() % 6;
  for (size_t i = 0; i < length; ++i) text += kPieces[random() % kPieces.size()];
  return text;
}

// Generated objects serialised by Boost.JSON (the decoder's store_object),
// then mutated bytewise: every input is either refused by both parsers or
// read alike; none crashes.
TEST(AttributePairsTest, AgreesWithBoostJsonOnGeneratedAndMutatedObjects) {
  constexpr std::string_view kInserted = "{}[]\",:\\ 0-.eu";
  std::mt19937_64 random(2025);
  AttributePairs pairs;
  int accepted_mutants = 0;
  for (int round = 0; round < 20'000; ++round) {
    json::object object;
    const size_t members = random() % 5;
    for (size_t m = 0; m < members; ++m) {
      json::value value;
      switch (random() % 6) {
        case 0: value = random_text(random); break;
        case 1: value = static_cast<int64_t>(random()) >> (random() % 64); break;
        case 2: value = std::ldexp(static_cast<double>(random() % 100'000) - 50'000.0,
                                   static_cast<int>(random() % 80) - 40); break;
        case 3: value = random() % 2 == 0; break;
        case 4: value = nullptr; break;
        case 5: value = json::array{1, json::object{{"x", random_text(random)}}}; break;
      }
      object[random_text(random)] = value;
    }
    std::string text = json::serialize(object);
    ASSERT_TRUE(pairs.parse(text)) << text;
    ASSERT_TRUE(reads_alike(pairs, *boost_pairs(text))) << text;

    for (int mutation = random() % 3; mutation >= 0; --mutation) {
      const size_t at = text.empty() ? 0 : random() % text.size();
      switch (random() % 3) {
        case 0: if (!text.empty()) text[at] = static_cast<char>(random()); break;
        case 1: text.insert(at, 1, kInserted[random() % kInserted.size()]); break;
        case 2: text.resize(at); break;
      }
    }
    bool out_of_range = false;
    const std::optional<std::vector<Triple>> expected = boost_pairs(text, &out_of_range);
    const bool ok = pairs.parse(text);
    if (out_of_range) continue;
    ASSERT_EQ(ok, expected.has_value()) << text;
    if (!ok) continue;
    ++accepted_mutants;
    ASSERT_TRUE(reads_alike(pairs, *expected)) << text;
  }
  EXPECT_GT(accepted_mutants, 500);  // the comparison above was exercised
}

}  // namespace
}  // namespace genalytics
