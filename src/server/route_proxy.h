// genalytics proxy: a reverse proxy (HTTP/1.1, Boost.Beast) in front of one
// upstream that forwards every request unchanged, streams every response back
// unchanged, and records each exchange as a RouteEvent.
//
// What the client sees is what the upstream sent, with these exceptions,
// all allowed to an HTTP intermediary (RFC 9110 section 7.6, RFC 9112):
//  - header field values lose leading and trailing whitespace (it is not part
//    of the value); obsolete line folding is unfolded;
//  - a chunked body keeps its bytes but not necessarily its framing: what has
//    arrived of a chunk is passed on at once as a chunk of its own (at most
//    16 KiB), so a chunk that arrives whole keeps its boundaries; sizes are
//    written in lowercase hex, chunk extensions and trailer fields dropped;
//  - "Expect: 100-continue" is answered by the proxy itself (the header still
//    goes upstream; the upstream's own 100 Continue is then not passed on).
// The proxy adds no header (no Via, no X-Forwarded-For) and keeps Host,
// Connection and Transfer-Encoding as sent, so keep-alive is what the client
// and the upstream agree on. After a 101 Switching Protocols the connection
// is a byte tunnel (no idle timeout) until either side closes. Answers of its
// own: 502 when the upstream cannot be reached or breaks off before its
// response header, 504 when it times out, 413 over the body limit, 400 for a
// malformed request or one whose Transfer-Encoding does not end with chunked
// (once: request_framing() in http_server.h; such a body has no length the
// proxy and the upstream are sure to agree on, so a request hidden in it could
// be smuggled), 414 for a request line and 431 for a header section over
// kMaxHeaderBytes, 501 for a body chunked after other codings ("gzip,
// chunked", as nginx answers); these close the connection. Unknown methods
// are forwarded. A kept
// upstream connection that turns out closed is replaced, and a request
// without a body repeated on the new one when its method is idempotent.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "event/route_event.h"

namespace genalytics {

class RouteProxy {
 public:
  // Called once per request whose header was read (a header that does not
  // parse gets 400 and no event), after its response was completely sent to
  // the client or the exchange was abandoned, on a proxy thread: keep it
  // short and thread-safe. For each exchange:
  //  event_id      a new random UUID
  //  route         the target's path, as sent (no decoding, no templating)
  //  route_full    the target as sent, query string included
  //  method        as sent
  //  user_id       the user header's value when it is a UUID (canonical form)
  //  timestamp_us  when the request header had been read
  //  duration_ms   from then to the upstream's last response byte (truncated)
  //  status_code   the status the client got
  //  query_params_json, query_params_normalized_json
  //                the decoded query parameters as compact JSON with sorted
  //                keys and string values (the last of repeated keys wins);
  //                both equal: normalisation is Options::normalize's job
  //  request_size_bytes, response_size_bytes
  //                body bytes (decoded, without chunk framing)
  //  error_type    unset when the upstream answered and everything was passed
  //                on, else one of: "upstream_unavailable" (502),
  //                "upstream_timeout" (504), "upstream_truncated" (the
  //                upstream broke off in its body: the client's connection
  //                is closed), "client_disconnected" (status 499 when the
  //                client left before a response began), "payload_too_large"
  //                (413), "bad_request" (400).
  using RecordCallback = std::function<void(RouteEvent&&)>;

  struct Options {
    std::string listen_host = "127.0.0.1";
    uint16_t listen_port = 8080;              // 0 picks a free port (see port())
    std::string upstream_host = "127.0.0.1";  // a name is resolved once, by start()
    uint16_t upstream_port = 8000;
    int threads = 2;
    std::string user_header = "X-User-ID";
    // Request bodies above this get 413 (from the proxy); unset: no limit.
    std::optional<uint64_t> max_body;
    // Bounds every wait for one read or write on either side, including the
    // wait for the upstream's response and for a client's next request.
    std::chrono::seconds idle_timeout{60};
    std::chrono::seconds connect_timeout{5};
    // Each client connection uses one upstream connection, kept alive
    // between its requests. When the client leaves, a reusable upstream
    // connection is parked for the next client connection; at most this many
    // are parked.
    size_t upstream_pool_size = 32;
    // Applied to each event before it is recorded (route templating,
    // dropping pagination parameters, ...); empty: none.
    std::function<void(RouteEvent&)> normalize;
  };

  RouteProxy(Options options, RecordCallback record);
  ~RouteProxy();
  RouteProxy(const RouteProxy&) = delete;
  RouteProxy& operator=(const RouteProxy&) = delete;

  // Resolves the upstream, binds and starts the worker threads. Does not
  // contact the upstream. Throws std::runtime_error when the upstream host
  // does not resolve or the listen address cannot be bound.
  void start();

  // Stops accepting, waits up to `drain` for the requests in flight to be
  // answered and recorded, then closes every connection and joins the
  // threads. Idempotent.
  void stop(std::chrono::milliseconds drain = std::chrono::seconds(30));

  // The bound port. REQUIRES: start() returned.
  uint16_t port() const { return bound_port_; }

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  // Destroyed by stop(): that closes every connection still open.
  std::unique_ptr<boost::asio::io_context> io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
  uint16_t bound_port_ = 0;
  bool stopped_ = false;
};

}  // namespace genalytics
