#include "server/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/version.hpp>
#include <spdlog/spdlog.h>

#include "server/listener.h"
#include "server/responses.h"

namespace genalytics {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<HttpServer::Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {}

  ~Session() {
    release_body();
    --shared_->connections;
  }

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

  // Answers and closes at once (over the connection cap).
  void reject_busy() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      self->keep_alive_ = false;
      ++self->shared_->in_flight;
      self->send(error_response(http::status::service_unavailable, "too_many_connections",
                                "the server is at its connection limit; retry shortly", 11, false));
    });
  }

 private:
  void read_header() {
    parser_.emplace();
    parser_->body_limit(shared_->options.body_limit);
    parser_->header_limit(64 * 1024);
    stream_.expires_after(shared_->options.idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    const auto& header = parser_->get();
    if (auto length = parser_->content_length();
        length && *length > shared_->options.body_limit) {
      return reject_too_large();
    }
    const size_t body_bytes = parser_->content_length()
                                  ? static_cast<size_t>(*parser_->content_length())
                                  : (parser_->chunked() ? shared_->options.body_limit : 0);
    if (!reserve_body(body_bytes)) {
      keep_alive_ = false;
      lingering_ = true;
      ++shared_->in_flight;
      return send(error_response(http::status::service_unavailable, "server_busy",
                                 "the server holds too many request bodies; retry shortly",
                                 header.version(), false));
    }
    if (beast::iequals(header[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
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
    ++shared_->in_flight;
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
        ec == net::error::eof) {
      return close();
    }
    if (ec == http::error::body_limit) return reject_too_large();
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      // Malformed HTTP: answer once, then drop the connection.
      keep_alive_ = false;
      ++shared_->in_flight;
      return send(error_response(http::status::bad_request, "bad_request",
                                 "malformed HTTP request: " + ec.message(), 11, false));
    }
    close();
  }

  void reject_too_large() {
    keep_alive_ = false;
    lingering_ = true;
    ++shared_->in_flight;
    send(error_response(http::status::payload_too_large, "payload_too_large",
                        "request body exceeds the limit of " +
                            std::to_string(shared_->options.body_limit) + " bytes",
                        11, false));
  }

  void send(HttpResponse response) {
    response.keep_alive(keep_alive_);
    response.set(http::field::server, "genalytics");
    response.prepare_payload();
    response_ = std::make_shared<HttpResponse>(std::move(response));
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        --self->shared_->in_flight;
                        self->response_.reset();
                        self->request_ = {};
                        self->release_body();
                        if (ec) return self->close();
                        if (!self->keep_alive_) return self->finish();
                        self->read_header();
                      });
  }

  // After an early answer the client may still be sending its body; closing
  // now would reset the connection and could destroy the answer before the
  // client reads it. Shut down our side and discard input for a moment.
  void finish() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (!lingering_) return close();
    stream_.expires_after(std::chrono::seconds(5));
    drain_buffer_.resize(64 * 1024);
    stream_.async_read_some(net::buffer(drain_buffer_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->close();
                              self->finish();
                            });
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
  size_t reserved_ = 0;  // of shared_->body_bytes, held until answered
  bool keep_alive_ = true;
  bool lingering_ = false;
};

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler)
    : shared_(std::make_shared<Shared>()), io_(std::make_unique<net::io_context>()) {
  shared_->options = std::move(options);
  shared_->handler = std::move(handler);
}

HttpServer::~HttpServer() { stop(std::chrono::milliseconds(0)); }

void HttpServer::start() {
  const auto& options = shared_->options;
  acceptor_ = open_listener(*io_, options.host, options.port);
  bound_port_ = acceptor_->local_endpoint().port();
  work_.emplace(io_->get_executor());
  accept();
  const int threads = std::max(1, options.threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_->run(); });
}

void HttpServer::accept() {
  acceptor_->async_accept(net::make_strand(*io_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      const int connections = ++shared_->connections;
      auto session = std::make_shared<Session>(std::move(socket), shared_);
      if (connections > shared_->options.max_connections) {
        session->reject_busy();
      } else {
        session->run();
      }
    }
    accept();
  });
}

void HttpServer::stop(std::chrono::milliseconds drain) {
  if (stopped_ || !acceptor_) return;
  stopped_ = true;
  net::post(acceptor_->get_executor(), [this] {
    beast::error_code ignored;
    acceptor_->close(ignored);
  });
  const auto deadline = std::chrono::steady_clock::now() + drain;
  while (shared_->in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  work_.reset();
  io_->stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  // Pending handlers own the sessions; destroying them closes the sockets.
  acceptor_.reset();
  io_.reset();
}

}  // namespace genalytics
