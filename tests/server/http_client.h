// A blocking HTTP/1.1 client for tests, plus raw-socket access for
// malformed requests.
#pragma once

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <string>

namespace genalytics::testing {

struct HttpResult {
  int status = 0;
  std::string body;
  boost::beast::http::fields headers;
  boost::json::value json() const { return boost::json::parse(body); }
};

inline HttpResult http_request(uint16_t port, boost::beast::http::verb method, const std::string& target,
                               const std::string& body = "",
                               const std::string& content_type = "application/json") {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> request(method, target, 11);
  request.set(http::field::host, "127.0.0.1");
  if (!body.empty() || method == http::verb::post) {
    request.set(http::field::content_type, content_type);
    request.body() = body;
    request.prepare_payload();
  }
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1 << 30);
  http::read(stream, buffer, parser);
  auto response = parser.release();
  HttpResult result;
  result.status = static_cast<int>(response.result_int());
  result.body = response.body();
  for (const auto& field : response) result.headers.set(field.name_string(), field.value());
  return result;
}

inline HttpResult http_get(uint16_t port, const std::string& target) {
  return http_request(port, boost::beast::http::verb::get, target);
}

inline HttpResult http_post(uint16_t port, const std::string& target, const std::string& body,
                            const std::string& content_type = "application/json") {
  return http_request(port, boost::beast::http::verb::post, target, body, content_type);
}

// Sends `bytes` as they are and returns everything the server answers
// before closing (or until `max_bytes`).
inline std::string raw_exchange(uint16_t port, const std::string& bytes, size_t max_bytes = 1 << 20) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  boost::system::error_code ec;
  boost::asio::write(socket, boost::asio::buffer(bytes), ec);
  socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  std::string answer;
  char buffer[4096];
  while (answer.size() < max_bytes) {
    size_t n = socket.read_some(boost::asio::buffer(buffer), ec);
    if (ec) break;
    answer.append(buffer, n);
  }
  return answer;
}

}  // namespace genalytics::testing
