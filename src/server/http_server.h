// An asynchronous HTTP/1.1 server (Boost.Beast) with keep-alive, a request
// body limit, a connection cap and a graceful stop that drains in-flight
// requests. It knows nothing of the API: every request goes to one Handler.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace genalytics {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using Responder = std::function<void(HttpResponse)>;
// Must call the responder exactly once, from any thread, now or later.
using HttpHandler = std::function<void(HttpRequest&, Responder)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8001;  // 0 picks a free port (see HttpServer::port())
  int threads = 2;
  size_t body_limit = 16 * 1024 * 1024;
  // Request bodies all connections may hold at once, reserved when a
  // request's headers arrive (its Content-Length, or body_limit when
  // chunked) and released once it is answered. A request that would pass it
  // gets 503 with Retry-After, unless no other body is held (so one request
  // up to body_limit always gets through). Bounds the server's memory under
  // any number of connections.
  size_t max_body_bytes_in_flight = size_t{256} << 20;
  int max_connections = 512;
  std::chrono::seconds idle_timeout{60};
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the worker threads. Throws std::runtime_error when the
  // address cannot be bound.
  void start();

  // Stops accepting, waits up to `drain` for in-flight requests to be
  // answered, then closes every connection and joins the threads. Idempotent.
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(30));

  // The bound port. REQUIRES: start() returned.
  uint16_t port() const { return bound_port_; }

  // Requests read and not yet answered.
  int64_t in_flight() const { return shared_->in_flight.load(); }
  // Body bytes reserved by requests not yet answered.
  size_t body_bytes_in_flight() const { return shared_->body_bytes.load(); }

  struct Shared {
    HttpServerOptions options;
    HttpHandler handler;
    std::atomic<int64_t> in_flight{0};
    std::atomic<int> connections{0};
    std::atomic<size_t> body_bytes{0};  // reserved by requests not yet answered
  };

 private:
  void accept();

  std::shared_ptr<Shared> shared_;
  // Destroyed by stop(): that closes every connection still open.
  std::unique_ptr<boost::asio::io_context> io_;
  // Keeps the threads running while the listener is closed and answers drain.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  uint16_t bound_port_ = 0;
  bool stopped_ = false;
};

}  // namespace genalytics
