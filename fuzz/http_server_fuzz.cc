// Fuzzes the HTTP server's request path with raw bytes: a genalytics
// HttpServer, started once on 127.0.0.1 (a free port) with a small handler,
// gets each input on a new loopback connection; the client then shuts its
// write side and reads the answer until the server closes.
// Input: the bytes a client sends (one request, several pipelined, or junk).
// The handler answers with the method, the decoded path and the body size;
// target "/throw" makes it throw, "/later" makes it answer from another
// thread.
// Invariants: the server never crashes; it answers with a status line
// ("HTTP/1.1 200 ...") or closes without a byte; it closes within a few
// seconds of the client's end of input; once the connection is closed, no
// request is in flight and no body budget is held.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/url/parse.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <string>
#include <thread>

#include "fuzz_support.h"
#include "server/http_server.h"

namespace {

namespace http = boost::beast::http;
using genalytics::fuzz::check;

void handle(genalytics::HttpRequest& request, genalytics::Responder respond) {
  auto url = boost::urls::parse_origin_form(request.target());
  const std::string path = url ? std::string(url->path()) : std::string("?");
  if (path == "/throw") throw std::runtime_error("handler failed");
  genalytics::HttpResponse response(http::status::ok, request.version());
  response.set(http::field::content_type, "text/plain");
  response.body() = std::string(request.method_string()) + " " + path + " " +
                    std::to_string(request.body().size());
  if (path == "/later") {
    std::thread([respond = std::move(respond), response = std::move(response)]() mutable {
      respond(std::move(response));
    }).detach();
    return;
  }
  respond(std::move(response));
}

genalytics::HttpServer& server() {
  static genalytics::HttpServer* instance = [] {
    spdlog::set_level(spdlog::level::off);  // one log line per input would dominate the run
    genalytics::HttpServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    options.body_limit = 4096;                // reachable by a small input
    options.max_body_bytes_in_flight = 8192;  // so is the budget
    options.idle_timeout = std::chrono::seconds(5);
    // Never destroyed: the process ends with the fuzzer.
    auto* started = new genalytics::HttpServer(options, handle);
    started->start();
    return started;
  }();
  return *instance;
}

class Connection {
 public:
  explicit Connection(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    check(fd_ >= 0, "socket() failed");
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Closing with a reset leaves no TIME_WAIT behind on either side, so a
    // long run does not run out of loopback ports.
    linger reset{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    // libFuzzer's once-a-second timer signal interrupts blocking calls.
    int error = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 ? 0 : errno;
    if (error == EINTR) {
      pollfd writable{fd_, POLLOUT, 0};
      while (::poll(&writable, 1, 5000) < 0 && errno == EINTR) {
      }
      socklen_t length = sizeof(error);
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
    }
    if (error != 0) {
      std::fprintf(stderr, "fuzz: connect: %s\n", std::strerror(error));
      check(false, "cannot connect to the server");
    }
  }
  ~Connection() { ::close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends what the server takes of `bytes` (it may close early), then ends
  // the input.
  void send_all(const uint8_t* bytes, size_t size) {
    while (size > 0) {
      const ssize_t sent = ::send(fd_, bytes, size, MSG_NOSIGNAL);
      if (sent < 0 && errno == EINTR) continue;
      if (sent <= 0) break;
      bytes += sent;
      size -= static_cast<size_t>(sent);
    }
    ::shutdown(fd_, SHUT_WR);
  }

  // Everything the server sends until it closes; false on a time-out.
  bool read_to_close(std::string* answer) {
    char buffer[16 * 1024];
    while (true) {
      const ssize_t got = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (got == 0) return true;
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return errno != EAGAIN && errno != EWOULDBLOCK;  // a reset is a close
      answer->append(buffer, static_cast<size_t>(got));
    }
  }

 private:
  int fd_;
};

// "HTTP/1.1 200 " and the like.
bool starts_with_status_line(const std::string& answer) {
  return answer.size() >= 13 && answer.compare(0, 5, "HTTP/") == 0 && std::isdigit(answer[5]) &&
         answer[6] == '.' && std::isdigit(answer[7]) && answer[8] == ' ' &&
         std::isdigit(answer[9]) && std::isdigit(answer[10]) && std::isdigit(answer[11]) &&
         answer[12] == ' ';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  genalytics::HttpServer& http_server = server();
  std::string answer;
  {
    Connection connection(http_server.port());
    connection.send_all(data, size);
    check(connection.read_to_close(&answer), "the server neither answered nor closed in 5 s");
  }
  check(answer.empty() || starts_with_status_line(answer), "an answer without a status line");
  // The server lets go of a request just after its connection closes.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while ((http_server.in_flight() != 0 || http_server.body_bytes_in_flight() != 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  check(http_server.in_flight() == 0, "a request stays in flight after its connection closed");
  check(http_server.body_bytes_in_flight() == 0, "a body reservation outlives its connection");
  return 0;
}
