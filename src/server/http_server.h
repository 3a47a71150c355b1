// An asynchronous HTTP/1.1 server (Boost.Beast) with keep-alive, a request
// body limit, a connection cap and a graceful stop that drains in-flight
// requests. It knows nothing of the API: every request goes to one Handler.
//
// What it answers itself, closing the connection after the answer:
//  400 a malformed request, or a Transfer-Encoding whose framing is not
//      chunked (request_framing(): such a body would otherwise be read as
//      empty and a request hidden in it executed)
//  413 a body over body_limit          414 a request line over kMaxHeaderBytes
//  431 a header section over kMaxHeaderBytes
//  501 an unknown method, or a transfer coding other than chunked
//  503 over max_connections with no idle connection to close, or over
//      max_body_bytes_in_flight (both with Retry-After)
// Every answer of status 400 or more is logged as one line (method, path,
// status, error code), at most 10 lines a second; bodies are never logged.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/mutex.h"

namespace genalytics {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using Responder = std::function<void(HttpResponse)>;
// Must call the responder exactly once, from any thread, now or later.
using HttpHandler = std::function<void(HttpRequest&, Responder)>;
// Looks at a request whose header has arrived and whose body has not been
// read (its body is empty): an answer refuses it before its body is read or
// reserved, and the connection is then closed; nullopt lets it through.
// Called on the connection's strand; must be thread-safe and not block.
using HeaderCheck = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

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
  // Past it a new connection closes the connection idle longest (one
  // waiting for the first byte of a request), or gets 503 when none is idle.
  int max_connections = 512;
  // A new connection must send its first byte within this, and every
  // request's header must arrive within this of its first byte; else the
  // connection is closed without an answer.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  // How long a kept-alive connection may wait for its next request, and
  // each body read or answer write may take.
  std::chrono::seconds idle_timeout{60};
  // How long stop() without argument lets requests begun be answered.
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(30)};
  // After an early answer (413, 401, ...) the rest of the request is read
  // and discarded for at most this long (and at most 1 MiB), so that closing
  // does not reset the answer away; then the connection is closed.
  std::chrono::milliseconds linger_timeout{std::chrono::seconds(5)};
};

// The most bytes a request's header section (request line included) may take.
inline constexpr size_t kMaxHeaderBytes = 64 * 1024;

// How a request header frames its body, as RFC 9112 section 6 reads its
// Transfer-Encoding fields (all of them, as one list).
enum class RequestFraming : uint8_t {
  kNoTransferCoding,  // no Transfer-Encoding: Content-Length, or no body
  kChunked,           // exactly "chunked"
  // Chunked last, after other codings ("gzip, chunked"): the body's end is
  // known, its coding is not supported (501 from a server).
  kChunkedWithOtherCodings,
  // Chunked missing, not last or repeated, an empty list, or any
  // Transfer-Encoding in HTTP/1.0: the body's length cannot be determined,
  // so the request gets 400 and the connection is closed.
  kUndeterminable,
};
RequestFraming request_framing(const boost::beast::http::request_header<>& header);

// The answer (HTTP/1.1, closing) to a request header that passed
// kMaxHeaderBytes, given the bytes held unparsed (Beast parses nothing of a
// header before its end arrives): 414 uri_too_long while the request line
// has not ended (no CRLF among them), else 431 header_too_large.
HttpResponse oversized_header_response(boost::asio::const_buffer unparsed);

// Admits at most `lines_per_second` log lines in each one-second window and
// counts the ones refused. Thread-safe.
class LogRateLimit {
 public:
  explicit LogRateLimit(int lines_per_second) : lines_per_second_(lines_per_second) {}

  struct Admission {
    bool write = false;
    // Lines refused in earlier windows, reported once by the first admission
    // of a new window (write a line saying so before this one).
    int64_t suppressed = 0;
  };
  Admission admit(std::chrono::steady_clock::time_point now) EXCLUDES(mutex_);

 private:
  const int lines_per_second_;
  Mutex mutex_;
  std::chrono::steady_clock::time_point window_start_ GUARDED_BY(mutex_);
  int written_ GUARDED_BY(mutex_) = 0;      // in this window
  int64_t suppressed_ GUARDED_BY(mutex_) = 0;  // not yet reported
};

class HttpServer {
 public:
  // `check`, when given, runs on every request's header before its body is
  // read (e.g. authentication, so a refused client cannot make the server
  // read a body).
  HttpServer(HttpServerOptions options, HttpHandler handler, HeaderCheck check = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the worker threads. Throws std::runtime_error when the
  // address cannot be bound.
  void start();

  // Stops accepting (connections already waiting in the listen backlog are
  // still taken), closes idle connections at once, lets every request begun
  // (a byte of it received) be read and answered for up to `drain` (answers
  // then carry Connection: close; requests pipelined behind them are not
  // read), then stops serving and joins the threads. Connections still open
  // then are closed when the server is destroyed; a responder called after
  // stop() is safe and sends nothing. Idempotent. REQUIRES: not called from
  // a handler or responder (it joins the server's threads).
  void stop(std::chrono::milliseconds drain);
  // stop(options.drain_timeout).
  void stop();

  // The bound port. REQUIRES: start() returned.
  uint16_t port() const { return bound_port_; }

  // Requests begun (a byte received) and not yet answered.
  int64_t in_flight() const;
  // Body bytes reserved by requests not yet answered.
  size_t body_bytes_in_flight() const;
  // Connections waiting for the first byte of a request.
  size_t idle_connections() const;

 private:
  // What the server's connections share (options, counters, the idle
  // connections), kept alive by each connection; and one connection.
  struct Shared;
  class Session;

  void accept();
  void admit(boost::asio::ip::tcp::socket socket);

  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  std::shared_ptr<Shared> shared_;
  // Stopped by stop(), destroyed with the server: a responder called after
  // the drain (say by an ingest queue finishing late) posts to a stopped
  // context, never to a destroyed one; destroying it closes every connection
  // still open.
  std::unique_ptr<boost::asio::io_context> io_;
  // Keeps the threads running while the listener is closed and answers drain.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  // The acceptor, its accept handler, its retry timer and stop()'s closing of
  // it run on this strand only.
  std::optional<Strand> accept_strand_;
  std::unique_ptr<boost::asio::steady_timer> accept_retry_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  uint16_t bound_port_ = 0;
  bool stopped_ = false;
};

}  // namespace genalytics
