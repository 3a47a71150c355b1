#include <gtest/gtest.h>

#include <fmt/format.h>

#include <atomic>
#include <thread>

#include "event/time.h"
#include "server/app_server.h"
#include "store/sqlite_store.h"
#include "server/http_client.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

namespace http = boost::beast::http;
using testing::http_get;
using testing::http_post;
using testing::raw_exchange;

constexpr const char* kIngest = "/api/v1/events/generation";

std::string event_json(const std::string& type, const std::string& extra = "") {
  static std::atomic<int> counter{0};
  const int n = counter++;
  return "{\"event_type\":\"" + type + "\",\"generation_id\":\"00000000-0000-4000-8000-" +
         fmt::format("{:012d}", n) + "\",\"user_id\":\"550e8400-e29b-41d4-a716-446655440000\"" +
         extra + "}";
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override { start(); }

  void start(size_t body_limit = 64 * 1024, size_t max_queued = 100'000) {
    AppServerOptions options;
    options.data_dir = dir_.path();
    options.http.port = 0;
    options.http.body_limit = body_limit;
    options.writer.max_queued_events = max_queued;
    server_.reset();
    server_ = std::make_unique<AppServer>(options);
  }
  uint16_t port() const { return server_->port(); }
  boost::json::object overview() {
    return http_get(port(), "/api/v1/analytics/generation/overview?days=1").json().as_object();
  }

  testing::TempDir dir_;
  std::unique_ptr<AppServer> server_;
};

TEST_F(ApiTest, HealthAnswers) {
  auto r = http_get(port(), "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json().as_object().at("status").as_string(), "ok");
}

TEST_F(ApiTest, IngestsOneObjectAndItShowsInTheOverview) {
  auto r = http_post(port(), kIngest, event_json("request"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json(), boost::json::parse(R"({"accepted":1,"duplicates":0,"rejected":[]})"));
  EXPECT_EQ(overview().at("total_requests").as_int64(), 1);
}

TEST_F(ApiTest, ArrayWithABadEventAcceptsTheRestAndListsTheErrors) {
  std::string body = "[" + event_json("request") + "," +
                     event_json("completion", ",\"success\":true,\"duration_ms\":-5") + "," +
                     event_json("completion", ",\"success\":false,\"duration_ms\":1200") + "]";
  auto r = http_post(port(), kIngest, body);
  ASSERT_EQ(r.status, 200) << r.body;
  auto answer = r.json().as_object();
  EXPECT_EQ(answer.at("accepted").as_int64(), 2);
  EXPECT_EQ(answer.at("rejected"), boost::json::parse(
      R"([{"index":1,"errors":[{"field":"/duration_ms","message":"must be a non-negative integer"}]}])"));
  auto o = overview();
  EXPECT_EQ(o.at("total_requests").as_int64(), 1);
  EXPECT_EQ(o.at("failed_generations").as_int64(), 1);
  EXPECT_EQ(o.at("successful_generations").as_int64(), 0);
}

TEST_F(ApiTest, NothingAcceptableIs400AndStoresNothing) {
  auto r = http_post(port(), kIngest, R"([{"event_type":"explosion"},{"generation_id":"x"}])");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json().as_object().at("accepted").as_int64(), 0);
  EXPECT_EQ(r.json().as_object().at("rejected").as_array().size(), 2u);
  EXPECT_EQ(overview().at("total_requests").as_int64(), 0);
  EXPECT_EQ(http_post(port(), kIngest, "").status, 400);
  EXPECT_EQ(http_post(port(), kIngest, "[]").status, 400);
}

TEST_F(ApiTest, ReIngestingTheSameEventsCountsThemAsDuplicates) {
  std::string body = "[" +
                     event_json("request", ",\"event_id\":\"11111111-1111-4111-8111-111111111111\"") +
                     "," +
                     event_json("request", ",\"event_id\":\"22222222-2222-4222-8222-222222222222\"") + "]";
  ASSERT_EQ(http_post(port(), kIngest, body).status, 200);
  auto again = http_post(port(), kIngest, body);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.json(), boost::json::parse(R"({"accepted":0,"duplicates":2,"rejected":[]})"));
  EXPECT_EQ(overview().at("total_requests").as_int64(), 2);
}

TEST_F(ApiTest, AcceptsNdjson) {
  std::string body = event_json("request") + "\n" + event_json("request") + "\n\n" + "{oops\n" +
                     event_json("cancellation") + "\n";
  auto r = http_post(port(), kIngest, body, "application/x-ndjson");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().as_object().at("accepted").as_int64(), 3);
  ASSERT_EQ(r.json().as_object().at("rejected").as_array().size(), 1u);
  auto o = overview();
  EXPECT_EQ(o.at("total_requests").as_int64(), 2);
  EXPECT_EQ(o.at("cancelled_generations").as_int64(), 1);
}

TEST_F(ApiTest, MalformedJsonIs400WithAReason) {
  auto r = http_post(port(), kIngest, "{\"event_type\": ");
  EXPECT_EQ(r.status, 400);
  auto rejected = r.json().as_object().at("rejected").as_array();
  ASSERT_EQ(rejected.size(), 1u);
  std::string message(rejected[0].as_object().at("errors").as_array()[0].as_object().at("message").as_string());
  EXPECT_EQ(message.rfind("malformed JSON", 0), 0u) << message;
}

TEST_F(ApiTest, BodyOverTheLimitIs413AndTheServerCarriesOn) {
  std::string huge(200 * 1024, ' ');
  huge = "[" + event_json("request") + huge + "]";
  auto r = http_post(port(), kIngest, huge);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.json().as_object().at("error").as_object().at("code").as_string(), "payload_too_large");
  // Declared too large up front, with 100-continue: refused before the body.
  std::string answer = raw_exchange(port(),
                                    "POST /api/v1/events/generation HTTP/1.1\r\nHost: x\r\n"
                                    "Content-Type: application/json\r\nExpect: 100-continue\r\n"
                                    "Content-Length: 99999999\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  EXPECT_EQ(http_post(port(), kIngest, event_json("request")).status, 200);
  EXPECT_EQ(overview().at("total_requests").as_int64(), 1);
}

TEST_F(ApiTest, GarbageOnTheWireNeverTakesTheServerDown) {
  const std::string inputs[] = {
      "GARBAGE\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "POST /api/v1/events/generation HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
      "POST /api/v1/events/generation HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n",
      std::string("\0\x01\x02\xff\xfe", 5),
      "GET /" + std::string(100 * 1024, 'a') + " HTTP/1.1\r\n\r\n",
      "POST /api/v1/events/generation HTTP/1.1\r\nContent-Length: 5\r\n\r\n\xff\xfe\x00{[",
  };
  for (const std::string& input : inputs) raw_exchange(port(), input);
  // Deeply nested and odd-but-valid JSON bodies get answers, not crashes.
  EXPECT_EQ(http_post(port(), kIngest, std::string(30000, '[') + std::string(30000, ']')).status, 400);
  EXPECT_EQ(http_post(port(), kIngest, "[1, \"a\", null, true, {}]").status, 400);
  EXPECT_EQ(http_post(port(), kIngest, "\"just a string\"").status, 400);
  EXPECT_EQ(http_get(port(), "/health").status, 200);
}

TEST_F(ApiTest, AnalyticsErrorsAreJsonWithTheRightStatus) {
  auto bad_days = http_get(port(), "/api/v1/analytics/generation/overview?days=abc");
  EXPECT_EQ(bad_days.status, 400);
  EXPECT_EQ(bad_days.json().as_object().at("error").as_object().at("code").as_string(), "invalid_parameter");
  EXPECT_EQ(http_get(port(), "/api/v1/analytics/generation/overview?start=2025-01-01T00:30:00Z&end=2025-01-02T00:00:00Z").status, 400);
  EXPECT_EQ(http_get(port(), "/api/v1/analytics/generation/trends?interval=weekly").status, 400);
  EXPECT_EQ(http_get(port(), "/api/v1/analytics/generation/users/not-a-uuid").status, 400);
  auto missing = http_get(port(), "/api/v1/analytics/generation/nothing");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.json().as_object().at("error").as_object().at("code").as_string(), "not_found");
  EXPECT_EQ(http_get(port(), "/nope").status, 404);
  EXPECT_EQ(http_post(port(), "/api/v1/analytics/generation/overview", "{}").status, 405);
  EXPECT_EQ(http_get(port(), kIngest).status, 405);
}

TEST_F(ApiTest, EveryEndpointAnswersWithTheSeedFields) {
  ASSERT_EQ(http_post(port(), kIngest, "[" + event_json("request") + "," +
                                           event_json("completion", ",\"success\":false,\"duration_ms\":10,"
                                                                    "\"error_type\":\"oom\",\"error_message\":\"CUDA OOM\","
                                                                    "\"model_checkpoint\":\"sdxl\"") + "]").status, 200);
  const std::string base = "/api/v1/analytics/generation/";
  auto o = http_get(port(), base + "overview?days=7").json().as_object();
  for (const char* f : {"total_requests", "successful_generations", "failed_generations",
                        "cancelled_generations", "success_rate_pct", "avg_duration_ms",
                        "p50_duration_ms", "p95_duration_ms", "p99_duration_ms", "avg_queue_wait_ms",
                        "avg_generation_time_ms", "unique_users", "total_images_generated", "window"}) {
    EXPECT_TRUE(o.contains(f)) << f;
  }
  auto t = http_get(port(), base + "trends?days=1&interval=hourly").json().as_object();
  EXPECT_EQ(t.at("data_points").as_array().size(), 24u);
  EXPECT_TRUE(t.at("data_points").as_array()[0].as_object().contains("success_rate"));
  auto u = http_get(port(), base + "users/550e8400-e29b-41d4-a716-446655440000?days=30").json().as_object();
  EXPECT_EQ(u.at("failure_breakdown"), boost::json::parse(R"([{"error_type":"oom","count":1}])"));
  auto m = http_get(port(), base + "models?days=30").json().as_object();
  EXPECT_EQ(m.at("models").as_array()[0].as_object().at("model_checkpoint").as_string(), "sdxl");
  auto f = http_get(port(), base + "failures?days=7").json().as_object();
  EXPECT_EQ(f.at("error_types").as_array()[0].as_object().at("sample_messages"),
            boost::json::parse(R"(["CUDA OOM"])"));
  EXPECT_EQ(f.at("failure_trends").as_array().size(), 8u);  // 7 days ending mid-day touch 8 dates
  auto p = http_get(port(), base + "peak-hours?days=30").json().as_object();
  EXPECT_EQ(p.at("peak_hours").as_array().size(), 24u);
  EXPECT_EQ(p.at("day_of_week_matrix").as_array().size(), 7u);
}

TEST_F(ApiTest, FullQueueAnswers503WithRetryAfterAndLosesNothingAcknowledged) {
  start(64 * 1024, /*max_queued=*/1);
  std::atomic<int> ok{0}, busy{0}, other{0};
  std::atomic<int64_t> accepted{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 30; ++i) {
        std::string body = "[";
        for (int k = 0; k < 20; ++k) body += (k ? "," : "") + event_json("request");
        auto r = http_post(port(), kIngest, body + "]");
        if (r.status == 200) {
          ++ok;
          accepted += r.json().as_object().at("accepted").as_int64();
        } else if (r.status == 503 && r.headers[http::field::retry_after] == "1") {
          ++busy;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(busy.load(), 0);
  EXPECT_EQ(overview().at("total_requests").as_int64(), accepted.load());
}

TEST_F(ApiTest, StopAnswersInFlightRequestsAndCommitsThem) {
  std::atomic<int64_t> accepted{0};
  std::atomic<bool> stop{false};
  std::thread client([&] {
    while (!stop) {
      try {
        auto r = http_post(port(), kIngest, "[" + event_json("request") + "," + event_json("request") + "]");
        if (r.status == 200) accepted += r.json().as_object().at("accepted").as_int64();
      } catch (const std::exception&) {
        return;  // the server has stopped listening
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  server_->stop();
  stop = true;
  client.join();
  server_.reset();
  SqliteStore store(dir_.path());
  EXPECT_GT(accepted.load(), 0);
  // Everything acknowledged is stored. A request read in the instant the
  // listener closed may be committed without its answer reaching the client.
  EXPECT_GE(store.count_generation_events(), accepted.load());
  EXPECT_LE(store.count_generation_events(), accepted.load() + 2);
}

}  // namespace
}  // namespace genalytics
