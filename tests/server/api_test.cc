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
  // The server's "now": mid-day, so "the last 7 days" touch 8 dates. On the
  // wall clock the window ended at midnight in the day's last hour.
  static inline const int64_t kNow = *parse_rfc3339("2026-03-15T12:30:00Z");

  void SetUp() override { start(); }

  void start(size_t body_limit = 64 * 1024, size_t max_queued = 100'000) {
    AppServerOptions options;
    options.data_dir = dir_.path();
    options.http.port = 0;
    options.http.body_limit = body_limit;
    options.writer.max_queued_events = max_queued;
    options.clock = [] { return kNow; };
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
  EXPECT_EQ(r.json(), boost::json::parse(R"({"accepted":1,"duplicates":0,"rejected":[],"rejected_count":0})"));
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
  EXPECT_EQ(again.json(), boost::json::parse(R"({"accepted":0,"duplicates":2,"rejected":[],"rejected_count":0})"));
  EXPECT_EQ(overview().at("total_requests").as_int64(), 2);
}

// A body of a million `{}` lines answered 400 with a 127 MB body (and grew
// the server by a gigabyte building it).
TEST_F(ApiTest, MillionRejectedEventsAnswerTheFirstHundredAndTheCount) {
  start(/*body_limit=*/4 * 1024 * 1024);
  std::string body;
  body.reserve(3'000'000);
  for (int i = 0; i < 1'000'000; ++i) body += "{}\n";
  auto r = http_post(port(), kIngest, body, "application/x-ndjson");
  EXPECT_EQ(r.status, 400);
  EXPECT_LT(r.body.size(), 16u * 1024) << "the answer grows with the body";
  const auto answer = r.json().as_object();
  EXPECT_EQ(answer.at("accepted").as_int64(), 0);
  EXPECT_EQ(answer.at("rejected_count").as_int64(), 1'000'000);
  const auto& rejected = answer.at("rejected").as_array();
  ASSERT_EQ(rejected.size(), 100u);
  EXPECT_EQ(rejected[0].at("index").as_int64(), 0);
  EXPECT_EQ(rejected[99].at("index").as_int64(), 99);
  EXPECT_EQ(rejected[99].at("errors"), boost::json::parse(
      R"([{"field":"/event_type","message":"is required"},)"
      R"({"field":"/generation_id","message":"is required"}])"));

  // With a valid event among them, it is stored.
  body = event_json("request") + "\n" + body.substr(3);
  r = http_post(port(), kIngest, body, "application/x-ndjson");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.json().at("accepted").as_int64(), 1);
  EXPECT_EQ(r.json().at("rejected_count").as_int64(), 999'999);
  EXPECT_EQ(r.json().at("rejected").as_array()[0].at("index").as_int64(), 1);
}

// The README's example sent twice without event_id was counted twice.
TEST_F(ApiTest, RetryWithoutEventIdIsADuplicate) {
  const std::string body = R"({"event_type":"completion",)"
                           R"("generation_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7",)"
                           R"("timestamp":")" + format_rfc3339_seconds(kNow) + R"(",)"
                           R"("success":false,"duration_ms":45230,"costs":{"compute":0.0031}})";
  auto first = http_post(port(), kIngest, body);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.json().at("accepted").as_int64(), 1);
  auto retry = http_post(port(), kIngest, body);
  EXPECT_EQ(retry.status, 200);
  EXPECT_EQ(retry.json().at("duplicates").as_int64(), 1);
  EXPECT_EQ(overview().at("failed_generations").as_int64(), 1);
}

// 9999-12-31 was accepted and became the pipeline's last_event_at.
TEST_F(ApiTest, FarFutureTimestampIs400WithAFieldError) {
  auto r = http_post(port(), kIngest, event_json("request", R"(,"timestamp":"9999-12-31T23:59:59Z")"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.json().at("rejected").as_array()[0].at("errors").as_array()[0].at("field"),
            "/timestamp");
  EXPECT_EQ(overview().at("total_requests").as_int64(), 0);
}

// XML, multipart and form bodies were read as malformed JSON (400).
TEST_F(ApiTest, BodyThatIsClearlyNotJsonIs415NamingTheAcceptedTypes) {
  const std::pair<std::string, std::string> refused[] = {
      {"application/xml", "<event><type>request</type></event>"},
      {"text/xml; charset=utf-8", "<event/>"},
      {"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--"},
      {"application/x-www-form-urlencoded", "event_type=request&generation_id=1"},
      {"text/html", event_json("request")},
  };
  for (const auto& [type, body] : refused) {
    auto r = http_post(port(), kIngest, body, type);
    EXPECT_EQ(r.status, 415) << type;
    EXPECT_EQ(r.json().at("error").at("code"), "unsupported_media_type") << type;
    EXPECT_NE(std::string(r.json().at("error").at("message").as_string()).find(
                  "application/json or application/x-ndjson"),
              std::string::npos);
    EXPECT_EQ(r.headers["Accept-Post"], "application/json, application/x-ndjson");
    EXPECT_EQ(http_post(port(), "/api/v1/events/route", body, type).status, 415) << type;
  }
  // curl -d sends form data; fetch() sends text/plain: JSON in them is accepted.
  const std::string accepted[] = {"application/x-www-form-urlencoded", "text/plain;charset=UTF-8",
                                  "Application/JSON; charset=utf-8", "application/vnd.api+json", ""};
  for (const std::string& type : accepted) {
    EXPECT_EQ(http_post(port(), kIngest, event_json("request"), type).status, 200) << type;
  }
  // No Content-Type at all.
  const std::string event = event_json("request");
  const std::string reply = raw_exchange(
      port(), "POST /api/v1/events/generation HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              "Content-Length: " + std::to_string(event.size()) + "\r\n\r\n" + event);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_EQ(overview().at("total_requests").as_int64(), 6);
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
        for (int k = 0; k < 20; ++k) body.append(k ? "," : "").append(event_json("request"));
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
        auto r = http_post(port(), kIngest, '[' + event_json("request") + ',' + event_json("request") + ']');
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
