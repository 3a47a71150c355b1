// Over 400 lines on purpose: most of it is one proxied exchange
// (ProxySession: relay, retry on a stale upstream, 1xx, tunnels, recording),
// one protocol that reads best in one place.
#include "server/route_proxy.h"

#include <sys/socket.h>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>

#include <cerrno>
#include <map>

#include "base/mutex.h"
#include "base/unique_fd.h"
#include "event/time.h"
#include "event/uuid.h"
#include "server/http_server.h"
#include "server/listener.h"
#include "server/responses.h"

namespace genalytics {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
// The most body bytes one read passes on, and the size of each relay buffer
// (one per connection, two more in a tunnel).
constexpr size_t kRelayBufferBytes = size_t{16} * 1024;
// How long a closing connection keeps discarding what the client still sends.
constexpr std::chrono::seconds kLingerTimeout{5};

template <bool isRequest>
using BodyParser = http::parser<isRequest, http::buffer_body>;

// An open connection as an owned descriptor, which any strand can adopt.
struct ParkedConnection {
  UniqueFd fd;
  tcp protocol;
};

// Upstream connections parked between client connections. Thread-safe.
class IdleUpstreams {
 public:
  explicit IdleUpstreams(size_t capacity) : capacity_(capacity) {}
  IdleUpstreams(const IdleUpstreams&) = delete;
  IdleUpstreams& operator=(const IdleUpstreams&) = delete;

  // Keeps `connection` for take(); closes it when the pool is full.
  void park(ParkedConnection connection) {
    MutexLock lock(mutex_);
    if (parked_.size() < capacity_) parked_.push_back(std::move(connection));
  }

  // The most recently parked connection, now the caller's.
  std::optional<ParkedConnection> take() {
    MutexLock lock(mutex_);
    if (parked_.empty()) return std::nullopt;
    ParkedConnection connection = std::move(parked_.back());
    parked_.pop_back();
    return connection;
  }

  // Closes every parked connection.
  void clear() {
    std::vector<ParkedConnection> closing;
    {
      MutexLock lock(mutex_);
      closing.swap(parked_);
    }
  }

 private:
  const size_t capacity_;
  Mutex mutex_;
  std::vector<ParkedConnection> parked_ GUARDED_BY(mutex_);
};

// False when the peer has closed an idle connection (or sent something
// unasked): checked before a kept connection carries the next request.
bool idle_connection_usable(int fd) {
  char byte;
  const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool is_idempotent(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::trace:
    case http::verb::put:
    case http::verb::delete_:
      return true;
    default:
      return false;
  }
}

// Fills route and the query parameter JSON from a request target.
void describe_target(std::string_view target, RouteEvent& event) {
  std::map<std::string, std::string> params;
  // Origin form ("/path?query") is the usual; absolute form and "*" are rare.
  auto url = target.starts_with('/') ? boost::urls::parse_origin_form(target)
                                     : boost::urls::parse_uri_reference(target);
  if (url) {
    event.route = std::string(url->encoded_path());
    if (event.route.empty()) event.route = "/";
    for (auto param : url->params()) params[param.key] = std::move(param.value);
  } else {
    event.route = target.substr(0, target.find('?'));
  }
  boost::json::object object;
  for (auto& [key, value] : params) object.emplace(key, value);
  event.query_params_json = boost::json::serialize(object);
  event.query_params_normalized_json = event.query_params_json;
}

// Moves the body bytes already in `buffer` into the parser's body buffer.
// Stops after the first body bytes (a chunk keeps its boundary), at the end of
// the message, or when the buffer runs dry.
template <bool isRequest>
beast::error_code parse_buffered(BodyParser<isRequest>& parser, beast::flat_buffer& buffer) {
  auto& body = parser.get().body();
  const size_t room = body.size;
  beast::error_code ec;
  while (buffer.size() > 0 && !parser.is_done() && body.size == room) {
    const size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == http::error::need_more || ec == http::error::need_buffer) return {};
    if (ec) return ec;
    if (used == 0) break;
  }
  return {};
}

void shutdown_send(beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

void close_stream(beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.socket().close(ignored);
}

}  // namespace

struct RouteProxy::Shared {
  Shared(Options o, RecordCallback r)
      : options(std::move(o)), record(std::move(r)), idle_upstreams(options.upstream_pool_size) {}

  const Options options;
  const RecordCallback record;
  tcp::resolver::results_type upstream_endpoints;  // set by start(), then read-only
  std::atomic<int64_t> in_flight{0};               // exchanges from request header to record
  IdleUpstreams idle_upstreams;
};

namespace {

// One exchange's measurements, turned into its RouteEvent at the end.
struct Exchange {
  int64_t timestamp_us = now_us();
  Clock::time_point start = Clock::now();
  Clock::time_point upstream_done = start;  // the upstream's last byte (or its failure)
  int status = 0;
  int64_t request_bytes = 0;
  int64_t response_bytes = 0;
  std::optional<std::string> error_type;
};

struct RelayResult {
  enum class Failure : uint8_t { kNone, kRead, kWrite };
  Failure failure = Failure::kNone;
  beast::error_code ec;
  Clock::time_point source_done{};  // when the source's last byte was read
};

class ProxySession {
 public:
  ProxySession(tcp::socket client, std::shared_ptr<RouteProxy::Shared> shared)
      : client_(std::move(client)),
        upstream_(client_.get_executor()),
        shared_(std::move(shared)),
        options_(shared_->options),
        relay_buffer_(std::make_unique<char[]>(kRelayBufferBytes)) {}

  static net::awaitable<void> serve(std::unique_ptr<ProxySession> session) {
    co_await session->run();
  }

 private:
  // Serves the client connection's requests one after the other.
  net::awaitable<void> run() {
    bool linger = false;
    for (;;) {
      request_.emplace();
      request_->header_limit(kMaxHeaderBytes);
      request_->body_limit(boost::none);  // checked against max_body once the header is in
      client_.expires_after(options_.idle_timeout);
      auto [ec, n] = co_await http::async_read_header(client_, client_buffer_, *request_, kNoThrow);
      if (ec) {
        if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
            ec != http::error::end_of_stream && ec != http::error::partial_message) {
          // Malformed HTTP: answer once (no route to record), then hang up.
          auto response =
              ec == http::error::header_limit
                  ? oversized_header_response(client_buffer_.data())
                  : error_response(http::status::bad_request, "bad_request",
                                   "malformed HTTP request: " + ec.message(), 11, false);
          response.prepare_payload();
          client_.expires_after(options_.idle_timeout);
          co_await http::async_write(client_, response, kNoThrow);
          linger = true;
        }
        break;
      }
      ++shared_->in_flight;
      Exchange exchange;
      const bool keep_alive = co_await proxy(exchange);
      record(exchange);
      --shared_->in_flight;
      if (!keep_alive) {
        // The request's body may be partly unread: see close_client().
        linger = !request_->is_done();
        break;
      }
    }
    park_upstream();
    co_await close_client(linger);
  }

  // Forwards the request just read and its response; fills `x`. Returns
  // whether the client connection can carry another request.
  net::awaitable<bool> proxy(Exchange& x) {
    auto& request = request_->get();
    if (request_framing(request) == RequestFraming::kUndeterminable) {
      // The upstream might frame the body otherwise: a request hidden in it
      // would reach the upstream unseen. Nothing is forwarded.
      co_await answer(x, http::status::bad_request, "bad_request",
                      "the Transfer-Encoding does not end with chunked (once): the body's "
                      "length cannot be determined",
                      false);
      co_return false;
    }
    if (request_framing(request) == RequestFraming::kChunkedWithOtherCodings) {
      // As nginx: codings other than chunked are not ours to pass on.
      co_await answer(x, http::status::not_implemented, "unsupported_transfer_coding",
                      "only the chunked transfer coding is supported", false);
      co_return false;
    }
    const bool has_body = !request_->is_done();
    if (auto length = request_->content_length();
        options_.max_body && length && *length > *options_.max_body) {
      co_await answer(
          x, http::status::payload_too_large, "payload_too_large",
          "request body exceeds the limit of " + std::to_string(*options_.max_body) + " bytes",
          false);
      co_return false;
    }
    request_->body_limit(options_.max_body ? boost::optional<uint64_t>(*options_.max_body)
                                           : boost::none);
    const bool expects_continue =
        has_body && beast::iequals(request[http::field::expect], "100-continue");
    // A kept connection the upstream has just closed fails without a byte of
    // answer: safe to repeat once on a new connection when nothing of the
    // request is lost and repeating it changes nothing.
    const bool repeatable = !has_body && is_idempotent(request.method());
    bool continue_sent = false;
    for (int attempt = 0;; ++attempt) {
      bool reused = false;
      if (auto ec = co_await connect_upstream(attempt == 0, reused))
        co_return co_await fail_upstream(x, ec);
      if (expects_continue && !continue_sent) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        client_.expires_after(options_.idle_timeout);
        co_await net::async_write(client_, net::buffer(kContinue), kNoThrow);
        continue_sent = true;
      }
      RelayResult sent =
          co_await relay(client_, client_buffer_, *request_, upstream_, x.request_bytes);
      if (sent.failure == RelayResult::Failure::kRead) co_return co_await fail_client(x, sent.ec);
      // Even when the upstream stopped taking the body it may have answered.
      upstream_reusable_ = sent.failure == RelayResult::Failure::kNone;
      auto ec = co_await read_response_header(request.method(), continue_sent);
      x.upstream_done = Clock::now();
      if (!ec) break;
      const bool answered_nothing = !response_->got_some();
      close_stream(upstream_);
      if (attempt == 0 && reused && repeatable && answered_nothing) continue;
      co_return co_await fail_upstream(x, ec);
    }

    auto& response = response_->get();
    x.status = static_cast<int>(response.result_int());
    if (response.result() == http::status::switching_protocols) {
      http::serializer<false, http::buffer_body> header{response};
      client_.expires_after(options_.idle_timeout);
      auto [ec, n] = co_await http::async_write_header(client_, header, kNoThrow);
      if (ec) {
        x.error_type = "client_disconnected";
      } else {
        tunnel_ = true;
      }
      upstream_reusable_ = false;
      co_return false;
    }
    RelayResult passed =
        co_await relay(upstream_, upstream_buffer_, *response_, client_, x.response_bytes);
    if (passed.failure == RelayResult::Failure::kNone) x.upstream_done = passed.source_done;
    upstream_reusable_ = upstream_reusable_ && passed.failure == RelayResult::Failure::kNone &&
                         response_->keep_alive() && upstream_buffer_.size() == 0;
    if (passed.failure != RelayResult::Failure::kNone) {
      x.error_type = passed.failure == RelayResult::Failure::kRead ? "upstream_truncated"
                                                                   : "client_disconnected";
      close_stream(upstream_);
      co_return false;
    }
    co_return request_->keep_alive() && response_->keep_alive() && request_->is_done();
  }

  // Leaves `upstream_` connected: the kept connection, a parked one (unless
  // !allow_parked), or a new one. `reused` tells whether it carried requests
  // before.
  net::awaitable<beast::error_code> connect_upstream(bool allow_parked, bool& reused) {
    if (upstream_.socket().is_open()) {
      if (upstream_reusable_ && upstream_buffer_.size() == 0 &&
          idle_connection_usable(upstream_.socket().native_handle())) {
        reused = true;
        co_return beast::error_code{};
      }
      close_stream(upstream_);
    }
    upstream_reusable_ = false;
    upstream_buffer_.clear();
    // A retry takes a new connection: a parked one may be stale as well.
    while (auto parked = allow_parked ? shared_->idle_upstreams.take() : std::nullopt) {
      if (idle_connection_usable(parked->fd.get())) {
        beast::error_code ec;
        upstream_.socket().assign(parked->protocol, parked->fd.get(), ec);
        if (!ec) {
          parked->fd.release();  // the socket owns it now
          reused = true;
          co_return ec;
        }
      }
    }
    upstream_.expires_after(options_.connect_timeout);
    auto [ec, endpoint] = co_await upstream_.async_connect(shared_->upstream_endpoints, kNoThrow);
    if (!ec) upstream_.socket().set_option(tcp::no_delay(true), ec);
    co_return ec;
  }

  // Reads the upstream's final response header into response_, passing any
  // interim (1xx) responses on to the client, except a 100 Continue the proxy
  // already sent itself.
  net::awaitable<beast::error_code> read_response_header(http::verb method, bool continue_sent) {
    for (;;) {
      response_.emplace();
      response_->header_limit(kMaxHeaderBytes);
      response_->body_limit(boost::none);
      if (method == http::verb::head) response_->skip(true);
      upstream_.expires_after(options_.idle_timeout);
      auto [ec, n] =
          co_await http::async_read_header(upstream_, upstream_buffer_, *response_, kNoThrow);
      if (ec) co_return ec;
      const unsigned status = response_->get().result_int();
      if (status / 100 != 1 || status == 101) co_return ec;
      if (status == 100 && continue_sent) continue;
      // A failure here shows when the final response is passed on.
      http::serializer<false, http::buffer_body> header{response_->get()};
      client_.expires_after(options_.idle_timeout);
      co_await http::async_write_header(client_, header, kNoThrow);
    }
  }

  // Passes one message from `from` to `to` as it arrives: the header parsed
  // already, then the body through relay_buffer_. The header goes together
  // with the body bytes that came with it, or alone when none did.
  template <bool isRequest>
  net::awaitable<RelayResult> relay(beast::tcp_stream& from, beast::flat_buffer& from_buffer,
                                    BodyParser<isRequest>& parser, beast::tcp_stream& to,
                                    int64_t& body_bytes) {
    using Failure = RelayResult::Failure;
    RelayResult result;
    http::serializer<isRequest, http::buffer_body> serializer{parser.get()};
    auto& body = parser.get().body();
    bool header_sent = false;
    if (parser.is_done()) {  // no body: the header is the whole message
      result.source_done = Clock::now();
      to.expires_after(options_.idle_timeout);
      auto [ec, n] = co_await http::async_write_header(to, serializer, kNoThrow);
      if (ec) result = {Failure::kWrite, ec, result.source_done};
      co_return result;
    }
    for (;;) {
      body.data = relay_buffer_.get();
      body.size = kRelayBufferBytes;
      if (auto ec = parse_buffered(parser, from_buffer)) co_return RelayResult{Failure::kRead, ec};
      const size_t produced = kRelayBufferBytes - body.size;
      if (produced == 0 && !parser.is_done()) {
        if (!header_sent) {
          to.expires_after(options_.idle_timeout);
          auto [ec, n] = co_await http::async_write_header(to, serializer, kNoThrow);
          if (ec) co_return RelayResult{Failure::kWrite, ec};
          header_sent = true;
        }
        from.expires_after(options_.idle_timeout);
        auto [ec, n] =
            co_await from.async_read_some(from_buffer.prepare(kRelayBufferBytes), kNoThrow);
        from_buffer.commit(n);
        // EOF completes a body that ends at the close; before any byte it is a read failure.
        if (ec == net::error::eof && parser.got_some()) parser.put_eof(ec);
        if (ec) co_return RelayResult{Failure::kRead, ec};
        continue;
      }
      body_bytes += static_cast<int64_t>(produced);
      body.data = produced > 0 ? relay_buffer_.get() : nullptr;
      body.size = produced;
      body.more = !parser.is_done();
      if (!body.more) result.source_done = Clock::now();
      to.expires_after(options_.idle_timeout);
      auto [ec, n] = co_await http::async_write(to, serializer, kNoThrow);
      if (ec && ec != http::error::need_buffer) co_return RelayResult{Failure::kWrite, ec};
      header_sent = true;
      if (!body.more) co_return result;
    }
  }

  // Answers a failed upstream with 502, or 504 on a timeout.
  net::awaitable<bool> fail_upstream(Exchange& x, beast::error_code ec) {
    close_stream(upstream_);
    upstream_reusable_ = false;
    x.upstream_done = Clock::now();
    const bool timeout = ec == beast::error::timeout;
    spdlog::debug("upstream {}:{} failed: {}", options_.upstream_host, options_.upstream_port,
                  ec.message());
    // Keep the client only when its request was read completely.
    const bool keep_alive = request_->keep_alive() && request_->is_done();
    co_await answer(x, timeout ? http::status::gateway_timeout : http::status::bad_gateway,
                    timeout ? "upstream_timeout" : "upstream_unavailable",
                    "upstream " + options_.upstream_host + ":" +
                        std::to_string(options_.upstream_port) + ": " + ec.message(),
                    keep_alive);
    co_return keep_alive;
  }

  // The client's request broke off (or broke the body limit) in its body.
  net::awaitable<bool> fail_client(Exchange& x, beast::error_code ec) {
    close_stream(upstream_);
    upstream_reusable_ = false;
    x.upstream_done = Clock::now();
    if (ec == http::error::body_limit) {
      co_await answer(
          x, http::status::payload_too_large, "payload_too_large",
          "request body exceeds the limit of " + std::to_string(*options_.max_body) + " bytes",
          false);
    } else if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
               ec != http::error::partial_message) {
      co_await answer(x, http::status::bad_request, "bad_request",
                      "malformed HTTP request body: " + ec.message(), false);
    } else {
      x.status = 499;
      x.error_type = "client_disconnected";
    }
    co_return false;
  }

  // Sends a response of the proxy's own and notes it in `x`.
  net::awaitable<void> answer(Exchange& x, http::status status, std::string_view code,
                              const std::string& message, bool keep_alive) {
    auto response = error_response(status, code, message, request_->get().version(), keep_alive);
    response.prepare_payload();
    x.status = static_cast<int>(status);
    x.error_type = std::string(code);
    x.response_bytes = static_cast<int64_t>(response.body().size());
    client_.expires_after(options_.idle_timeout);
    co_await http::async_write(client_, response, kNoThrow);
  }

  void record(Exchange& x) {
    const auto& request = request_->get();
    RouteEvent event;
    event.event_id = random_uuid();
    event.method = std::string(request.method_string());
    event.route_full = std::string(request.target());
    describe_target(event.route_full, event);
    if (auto user = request.find(options_.user_header); user != request.end()) {
      event.user_id = canonical_uuid(user->value());
    }
    event.timestamp_us = x.timestamp_us;
    event.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(x.upstream_done - x.start).count();
    event.status_code = x.status;
    event.request_size_bytes = x.request_bytes;
    event.response_size_bytes = x.response_bytes;
    event.error_type = std::move(x.error_type);
    try {
      if (options_.normalize) options_.normalize(event);
      shared_->record(std::move(event));
    } catch (const std::exception& error) {
      spdlog::error("route proxy: recording a request failed: {}", error.what());
    }
  }

  // Hands a reusable upstream connection to the pool for the next client.
  void park_upstream() {
    if (tunnel_ || !upstream_reusable_ || !upstream_.socket().is_open() ||
        upstream_buffer_.size() > 0) {
      return;
    }
    beast::error_code ec;
    const tcp protocol = upstream_.socket().local_endpoint(ec).protocol();
    if (ec) return;
    UniqueFd fd(upstream_.socket().release(ec));
    if (!ec) shared_->idle_upstreams.park({std::move(fd), protocol});
  }

  // Ends the client connection: as a tunnel after a 101, or, when the client
  // may still be sending a body nobody reads (`linger`), by shutting down our
  // side and discarding its input for a moment, so that the unread bytes do
  // not reset the connection before the client has read our answer.
  net::awaitable<void> close_client(bool linger) {
    if (tunnel_) {
      using namespace net::experimental::awaitable_operators;
      client_.expires_never();
      upstream_.expires_never();
      co_await (pump(client_, client_buffer_, upstream_) &&
                pump(upstream_, upstream_buffer_, client_));
    } else if (linger) {
      shutdown_send(client_);
      client_.expires_after(kLingerTimeout);
      for (;;) {
        auto [ec, n] = co_await client_.async_read_some(
            net::buffer(relay_buffer_.get(), kRelayBufferBytes), kNoThrow);
        if (ec) break;
      }
    }
    close_stream(client_);
    close_stream(upstream_);
  }

  // One direction of a tunnel: bytes as they come, the end of input passed
  // on as a half-close; any failure ends both directions.
  static net::awaitable<void> pump(beast::tcp_stream& from, beast::flat_buffer& pending,
                                   beast::tcp_stream& to) {
    std::vector<char> buffer(kRelayBufferBytes);
    if (pending.size() > 0) {
      auto [ec, n] = co_await net::async_write(to, pending.data(), kNoThrow);
      pending.clear();
      if (ec) {
        close_stream(from);
        close_stream(to);
        co_return;
      }
    }
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(net::buffer(buffer), kNoThrow);
      if (ec == net::error::eof) {
        shutdown_send(to);
        co_return;
      }
      if (!ec)
        std::tie(ec, n) = co_await net::async_write(to, net::buffer(buffer.data(), n), kNoThrow);
      if (ec) {
        close_stream(from);
        close_stream(to);
        co_return;
      }
    }
  }

  beast::tcp_stream client_;
  beast::tcp_stream upstream_;  // on the client's strand
  std::shared_ptr<RouteProxy::Shared> shared_;
  const RouteProxy::Options& options_;  // in *shared_
  beast::flat_buffer client_buffer_;
  beast::flat_buffer upstream_buffer_;
  std::optional<BodyParser<true>> request_;
  std::optional<BodyParser<false>> response_;
  std::unique_ptr<char[]> relay_buffer_;
  // upstream_ may carry the next request: the last exchange completed on it
  // and the upstream kept it alive.
  bool upstream_reusable_ = false;
  bool tunnel_ = false;  // a 101 was passed on: both connections now carry raw bytes
};

net::awaitable<void> accept_loop(net::io_context& io, tcp::acceptor& acceptor,
                                 std::shared_ptr<RouteProxy::Shared> shared) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(io), kNoThrow);
    if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors, most likely: let connections finish before retrying.
      spdlog::warn("route proxy: accept failed: {}", ec.message());
      net::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    net::co_spawn(executor,
                  ProxySession::serve(std::make_unique<ProxySession>(std::move(socket), shared)),
                  [](const std::exception_ptr& error) {
                    if (!error) return;
                    try {
                      std::rethrow_exception(error);
                    } catch (const std::exception& e) {
                      spdlog::error("route proxy: connection failed: {}", e.what());
                    }
                  });
  }
}

}  // namespace

RouteProxy::RouteProxy(Options options, RecordCallback record)
    : shared_(std::make_shared<Shared>(std::move(options), std::move(record))),
      io_(std::make_unique<net::io_context>()) {}

RouteProxy::~RouteProxy() { stop(std::chrono::milliseconds(0)); }

void RouteProxy::start() {
  const Options& options = shared_->options;
  beast::error_code ec;
  tcp::resolver resolver(*io_);
  shared_->upstream_endpoints =
      resolver.resolve(options.upstream_host, std::to_string(options.upstream_port), ec);
  if (ec || shared_->upstream_endpoints.empty()) {
    throw std::runtime_error("cannot resolve upstream " + options.upstream_host + ": " +
                             ec.message());
  }
  acceptor_ = open_listener(*io_, options.listen_host, options.listen_port);
  bound_port_ = acceptor_->local_endpoint().port();
  work_.emplace(io_->get_executor());
  net::co_spawn(acceptor_->get_executor(), accept_loop(*io_, *acceptor_, shared_), net::detached);
  const int threads = std::max(1, options.threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_->run(); });
}

void RouteProxy::stop(std::chrono::milliseconds drain) {
  if (stopped_ || !acceptor_) return;
  stopped_ = true;
  net::post(acceptor_->get_executor(), [this] {
    beast::error_code ignored;
    acceptor_->close(ignored);
  });
  const auto deadline = Clock::now() + drain;
  while (shared_->in_flight.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  work_.reset();
  io_->stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  // Destroying the context destroys the suspended sessions, closing their sockets.
  acceptor_.reset();
  io_.reset();
  shared_->idle_upstreams.clear();
}

}  // namespace genalytics
