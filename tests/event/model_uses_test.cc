#include "event/model_uses.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "event/generation_decoder.h"
#include "event/model_event.h"

namespace genalytics {

void PrintTo(const ModelUse& use, std::ostream* out) {
  *out << "{" << use.model_id << ", " << model_kind_of(use.role) << "}";
}

namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr auto kCheckpoint = ModelRole::kCheckpoint;
constexpr auto kLora = ModelRole::kLora;
constexpr auto kVae = ModelRole::kVae;
constexpr auto kControlnet = ModelRole::kControlnet;

std::vector<ModelUse> uses_of(const std::optional<std::string>& checkpoint,
                              const std::optional<std::string>& params) {
  return models_used(checkpoint, params);
}

std::vector<ModelUse> params_uses(const std::string& params) {
  return uses_of(std::nullopt, params);
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs params_of(std::string_view params) {
  Pairs pairs;
  for_each_param(params, [&pairs](std::string_view key, std::string_view value) {
    pairs.emplace_back(key, value);
  });
  return pairs;
}

// ---------------------------------------------------------------------------
// models_used

TEST(ModelsUsedTest, CheckpointAlone) {
  EXPECT_THAT(uses_of("sdxl_base", std::nullopt), ElementsAre(ModelUse{"sdxl_base", kCheckpoint}));
  EXPECT_THAT(uses_of(std::nullopt, std::nullopt), IsEmpty());
  EXPECT_THAT(uses_of("sdxl_base", R"({"steps":30,"sampler":"euler"})"),
              ElementsAre(ModelUse{"sdxl_base", kCheckpoint}));
}

TEST(ModelsUsedTest, EveryParamsForm) {
  // A string.
  EXPECT_THAT(params_uses(R"({"lora":"detail"})"), ElementsAre(ModelUse{"detail", kLora}));
  EXPECT_THAT(params_uses(R"({"vae":"sdxl_vae"})"), ElementsAre(ModelUse{"sdxl_vae", kVae}));
  EXPECT_THAT(params_uses(R"({"controlnet":"canny"})"),
              ElementsAre(ModelUse{"canny", kControlnet}));
  // Arrays of strings and of objects, mixed.
  EXPECT_THAT(params_uses(R"({"loras":["a",{"name":"b","weight":0.7},{"model":"c"},{"id":"d"}]})"),
              ElementsAre(ModelUse{"a", kLora}, ModelUse{"b", kLora}, ModelUse{"c", kLora},
                          ModelUse{"d", kLora}));
  EXPECT_THAT(params_uses(R"({"lora":["x","y"]})"),
              ElementsAre(ModelUse{"x", kLora}, ModelUse{"y", kLora}));
  // One object.
  EXPECT_THAT(params_uses(R"({"lora":{"name":"x","strength":1}})"),
              ElementsAre(ModelUse{"x", kLora}));
  EXPECT_THAT(params_uses(R"({"vae":{"model":"v"}})"), ElementsAre(ModelUse{"v", kVae}));
  EXPECT_THAT(params_uses(R"({"controlnet":[{"id":"depth"},"canny"]})"),
              ElementsAre(ModelUse{"depth", kControlnet}, ModelUse{"canny", kControlnet}));
  // "name" is preferred to "model", "model" to "id", wherever they stand.
  EXPECT_THAT(params_uses(R"({"lora":{"id":"i","model":"m","name":"n"}})"),
              ElementsAre(ModelUse{"n", kLora}));
  EXPECT_THAT(params_uses(R"({"lora":{"id":"i","model":"m"}})"), ElementsAre(ModelUse{"m", kLora}));
  EXPECT_THAT(params_uses(R"({"lora":{"name":5,"id":"i"}})"), ElementsAre(ModelUse{"i", kLora}));
  // A vae is one model, never a list.
  EXPECT_THAT(params_uses(R"({"vae":["v1","v2"]})"), IsEmpty());
}

// Whatever order the text has (PostgreSQL's JSONB puts shorter keys first),
// both stores read the same uses in the same order.
TEST(ModelsUsedTest, CheckpointFirstThenKeysInAFixedOrder) {
  const auto expected =
      ElementsAre(ModelUse{"base", kCheckpoint}, ModelUse{"l1", kLora}, ModelUse{"l2", kLora},
                  ModelUse{"l3", kLora}, ModelUse{"v", kVae}, ModelUse{"c", kControlnet});
  EXPECT_THAT(
      uses_of("base", R"({"vae":"v","steps":30,"lora":["l1","l2"],"controlnet":"c","loras":"l3"})"),
      expected);
  EXPECT_THAT(
      uses_of("base", R"({"controlnet":"c","loras":"l3","lora":["l1","l2"],"vae":"v","steps":30})"),
      expected);
}

TEST(ModelsUsedTest, DistinctByIdFirstRoleWins) {
  EXPECT_THAT(uses_of("base", R"({"lora":["a","base","a"],"loras":["a"],"vae":"a"})"),
              ElementsAre(ModelUse{"base", kCheckpoint}, ModelUse{"a", kLora}));
}

TEST(ModelsUsedTest, IgnoresValuesThatNameNoModel) {
  EXPECT_THAT(params_uses(R"({"lora":5,"vae":null,"controlnet":true,"loras":[1,null,[["x"]],{}]})"),
              IsEmpty());
  EXPECT_THAT(params_uses(R"({"lora":{"weight":1},"vae":{"name":{"name":"x"}}})"), IsEmpty());
  // Keys are matched exactly: other keys and nested ones name nothing.
  EXPECT_THAT(params_uses(R"({"LoRA":"a","model":"b","extra":{"lora":"c"}})"), IsEmpty());
}

TEST(ModelsUsedTest, TrimsAndSkipsInvalidIds) {
  const std::string longest(kMaxModelIdLength, 'm');
  EXPECT_THAT(uses_of("  base\t", R"({"lora":[" a ","","   ",")" + longest + R"(",")" + longest +
                                      R"(x","b\u0001c","d\n"]})"),
              ElementsAre(ModelUse{"base", kCheckpoint}, ModelUse{"a", kLora},
                          ModelUse{longest, kLora}, ModelUse{"d", kLora}));
  EXPECT_THAT(uses_of("", std::nullopt), IsEmpty());
  EXPECT_THAT(uses_of(" ", std::nullopt), IsEmpty());
  EXPECT_THAT(uses_of(longest + "x", std::nullopt), IsEmpty());
  EXPECT_THAT(uses_of("bad\xff", std::nullopt), IsEmpty());
  EXPECT_THAT(uses_of("c1\xc2\x85", std::nullopt), IsEmpty());  // U+0085, a C1 control
  // Escapes are read, in keys too: "\u00e9" is é.
  EXPECT_THAT(params_uses(R"({"\u006cora":"l","v\u0061e":"v"})"),
              ElementsAre(ModelUse{"l", kLora}, ModelUse{"v", kVae}));
  EXPECT_THAT(params_uses(R"({"lora":"caf\u00e9","vae":"\ud83d\ude00"})"),
              ElementsAre(ModelUse{"caf\xc3\xa9", kLora}, ModelUse{"\xf0\x9f\x98\x80", kVae}));
}

TEST(ModelsUsedTest, AtMostTheCapPerGeneration) {
  std::string loras = R"({"lora":[)";
  for (int i = 0; i < 40; ++i) loras += (i ? ",\"l" : "\"l") + std::to_string(i) + "\"";
  loras += "]}";
  const std::vector<ModelUse> uses = uses_of("base", loras);
  ASSERT_EQ(uses.size(), kMaxModelsPerGeneration);
  EXPECT_EQ(uses.front(), (ModelUse{"base", kCheckpoint}));
  EXPECT_EQ(uses.back(), (ModelUse{"l14", kLora}));
}

TEST(ModelsUsedTest, TextThatIsNotAnObjectNamesNoModel) {
  for (const std::string params :
       {"", "[]", R"(["lora"])", R"("lora")", "null", R"({"lora":"a")", R"({"lora":"a"} x)",
        R"({"lora":"a",})", R"({"lora":"a"}{"vae":"b"})", "{\"lora\":\"a\xff\"}",
        "{\"steps\":\"\xc3\x28\"}", R"({"lora":"\ud800"})", R"({"lora":"a\x"})",
        R"({"lora":"a","n":01})", R"({"lora":"a","n":1.})", R"({'lora':'a'})"}) {
    EXPECT_THAT(uses_of("base", params), ElementsAre(ModelUse{"base", kCheckpoint})) << params;
    EXPECT_THAT(params_of(params), IsEmpty()) << params;
  }
}

TEST(ModelsUsedTest, DeeplyNestedJunkIsRefusedNotRecursedInto) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  EXPECT_THAT(uses_of("base", R"({"lora":"a","x":)" + deep + "}"),
              ElementsAre(ModelUse{"base", kCheckpoint}));
  // Nesting within the limit is skipped over.
  const std::string shallow = std::string(60, '[') + std::string(60, ']');
  EXPECT_THAT(params_uses(R"({"x":)" + shallow + R"(,"lora":"a"})"),
              ElementsAre(ModelUse{"a", kLora}));
  const std::string objects = std::string(100'000, '{');
  EXPECT_THAT(params_uses(R"({"lora":)" + objects), IsEmpty());
}

TEST(ModelsUsedTest, ReadsWhatTheGenerationDecoderStores) {
  GenerationEvent event;
  std::vector<FieldError> errors;
  ASSERT_TRUE(decode_generation_event(
      boost::json::parse(
          R"({"event_type":"request","generation_id":"550e8400-e29b-41d4-a716-446655440000",
          "model_checkpoint":"sdxl","params":{"lora":[{"name":"detail","weight":0.8}],"vae":"fix",
          "cfg":7.5,"steps":30}})"),
      1'736'942'400'000'000, {}, &event, &errors));
  EXPECT_THAT(models_used(event), ElementsAre(ModelUse{"sdxl", kCheckpoint},
                                              ModelUse{"detail", kLora}, ModelUse{"fix", kVae}));
}

TEST(ModelKindOfTest, NamesEveryRole) {
  EXPECT_EQ(model_kind_of(kCheckpoint), "checkpoint");
  EXPECT_EQ(model_kind_of(kLora), "lora");
  EXPECT_EQ(model_kind_of(kVae), "vae");
  EXPECT_EQ(model_kind_of(kControlnet), "controlnet");
  for (ModelRole role : {kCheckpoint, kLora, kVae, kControlnet}) {
    EXPECT_NE(std::find(std::begin(kModelKinds), std::end(kModelKinds), model_kind_of(role)),
              std::end(kModelKinds));
  }
}

// ---------------------------------------------------------------------------
// for_each_param

TEST(ForEachParamTest, ScalarsAsTheirText) {
  EXPECT_THAT(
      params_of(R"({"resolution":"1024x1024","steps":30,"cfg":7.5,"seed":-3,"hires":true,)"
                R"("tiling":false,"denoise":0.35,"big":1e300,"n":null,"o":{"a":1}})"),
      // In byte order of the key, whatever the text's order.
      ElementsAre(Pairs::value_type{"big", "1e+300"}, Pairs::value_type{"cfg", "7.5"},
                  Pairs::value_type{"denoise", "0.35"}, Pairs::value_type{"hires", "true"},
                  Pairs::value_type{"resolution", "1024x1024"}, Pairs::value_type{"seed", "-3"},
                  Pairs::value_type{"steps", "30"}, Pairs::value_type{"tiling", "false"}));
}

TEST(ForEachParamTest, OneNumberHasOneTextWhoeverWroteIt) {
  // Boost.JSON (the decoder's stored text) and PostgreSQL's jsonb print
  // doubles differently; both read as serialize_json prints them.
  EXPECT_THAT(params_of(R"({"cfg":7.5E0,"a":7.0,"b":1.5e-5,"c":2E1})"),
              ElementsAre(Pairs::value_type{"a", "7"}, Pairs::value_type{"b", "1.5e-05"},
                          Pairs::value_type{"c", "20"}, Pairs::value_type{"cfg", "7.5"}));
  // Beyond double's range: no value.
  EXPECT_THAT(params_of(R"({"huge":1e400,"n":1})"), ElementsAre(Pairs::value_type{"n", "1"}));
  EXPECT_THAT(
      params_of(R"({"big":18446744073709551615,"neg":-0})"),
      ElementsAre(Pairs::value_type{"big", "18446744073709551615"}, Pairs::value_type{"neg", "0"}));
}

TEST(ForEachParamTest, ArraysOncePerScalarElement) {
  EXPECT_THAT(params_of(R"({"tags":["a",1,true,null,{"x":1},["y"],"a"]})"),
              ElementsAre(Pairs::value_type{"tags", "a"}, Pairs::value_type{"tags", "1"},
                          Pairs::value_type{"tags", "true"}, Pairs::value_type{"tags", "a"}));
  std::string many = R"({"tags":[)";
  for (int i = 0; i < 40; ++i) many.append(i ? "," : "").append(std::to_string(i));
  many += "]}";
  const Pairs pairs = params_of(many);
  ASSERT_EQ(pairs.size(), kMaxModelsPerGeneration);
  EXPECT_EQ(pairs.back().second, "15");
}

TEST(ForEachParamTest, ModelKeysGiveTheIdsModelsUsedReads) {
  EXPECT_THAT(params_of(R"({"lora":[{"name":" a ","weight":0.5},"b","a",7],"vae":{"id":"v"},)"
                        R"("controlnet":[],"loras":"")"
                        "}"),
              ElementsAre(Pairs::value_type{"lora", "a"}, Pairs::value_type{"lora", "b"},
                          Pairs::value_type{"vae", "v"}));
}

TEST(ForEachParamTest, CutsValuesAtAUtf8Boundary) {
  std::string value = "a";
  for (int i = 0; i < 40; ++i) value += "\xc3\xa9";  // é: 2 bytes each
  const Pairs pairs = params_of(R"({"prompt":")" + value + R"("})");
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0].second, value.substr(0, kMaxParamValueLength - 1));  // 63: not inside an é
}

TEST(ForEachParamTest, AtMostTheCapOfKeysThatGiveValues) {
  std::string params = R"({"o":{},"n":null,"e":[],)";
  for (int i = 0; i < 20; ++i)
    params += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  params += R"("lora":"late"})";
  const Pairs pairs = params_of(params);
  // The first 16 keys in byte order that give values: k0, k1, k10..k19, k2..k5.
  ASSERT_EQ(pairs.size(), kMaxParamsPerEvent);
  EXPECT_EQ(pairs.front(), (Pairs::value_type{"k0", "0"}));
  EXPECT_EQ(pairs.back(), (Pairs::value_type{"k5", "5"}));
  // models_used is not capped by params keys.
  EXPECT_THAT(params_uses(params), ElementsAre(ModelUse{"late", kLora}));
}

TEST(ForEachParamTest, SkipsUnfitKeysAndNulValues) {
  const std::string long_key(kMaxParamValueLength + 1, 'k');
  EXPECT_THAT(params_of(R"({"":1,")" + long_key + R"(":2,"nul":"a\u0000b","ok":3})"),
              ElementsAre(Pairs::value_type{"ok", "3"}));
  const std::string longest_key(kMaxParamValueLength, 'k');
  EXPECT_THAT(params_of(R"({")" + longest_key + R"(":2})"),
              ElementsAre(Pairs::value_type{longest_key, "2"}));
}

TEST(ForEachParamTest, UnescapesKeysAndValues) {
  EXPECT_THAT(params_of(R"({"pro\"mpt":"a\\b\/c\n\u00e9"})"),
              ElementsAre(Pairs::value_type{"pro\"mpt", "a\\b/c\n\xc3\xa9"}));
  EXPECT_THAT(params_of(" { \"a\" : 1 , \"b\" : [ 2 ] } \n"),
              ElementsAre(Pairs::value_type{"a", "1"}, Pairs::value_type{"b", "2"}));
  EXPECT_THAT(params_of("{}"), IsEmpty());
}

// ---------------------------------------------------------------------------
// read_generation_models

TEST(ReadGenerationModelsTest, GivesModelsUsedAndForEachParamFromOneRead) {
  const std::string texts[] = {
      R"({"lora":[{"name":" a ","weight":0.5},"b","a"],"vae":"v","cfg":7.5,"tags":["x",1]})",
      R"({"steps":30,"sampler":"euler"})",
      R"({"lo\u0072a":"escaped","loras":["c"],"controlnet":{"model":"cn"}})",
      "{}",
      "[1]",
      "not json",
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    GenerationEvent event;
    event.model_checkpoint = " sdxl ";
    event.params_json = text;
    const GenerationModels with_params = read_generation_models(event, true);
    EXPECT_EQ(with_params.uses, models_used(event));
    EXPECT_EQ(with_params.params, params_of(text));
    const GenerationModels without = read_generation_models(event, false);
    EXPECT_EQ(without.uses, models_used(event));
    EXPECT_THAT(without.params, IsEmpty());
  }
  GenerationEvent bare;
  bare.model_checkpoint = "sdxl";
  const GenerationModels models = read_generation_models(bare, true);
  EXPECT_THAT(models.uses, ElementsAre(ModelUse{"sdxl", kCheckpoint}));
  EXPECT_THAT(models.params, IsEmpty());
}

}  // namespace
}  // namespace genalytics
