// A blocking connection to Redis (hiredis): binary-safe commands, pipelining,
// typed errors. One connection, not thread-safe: callers that share one
// serialize their calls.
#pragma once

#include <hiredis/hiredis.h>

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace genalytics {

// Redis could not be reached, or the connection failed or timed out. The
// connection is unusable afterwards until reconnect(). The server maps it to
// 503.
class RedisError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Redis answered a command with an error reply ("BUSYGROUP ...", "WRONGTYPE
// ..."). The connection stays usable.
class RedisReplyError : public RedisError {
 public:
  using RedisError::RedisError;
};

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
// A reply (RESP2: hiredis 0.14). Never null.
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

// The text of a string, status or error reply.
inline std::string_view reply_text(const redisReply& reply) { return {reply.str, reply.len}; }

struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  int connect_timeout_ms = 2000;
  int command_timeout_ms = 5000;  // per read or write of the socket; 0 waits forever

  // Reads "redis://host[:port][/db]" (host may be an [IPv6] literal), keeping
  // the timeouts. Throws std::invalid_argument naming what is wrong.
  static RedisOptions from_url(std::string_view url);
};

class RedisClient {
 public:
  // Connects (and SELECTs options.db). Throws RedisError.
  explicit RedisClient(RedisOptions options);
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command and returns its reply. Throws RedisReplyError on an
  // error reply and RedisError on any I/O failure.
  // REQUIRES: no pipelined reply pending.
  RedisReply command(std::span<const std::string_view> args);
  RedisReply command(std::initializer_list<std::string_view> args) {
    return command(std::span<const std::string_view>(args.begin(), args.size()));
  }

  // Pipelining: append() buffers a command without sending it; get_reply()
  // sends whatever is buffered and returns the next reply in order, error
  // replies included. Throws RedisError on an I/O failure.
  void append(std::span<const std::string_view> args);
  void append(std::initializer_list<std::string_view> args) {
    append(std::span<const std::string_view>(args.begin(), args.size()));
  }
  RedisReply get_reply();

  // Replies owed for appended commands.
  size_t pending_replies() const { return pending_replies_; }

  // False after an I/O failure, until reconnect() succeeds.
  bool connected() const { return context_ != nullptr; }

  // Drops the connection (and any pending replies) and connects again.
  // Throws RedisError.
  void reconnect();

  const RedisOptions& options() const { return options_; }

 private:
  struct ContextDeleter {
    void operator()(redisContext* context) const { redisFree(context); }
  };

  void connect();
  // Throws RedisError with `context_`'s error and drops the connection.
  [[noreturn]] void fail(std::string_view doing);
  void require_connected() const;

  RedisOptions options_;
  std::unique_ptr<redisContext, ContextDeleter> context_;
  size_t pending_replies_ = 0;
};

}  // namespace genalytics
