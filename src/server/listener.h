// The listening socket both servers (HttpServer, RouteProxy) accept on.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>

namespace genalytics {

// An acceptor on a strand of `io`, bound to host:port (port 0: a free one)
// with SO_REUSEADDR and listening. Throws std::runtime_error naming the
// address when `host` is not an IP address or the bind or listen fails.
std::unique_ptr<boost::asio::ip::tcp::acceptor> open_listener(boost::asio::io_context& io,
                                                              const std::string& host,
                                                              uint16_t port);

}  // namespace genalytics
