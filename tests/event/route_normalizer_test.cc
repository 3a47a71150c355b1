#include "event/route_normalizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <tuple>

namespace genalytics {
namespace {

// What route_decoder does with a route and its query_params: the explicit
// params win over the query string's.
std::optional<NormalizedRoute> normalize(std::string_view url, QueryParams params,
                                         const RouteNormalization& normalization = {}) {
  const SplitUrl split = split_url(url);
  QueryParams from_query;
  if (!parse_query_string(split.query, &from_query)) return std::nullopt;
  params.merge(from_query);
  return normalize_route(split.path, params, normalization);
}

// ---------------------------------------------------------------------------
// normalize_route: the whole split, merge and templating.

struct NormalizeCase {
  std::string url;
  QueryParams params;  // sent as query_params
  std::string route;
  std::string route_full;
  std::string query_params_json;
  std::string normalized_json;
};

TEST(NormalizeRouteTest, SplitsMergesAndTemplates) {
  const NormalizeCase cases[] = {
      // The seed's example, with the query string in the route or apart.
      {"/api/v1/content/unified?page=1&page_size=10&sort=created_at",
       {},
       "/api/v1/content/unified",
       "/api/v1/content/unified?page=1&page_size=10&sort=created_at",
       R"({"page":"1","page_size":"10","sort":"created_at"})",
       R"({"page_size":"10","sort":"created_at"})"},
      {"/api/v1/content/unified",
       {{"sort", "created_at"}, {"page_size", "10"}, {"page", "1"}},
       "/api/v1/content/unified",
       "/api/v1/content/unified?page=1&page_size=10&sort=created_at",
       R"({"page":"1","page_size":"10","sort":"created_at"})",
       R"({"page_size":"10","sort":"created_at"})"},
      // No parameters: no '?', empty objects.
      {"/health", {}, "/health", "/health", "{}", "{}"},
      {"/health?", {}, "/health", "/health", "{}", "{}"},
      {"/", {}, "/", "/", "{}", "{}"},
      // Only variable parameters.
      {"/feed?cursor=abc&limit=20&offset=40",
       {},
       "/feed",
       "/feed?cursor=abc&limit=20&offset=40",
       R"({"cursor":"abc","limit":"20","offset":"40"})",
       "{}"},
      // Names sorted whatever order they came in; the query string merged in.
      {"/search?z=1&a=2",
       {{"m", "3"}},
       "/search",
       "/search?a=2&m=3&z=1",
       R"({"a":"2","m":"3","z":"1"})",
       R"({"a":"2","m":"3","z":"1"})"},
      // Explicit query_params win over the query string.
      {"/search?sort=title&page=9",
       {{"sort", "created_at"}},
       "/search",
       "/search?page=9&sort=created_at",
       R"({"page":"9","sort":"created_at"})",
       R"({"sort":"created_at"})"},
      // A name given twice in the query string takes its last value.
      {"/search?tag=a&tag=b", {}, "/search", "/search?tag=b", R"({"tag":"b"})", R"({"tag":"b"})"},
      // Percent-decoding, '+' as space, and urlencode's re-encoding.
      {"/search?q=red+cat%21&na%20me=%C3%A9",
       {},
       "/search",
       "/search?na+me=%C3%A9&q=red+cat%21",
       R"({"na me":"é","q":"red cat!"})",
       R"({"na me":"é","q":"red cat!"})"},
      {"/search",
       {{"q", "a&b=c/d"}},
       "/search",
       "/search?q=a%26b%3Dc%2Fd",
       R"({"q":"a&b=c/d"})",
       R"({"q":"a&b=c/d"})"},
      {"/s?safe=a-b_c.d~e",
       {},
       "/s",
       "/s?safe=a-b_c.d~e",
       R"({"safe":"a-b_c.d~e"})",
       R"({"safe":"a-b_c.d~e"})"},
      // Names without values, empty names (as Python's parse_qsl keeps them),
      // empty pairs.
      {"/s?flag&=x&&b=&",
       {},
       "/s",
       "/s?=x&b=&flag=",
       R"({"":"x","b":"","flag":""})",
       R"({"":"x","b":"","flag":""})"},
      // A value that is itself "a=b".
      {"/s?expr=a=b", {}, "/s", "/s?expr=a%3Db", R"({"expr":"a=b"})", R"({"expr":"a=b"})"},
      // Broken percent escapes are kept; so is text that would decode to non-UTF-8.
      {"/s?a=100%&b=%zz&c=%4",
       {},
       "/s",
       "/s?a=100%25&b=%25zz&c=%254",
       R"({"a":"100%","b":"%zz","c":"%4"})",
       R"({"a":"100%","b":"%zz","c":"%4"})"},
      {"/s?bin=%FF%FE",
       {},
       "/s",
       "/s?bin=%25FF%25FE",
       R"({"bin":"%FF%FE"})",
       R"({"bin":"%FF%FE"})"},
      // Values needing JSON escapes.
      {"/s",
       {{"q", "say \"hi\"\\\n"}},
       "/s",
       "/s?q=say+%22hi%22%5C%0A",
       R"({"q":"say \"hi\"\\\n"})",
       R"({"q":"say \"hi\"\\\n"})"},
      // The fragment is dropped.
      {"/docs/intro?v=2#install",
       {},
       "/docs/intro",
       "/docs/intro?v=2",
       R"({"v":"2"})",
       R"({"v":"2"})"},
      {"/docs#a?b=1", {}, "/docs", "/docs", "{}", "{}"},
      // route_full keeps the concrete path; route has it templated.
      {"/api/v1/content/12345?page=2",
       {},
       "/api/v1/content/{id}",
       "/api/v1/content/12345?page=2",
       R"({"page":"2"})",
       "{}"},
      {"/users/550e8400-e29b-41d4-a716-446655440000/posts",
       {},
       "/users/{id}/posts",
       "/users/550e8400-e29b-41d4-a716-446655440000/posts",
       "{}",
       "{}"},
  };
  for (const NormalizeCase& c : cases) {
    const std::optional<NormalizedRoute> normalized = normalize(c.url, c.params);
    ASSERT_TRUE(normalized.has_value()) << c.url;
    EXPECT_EQ(normalized->route, c.route) << c.url;
    EXPECT_EQ(normalized->route_full, c.route_full) << c.url;
    EXPECT_EQ(normalized->query_params_json, c.query_params_json) << c.url;
    EXPECT_EQ(normalized->query_params_normalized_json, c.normalized_json) << c.url;
  }
}

TEST(NormalizeRouteTest, VariableParamsAndTemplatingAreConfigurable) {
  RouteNormalization normalization;
  normalization.variable_params = {"ts", "page"};
  normalization.template_ids = false;
  const std::optional<NormalizedRoute> normalized =
      normalize("/api/items/42?ts=1&page=3&offset=5", {}, normalization);
  ASSERT_TRUE(normalized.has_value());
  EXPECT_EQ(normalized->route, "/api/items/42");
  EXPECT_EQ(normalized->route_full, "/api/items/42?offset=5&page=3&ts=1");
  EXPECT_EQ(normalized->query_params_normalized_json, R"({"offset":"5"})");

  normalization.variable_params.clear();
  EXPECT_EQ(normalize("/a?page=1", {}, normalization)->query_params_normalized_json,
            R"({"page":"1"})");
}

TEST(NormalizeRouteTest, VariableParamNamesMatchExactly) {
  const std::optional<NormalizedRoute> normalized =
      normalize("/a?Page=1&page_size=2&pages=3&page=4", {});
  ASSERT_TRUE(normalized.has_value());
  EXPECT_EQ(normalized->query_params_normalized_json,
            R"({"Page":"1","page_size":"2","pages":"3"})");
}

TEST(NormalizeRouteTest, IsIdempotent) {
  // A stored event decoded again (from the stream) normalises to itself.
  const std::optional<NormalizedRoute> once =
      normalize("/users/42/posts/deadbeefdeadbeef00?b=2&a=1", {});
  ASSERT_TRUE(once.has_value());
  const std::optional<NormalizedRoute> twice = normalize(once->route, {{"a", "1"}, {"b", "2"}});
  ASSERT_TRUE(twice.has_value());
  EXPECT_EQ(twice->route, once->route);
  EXPECT_EQ(twice->query_params_json, once->query_params_json);
  EXPECT_EQ(twice->query_params_normalized_json, once->query_params_normalized_json);
}

// ---------------------------------------------------------------------------
// Templating of concrete ids.

TEST(TemplatePathTest, TemplatesConcreteIds) {
  const std::pair<std::string, std::string> cases[] = {
      {"/api/v1/content/12345", "/api/v1/content/{id}"},
      {"/users/550e8400-e29b-41d4-a716-446655440000/posts", "/users/{id}/posts"},
      {"/users/550E8400-E29B-41D4-A716-446655440000", "/users/{id}"},
      {"/users/{550e8400-e29b-41d4-a716-446655440000}", "/users/{id}"},
      {"/blobs/0123456789abcdef", "/blobs/{id}"},                  // 16 hex digits
      {"/blobs/0123456789ABCDEF0123", "/blobs/{id}"},              // upper case
      {"/blobs/550e8400e29b41d4a716446655440000", "/blobs/{id}"},  // UUID without hyphens
      {"/a/1/b/22/c/333", "/a/{id}/b/{id}/c/{id}"},
      {"/orders/7/", "/orders/{id}/"},
      {"/0", "/{id}"},
      // Already templated or not an id: kept.
      {"/users/{id}/posts", "/users/{id}/posts"},
      {"/users/:id/posts", "/users/:id/posts"},
      {"/users/{user_id}", "/users/{user_id}"},
      {"/api/v1/content/unified", "/api/v1/content/unified"},
      {"/blobs/0123456789abcde", "/blobs/0123456789abcde"},  // 15 hex digits
      {"/blobs/deadbeef", "/blobs/deadbeef"},
      {"/blobs/0123456789abcdeg", "/blobs/0123456789abcdeg"},
      {"/items/12a", "/items/12a"},
      {"/items/-12", "/items/-12"},
      {"/items/1.5", "/items/1.5"},
      {"/users/550e8400-e29b-41d4-a716-44665544000", "/users/550e8400-e29b-41d4-a716-44665544000"},
      {"/v2/files", "/v2/files"},
      // Empty segments stay as they are.
      {"/", "/"},
      {"//x//", "//x//"},
  };
  for (const auto& [path, templated] : cases) {
    EXPECT_EQ(template_path(path), templated) << path;
  }
}

TEST(TemplatePathTest, IsIdSegment) {
  EXPECT_TRUE(is_id_segment("12345"));
  EXPECT_TRUE(is_id_segment("550e8400-e29b-41d4-a716-446655440000"));
  EXPECT_TRUE(is_id_segment("ffffffffffffffff"));
  EXPECT_FALSE(is_id_segment(""));
  EXPECT_FALSE(is_id_segment("{id}"));
  EXPECT_FALSE(is_id_segment(":id"));
  EXPECT_FALSE(is_id_segment("fffffffffffffff"));
}

// ---------------------------------------------------------------------------
// The pieces.

TEST(SplitUrlTest, SplitsAtTheFirstQuestionMarkAndDropsTheFragment) {
  const std::tuple<std::string_view, std::string_view, std::string_view> cases[] = {
      {"/a/b", "/a/b", ""},           {"/a/b?", "/a/b", ""},     {"/a?x=1?y=2", "/a", "x=1?y=2"},
      {"/a?x=1#frag?y", "/a", "x=1"}, {"/a#frag?x=1", "/a", ""}, {"", "", ""},
  };
  for (const auto& [url, path, query] : cases) {
    const SplitUrl split = split_url(url);
    EXPECT_EQ(split.path, path) << url;
    EXPECT_EQ(split.query, query) << url;
  }
}

TEST(ParseQueryStringTest, RefusesTextThatDecodesToNul) {
  for (const char* query : {"q=a%00b", "%00=1", "ok=1&q=%00"}) {
    QueryParams params;
    EXPECT_FALSE(parse_query_string(query, &params)) << query;
  }
}

TEST(ParseQueryStringTest, AddsToExistingParams) {
  QueryParams params = {{"a", "old"}, {"keep", "1"}};
  EXPECT_TRUE(parse_query_string("a=new&b=%2B+", &params));
  EXPECT_EQ(params, (QueryParams{{"a", "new"}, {"b", "+ "}, {"keep", "1"}}));
  EXPECT_TRUE(parse_query_string("", &params));
  EXPECT_EQ(params.size(), 3u);
}

TEST(UrlencodeTest, EncodesLikePythonsQuotePlus) {
  EXPECT_EQ(urlencode({}), "");
  EXPECT_EQ(urlencode({{"b", "x y"}, {"a", "1"}}), "a=1&b=x+y");
  // urllib.parse.urlencode({"k": "é/?&=+%#"})
  EXPECT_EQ(urlencode({{"k", "é/?&=+%#"}}), "k=%C3%A9%2F%3F%26%3D%2B%25%23");
  EXPECT_EQ(urlencode({{"Az09_.-~", ""}}), "Az09_.-~=");
}

TEST(QueryParamsJsonTest, WritesCompactSortedObjects) {
  EXPECT_EQ(query_params_json({}), "{}");
  EXPECT_EQ(query_params_json({{"b", "2"}, {"a", "1"}}), R"({"a":"1","b":"2"})");
  EXPECT_EQ(query_params_json({{"b", "2"}, {"a", "1"}}, {"a", "z"}), R"({"b":"2"})");
  EXPECT_EQ(query_params_json({{"ctl", "\x01\t"}}), R"({"ctl":"\u0001\t"})");
}

}  // namespace
}  // namespace genalytics
