#include "pipeline/redis_client.h"

#include <sys/time.h>

#include <charconv>
#include <string>
#include <utility>
#include <vector>

namespace genalytics {
namespace {

timeval to_timeval(int ms) {
  return timeval{ms / 1000, static_cast<suseconds_t>(ms % 1000) * 1000};
}

// Parses all of `text` as a decimal integer in [minimum, maximum].
bool parse_int(std::string_view text, int minimum, int maximum, int* out) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < minimum ||
      value > maximum) {
    return false;
  }
  *out = value;
  return true;
}

// hiredis takes a command as parallel arrays of pointers and lengths.
struct Argv {
  explicit Argv(std::span<const std::string_view> args) {
    pointers.reserve(args.size());
    lengths.reserve(args.size());
    for (std::string_view arg : args) {
      pointers.push_back(arg.data());
      lengths.push_back(arg.size());
    }
  }
  int count() const { return static_cast<int>(pointers.size()); }

  std::vector<const char*> pointers;
  std::vector<size_t> lengths;
};

}  // namespace

RedisOptions RedisOptions::from_url(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  const auto invalid = [&](std::string_view why) {
    return std::invalid_argument("invalid Redis URL \"" + std::string(url) + "\": " +
                                 std::string(why) + " (expected redis://host[:port][/db])");
  };
  if (!url.starts_with(kScheme)) throw invalid("it must start with redis://");
  std::string_view rest = url.substr(kScheme.size());
  if (rest.find('@') != rest.npos) throw invalid("credentials are not supported");

  RedisOptions options;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != rest.npos) {
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !parse_int(db, 0, 1'000'000, &options.db)) {
      throw invalid("the database must be a number");
    }
  }
  std::string_view port;
  if (authority.starts_with('[')) {  // [IPv6]
    const size_t close = authority.find(']');
    if (close == authority.npos) throw invalid("unterminated [");
    options.host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':')) throw invalid("text after ]");
    if (!after.empty()) port = after.substr(1);
  } else {
    const size_t colon = authority.find(':');
    options.host = authority.substr(0, colon);
    if (colon != authority.npos) port = authority.substr(colon + 1);
  }
  if (options.host.empty()) throw invalid("the host is missing");
  if (!port.empty() && !parse_int(port, 1, 65535, &options.port)) {
    throw invalid("the port must be a number from 1 to 65535");
  }
  return options;
}

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) { connect(); }

void RedisClient::connect() {
  context_.reset(redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                         to_timeval(options_.connect_timeout_ms)));
  pending_replies_ = 0;
  if (context_ == nullptr) throw RedisError("Redis: cannot allocate a connection");
  if (context_->err != 0) fail("connecting");
  if (redisSetTimeout(context_.get(), to_timeval(options_.command_timeout_ms)) != REDIS_OK) {
    fail("setting the timeout");
  }
  if (options_.db == 0) return;
  try {
    command({"SELECT", std::to_string(options_.db)});
  } catch (const RedisReplyError& error) {
    context_.reset();  // connected to the wrong database: unusable
    throw RedisError("Redis " + options_.host + ":" + std::to_string(options_.port) +
                     ": selecting database " + std::to_string(options_.db) + ": " + error.what());
  }
}

void RedisClient::reconnect() {
  context_.reset();
  connect();
}

void RedisClient::fail(std::string_view doing) {
  std::string message = "Redis " + options_.host + ":" + std::to_string(options_.port) + ": " +
                        std::string(doing) + ": ";
  message += context_ != nullptr && context_->errstr[0] != '\0' ? context_->errstr : "failed";
  context_.reset();
  pending_replies_ = 0;
  throw RedisError(message);
}

void RedisClient::require_connected() const {
  if (context_ == nullptr) {
    throw RedisError("Redis " + options_.host + ":" + std::to_string(options_.port) +
                     ": not connected");
  }
}

RedisReply RedisClient::command(std::span<const std::string_view> args) {
  require_connected();
  Argv argv(args);
  RedisReply reply(static_cast<redisReply*>(
      redisCommandArgv(context_.get(), argv.count(), argv.pointers.data(), argv.lengths.data())));
  if (reply == nullptr) fail(args.empty() ? "command" : args.front());
  if (reply->type == REDIS_REPLY_ERROR) throw RedisReplyError(std::string(reply_text(*reply)));
  return reply;
}

void RedisClient::append(std::span<const std::string_view> args) {
  require_connected();
  Argv argv(args);
  if (redisAppendCommandArgv(context_.get(), argv.count(), argv.pointers.data(),
                             argv.lengths.data()) != REDIS_OK) {
    fail("buffering a command");
  }
  ++pending_replies_;
}

RedisReply RedisClient::get_reply() {
  require_connected();
  void* reply = nullptr;
  if (redisGetReply(context_.get(), &reply) != REDIS_OK || reply == nullptr) {
    fail("reading a reply");
  }
  if (pending_replies_ > 0) --pending_replies_;
  return RedisReply(static_cast<redisReply*>(reply));
}

}  // namespace genalytics
