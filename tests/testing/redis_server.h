// A real redis-server for tests: a fresh temporary directory, a free loopback
// port, AOF with fsync on every write (the production setting), no RDB
// snapshots. Stopped at scope exit; restart() brings it back on the same
// directory and port, so it reloads its AOF.
#pragma once

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/redis_client.h"
#include "testing/temp_dir.h"

namespace genalytics::testing {

class RedisServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/redis-server";

  // Starts the server. Throws std::runtime_error (with the server's log) when
  // it does not answer PING within a few seconds.
  RedisServer() {
    // The port is free when chosen; retry in the rare case it is taken by then.
    for (int attempt = 0;; ++attempt) {
      port_ = free_port();
      try {
        start();
        return;
      } catch (const std::runtime_error&) {
        if (attempt == 2) throw;
      }
    }
  }
  ~RedisServer() { stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // One server for the whole test binary, started on first use.
  static RedisServer& shared() {
    static RedisServer server;
    return server;
  }

  // Starts the server on its directory and port. The server dies with the
  // thread that calls this (PR_SET_PDEATHSIG): call it from the main thread.
  // REQUIRES: stopped.
  void start() {
    const std::string port = std::to_string(port_);
    const std::string log = log_path();
    std::vector<std::string> args = {
        kBinary,     "--port",       port,  "--bind",        "127.0.0.1", "--dir",
        dir_.path(), "--appendonly", "yes", "--appendfsync", "always",    "--save",
        "",          "--daemonize",  "no",  "--logfile",     log};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {  // only async-signal-safe calls until exec
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      const int null_fd = open("/dev/null", O_RDWR);
      dup2(null_fd, 0);
      dup2(null_fd, 1);
      dup2(null_fd, 2);
      execv(kBinary, argv.data());
      _exit(127);
    }
    pid_ = pid;
    wait_until_ready();
  }

  // Stops the server with `signal` (SIGTERM: clean shutdown; SIGKILL: a
  // crash) and waits for it to exit. Idempotent.
  void stop(int signal = SIGTERM) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  void restart(int signal = SIGTERM) {
    stop(signal);
    start();
  }

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_.path(); }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  RedisOptions options() const {
    RedisOptions options;
    options.port = port_;
    options.connect_timeout_ms = 1000;
    return options;
  }

 private:
  static int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    close(fd);
    if (!ok) throw std::runtime_error("no free port");
    return ntohs(address.sin_port);
  }

  std::string log_path() const { return dir_.path() + "/redis.log"; }

  // Waits for PONG (not -LOADING while the AOF is replayed).
  void wait_until_ready() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("redis-server exited at start-up:\n" + read_log());
      }
      if (answers_ping()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    stop(SIGKILL);
    throw std::runtime_error("redis-server did not answer PING:\n" + read_log());
  }

  bool answers_ping() const {
    redisContext* context = redisConnectWithTimeout("127.0.0.1", port_, timeval{1, 0});
    bool pong = false;
    if (context != nullptr && context->err == 0) {
      auto* reply = static_cast<redisReply*>(redisCommand(context, "PING"));
      pong = reply != nullptr && reply->type == REDIS_REPLY_STATUS &&
             std::string(reply->str, reply->len) == "PONG";
      if (reply != nullptr) freeReplyObject(reply);
    }
    if (context != nullptr) redisFree(context);
    return pong;
  }

  std::string read_log() const {
    std::ifstream in(log_path());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  TempDir dir_;  // outlives the server: declared first, destroyed last
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace genalytics::testing
