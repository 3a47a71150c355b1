// The model endpoints (issue 10): the inventory (GET and PUT
// /api/v1/models), usage, recommendations, the report as JSON and CSV and
// the simulation, with their errors; ApiService driven directly.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <future>

#include "pipeline/batch_writer.h"
#include "server/api.h"
#include "store/sqlite_store.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

namespace http = boost::beast::http;

class ModelApiTest : public ::testing::Test {
 protected:
  // The API's "now": mid-day, so a window of one day touches two dates.
  static inline const int64_t kNow = *parse_rfc3339("2026-03-15T12:30:00Z");

  ModelApiTest()
      : store_(dir_.path()),
        writer_(&store_, BatchWriter::Options{}),
        api_(store_, writer_, nullptr, DecodeLimits{}, RouteApiOptions{}, ModelAnalyticsConfig{},
             [] { return kNow; }) {}
  ~ModelApiTest() override { writer_.shutdown(); }

  // Sends a request and waits for its answer (ingest answers from the
  // writer's thread once durable).
  HttpResponse send(http::verb method, const std::string& target, const std::string& body = "") {
    HttpRequest request(method, target, 11);
    if (!body.empty()) {
      request.set(http::field::content_type, "application/json");
      request.body() = body;
      request.prepare_payload();
    }
    std::promise<HttpResponse> answer;
    std::future<HttpResponse> future = answer.get_future();
    api_.handle(request, [&answer](HttpResponse response) { answer.set_value(std::move(response)); });
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << "no answer to " << target;
      return HttpResponse(http::status::internal_server_error, 11);
    }
    return future.get();
  }
  boost::json::value get_json(const std::string& target) {
    const HttpResponse response = send(http::verb::get, target);
    EXPECT_EQ(response.result(), http::status::ok) << target << ": " << response.body();
    return boost::json::parse(response.body());
  }
  static std::string error_message(const HttpResponse& response) {
    return std::string(boost::json::parse(response.body()).at("error").at("message").as_string());
  }

  testing::TempDir dir_;
  SqliteStore store_;
  BatchWriter writer_;
  ApiService api_;
};

TEST_F(ModelApiTest, AModelRegisteredByPutIsListedAndDescribed) {
  HttpResponse put = send(http::verb::put, "/api/v1/models/juggernautXL_v9",
                          R"({"size_bytes": 7105348188, "model_kind": "Checkpoint",
                              "path": "/models/checkpoints/juggernautXL_v9.safetensors"})");
  ASSERT_EQ(put.result(), http::status::ok) << put.body();
  boost::json::value model = boost::json::parse(put.body());
  EXPECT_EQ(model.at("model_id"), "juggernautXL_v9");
  EXPECT_EQ(model.at("model_kind"), "checkpoint");
  EXPECT_EQ(model.at("size_bytes"), 7105348188);
  EXPECT_EQ(model.at("loaded"), false);

  // A second PUT changes only what it names.
  put = send(http::verb::put, "/api/v1/models/juggernautXL_v9", R"({"base_model": null, "size_bytes": 7105348189})");
  ASSERT_EQ(put.result(), http::status::ok) << put.body();
  const boost::json::value list = get_json("/api/v1/models");
  ASSERT_EQ(list.at("count"), 1);
  const boost::json::value& listed = list.at("models").at(0);
  EXPECT_EQ(listed.at("size_bytes"), 7105348189);
  EXPECT_EQ(listed.at("path"), "/models/checkpoints/juggernautXL_v9.safetensors");
  EXPECT_EQ(get_json("/api/v1/models/juggernautXL_v9").at("model_kind"), "checkpoint");
  EXPECT_EQ(send(http::verb::get, "/api/v1/models/unknown").result(), http::status::not_found);
}

TEST_F(ModelApiTest, ABadRegistrationIsRefusedAndChangesNothing) {
  struct Case {
    std::string target;
    std::string body;
    std::string message_part;
  };
  for (const Case& c : {
           Case{"/api/v1/models/m", "[1]", "JSON object"},
           Case{"/api/v1/models/m", "{", "JSON object"},
           Case{"/api/v1/models/m", R"({"size_bytes": -5})", "size_bytes"},
           Case{"/api/v1/models/m", R"({"size_bytes": 1.5})", "size_bytes"},
           Case{"/api/v1/models/m", R"({"size_bytes": 18446744073709551615})", "size_bytes"},
           Case{"/api/v1/models/m", R"({"model_kind": "upscaler"})", "model_kind"},
           Case{"/api/v1/models/m", R"({"model_kind": 3})", "model_kind"},
           Case{"/api/v1/models/m", R"({"path": ""})", "path"},
           Case{std::string("/api/v1/models/").append(300, 'x'), "{}", "model_id"},
       }) {
    SCOPED_TRACE(c.body);
    const HttpResponse response = send(http::verb::put, c.target, c.body);
    EXPECT_EQ(response.result(), http::status::bad_request);
    EXPECT_NE(error_message(response).find(c.message_part), std::string::npos) << error_message(response);
  }
  EXPECT_EQ(get_json("/api/v1/models").at("count"), 0);
}

TEST_F(ModelApiTest, ModelEventsAreIngestedAndShowInUsageAndTheInventory) {
  const HttpResponse ingest = send(http::verb::post, "/api/v1/events/model", R"([
      {"event_type": "model_load", "model_id": "flux1_dev", "duration_ms": 21000,
       "gpu_memory_mb": 23000, "worker_id": "gpu-1", "model_kind": "checkpoint"},
      {"event_type": "model_health_check", "model_id": "flux1_dev", "success": false,
       "error_type": "hash_mismatch"},
      {"event_type": "model_unload", "model_id": "flux1_dev", "reason": "sometimes"}])");
  ASSERT_EQ(ingest.result(), http::status::ok) << ingest.body();
  const boost::json::value answer = boost::json::parse(ingest.body());
  EXPECT_EQ(answer.at("accepted"), 2);
  EXPECT_EQ(answer.at("rejected_count"), 1);
  EXPECT_EQ(answer.at("rejected").at(0).at("errors").at(0).at("field"), "/reason");

  const boost::json::value usage = get_json("/api/v1/analytics/models/usage/flux1_dev?days=1");
  EXPECT_EQ(usage.at("loads"), 1);
  EXPECT_NEAR(usage.at("p50_load_time_ms").to_number<double>(), 21000, 210);  // DDSketch: 1%
  EXPECT_EQ(usage.at("health_check_failures"), 1);
  EXPECT_EQ(usage.at("loaded_on").as_array().size(), 1u);
  EXPECT_EQ(usage.at("daily_uses").as_array().size(), 1u);
  const boost::json::value list = get_json("/api/v1/models");
  EXPECT_EQ(list.at("models").at(0).at("loaded"), true);
  EXPECT_EQ(list.at("models").at(0).at("workers").at(0).at("worker_id"), "gpu-1");
}

TEST_F(ModelApiTest, UnknownModelsAndBadParametersAreClearErrors) {
  const HttpResponse unknown = send(http::verb::get, "/api/v1/analytics/models/usage/nothing");
  EXPECT_EQ(unknown.result(), http::status::not_found);
  EXPECT_EQ(error_message(unknown), "no such model: nothing");
  for (const char* target : {"/api/v1/analytics/models/usage?days=0",
                             "/api/v1/analytics/models/recommendations?kind=everything",
                             "/api/v1/analytics/models/recommendations?vram_budget_gb=-1",
                             "/api/v1/analytics/models/report?format=xml",
                             "/api/v1/analytics/models/simulate?vram_budget_gb=lots",
                             "/api/v1/analytics/models/elsewhere?days=abc"}) {
    SCOPED_TRACE(target);
    EXPECT_EQ(send(http::verb::get, target).result(), http::status::bad_request);
  }
  EXPECT_EQ(send(http::verb::get, "/api/v1/analytics/models/elsewhere").result(), http::status::not_found);
}

TEST_F(ModelApiTest, RecommendationsReportAndSimulationHaveTheirDocuments) {
  send(http::verb::put, "/api/v1/models/old_lora", R"({"size_bytes": 200000000, "model_kind": "lora"})");
  const boost::json::value all = get_json("/api/v1/analytics/models/recommendations");
  for (const char* key : {"window", "cleanup", "preload", "performance", "schedule", "reclaimable_bytes"}) {
    EXPECT_TRUE(all.as_object().contains(key)) << key;
  }
  EXPECT_EQ(all.at("window").at("hours"), 30 * 24);
  EXPECT_EQ(all.at("schedule").at("hours").as_array().size(), 168u);
  const boost::json::value cleanup = get_json("/api/v1/analytics/models/recommendations?kind=cleanup");
  EXPECT_TRUE(cleanup.as_object().contains("cleanup"));
  EXPECT_FALSE(cleanup.as_object().contains("preload"));
  EXPECT_FALSE(cleanup.as_object().contains("schedule"));

  const boost::json::value report = get_json("/api/v1/analytics/models/report?format=json&days=7");
  EXPECT_EQ(report.at("summary").at("models"), 1);
  EXPECT_EQ(report.at("models").at(0).at("model_id"), "old_lora");
  const HttpResponse csv = send(http::verb::get, "/api/v1/analytics/models/report?format=csv");
  ASSERT_EQ(csv.result(), http::status::ok);
  EXPECT_EQ(csv[http::field::content_type], "text/csv; charset=utf-8");
  EXPECT_TRUE(csv.body().starts_with("model_id,model_kind,"));
  EXPECT_NE(csv.body().find("\r\nold_lora,lora,"), std::string::npos);

  const boost::json::value simulation = get_json("/api/v1/analytics/models/simulate?days=7&vram_budget_gb=8");
  EXPECT_EQ(simulation.at("vram_budget_mb"), 8192);
  EXPECT_EQ(simulation.at("requests"), 0);
}

}  // namespace
}  // namespace genalytics
