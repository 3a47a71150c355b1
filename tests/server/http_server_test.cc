// Over 400 lines: one test per behaviour of the HTTP edge (framing,
// timeouts, limits, drain), sharing the raw-socket helpers.
#include "server/http_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "server/http_client.h"
#include "server/responses.h"

namespace genalytics {
namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using testing::http_post;
using testing::raw_exchange;
using namespace std::chrono_literals;

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

// The connections' shared state is the server's own: tests and callers see
// it only through in_flight(), body_bytes_in_flight() and idle_connections().
template <typename Server>
concept ExposesSharedState = requires { typename Server::Shared; };
static_assert(!ExposesSharedState<HttpServer>, "HttpServer::Shared must be private");

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

// A server that answers every request 200 with its body's size and
// remembers the targets it was given.
class CountingServer {
 public:
  explicit CountingServer(HttpServerOptions options = test_options())
      : server_(std::move(options), [this](HttpRequest& request, Responder respond) {
          {
            std::lock_guard lock(mutex_);
            targets_.emplace_back(request.target());
          }
          if (request.target().starts_with("/fail")) {
            return respond(error_response(http::status::bad_request, "invalid_json",
                                          "the body is not JSON", request.version(),
                                          request.keep_alive()));
          }
          HttpResponse response(http::status::ok, request.version());
          response.body() = std::to_string(request.body().size());
          respond(std::move(response));
        }) {
    server_.start();
  }

  static HttpServerOptions test_options() {
    HttpServerOptions options;
    options.port = 0;
    return options;
  }

  HttpServer& server() { return server_; }
  uint16_t port() const { return server_.port(); }

  std::vector<std::string> targets() {
    std::lock_guard lock(mutex_);
    return targets_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> targets_;  // guarded by mutex_
  HttpServer server_;
};

size_t count_of(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// A connection that sends nothing until told to.
tcp::socket connect_to(net::io_context& io, uint16_t port) {
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  return socket;
}

// True when the server closes `socket` within `deadline` (bytes it sends
// first are skipped).
bool closed_by_server(tcp::socket& socket, std::chrono::milliseconds deadline = 10s) {
  const int fd = socket.native_handle();
  timeval timeout{static_cast<time_t>(deadline.count() / 1000),
                  static_cast<suseconds_t>(deadline.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

void wait_until(const std::function<bool()>& condition) {
  for (int i = 0; i < 2000 && !condition(); ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(condition());
}

TEST(HttpServerTest, TransferEncodingOtherThanChunkedIsRefusedNotReadAsEmpty) {
  CountingServer counting;
  const std::string hidden = "GET /hidden HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::string coding : {"gzip", "chunked, gzip", "identity", "chunked, chunked", "",
                             "gzip\r\nContent-Length: 0"}) {
    SCOPED_TRACE(coding);
    const std::string answer = raw_exchange(
        counting.port(),
        "POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding + "\r\n\r\n" + hidden);
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 Bad Request\r\n")) << answer;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos);
    EXPECT_EQ(count_of(answer, "HTTP/1.1 "), 1u) << answer;
  }
  // Chunked after another coding: the framing is known, the coding is not supported.
  std::string answer = raw_exchange(
      counting.port(), "POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                       "5\r\nhello\r\n0\r\n\r\n" + hidden);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 501 Not Implemented\r\n")) << answer;
  EXPECT_EQ(count_of(answer, "HTTP/1.1 "), 1u) << answer;
  // Any Transfer-Encoding in HTTP/1.0 makes the framing faulty.
  answer = raw_exchange(counting.port(),
                        "POST /first HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n0\r\n\r\n" + hidden);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 400")) << answer;
  EXPECT_TRUE(counting.targets().empty());
  // Exactly chunked is read as chunked, and the connection carries on.
  answer = raw_exchange(counting.port(),
                        "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
                        "5\r\nhello\r\n0\r\n\r\n" + hidden);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer;
  EXPECT_EQ(counting.targets(), (std::vector<std::string>{"/chunked", "/hidden"}));
}

TEST(HttpServerTest, RequestFramingFollowsTheWholeTransferEncodingList) {
  auto framing = [](std::vector<std::string> values, unsigned version = 11) {
    http::request_header<> header;
    header.version(version);
    for (const std::string& value : values) header.insert(http::field::transfer_encoding, value);
    return request_framing(header);
  };
  EXPECT_EQ(framing({}), RequestFraming::kNoTransferCoding);
  EXPECT_EQ(framing({"chunked"}), RequestFraming::kChunked);
  EXPECT_EQ(framing({" CHUNKED ,"}), RequestFraming::kChunked);
  EXPECT_EQ(framing({"gzip, chunked"}), RequestFraming::kChunkedWithOtherCodings);
  EXPECT_EQ(framing({"gzip", "chunked"}), RequestFraming::kChunkedWithOtherCodings);
  EXPECT_EQ(framing({"chunked", "gzip"}), RequestFraming::kUndeterminable);
  EXPECT_EQ(framing({"chunked", "chunked"}), RequestFraming::kUndeterminable);
  EXPECT_EQ(framing({"gzip"}), RequestFraming::kUndeterminable);
  EXPECT_EQ(framing({"identity"}), RequestFraming::kUndeterminable);
  EXPECT_EQ(framing({""}), RequestFraming::kUndeterminable);
  EXPECT_EQ(framing({"chunked;x=1"}), RequestFraming::kUndeterminable);
  EXPECT_EQ(framing({"chunked"}, 10), RequestFraming::kUndeterminable);
}

TEST(HttpServerTest, TooLongRequestLineIs414AndTooLargeHeaderIs431) {
  CountingServer counting;
  const std::string long_target = '/' + std::string(kMaxHeaderBytes + 10, 'a');
  std::string answer =
      raw_exchange(counting.port(), "GET " + long_target + " HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 414 URI Too Long\r\n")) << answer.substr(0, 200);
  EXPECT_NE(answer.find("uri_too_long"), std::string::npos);

  answer = raw_exchange(counting.port(), "GET / HTTP/1.1\r\nHost: x\r\nCookie: " +
                                             std::string(kMaxHeaderBytes, 'c') + "\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
      << answer.substr(0, 200);
  std::string many;
  for (int i = 0; i < 3000; ++i) many += "X-Field-" + std::to_string(i) + ": some value\r\n";
  answer = raw_exchange(counting.port(), "GET / HTTP/1.1\r\nHost: x\r\n" + many + "\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 431 ")) << answer.substr(0, 200);
  EXPECT_TRUE(counting.targets().empty());
}

TEST(HttpServerTest, UnknownMethodIs501) {
  CountingServer counting;
  std::string answer = raw_exchange(counting.port(), "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 501 Not Implemented\r\n")) << answer;
  EXPECT_NE(answer.find("method_not_implemented"), std::string::npos);
  EXPECT_TRUE(counting.targets().empty());
  // A known method the API does not serve is the handler's to answer.
  answer = raw_exchange(counting.port(), "OPTIONS /x HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer;
}

TEST(HttpServerTest, IdleConnectionsAtTheCapDoNotLockOutHealth) {
  HttpServerOptions options = CountingServer::test_options();
  options.max_connections = 8;
  CountingServer counting(options);
  net::io_context io;
  std::vector<tcp::socket> idle;
  for (int i = 0; i < 8; ++i) idle.push_back(connect_to(io, counting.port()));
  wait_until([&] { return counting.server().idle_connections() == 8; });
  // Each new connection closes the one idle longest instead of getting 503.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(testing::http_get(counting.port(), "/health").status, 200);
    EXPECT_TRUE(closed_by_server(idle[i]));
    wait_until([&] { return counting.server().idle_connections() == 7; });
    for (int j = i + 1; j < 8; ++j) EXPECT_FALSE(closed_by_server(idle[j], 1ms)) << j;
    idle.push_back(connect_to(io, counting.port()));  // the cap is full again
    wait_until([&] { return counting.server().idle_connections() == 8; });
  }
}

TEST(HttpServerTest, ConnectionsThatSendNoRequestAreClosedAfterTheHeaderTimeout) {
  HttpServerOptions options = CountingServer::test_options();
  options.header_timeout = 200ms;
  options.idle_timeout = 60s;
  CountingServer counting(options);
  net::io_context io;
  tcp::socket silent = connect_to(io, counting.port());
  tcp::socket partial = connect_to(io, counting.port());
  net::write(partial, net::buffer(std::string("GET / HTTP/1.1\r\nHost: x\r\n")));
  EXPECT_TRUE(closed_by_server(silent));
  EXPECT_TRUE(closed_by_server(partial));
  EXPECT_TRUE(counting.targets().empty());
}

// Regression: after an early answer the server read and discarded the rest
// of the request, restarting its deadline at every read, so a client sending
// a byte every few seconds held the connection (and a slot under the
// connection cap) for as long as it liked.
TEST(HttpServerTest, TricklingAfterAnEarlyAnswerDoesNotHoldTheConnection) {
  HttpServerOptions options = CountingServer::test_options();
  options.body_limit = 1000;
  options.linger_timeout = 300ms;
  CountingServer counting(options);
  net::io_context io;
  tcp::socket client = connect_to(io, counting.port());
  net::write(client, net::buffer(std::string(
                         "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")));
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(client, buffer, response);
  EXPECT_EQ(response.result_int(), 413u);
  const auto start = std::chrono::steady_clock::now();
  boost::system::error_code ec;
  while (!ec && std::chrono::steady_clock::now() - start < 5s) {
    std::this_thread::sleep_for(50ms);
    net::write(client, net::buffer("x", 1), ec);
  }
  EXPECT_TRUE(ec) << "the server still read the trickle after 5 s";
  EXPECT_TRUE(counting.targets().empty());
}

TEST(HttpServerTest, StopAnswersARequestWhoseBodyIsStillArriving) {
  CountingServer counting;
  const uint16_t port = counting.port();
  net::io_context io;
  tcp::socket client = connect_to(io, port);
  const std::string body(4'000'000, 'x');
  const std::string head = "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n";
  net::write(client, net::buffer(head + body.substr(0, 1'000'000)));
  wait_until([&] { return counting.server().in_flight() == 1; });
  auto stopped = std::async(std::launch::async, [&] { counting.server().stop(); });
  // Once the listener is closed, the rest of the body follows.
  wait_until([&] {
    boost::system::error_code ec;
    tcp::socket probe(io);
    probe.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    return ec == net::error::connection_refused;
  });
  net::write(client, net::buffer(body.substr(1'000'000)));
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(client, buffer, response);
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response.body(), "4000000");
  EXPECT_FALSE(response.keep_alive());
  stopped.get();
  EXPECT_EQ(counting.server().in_flight(), 0);
}

TEST(HttpServerTest, StopClosesIdleConnectionsAtOnceWhileHeldRequestsAreAnswered) {
  HeldRequests held(small_budget());
  const uint16_t port = held.server().port();
  net::io_context io;
  tcp::socket kept = connect_to(io, port);
  http::request<http::string_body> get(http::verb::get, "/", 11);
  get.set(http::field::host, "x");
  http::write(kept, get);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> first;
  http::read(kept, buffer, first);
  ASSERT_TRUE(first.keep_alive());
  tcp::socket fresh = connect_to(io, port);
  auto posted = std::async(std::launch::async, [&] { return http_post(port, "/", "held"); });
  held.wait_held(1);
  auto stopped = std::async(std::launch::async, [&] { held.server().stop(); });
  EXPECT_TRUE(closed_by_server(kept));
  EXPECT_TRUE(closed_by_server(fresh));
  EXPECT_EQ(stopped.wait_for(0ms), std::future_status::timeout);  // the held request keeps it
  held.release();
  const auto answer = posted.get();
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.headers["Connection"], "close");
  stopped.get();
}

TEST(HttpServerTest, ErrorAnswersAreLoggedOneLineEachWithoutBodyOrQuery) {
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  {
    CountingServer counting;
    EXPECT_EQ(http_post(counting.port(), "/fail?key=query-secret", "body-secret").status, 400);
    EXPECT_EQ(http_post(counting.port(), "/fine", "body").status, 200);
    raw_exchange(counting.port(), "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  spdlog::set_default_logger(previous);
  const std::string lines = log.str();
  EXPECT_NE(lines.find("answered POST /fail with 400 invalid_json"), std::string::npos) << lines;
  EXPECT_NE(lines.find("answered BREW /pot with 501 method_not_implemented"), std::string::npos)
      << lines;
  EXPECT_EQ(count_of(lines, "answered "), 2u) << lines;
  EXPECT_EQ(lines.find("secret"), std::string::npos) << lines;
}

TEST(HttpServerTest, ErrorLogAdmitsTenLinesASecondThenCountsTheRest) {
  LogRateLimit limit(10);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1000s;
  int written = 0;
  for (int i = 0; i < 15; ++i) {
    const auto admission = limit.admit(t0 + std::chrono::milliseconds(i));
    written += admission.write;
    EXPECT_EQ(admission.suppressed, 0);
  }
  EXPECT_EQ(written, 10);
  EXPECT_FALSE(limit.admit(t0 + 999ms).write);
  const auto next = limit.admit(t0 + 1s);
  EXPECT_TRUE(next.write);
  EXPECT_EQ(next.suppressed, 6);
  EXPECT_EQ(limit.admit(t0 + 1001ms).suppressed, 0);
}

}  // namespace
}  // namespace genalytics
