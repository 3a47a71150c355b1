// The API's route table (server/api.h): every route answers its method and
// refuses the others with 405 and Allow, its role is the one the authorizer
// asks for, and parameters are checked before an unknown endpoint is
// reported; every event kind has one ingest route, decoding its own kind.
// ApiService is driven directly, without a socket.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <future>

#include "event/event_batch.h"
#include "pipeline/batch_writer.h"
#include "server/api.h"
#include "server/auth.h"
#include "store/sqlite_store.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

namespace http = boost::beast::http;

class ApiRoutesTest : public ::testing::Test {
 protected:
  ApiRoutesTest()
      : store_(dir_.path()),
        writer_(&store_, BatchWriter::Options{}),
        monitor_(&store_, std::nullopt, "genalytics", "workers", {}, &writer_),
        api_(store_, writer_, &monitor_, DecodeLimits{}, RouteApiOptions{}) {}
  ~ApiRoutesTest() override { writer_.shutdown(); }

  static HttpResponse ask(const ApiService& api, http::verb method, const std::string& target) {
    HttpRequest request(method, target, 11);
    if (method == http::verb::post) {
      request.set(http::field::content_type, "application/json");
      request.body() = "{}";
      request.prepare_payload();
    }
    std::optional<HttpResponse> answer;
    int answers = 0;
    api.handle(request, [&](HttpResponse response) {
      ++answers;
      answer = std::move(response);
    });
    // Every request these tests send is answered before handle() returns
    // (none is accepted ingest, which answers from the writer's thread).
    EXPECT_EQ(answers, 1) << target;
    return answer.value_or(HttpResponse(http::status::internal_server_error, 11));
  }
  HttpResponse ask(http::verb method, const std::string& target) const {
    return ask(api_, method, target);
  }

  // POSTs `body` as JSON and waits for the answer (accepted events are
  // answered from the writer's thread once durable).
  static HttpResponse post(const ApiService& api, std::string_view target,
                           const std::string& body) {
    HttpRequest request(http::verb::post, target, 11);
    request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    std::promise<HttpResponse> answer;
    std::future<HttpResponse> future = answer.get_future();
    api.handle(request,
               [&answer](HttpResponse response) { answer.set_value(std::move(response)); });
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << "no answer to POST " << target;
      return HttpResponse(http::status::internal_server_error, 11);
    }
    return future.get();
  }

  // The fields of the first rejected event's errors.
  static std::vector<std::string> first_rejection_fields(const HttpResponse& response) {
    std::vector<std::string> fields;
    const boost::json::value answer = boost::json::parse(response.body());
    for (const auto& error : answer.at("rejected").at(0).at("errors").as_array()) {
      fields.emplace_back(error.at("field").as_string());
    }
    return fields;
  }

  static std::string error_message(const HttpResponse& response) {
    return std::string(boost::json::parse(response.body()).at("error").at("message").as_string());
  }

  // A path the route's pattern matches.
  static std::string example_path(std::string_view pattern) {
    std::string path(pattern);
    if (path.ends_with("/*")) return path.substr(0, path.size() - 1) + "anything";
    if (path.ends_with("}")) return path.substr(0, path.rfind('{')) + "550e8400-e29b-41d4-a716-446655440000";
    return path;
  }

  testing::TempDir dir_;
  SqliteStore store_;
  BatchWriter writer_;
  PipelineMonitor monitor_;
  ApiService api_;
};

TEST_F(ApiRoutesTest, EveryRouteNeedsTheRoleTheAuthorizerAsksFor) {
  ASSERT_GE(api_.routes().size(), 17u);
  for (const ApiService::Route& route : api_.routes()) {
    SCOPED_TRACE(route.pattern);
    const std::string path = example_path(route.pattern);
    if (route.method == ApiService::Route::Method::kGet) {
      EXPECT_EQ(required_role(http::verb::get, path), route.role);
      EXPECT_EQ(required_role(http::verb::head, path), route.role);
    } else if (route.method == ApiService::Route::Method::kPut) {
      EXPECT_EQ(required_role(http::verb::put, path), route.role);
    } else {
      EXPECT_EQ(required_role(http::verb::post, path), route.role);
    }
  }
}

// POST on a route analytics endpoint, /health or the pipeline answered 405
// without the Allow header HTTP requires (the generation endpoints had it).
TEST_F(ApiRoutesTest, MethodNotAllowedCarriesAllowOnEveryRoute) {
  using Method = ApiService::Route::Method;
  for (const ApiService::Route& route : api_.routes()) {
    SCOPED_TRACE(route.pattern);
    // The methods of every row of this pattern, in table order.
    std::vector<std::string> allowed;
    std::vector<http::verb> wrong = {http::verb::post, http::verb::get, http::verb::put,
                                     http::verb::delete_, http::verb::options};
    for (const ApiService::Route& row : api_.routes()) {
      if (row.pattern != route.pattern) continue;
      const http::verb verb = row.method == Method::kGet    ? http::verb::get
                              : row.method == Method::kPut ? http::verb::put
                                                           : http::verb::post;
      allowed.emplace_back(http::to_string(verb));
      std::erase(wrong, verb);
    }
    std::string allow;
    for (const std::string& method : allowed) allow += (allow.empty() ? "" : ", ") + method;
    for (http::verb verb : wrong) {
      const HttpResponse response = ask(verb, example_path(route.pattern));
      EXPECT_EQ(response.result(), http::status::method_not_allowed);
      EXPECT_EQ(response[http::field::allow], allow);
      EXPECT_EQ(error_message(response),
                allowed.size() == 1 ? "use " + allow : "use one of: " + allow);
    }
  }
}

TEST_F(ApiRoutesTest, GetRoutesAnswerGetAndHead) {
  for (const char* target : {"/health", "/api/v1/health", "/api/v1/analytics/pipeline",
                             "/api/v1/analytics/generation/overview?days=1",
                             "/api/v1/analytics/generation/users/550e8400-e29b-41d4-a716-446655440000",
                             "/api/v1/analytics/routes/overview", "/api/v1/analytics/routes/cache-priorities",
                             "/api/v1/analytics/routes/patterns?route=/a"}) {
    SCOPED_TRACE(target);
    EXPECT_EQ(ask(http::verb::get, target).result(), http::status::ok);
    EXPECT_EQ(ask(http::verb::head, target).result(), http::status::ok);
  }
}

TEST_F(ApiRoutesTest, UnknownPathsAreNotFoundWithTheirFamilysMessage) {
  struct Case {
    const char* target;
    const char* message;
  };
  for (const Case& c : {
           Case{"/nothing", "no such endpoint: /nothing"},
           Case{"/health/", "no such endpoint: /health/"},
           Case{"/api/v1/analytics/routes", "no such endpoint: /api/v1/analytics/routes"},
           Case{"/api/v1/analytics/generation/nothing",
                "no such analytics endpoint: /api/v1/analytics/generation/nothing"},
           Case{"/api/v1/analytics/generation/users/",
                "no such analytics endpoint: /api/v1/analytics/generation/users/"},
           Case{"/api/v1/analytics/generation/users/a/b",
                "no such analytics endpoint: /api/v1/analytics/generation/users/a/b"},
           Case{"/api/v1/analytics/routes/nothing/x", "no such route analytics endpoint: nothing/x"},
           Case{"/api/v1/analytics/routes/", "no such route analytics endpoint: "},
       }) {
    SCOPED_TRACE(c.target);
    const HttpResponse response = ask(http::verb::get, c.target);
    EXPECT_EQ(response.result(), http::status::not_found);
    EXPECT_EQ(error_message(response), c.message);
  }
}

TEST_F(ApiRoutesTest, ParametersAreCheckedBeforeAnUnknownEndpointIsReported) {
  struct Case {
    const char* target;
    const char* message;
  };
  const std::string days = "days must be an integer between 1 and 3660";
  const std::string limit = "limit must be an integer between 1 and 10000";
  for (const Case& c : {
           Case{"/api/v1/analytics/generation/nothing?days=0", days.c_str()},
           Case{"/api/v1/analytics/generation/trends?interval=weekly&days=0", days.c_str()},
           Case{"/api/v1/analytics/generation/users/not-a-uuid?days=0", days.c_str()},
           Case{"/api/v1/analytics/routes/nothing?days=0", days.c_str()},
           Case{"/api/v1/analytics/routes/nothing?limit=abc", limit.c_str()},
           Case{"/api/v1/analytics/routes/overview?order=bogus&limit=abc", limit.c_str()},
           Case{"/api/v1/analytics/routes/peak-hours?limit=abc", limit.c_str()},
           Case{"/api/v1/analytics/routes/patterns?limit=abc", limit.c_str()},
           Case{"/api/v1/analytics/routes/cache-priorities?n=0&mode=bogus",
                "n must be an integer between 1 and 10000"},
       }) {
    SCOPED_TRACE(c.target);
    const HttpResponse response = ask(http::verb::get, c.target);
    EXPECT_EQ(response.result(), http::status::bad_request);
    EXPECT_EQ(error_message(response), c.message);
  }
  // cache-priorities takes no limit.
  EXPECT_EQ(ask(http::verb::get, "/api/v1/analytics/routes/cache-priorities?limit=abc").result(),
            http::status::ok);
}

TEST_F(ApiRoutesTest, ThePipelineRouteExistsOnlyWithAMonitor) {
  const ApiService without(store_, writer_, nullptr, DecodeLimits{}, RouteApiOptions{});
  EXPECT_EQ(without.routes().size() + 1, api_.routes().size());
  for (http::verb method : {http::verb::get, http::verb::post}) {
    const HttpResponse response = ask(without, method, "/api/v1/analytics/pipeline");
    EXPECT_EQ(response.result(), http::status::not_found);
    EXPECT_EQ(error_message(response), "no such endpoint: /api/v1/analytics/pipeline");
  }
}

TEST_F(ApiRoutesTest, EveryEventKindHasOneIngestRouteAtItsPath) {
  size_t post_routes = 0;
  for (const ApiService::Route& route : api_.routes())
    post_routes += route.method == ApiService::Route::Method::kPost;
  EXPECT_EQ(post_routes, kEventKinds.size());
  for (EventKind kind : kEventKinds) {
    EventKinds::visit(kind, [&](auto tag) {
      using Kind = typename decltype(tag)::type;
      SCOPED_TRACE(Kind::kIngestPath);
      const auto rows =
          std::count_if(api_.routes().begin(), api_.routes().end(), [](const ApiService::Route& r) {
            return r.pattern == Kind::kIngestPath && r.method == ApiService::Route::Method::kPost &&
                   r.role == ApiRole::kIngest;
          });
      EXPECT_EQ(rows, 1);
    });
  }
  EXPECT_EQ(GenerationKind::kIngestPath, "/api/v1/events/generation");
  EXPECT_EQ(RouteKind::kIngestPath, "/api/v1/events/route");
}

// The ingest handler is one template over the kinds: each route must decode
// and store its own kind, and refuse the other's events with its own errors.
TEST_F(ApiRoutesTest, EachIngestRouteDecodesItsOwnKind) {
  const std::string generation =
      R"({"event_type":"request","generation_id":"00000000-0000-4000-8000-000000000001",)"
      R"("user_id":"550e8400-e29b-41d4-a716-446655440000"})";
  const std::string route =
      R"({"route":"/users/42","method":"get","duration_ms":12,"status_code":200})";
  const auto accepted =
      boost::json::parse(R"({"accepted":1,"duplicates":0,"rejected":[],"rejected_count":0})");

  HttpResponse answer = post(api_, "/api/v1/events/generation", generation);
  EXPECT_EQ(answer.result(), http::status::ok);
  EXPECT_EQ(boost::json::parse(answer.body()), accepted);
  answer = post(api_, "/api/v1/events/route", route);
  EXPECT_EQ(answer.result(), http::status::ok);
  EXPECT_EQ(boost::json::parse(answer.body()), accepted);

  answer = post(api_, "/api/v1/events/route", generation);
  EXPECT_EQ(answer.result(), http::status::bad_request);
  EXPECT_EQ(first_rejection_fields(answer),
            (std::vector<std::string>{"/route", "/method", "/duration_ms", "/status_code"}));
  answer = post(api_, "/api/v1/events/generation", route);
  EXPECT_EQ(answer.result(), http::status::bad_request);
  EXPECT_EQ(first_rejection_fields(answer),
            (std::vector<std::string>{"/event_type", "/generation_id"}));

  const auto overview = boost::json::parse(
      ask(http::verb::get, "/api/v1/analytics/generation/overview?days=1").body());
  EXPECT_EQ(overview.at("total_requests").as_int64(), 1);
  const auto routes =
      boost::json::parse(ask(http::verb::get, "/api/v1/analytics/routes/overview?days=1").body());
  ASSERT_EQ(routes.at("routes").as_array().size(), 1u);
  EXPECT_EQ(routes.at("routes").at(0).at("route").as_string(), "/users/{id}");
  EXPECT_EQ(routes.at("routes").at(0).at("method").as_string(), "GET");
}

// Route events are decoded with the configured normalisation (RouteApiOptions).
TEST_F(ApiRoutesTest, RouteIngestDecodesWithTheConfiguredNormalization) {
  RouteApiOptions verbatim;
  verbatim.normalization.template_ids = false;
  const ApiService api(store_, writer_, &monitor_, DecodeLimits{}, verbatim);
  ASSERT_EQ(post(api, "/api/v1/events/route",
                 R"({"route":"/a/12345","method":"GET","duration_ms":1,"status_code":200})")
                .result(),
            http::status::ok);
  ASSERT_EQ(post(api_, "/api/v1/events/route",
                 R"({"route":"/b/12345","method":"GET","duration_ms":1,"status_code":200})")
                .result(),
            http::status::ok);
  std::vector<std::string> routes;
  const auto overview =
      boost::json::parse(ask(http::verb::get, "/api/v1/analytics/routes/overview?days=1").body());
  for (const auto& row : overview.at("routes").as_array())
    routes.emplace_back(row.at("route").as_string());
  std::sort(routes.begin(), routes.end());
  EXPECT_EQ(routes, (std::vector<std::string>{"/a/12345", "/b/{id}"}));
}

// Ingest limits come from the DecodeLimits the service was built with.
TEST_F(ApiRoutesTest, IngestDecodesWithTheConfiguredLimits) {
  DecodeLimits limits;
  limits.max_events_per_body = 1;
  const ApiService api(store_, writer_, &monitor_, limits, RouteApiOptions{});
  const std::string two_routes =
      R"([{"route":"/a","method":"GET","duration_ms":1,"status_code":200},)"
      R"({"route":"/b","method":"GET","duration_ms":1,"status_code":200}])";
  for (std::string_view target : {"/api/v1/events/route", "/api/v1/events/generation"}) {
    SCOPED_TRACE(target);
    const HttpResponse answer = post(api, target, two_routes);
    EXPECT_EQ(answer.result(), http::status::bad_request);
    EXPECT_EQ(boost::json::parse(answer.body())
                  .at("rejected")
                  .at(0)
                  .at("errors")
                  .at(0)
                  .at("message")
                  .as_string(),
              "too many events in one body (limit 1)");
  }
}

}  // namespace
}  // namespace genalytics
