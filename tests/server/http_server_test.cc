#include "server/http_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "server/http_client.h"

namespace genalytics {
namespace {

namespace http = boost::beast::http;
using testing::http_post;

// A server whose handler holds every POST until release() answers them: the
// bodies stay in flight meanwhile.
class HeldRequests {
 public:
  explicit HeldRequests(HttpServerOptions options)
      : server_(std::move(options), [this](HttpRequest& request, Responder respond) {
          if (request.method() != http::verb::post) return respond(ok(request));
          std::lock_guard lock(mutex_);
          held_.emplace_back(ok(request), std::move(respond));
        }) {
    server_.start();
  }

  HttpServer& server() { return server_; }

  size_t held() {
    std::lock_guard lock(mutex_);
    return held_.size();
  }

  void wait_held(size_t n) {
    for (int i = 0; i < 2000 && held() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(held(), n);
  }

  void release() {
    std::vector<std::pair<HttpResponse, Responder>> held;
    {
      std::lock_guard lock(mutex_);
      held.swap(held_);
    }
    for (auto& [response, respond] : held) respond(std::move(response));
  }

 private:
  static HttpResponse ok(const HttpRequest& request) {
    HttpResponse response(http::status::ok, request.version());
    response.body() = std::to_string(request.body().size());
    return response;
  }

  std::mutex mutex_;
  std::vector<std::pair<HttpResponse, Responder>> held_;
  HttpServer server_;
};

// A reservation is given back once the answer is written, which may be just
// after the client has read it.
void wait_released(HttpServer& server) {
  for (int i = 0; i < 400 && server.body_bytes_in_flight() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(server.body_bytes_in_flight(), 0u);
}

HttpServerOptions small_budget() {
  HttpServerOptions options;
  options.port = 0;
  options.body_limit = 2000;
  options.max_body_bytes_in_flight = 1000;
  return options;
}

TEST(HttpServerTest, BodiesPastTheBudgetAre503UntilTheHeldOnesAreAnswered) {
  HeldRequests held(small_budget());
  const uint16_t port = held.server().port();
  auto first = std::async(std::launch::async, [&] { return http_post(port, "/", std::string(600, 'a')); });
  held.wait_held(1);
  EXPECT_EQ(held.server().body_bytes_in_flight(), 600u);
  // 600 + 600 would pass 1000: refused before the body is read, with Retry-After.
  auto busy = http_post(port, "/", std::string(600, 'b'));
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.headers["Retry-After"], "1");
  EXPECT_NE(busy.body.find("server_busy"), std::string::npos);
  // A small one still fits.
  auto small = std::async(std::launch::async, [&] { return http_post(port, "/", std::string(300, 'c')); });
  held.wait_held(2);
  EXPECT_EQ(held.server().body_bytes_in_flight(), 900u);

  held.release();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(small.get().status, 200);
  wait_released(held.server());
  // The refused request goes through on retry.
  auto retry = std::async(std::launch::async, [&] { return http_post(port, "/", std::string(600, 'b')); });
  held.wait_held(1);
  held.release();
  auto answer = retry.get();
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "600");
}

TEST(HttpServerTest, OneBodyLargerThanTheBudgetPassesWhenNothingElseIsHeld) {
  HeldRequests held(small_budget());
  const uint16_t port = held.server().port();
  auto large = std::async(std::launch::async, [&] { return http_post(port, "/", std::string(1500, 'a')); });
  held.wait_held(1);
  EXPECT_EQ(http_post(port, "/", std::string(10, 'b')).status, 503);
  held.release();
  EXPECT_EQ(large.get().body, "1500");
  wait_released(held.server());
  auto after = std::async(std::launch::async, [&] { return http_post(port, "/", std::string(10, 'b')); });
  held.wait_held(1);
  held.release();
  EXPECT_EQ(after.get().status, 200);
}

TEST(HttpServerTest, AConnectionLostMidBodyGivesItsReservationBack) {
  HeldRequests held(small_budget());
  const uint16_t port = held.server().port();
  // Headers announce 900 bytes; 10 arrive, then the client goes away.
  testing::raw_exchange(port,
                        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n0123456789");
  wait_released(held.server());
  auto next = std::async(std::launch::async, [&] { return http_post(port, "/", std::string(900, 'a')); });
  held.wait_held(1);
  held.release();
  EXPECT_EQ(next.get().status, 200);
}

TEST(HttpServerTest, RequestsWithoutBodyNeedNoBudget) {
  HeldRequests held(small_budget());
  const uint16_t port = held.server().port();
  auto large = std::async(std::launch::async, [&] { return http_post(port, "/", std::string(1000, 'a')); });
  held.wait_held(1);
  EXPECT_EQ(testing::http_get(port, "/").status, 200);
  held.release();
  EXPECT_EQ(large.get().status, 200);
}

}  // namespace
}  // namespace genalytics
