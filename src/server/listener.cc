#include "server/listener.h"

#include <boost/asio/strand.hpp>
#include <stdexcept>

namespace genalytics {

std::unique_ptr<boost::asio::ip::tcp::acceptor> open_listener(boost::asio::io_context& io,
                                                              const std::string& host,
                                                              uint16_t port) {
  namespace net = boost::asio;
  using tcp = net::ip::tcp;
  boost::system::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("invalid listen address " + host + ": " + ec.message());
  const tcp::endpoint endpoint(address, port);
  auto acceptor = std::make_unique<tcp::acceptor>(net::make_strand(io));
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                             ec.message());
  }
  return acceptor;
}

}  // namespace genalytics
