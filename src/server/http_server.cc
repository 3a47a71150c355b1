// Over 400 lines on purpose: most of it is one connection's state machine
// (HttpServer::Session: header, body budget, early answers, linger, drain),
// which reads best in one place.
#include "server/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/version.hpp>
#include <spdlog/spdlog.h>

#include <map>

#include "server/listener.h"
#include "server/responses.h"

namespace genalytics {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

RequestFraming request_framing(const http::request_header<>& header) {
  auto [begin, end] = header.equal_range(http::field::transfer_encoding);
  if (begin == end) return RequestFraming::kNoTransferCoding;
  if (header.version() < 11) return RequestFraming::kUndeterminable;
  int codings = 0;
  int chunked = 0;
  bool chunked_last = false;
  for (auto field = begin; field != end; ++field) {
    std::string_view list = field->value();
    while (!list.empty()) {
      const size_t comma = list.find(',');
      std::string_view coding = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
      while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t'))
        coding.remove_prefix(1);
      while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t'))
        coding.remove_suffix(1);
      if (coding.empty()) continue;  // empty list elements are allowed
      ++codings;
      chunked_last = beast::iequals(coding, "chunked");
      if (chunked_last) ++chunked;
    }
  }
  if (!chunked_last || chunked != 1) return RequestFraming::kUndeterminable;
  return codings == 1 ? RequestFraming::kChunked : RequestFraming::kChunkedWithOtherCodings;
}

HttpResponse oversized_header_response(net::const_buffer unparsed) {
  const std::string_view held(static_cast<const char*>(unparsed.data()), unparsed.size());
  const bool request_line_ended = held.find("\r\n") != std::string_view::npos;
  const std::string limit = std::to_string(kMaxHeaderBytes) + " bytes";
  return request_line_ended
             ? error_response(http::status::request_header_fields_too_large, "header_too_large",
                              "the request header exceeds " + limit, 11, false)
             : error_response(http::status::uri_too_long, "uri_too_long",
                              "the request line exceeds " + limit, 11, false);
}

LogRateLimit::Admission LogRateLimit::admit(std::chrono::steady_clock::time_point now) {
  MutexLock lock(mutex_);
  Admission admission;
  if (now - window_start_ >= std::chrono::seconds(1) || now < window_start_) {
    window_start_ = now;
    written_ = 0;
    admission.suppressed = std::exchange(suppressed_, 0);
  }
  if (written_ < lines_per_second_) {
    ++written_;
    admission.write = true;
  } else {
    ++suppressed_;
  }
  return admission;
}

namespace {

constexpr int kErrorLinesPerSecond = 10;
// The first read of a request: what arrives is parsed by the header read.
constexpr size_t kFirstReadBytes = 4096;
constexpr size_t kLoggedPathBytes = 200;
constexpr size_t kLoggedMethodBytes = 32;
// After an early answer: how many bytes of the rest of the request are read
// and discarded at most before the connection is closed.
constexpr size_t kMaxLingerBytes = size_t{1} << 20;

// The error code of an answer made by error_response ({"error": {"code": ...}}),
// else its reason phrase.
std::string answer_reason(const HttpResponse& response) {
  static constexpr std::string_view kPrefix = R"({"error":{"code":")";
  const std::string& body = response.body();
  if (body.starts_with(kPrefix)) {
    const size_t end = body.find('"', kPrefix.size());
    if (end != std::string::npos && end - kPrefix.size() <= 64) {
      return body.substr(kPrefix.size(), end - kPrefix.size());
    }
  }
  return std::string(response.reason());
}

}  // namespace

struct HttpServer::Shared {
  HttpServerOptions options;
  HttpHandler handler;
  HeaderCheck header_check;  // may be empty
  std::atomic<int64_t> in_flight{0};  // requests begun and not yet answered
  std::atomic<int> connections{0};
  std::atomic<size_t> body_bytes{0};  // reserved by requests not yet answered
  // Handlers posted that may begin a request (a new connection's first
  // look, stop()'s look at an idle one): stop() waits for them, then for
  // in_flight, reading this one first.
  std::atomic<int64_t> settling{0};
  LogRateLimit error_log{kErrorLinesPerSecond};

  Mutex idle_mutex;
  // Set by stop(): answers close their connection, idle ones are closed.
  bool stopping GUARDED_BY(idle_mutex) = false;
  // Connections waiting for the first byte of a request, oldest first.
  std::map<uint64_t, std::weak_ptr<Session>> idle GUARDED_BY(idle_mutex);
  uint64_t next_idle_key GUARDED_BY(idle_mutex) = 0;

  // Registers `session` as idle; nullopt (and no registration) once stopping.
  std::optional<uint64_t> enter_idle(const std::shared_ptr<Session>& session) {
    MutexLock lock(idle_mutex);
    if (stopping) return std::nullopt;
    const uint64_t key = next_idle_key++;
    idle.emplace(key, session);
    return key;
  }

  void leave_idle(uint64_t key) {
    MutexLock lock(idle_mutex);
    idle.erase(key);
  }

  bool is_stopping() {
    MutexLock lock(idle_mutex);
    return stopping;
  }

  // Closes the connection idle longest; false when none is idle.
  bool close_oldest_idle();
  // Sets stopping and closes every idle connection.
  void stop_and_close_idle();
};

// One connection. A nested class, so that it may use the private Shared.
class HttpServer::Session : public std::enable_shared_from_this<HttpServer::Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<HttpServer::Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {}

  ~Session() {
    end_request();
    release_body();
    --shared_->connections;
  }

  // REQUIRES: shared_->settling was incremented for this call.
  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->wait_request();
      --self->shared_->settling;
    });
  }

  // Answers and closes at once (over the connection cap).
  void reject_busy() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->keep_alive_ = false;
      self->send(error_response(http::status::service_unavailable, "too_many_connections",
                                "the server is at its connection limit; retry shortly", 11, false));
    });
  }

  // Closes the connection if it is still the idle one registered as `key`
  // and no byte of a request has arrived; when one has, its request has
  // begun. Any thread. REQUIRES: shared_->settling was incremented for it.
  void close_if_idle(uint64_t key) {
    net::post(stream_.get_executor(), [self = shared_from_this(), key] {
      if (self->idle_key_ == key) {
        if (self->bytes_waiting()) {
          self->begin_request();  // the pending read completes with its bytes
        } else {
          self->close();
        }
      }
      --self->shared_->settling;
    });
  }

 private:
  // Waits for the first byte of the next request, as an idle connection
  // (closed at the connection cap and by stop()).
  void wait_request() {
    if (buffer_.size() > 0) return read_header();  // pipelined
    idle_key_ = shared_->enter_idle(shared_from_this());
    if (!idle_key_) {  // stopping: only a request already sent is served
      if (bytes_waiting()) return read_header();
      return finish();
    }
    stream_.expires_after(served_ == 0 ? shared_->options.header_timeout
                                       : std::chrono::milliseconds(shared_->options.idle_timeout));
    stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->buffer_.commit(n);
                              if (self->idle_key_) self->shared_->leave_idle(*self->idle_key_);
                              self->idle_key_.reset();
                              if (ec) return self->close();
                              self->read_header();
                            });
  }

  bool bytes_waiting() {
    beast::error_code ec;
    return buffer_.size() > 0 || stream_.socket().available(ec) > 0;
  }

  // A request has begun: its bytes are in buffer_ or about to be read.
  void read_header() {
    method_.clear();
    path_.clear();
    begin_request();
    parser_.emplace();
    parser_->body_limit(shared_->options.body_limit);
    parser_->header_limit(kMaxHeaderBytes);
    stream_.expires_after(shared_->options.header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    const auto& header = parser_->get();
    method_ = std::string(header.method_string().substr(0, kLoggedMethodBytes));
    const std::string_view target = header.target();
    path_ = std::string(target.substr(0, std::min(target.find('?'), kLoggedPathBytes)));
    if (header.method() == http::verb::unknown) {
      return reject(http::status::not_implemented, "method_not_implemented",
                    "the method " + method_ + " is not implemented");
    }
    switch (request_framing(header)) {
      case RequestFraming::kNoTransferCoding:
      case RequestFraming::kChunked:
        break;
      case RequestFraming::kChunkedWithOtherCodings:
        return reject(http::status::not_implemented, "unsupported_transfer_coding",
                      "only the chunked transfer coding is supported");
      case RequestFraming::kUndeterminable:
        return reject(http::status::bad_request, "bad_transfer_encoding",
                      "the Transfer-Encoding does not end with chunked (once): the body's "
                      "length cannot be determined");
    }
    if (shared_->header_check) {
      std::optional<HttpResponse> refusal;
      try {
        refusal = shared_->header_check(parser_->get());
      } catch (const std::exception& error) {
        spdlog::error("unhandled error in header check: {}", error.what());
        refusal = error_response(http::status::internal_server_error, "internal", "internal error",
                                 11, false);
      }
      if (refusal) return reject(std::move(*refusal));
    }
    if (auto length = parser_->content_length();
        length && *length > shared_->options.body_limit) {
      return reject_too_large();
    }
    const size_t body_bytes = parser_->content_length()
                                  ? static_cast<size_t>(*parser_->content_length())
                                  : (parser_->chunked() ? shared_->options.body_limit : 0);
    if (!reserve_body(body_bytes)) {
      return reject(http::status::service_unavailable, "server_busy",
                    "the server holds too many request bodies; retry shortly");
    }
    // HTTP/1.0 clients do not know 100 Continue (RFC 9110 10.1.1).
    if (header.version() >= 11 && beast::iequals(header[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      stream_.expires_after(shared_->options.idle_timeout);
      http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code ec, size_t) {
        if (ec) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(shared_->options.idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    request_ = parser_->release();
    keep_alive_ = request_.keep_alive();
    Responder respond = [self = shared_from_this()](HttpResponse response) {
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->send(std::move(response));
      });
    };
    try {
      shared_->handler(request_, std::move(respond));
    } catch (const std::exception& error) {
      // Handlers map their own errors; this is the last line of defence.
      spdlog::error("unhandled error in request handler: {}", error.what());
      send(error_response(http::status::internal_server_error, "internal", "internal error",
                          request_.version(), keep_alive_));
    }
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::error::eof || ec == http::error::partial_message) {
      return close();
    }
    if (ec == http::error::body_limit) return reject_too_large();
    if (ec == http::error::header_limit) {
      return reject(oversized_header_response(buffer_.data()));
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return reject(http::status::bad_request, "bad_request",
                    "malformed HTTP request: " + ec.message());
    }
    close();
  }

  // Answers the request being read without reading the rest of it, then
  // closes the connection.
  void reject(HttpResponse response) {
    keep_alive_ = false;
    lingering_ = true;
    send(std::move(response));
  }

  void reject(http::status status, std::string_view code, const std::string& message) {
    reject(error_response(status, code, message, 11, false));
  }

  void reject_too_large() {
    reject(http::status::payload_too_large, "payload_too_large",
           "request body exceeds the limit of " + std::to_string(shared_->options.body_limit) +
               " bytes");
  }

  void send(HttpResponse response) {
    if (shared_->is_stopping()) keep_alive_ = false;
    response.keep_alive(keep_alive_);
    response.set(http::field::server, "genalytics");
    response.prepare_payload();
    if (response.result_int() >= 400) log_error_answer(response);
    response_ = std::make_shared<HttpResponse>(std::move(response));
    stream_.expires_after(shared_->options.idle_timeout);
    http::async_write(stream_, *response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->after_answer(ec);
                      });
  }

  void after_answer(beast::error_code ec) {
    ++served_;
    response_.reset();
    request_ = {};
    release_body();
    if (ec || !keep_alive_) {
      end_request();
      return ec ? close() : finish();
    }
    // A pipelined request stays counted: in_flight never shows 0 in between.
    if (buffer_.size() > 0) return read_header();
    end_request();
    wait_request();
  }

  void log_error_answer(const HttpResponse& response) {
    const auto admission = shared_->error_log.admit(std::chrono::steady_clock::now());
    if (admission.suppressed > 0) {
      spdlog::warn("{} more error answers were not logged (at most {} lines a second)",
                   admission.suppressed, kErrorLinesPerSecond);
    }
    if (!admission.write) return;
    const unsigned status = response.result_int();
    const std::string reason = answer_reason(response);
    const std::string_view method = method_.empty() ? std::string_view("-") : method_;
    const std::string_view path = path_.empty() ? std::string_view("-") : path_;
    if (status >= 500) {
      spdlog::warn("answered {} {} with {} {}", method, path, status, reason);
    } else {
      spdlog::info("answered {} {} with {} {}", method, path, status, reason);
    }
  }

  // After an early answer the client may still be sending its body; closing
  // now would reset the connection and could destroy the answer before the
  // client reads it. Shut down our side and discard input for a moment.
  void finish() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (!lingering_ && !bytes_waiting()) return close();
    // One deadline for the whole linger and a cap on what is discarded: a
    // client trickling bytes cannot hold the connection.
    stream_.expires_after(shared_->options.linger_timeout);
    drain_buffer_.resize(64 * 1024);
    linger();
  }

  void linger() {
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t n) {
                              self->lingered_bytes_ += n;
                              if (ec || self->lingered_bytes_ > kMaxLingerBytes) return self->close();
                              self->linger();
                            });
  }

  void begin_request() {
    if (request_begun_) return;
    request_begun_ = true;
    ++shared_->in_flight;
  }

  void end_request() {
    if (!request_begun_) return;
    request_begun_ = false;
    --shared_->in_flight;
  }

  // Reserves `bytes` of the server's body budget for this request.
  bool reserve_body(size_t bytes) {
    if (bytes == 0) return true;
    auto& held = shared_->body_bytes;
    size_t current = held.load();
    do {
      if (current > 0 && current + bytes > shared_->options.max_body_bytes_in_flight) return false;
    } while (!held.compare_exchange_weak(current, current + bytes));
    reserved_ = bytes;
    return true;
  }

  void release_body() {
    if (reserved_ == 0) return;
    shared_->body_bytes -= reserved_;
    reserved_ = 0;
  }

  // The request being read, if any, is dropped: end_request() runs when the
  // session is destroyed (its handlers have all completed).
  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<HttpServer::Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  HttpRequest request_;
  std::shared_ptr<HttpResponse> response_;
  std::vector<char> drain_buffer_;
  size_t lingered_bytes_ = 0;  // discarded after an early answer
  std::optional<uint64_t> idle_key_;  // registered in shared_->idle while waiting
  std::string method_;                // of the request being served, for the log
  std::string path_;                  // its target without the query, for the log
  int64_t served_ = 0;                // answers written on this connection
  size_t reserved_ = 0;               // of shared_->body_bytes, held until answered
  bool request_begun_ = false;        // counted in shared_->in_flight
  bool keep_alive_ = true;
  bool lingering_ = false;
};

bool HttpServer::Shared::close_oldest_idle() {
  for (;;) {
    std::shared_ptr<Session> session;
    uint64_t key = 0;
    {
      MutexLock lock(idle_mutex);
      if (idle.empty()) return false;
      key = idle.begin()->first;
      session = idle.begin()->second.lock();
      idle.erase(idle.begin());
    }
    if (session) {
      ++settling;
      session->close_if_idle(key);
      return true;
    }
  }
}

void HttpServer::Shared::stop_and_close_idle() {
  std::map<uint64_t, std::weak_ptr<Session>> closing;
  {
    MutexLock lock(idle_mutex);
    stopping = true;
    closing.swap(idle);
  }
  for (auto& [key, weak] : closing) {
    if (auto session = weak.lock()) {
      ++settling;
      session->close_if_idle(key);
    }
  }
}

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler, HeaderCheck check)
    : shared_(std::make_shared<Shared>()), io_(std::make_unique<net::io_context>()) {
  shared_->options = std::move(options);
  shared_->handler = std::move(handler);
  shared_->header_check = std::move(check);
}

HttpServer::~HttpServer() {
  stop(std::chrono::milliseconds(0));
  // Pending handlers own the sessions; destroying them closes the sockets.
  accept_retry_.reset();
  acceptor_.reset();
  accept_strand_.reset();
  io_.reset();
}

int64_t HttpServer::in_flight() const { return shared_->in_flight.load(); }

size_t HttpServer::body_bytes_in_flight() const { return shared_->body_bytes.load(); }

size_t HttpServer::idle_connections() const {
  MutexLock lock(shared_->idle_mutex);
  return shared_->idle.size();
}

void HttpServer::start() {
  const auto& options = shared_->options;
  acceptor_ = open_listener(*io_, options.host, options.port);
  bound_port_ = acceptor_->local_endpoint().port();
  work_.emplace(io_->get_executor());
  accept_strand_.emplace(net::make_strand(*io_));
  accept_retry_ = std::make_unique<net::steady_timer>(*accept_strand_);
  accept();
  const int threads = std::max(1, options.threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_->run(); });
}

void HttpServer::accept() {
  acceptor_->async_accept(
      net::make_strand(*io_),
      net::bind_executor(*accept_strand_, [this](beast::error_code ec, tcp::socket socket) {
        // A connection accepted as the listener closes is still served.
        if (!ec) admit(std::move(socket));
        if (ec == net::error::operation_aborted || !acceptor_->is_open()) {
          // Only stop() closes the listener: this was its last accept, and
          // what it admitted counts as in flight already.
          --shared_->settling;
          return;
        }
        if (!ec) return accept();
        // Out of descriptors, say: retry in a moment rather than spin.
        spdlog::warn("accept failed: {}", ec.message());
        accept_retry_->expires_after(std::chrono::milliseconds(100));
        accept_retry_->async_wait([this](beast::error_code wait_ec) {
          if (wait_ec || !acceptor_->is_open()) {
            --shared_->settling;
            return;
          }
          accept();
        });
      }));
}

void HttpServer::admit(tcp::socket socket) {
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const int connections = ++shared_->connections;
  auto session = std::make_shared<Session>(std::move(socket), shared_);
  if (connections > shared_->options.max_connections && !shared_->close_oldest_idle()) {
    session->reject_busy();
  } else {
    ++shared_->settling;
    session->run();
  }
}

void HttpServer::stop() { stop(shared_->options.drain_timeout); }

void HttpServer::stop(std::chrono::milliseconds drain) {
  if (stopped_ || !acceptor_) return;
  stopped_ = true;
  shared_->stop_and_close_idle();
  // Until the accept handler's last run (or the retry timer's) sees the
  // listener closed.
  ++shared_->settling;
  net::post(*accept_strand_, [this] {
    // Connections the kernel accepted already are taken: a request they
    // sent is served; the others are closed as idle.
    beast::error_code ec;
    acceptor_->non_blocking(true, ec);
    while (!ec) {
      tcp::socket socket(net::make_strand(*io_));
      acceptor_->accept(socket, ec);
      if (!ec) admit(std::move(socket));
    }
    acceptor_->close(ec);
    accept_retry_->cancel();
  });
  const auto deadline = std::chrono::steady_clock::now() + drain;
  // settling first: a request begun by a settling handler counts before it ends.
  while ((shared_->settling.load() > 0 || shared_->in_flight.load() > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  work_.reset();
  io_->stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace genalytics
