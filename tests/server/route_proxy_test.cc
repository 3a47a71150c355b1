// RouteProxy against a real upstream: a raw-socket HTTP server in this file
// that writes its responses byte by byte as scripted. Every pass-through test
// sends the same bytes directly and through the proxy and compares the raw
// bytes the client receives.
// Over 400 lines: the scenarios share one set of real servers and helpers.
#include "server/route_proxy.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

// GCC 12 under -fsanitize reports a false maybe-uninitialized (a
// boost::optional) inside Beast's parser, instantiated by this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <semaphore>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "event/time.h"
#include "event/uuid.h"
#include "server/http_server.h"

namespace genalytics {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

// A blocking socket that reads with a deadline, so that a proxy that holds
// bytes back fails the test instead of hanging it.
class RawConnection {
 public:
  explicit RawConnection(int fd) : fd_(fd) {}
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  static std::unique_ptr<RawConnection> connect(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(fd);
      throw std::runtime_error("cannot connect to port " + std::to_string(port));
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return std::make_unique<RawConnection>(fd);
  }

  // Gives up the descriptor: the caller closes it.
  int release() { return std::exchange(fd_, -1); }
  // Sends the end of input; reads go on.
  void shutdown_send() { ::shutdown(fd_, SHUT_WR); }

  void write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the peer left; the reads show it
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  // Appends what arrives within the deadline to pending(); false at the end
  // of input, on an error or at the deadline.
  bool read_more(std::chrono::milliseconds deadline = 10s) {
    pollfd poll_fd{fd_, POLLIN, 0};
    if (::poll(&poll_fd, 1, static_cast<int>(deadline.count())) <= 0) return false;
    char buffer[64 * 1024];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) return false;
    pending_.append(buffer, static_cast<size_t>(n));
    return true;
  }

  // Reads until pending() contains `needle`.
  bool wait_for(std::string_view needle) {
    while (pending_.find(needle) == std::string::npos) {
      if (!read_more()) return false;
    }
    return true;
  }

  // Everything until the peer closes.
  std::string read_to_end() {
    while (read_more()) {
    }
    return std::exchange(pending_, {});
  }

  // True when the peer has closed: nothing more arrives, and no error.
  bool peer_closed() {
    pollfd poll_fd{fd_, POLLIN, 0};
    if (::poll(&poll_fd, 1, 5000) <= 0) return false;
    char byte;
    return ::recv(fd_, &byte, 1, MSG_PEEK) == 0;
  }

  // Feeds `parser` from pending() and the socket until `done` holds; the
  // bytes it consumed are appended to `raw`. False when the input ends or
  // does not parse first.
  template <bool isRequest, class Done>
  bool parse(http::parser<isRequest, http::string_body>& parser, std::string& raw, Done done) {
    for (;;) {
      while (!pending_.empty() && !done(parser)) {
        beast::error_code ec;
        const size_t used = parser.put(boost::asio::buffer(pending_), ec);
        raw.append(pending_, 0, used);
        pending_.erase(0, used);
        if (ec == http::error::need_more) break;
        if (ec) return false;
      }
      if (done(parser)) return true;
      if (!read_more()) {
        // A close before any byte ends the connection; Beast asserts got_some().
        if (!parser.got_some()) return false;
        beast::error_code ec;
        parser.put_eof(ec);
        return !ec && done(parser);
      }
    }
  }

  // One whole response, as raw bytes ("" when none arrives whole).
  std::string read_response(bool to_head = false) {
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.body_limit(boost::none);
    parser.skip(to_head);
    std::string raw;
    return parse(parser, raw, [](auto& p) { return p.is_done(); }) ? raw : "";
  }

  std::string& pending() { return pending_; }

 private:
  int fd_;
  std::string pending_;
};

struct RawRequest {
  RawRequest() {
    parser.eager(true);
    parser.body_limit(boost::none);
  }
  http::request_parser<http::string_body> parser;
  std::string raw;
};

std::string hex(size_t n) {
  char text[32];
  std::snprintf(text, sizeof(text), "%zx", n);
  return text;
}

// The upstream: one thread per connection, keep-alive, responses written as
// raw bytes. Paths:
//   /echo, /echo/...  200 whose body is the request exactly as received
//   /status?code=N    status N with a reason phrase and headers of its own
//   /stream           chunked; after each chunk it waits for release_stream()
//   /until-close      a body that ends when the connection closes
//   /close-after      an ordinary answer, then it closes the connection
//   /truncated        closes 10 bytes into a 100-byte body
//   /drop             closes without answering
//   /slow?ms=N        answers after N ms
//   /upgrade          101, then echoes raw bytes
//   /quirks           what a proxy may normalise (see the test that uses it)
class RawUpstream {
 public:
  static constexpr int kStreamChunks = 4;

  RawUpstream() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
      throw std::runtime_error("upstream cannot listen");
    }
    socklen_t length = sizeof(address);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~RawUpstream() {
    stopping_ = true;
    stream_gate_.release(1000);
    acceptor_.join();
    {
      std::lock_guard lock(mutex_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : connection_threads_) t.join();
    ::close(listen_fd_);
  }

  uint16_t port() const { return port_; }
  int connections_accepted() const { return accepted_.load(); }
  void release_stream() { stream_gate_.release(); }

 private:
  void accept_loop() {
    while (!stopping_) {
      pollfd poll_fd{listen_fd_, POLLIN, 0};
      if (::poll(&poll_fd, 1, 20) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      ++accepted_;
      std::lock_guard lock(mutex_);
      open_fds_.insert(fd);
      connection_threads_.emplace_back([this, fd] {
        serve(fd);
        std::lock_guard lock(mutex_);
        open_fds_.erase(fd);
        ::close(fd);
      });
    }
  }

  void serve(int fd) {
    RawConnection connection(fd);
    for (;;) {
      RawRequest request;
      if (!connection.parse(request.parser, request.raw,
                            [](auto& p) { return p.is_header_done(); })) {
        break;
      }
      const auto& message = request.parser.get();
      if (beast::iequals(message[http::field::expect], "100-continue")) {
        connection.write("HTTP/1.1 100 Continue\r\n\r\n");
      }
      if (!connection.parse(request.parser, request.raw, [](auto& p) { return p.is_done(); }))
        break;
      if (!respond(connection, request)) break;
      if (!request.parser.keep_alive()) break;
    }
    connection.release();  // closed by the thread, under mutex_
  }

  static int query_int(std::string_view target, std::string_view name) {
    const size_t at = target.find(std::string(name) + "=");
    return at == std::string_view::npos ? 0 : std::atoi(target.data() + at + name.size() + 1);
  }

  // Writes the response; false when the connection must end.
  bool respond(RawConnection& connection, const RawRequest& request) {
    const auto& message = request.parser.get();
    const std::string target(message.target());
    const std::string path = target.substr(0, target.find('?'));
    const std::string close = request.parser.keep_alive() ? "" : "Connection: close\r\n";
    if (path == "/echo" || path.starts_with("/echo/")) {
      std::string head =
          "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nX-Echo: yes\r\n" + close +
          "Content-Length: " + std::to_string(request.raw.size()) + "\r\n\r\n";
      connection.write(message.method() == http::verb::head ? head : head + request.raw);
    } else if (path == "/status") {
      const int code = query_int(target, "code");
      const bool bodiless = code == 204 || code == 304;
      const std::string body = bodiless ? "" : "status " + std::to_string(code);
      connection.write("HTTP/1.1 " + std::to_string(code) + " Reason Of The Upstream\r\n" +
                       "X-Custom-Header: Some Value\r\nx-lower-case: lower\r\n" +
                       "Set-Cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\nCache-Control: no-store\r\n" +
                       "X-Empty: \r\nETag: \"v1\"\r\n" + close +
                       (bodiless ? "" : "Content-Length: " + std::to_string(body.size()) + "\r\n") +
                       "\r\n" + body);
    } else if (path == "/stream") {
      connection.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + close +
                       "Transfer-Encoding: chunked\r\n\r\n");
      for (int i = 0; i < kStreamChunks; ++i) {
        const std::string data = "data: event " + std::to_string(i) + "\n\n";
        connection.write(hex(data.size()) + "\r\n" + data + "\r\n");
        if (!stream_gate_.try_acquire_for(10s) || stopping_) return false;
      }
      connection.write("0\r\n\r\n");
    } else if (path == "/until-close") {
      connection.write(
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body ends at the close");
      return false;
    } else if (path == "/close-after") {
      connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      return false;
    } else if (path == "/truncated") {
      connection.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
      return false;
    } else if (path == "/drop") {
      return false;
    } else if (path == "/slow") {
      std::this_thread::sleep_for(std::chrono::milliseconds(query_int(target, "ms")));
      connection.write("HTTP/1.1 200 OK\r\n" + close + "Content-Length: 4\r\n\r\nslow");
    } else if (path == "/upgrade") {
      connection.write(
          "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
      for (;;) {
        if (!connection.pending().empty())
          connection.write(std::exchange(connection.pending(), {}));
        if (!connection.read_more()) return false;
      }
    } else if (path == "/quirks") {
      connection.write(
          "HTTP/1.1 200 OK\r\nX-Padded:   padded value  \r\nX-Folded: first\r\n  second\r\n"
          "Transfer-Encoding: chunked\r\n" +
          close + "\r\nA;name=value\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n");
    } else {
      connection.write("HTTP/1.1 404 Not Found\r\n" + close + "Content-Length: 0\r\n\r\n");
    }
    return true;
  }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::counting_semaphore<> stream_gate_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::set<int> open_fds_;                       // guarded by mutex_
  std::vector<std::thread> connection_threads_;  // guarded by mutex_ until the acceptor stops
};

constexpr const char* kUser = "550E8400-E29B-41D4-A716-446655440000";
constexpr const char* kUserCanonical = "550e8400-e29b-41d4-a716-446655440000";

class RouteProxyTest : public ::testing::Test {
 protected:
  void SetUp() override { start_proxy(upstream_.port()); }

  void start_proxy(uint16_t upstream_port,
                   const std::function<void(RouteProxy::Options&)>& adjust = {}) {
    proxy_.reset();
    RouteProxy::Options options;
    options.listen_port = 0;
    options.upstream_port = upstream_port;
    options.idle_timeout = 10s;
    if (adjust) adjust(options);
    proxy_ = std::make_unique<RouteProxy>(options, [this](RouteEvent&& event) {
      std::lock_guard lock(mutex_);
      events_.push_back(std::move(event));
      recorded_.notify_all();
    });
    proxy_->start();
  }

  uint16_t proxy_port() const { return proxy_->port(); }

  // Sends `request` on a new connection and returns the raw response.
  static std::string exchange(uint16_t port, std::string_view request, bool to_head = false) {
    auto connection = RawConnection::connect(port);
    connection->write(request);
    return connection->read_response(to_head);
  }

  // The events recorded once `count` have been, after a moment in which no
  // more may arrive.
  std::vector<RouteEvent> recorded(size_t count) {
    std::unique_lock lock(mutex_);
    recorded_.wait_for(lock, 10s, [&] { return events_.size() >= count; });
    recorded_.wait_for(lock, 100ms, [&] { return events_.size() > count; });
    return events_;
  }

  RawUpstream upstream_;
  std::mutex mutex_;
  std::condition_variable recorded_;
  std::vector<RouteEvent> events_;  // guarded by mutex_
  std::unique_ptr<RouteProxy> proxy_;
};

std::string get(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: api.example.test\r\n" +
         std::string(extra_headers) + "\r\n";
}

std::string post(std::string_view target, std::string_view body,
                 std::string_view extra_headers = "") {
  return "POST " + std::string(target) + " HTTP/1.1\r\nHost: api.example.test\r\n" +
         std::string(extra_headers) + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

// The event recorded for `route_full`. REQUIRES: exactly one.
RouteEvent event_for(const std::vector<RouteEvent>& events, std::string_view route_full) {
  std::vector<RouteEvent> found;
  for (const RouteEvent& event : events) {
    if (event.route_full == route_full) found.push_back(event);
  }
  EXPECT_EQ(found.size(), 1u) << route_full;
  return found.empty() ? RouteEvent{} : found[0];
}

int count_status(const std::vector<RouteEvent>& events, int status) {
  return static_cast<int>(std::count_if(
      events.begin(), events.end(), [&](const RouteEvent& e) { return e.status_code == status; }));
}

std::string random_bytes(size_t size) {
  std::mt19937_64 engine(42);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(engine());
  return bytes;
}

TEST_F(RouteProxyTest, PassesStatusReasonAndHeadersUnchanged) {
  for (int code : {200, 201, 204, 299, 304, 400, 404, 418, 500, 503, 599}) {
    SCOPED_TRACE(code);
    const std::string request = get("/status?code=" + std::to_string(code));
    const std::string direct = exchange(upstream_.port(), request);
    ASSERT_FALSE(direct.empty());
    EXPECT_EQ(exchange(proxy_port(), request), direct);
  }
  auto events = recorded(11);
  ASSERT_EQ(events.size(), 11u);
  const RouteEvent teapot = event_for(events, "/status?code=418");
  EXPECT_EQ(teapot.status_code, 418);
  EXPECT_EQ(teapot.response_size_bytes, 10);  // "status 418"
  EXPECT_EQ(event_for(events, "/status?code=304").response_size_bytes, 0);
}

TEST_F(RouteProxyTest, PassesRequestsUnchanged) {
  const std::string large = random_bytes(4 * 1024 * 1024 + 17);
  const std::vector<std::string> requests = {
      get("/echo?b=2&a=1",
          "X-User-ID: " + std::string(kUser) + "\r\nAccept: */*\r\nx-odd-Case: v\r\n"),
      post("/echo?small", "{\"small\": true}", "Content-Type: application/json\r\n"),
      post("/echo?large", large, "Content-Type: application/octet-stream\r\n"),
      "PUT /echo?chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
      "DELETE /echo/7 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
      "GET /echo?http10 HTTP/1.0\r\nHost: h\r\n\r\n",
  };
  for (const std::string& request : requests) {
    SCOPED_TRACE(request.substr(0, 40));
    const std::string direct = exchange(upstream_.port(), request);
    ASSERT_FALSE(direct.empty());
    EXPECT_EQ(exchange(proxy_port(), request), direct);
  }
  auto events = recorded(requests.size());
  ASSERT_EQ(events.size(), requests.size());
  const RouteEvent large_event = event_for(events, "/echo?large");
  EXPECT_EQ(large_event.request_size_bytes, static_cast<int64_t>(large.size()));
  EXPECT_GT(large_event.response_size_bytes, static_cast<int64_t>(large.size()));
  const RouteEvent chunked = event_for(events, "/echo?chunked");
  EXPECT_EQ(chunked.request_size_bytes, 11);  // the decoded body
  EXPECT_EQ(chunked.method, "PUT");
  EXPECT_EQ(event_for(events, "/echo/7").method, "DELETE");
}

TEST_F(RouteProxyTest, KeepsConnectionsAliveOnBothSides) {
  auto connection = RawConnection::connect(proxy_port());
  std::string responses;
  for (int i = 0; i < 5; ++i) {
    connection->write(get("/echo?i=" + std::to_string(i)));
    const std::string response = connection->read_response();
    ASSERT_FALSE(response.empty());
    responses += response;
  }
  // HEAD: a Content-Length without a body must not confuse the next response.
  connection->write("HEAD /echo HTTP/1.1\r\nHost: h\r\n\r\n");
  const std::string head = connection->read_response(/*to_head=*/true);
  EXPECT_EQ(head, exchange(upstream_.port(), "HEAD /echo HTTP/1.1\r\nHost: h\r\n\r\n", true));
  connection->write(get("/status?code=204"));
  EXPECT_EQ(connection->read_response(), exchange(upstream_.port(), get("/status?code=204")));
  EXPECT_EQ(upstream_.connections_accepted(), 3);  // two direct, one behind the proxy
  EXPECT_EQ(recorded(7).size(), 7u);
}

TEST_F(RouteProxyTest, AnswersPipelinedRequestsInOrder) {
  auto pipeline = [](uint16_t port) {
    auto connection = RawConnection::connect(port);
    connection->write(get("/echo?first") + post("/echo?second", "body") + get("/status?code=201"));
    std::string responses;
    for (int i = 0; i < 3; ++i) responses += connection->read_response();
    return responses;
  };
  const std::string direct = pipeline(upstream_.port());
  ASSERT_NE(direct.find("HTTP/1.1 201 Reason Of The Upstream"), std::string::npos);
  EXPECT_EQ(pipeline(proxy_port()), direct);
  EXPECT_EQ(recorded(3).size(), 3u);
}

TEST_F(RouteProxyTest, StreamsChunksAsTheUpstreamWritesThem) {
  // The upstream writes the next chunk only once the client has received
  // the previous one: a proxy that buffered would stall this test.
  auto stream_through = [&](uint16_t port) {
    auto connection = RawConnection::connect(port);
    connection->write(get("/stream", "Accept: text/event-stream\r\n"));
    for (int i = 0; i < RawUpstream::kStreamChunks; ++i) {
      const std::string data = "data: event " + std::to_string(i) + "\n\n";
      EXPECT_TRUE(connection->wait_for(data + "\r\n")) << "chunk " << i << " did not arrive";
      std::this_thread::sleep_for(30ms);
      upstream_.release_stream();
    }
    return connection->read_response();
  };
  const std::string direct = stream_through(upstream_.port());
  ASSERT_NE(direct.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(stream_through(proxy_port()), direct);
  auto events = recorded(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].status_code, 200);
  EXPECT_GE(events[0].duration_ms, 4 * 30);  // to the upstream's last byte
  EXPECT_EQ(events[0].response_size_bytes, 4 * 15);
}

TEST_F(RouteProxyTest, PassesABodyThatEndsAtTheClose) {
  auto direct = RawConnection::connect(upstream_.port());
  direct->write(get("/until-close"));
  auto proxied = RawConnection::connect(proxy_port());
  proxied->write(get("/until-close"));
  const std::string expected = direct->read_to_end();
  ASSERT_NE(expected.find("the body ends at the close"), std::string::npos);
  EXPECT_EQ(proxied->read_to_end(), expected);
  EXPECT_EQ(recorded(1).at(0).response_size_bytes, 26);
}

TEST_F(RouteProxyTest, PassesATruncatedBodyAsTruncated) {
  auto truncated = [](uint16_t port) {
    auto connection = RawConnection::connect(port);
    connection->write(get("/truncated"));
    return connection->read_to_end();
  };
  const std::string direct = truncated(upstream_.port());
  ASSERT_TRUE(direct.ends_with("only ten b"));
  EXPECT_EQ(truncated(proxy_port()), direct);
  auto event = recorded(1).at(0);
  EXPECT_EQ(event.status_code, 200);
  EXPECT_EQ(event.error_type, "upstream_truncated");
  EXPECT_EQ(event.response_size_bytes, 10);
}

TEST_F(RouteProxyTest, AnswersExpectContinueOnceAndPassesTheBody) {
  auto send_with_expect = [](uint16_t port) {
    auto connection = RawConnection::connect(port);
    connection->write(
        "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    EXPECT_TRUE(connection->wait_for("HTTP/1.1 100 Continue\r\n\r\n"));
    connection->write("hello");
    connection->wait_for("hello");
    std::string interim = std::exchange(connection->pending(), {});
    // What came after the 100 belongs to the final response.
    const size_t end = std::string_view(interim).find("\r\n\r\n") + 4;
    connection->pending() = interim.substr(end);
    return interim.substr(0, end) + connection->read_response();
  };
  const std::string direct = send_with_expect(upstream_.port());
  EXPECT_EQ(send_with_expect(proxy_port()), direct);
  EXPECT_EQ(recorded(1).at(0).request_size_bytes, 5);
}

TEST_F(RouteProxyTest, TunnelsAfterSwitchingProtocols) {
  auto upgrade = [](uint16_t port) {
    auto connection = RawConnection::connect(port);
    connection->write(
        "GET /upgrade HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
    const std::string head = connection->read_response();
    connection->write("ping");
    EXPECT_TRUE(connection->wait_for("ping"));
    return head + std::exchange(connection->pending(), {});
  };
  const std::string direct = upgrade(upstream_.port());
  EXPECT_EQ(upgrade(proxy_port()), direct);
  EXPECT_EQ(recorded(1).at(0).status_code, 101);
}

// Everything the proxy changes, pinned: field values lose surrounding
// whitespace and line folding; chunks lose extensions and trailers and get
// lowercase sizes. (The 100 Continue it sends itself is in the Expect test.)
TEST_F(RouteProxyTest, NormalisesOnlyWhitespaceAndChunkFraming) {
  EXPECT_EQ(exchange(proxy_port(), get("/quirks")),
            "HTTP/1.1 200 OK\r\nX-Padded: padded value\r\nX-Folded: first second\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
            "a\r\n0123456789\r\n0\r\n\r\n");
}

TEST_F(RouteProxyTest, RecordsEachHitOnceWithItsFields) {
  start_proxy(upstream_.port(), [](RouteProxy::Options& options) {
    options.normalize = [](RouteEvent& event) {
      if (event.route.starts_with("/echo/")) event.route = "/echo/{id}";
      event.query_params_normalized_json = "normalized:" + event.query_params_normalized_json;
    };
  });
  const int64_t before = now_us();
  exchange(proxy_port(), get("/echo/42?sort=name&page=3&q=a+b%21&page=4&flag",
                             "X-User-ID: " + std::string(kUser) + "\r\n"));
  exchange(proxy_port(), post("/echo", "12345", "x-user-id: not-a-uuid\r\n"));
  exchange(proxy_port(), get("/status?code=404"));
  exchange(proxy_port(), get("//twice/slashed?x=%2F"));
  exchange(proxy_port(), get("http://api.example.test/absolute?x=1"));
  const int64_t after = now_us();

  auto events = recorded(5);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(event_for(events, "//twice/slashed?x=%2F").route, "//twice/slashed");
  EXPECT_EQ(event_for(events, "//twice/slashed?x=%2F").query_params_json, R"({"x":"/"})");
  EXPECT_EQ(event_for(events, "http://api.example.test/absolute?x=1").route, "/absolute");
  const RouteEvent hit = event_for(events, "/echo/42?sort=name&page=3&q=a+b%21&page=4&flag");
  EXPECT_EQ(hit.route, "/echo/{id}");
  EXPECT_EQ(hit.route_full, "/echo/42?sort=name&page=3&q=a+b%21&page=4&flag");
  EXPECT_EQ(hit.method, "GET");
  EXPECT_EQ(hit.user_id, kUserCanonical);
  EXPECT_EQ(hit.query_params_json, R"({"flag":"","page":"4","q":"a b!","sort":"name"})");
  EXPECT_EQ(hit.query_params_normalized_json,
            R"(normalized:{"flag":"","page":"4","q":"a b!","sort":"name"})");
  EXPECT_EQ(hit.status_code, 200);
  EXPECT_EQ(hit.request_size_bytes, 0);
  EXPECT_GT(hit.response_size_bytes, 0);
  EXPECT_FALSE(hit.error_type.has_value());
  EXPECT_GE(hit.timestamp_us, before);
  EXPECT_LE(hit.timestamp_us, after);
  EXPECT_GE(hit.duration_ms, 0);

  const RouteEvent posted = event_for(events, "/echo");
  EXPECT_EQ(posted.route, "/echo");
  EXPECT_EQ(posted.method, "POST");
  EXPECT_EQ(posted.user_id, std::nullopt);  // not a UUID
  EXPECT_EQ(posted.query_params_json, "{}");
  EXPECT_EQ(posted.request_size_bytes, 5);
  const RouteEvent missing = event_for(events, "/status?code=404");
  EXPECT_EQ(missing.status_code, 404);
  EXPECT_FALSE(missing.error_type.has_value());  // the upstream's answer, not a proxy error

  std::set<std::string> ids;
  for (const RouteEvent& event : events) {
    EXPECT_EQ(canonical_uuid(event.event_id), event.event_id);
    ids.insert(event.event_id);
  }
  EXPECT_EQ(ids.size(), events.size());
}

TEST_F(RouteProxyTest, ReadsTheUserFromTheConfiguredHeader) {
  start_proxy(upstream_.port(),
              [](RouteProxy::Options& options) { options.user_header = "X-Account"; });
  exchange(proxy_port(), get("/echo",
                             "X-User-ID: 11111111-1111-4111-8111-111111111111\r\n"
                             "x-account: " +
                                 std::string(kUser) + "\r\n"));
  EXPECT_EQ(recorded(1).at(0).user_id, kUserCanonical);
}

TEST_F(RouteProxyTest, RecordsConcurrentHitsExactlyOnce) {
  constexpr int kClients = 8;
  constexpr int kRequests = 40;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto connection = RawConnection::connect(proxy_port());
      for (int i = 0; i < kRequests; ++i) {
        connection->write(post("/echo?c=" + std::to_string(c), std::string(100 * i, 'x')));
        if (connection->read_response().starts_with("HTTP/1.1 200 OK")) ++ok;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
  auto events = recorded(kClients * kRequests);
  EXPECT_EQ(events.size(), static_cast<size_t>(kClients * kRequests));
  std::set<std::string> ids;
  for (const RouteEvent& event : events) ids.insert(event.event_id);
  EXPECT_EQ(ids.size(), events.size());
}

TEST_F(RouteProxyTest, UpstreamDownAnswers502AndIsRecorded) {
  uint16_t closed_port;
  {
    RawUpstream gone;
    closed_port = gone.port();
  }
  start_proxy(closed_port);
  auto connection = RawConnection::connect(proxy_port());
  for (int i = 0; i < 2; ++i) {  // the connection stays usable
    connection->write(get("/echo?attempt=" + std::to_string(i)));
    const std::string response = connection->read_response();
    EXPECT_TRUE(response.starts_with("HTTP/1.1 502 Bad Gateway\r\n")) << response;
    EXPECT_NE(response.find("upstream_unavailable"), std::string::npos);
  }
  auto events = recorded(2);
  ASSERT_EQ(events.size(), 2u);
  for (const RouteEvent& event : events) {
    EXPECT_EQ(event.status_code, 502);
    EXPECT_EQ(event.error_type, "upstream_unavailable");
    EXPECT_EQ(event.route, "/echo");
  }
}

TEST_F(RouteProxyTest, UpstreamClosingWithoutAnswerIs502) {
  const std::string response = exchange(proxy_port(), get("/drop"));
  EXPECT_TRUE(response.starts_with("HTTP/1.1 502 Bad Gateway\r\n")) << response;
  EXPECT_EQ(recorded(1).at(0).error_type, "upstream_unavailable");
}

TEST_F(RouteProxyTest, ReplacesAKeptConnectionTheUpstreamClosed) {
  auto connection = RawConnection::connect(proxy_port());
  connection->write(get("/close-after"));
  EXPECT_TRUE(connection->read_response().starts_with("HTTP/1.1 200 OK"));
  std::this_thread::sleep_for(20ms);  // the upstream's close arrives
  connection->write(get("/echo"));
  EXPECT_TRUE(connection->read_response().starts_with("HTTP/1.1 200 OK"));
  EXPECT_EQ(upstream_.connections_accepted(), 2);
}

TEST_F(RouteProxyTest, ParksUpstreamConnectionsForTheNextClient) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(exchange(proxy_port(), get("/echo")).starts_with("HTTP/1.1 200 OK"));
    std::this_thread::sleep_for(20ms);  // the proxy sees the client leave and parks
  }
  EXPECT_EQ(upstream_.connections_accepted(), 1);
}

TEST_F(RouteProxyTest, SlowUpstreamIs504) {
  start_proxy(upstream_.port(), [](RouteProxy::Options& options) { options.idle_timeout = 1s; });
  const std::string response = exchange(proxy_port(), get("/slow?ms=1500"));
  EXPECT_TRUE(response.starts_with("HTTP/1.1 504 Gateway Timeout\r\n")) << response;
  auto event = recorded(1).at(0);
  EXPECT_EQ(event.status_code, 504);
  EXPECT_EQ(event.error_type, "upstream_timeout");
  EXPECT_GE(event.duration_ms, 1000);
}

TEST_F(RouteProxyTest, BodyOverTheLimitIs413) {
  start_proxy(upstream_.port(), [](RouteProxy::Options& options) { options.max_body = 1000; });
  EXPECT_TRUE(
      exchange(proxy_port(), post("/echo", std::string(1000, 'x'))).starts_with("HTTP/1.1 200"));
  EXPECT_TRUE(exchange(proxy_port(), post("/echo", std::string(1001, 'x')))
                  .starts_with("HTTP/1.1 413 Payload Too Large\r\n"));
  const std::string chunked =
      "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + hex(600) + "\r\n" +
      std::string(600, 'x') + "\r\n" + hex(600) + "\r\n" + std::string(600, 'x') + "\r\n0\r\n\r\n";
  EXPECT_TRUE(exchange(proxy_port(), chunked).starts_with("HTTP/1.1 413 Payload Too Large\r\n"));
  auto events = recorded(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(count_status(events, 200), 1);
  EXPECT_EQ(count_status(events, 413), 2);
  for (const RouteEvent& event : events) {
    if (event.status_code == 413) {
      EXPECT_EQ(event.error_type, "payload_too_large");
    }
  }
}

TEST_F(RouteProxyTest, TransferEncodingOtherThanChunkedIsRefusedNotForwarded) {
  const std::string hidden = get("/echo/hidden");
  const std::vector<std::string> codings = {"gzip", "chunked, gzip", "identity",
                                            "chunked, chunked"};
  for (const std::string& coding : codings) {
    SCOPED_TRACE(coding);
    auto connection = RawConnection::connect(proxy_port());
    connection->write("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + coding +
                      "\r\n\r\n" + hidden);
    connection->shutdown_send();
    const std::string answer = connection->read_to_end();
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 400 Bad Request\r\n")) << answer;
    EXPECT_EQ(answer.find("HTTP/1.1 ", 1), std::string::npos) << answer;
  }
  auto events = recorded(codings.size());
  ASSERT_EQ(events.size(), codings.size());
  for (const RouteEvent& event : events) {
    EXPECT_EQ(event.route_full, "/echo");
    EXPECT_EQ(event.status_code, 400);
    EXPECT_EQ(event.error_type, "bad_request");
  }
  // Chunked last after another coding: the body's end is known, but the
  // coding is not supported (501, as the API server and nginx answer).
  const std::string body = "5\r\nhello\r\n0\r\n\r\n";
  const std::string answer = exchange(
      proxy_port(),
      "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + body);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 501 Not Implemented\r\n")) << answer;
  EXPECT_EQ(upstream_.connections_accepted(), 0);
}

TEST_F(RouteProxyTest, TooLongRequestLineIs414AndTooLargeHeaderIs431) {
  std::string answer = exchange(proxy_port(), get("/" + std::string(kMaxHeaderBytes, 'a')));
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 414 URI Too Long\r\n")) << answer.substr(0, 200);
  answer = exchange(proxy_port(),
                    get("/echo", "Cookie: " + std::string(kMaxHeaderBytes, 'c') + "\r\n"));
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
      << answer.substr(0, 200);
  EXPECT_EQ(upstream_.connections_accepted(), 0);
}

}  // namespace
}  // namespace genalytics
