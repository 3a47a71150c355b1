#include "pipeline/stream_publisher.h"

#include <algorithm>
#include <utility>
#include <variant>


namespace genalytics {
namespace {

std::array<std::string, EventKinds::kCount> stream_keys(std::string_view ns) {
  std::array<std::string, EventKinds::kCount> keys;
  for (const EventKind kind : kEventKinds) keys[static_cast<size_t>(kind)] = stream_key(kind, ns);
  return keys;
}

}  // namespace

StreamPublisher::StreamPublisher(RedisOptions redis, Options options)
    : redis_(std::move(redis)),
      options_(std::move(options)),
      stream_keys_(stream_keys(options_.ns)) {}

void StreamPublisher::publish(EventSpan events) {
  const std::string& key = stream_key(event_kind(events));
  std::visit([&](auto span) { publish_to(key, span); }, events);
}

template <typename Event>
void StreamPublisher::publish_to(const std::string& key, std::span<const Event> events) {
  if (events.empty()) return;
  bool reused = false;
  std::unique_ptr<RedisClient> client = take_connection(&reused);
  try {
    send(*client, key, events);
  } catch (const RedisReplyError&) {
    return_connection(std::move(client));  // Redis refused; the connection is fine
    throw;
  } catch (const RedisError&) {
    if (!reused) throw;
    // Most likely closed while idle (a Redis restart, an idle timeout).
    client = std::make_unique<RedisClient>(redis_);
    send(*client, key, events);
  }
  return_connection(std::move(client));
}

std::unique_ptr<RedisClient> StreamPublisher::take_connection(bool* reused) {
  {
    MutexLock lock(idle_mutex_);
    if (!idle_.empty()) {
      std::unique_ptr<RedisClient> client = std::move(idle_.back());
      idle_.pop_back();
      *reused = true;
      return client;
    }
  }
  *reused = false;
  return std::make_unique<RedisClient>(redis_);
}

void StreamPublisher::return_connection(std::unique_ptr<RedisClient> client) {
  MutexLock lock(idle_mutex_);
  if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(client));
}

template <typename Event>
void StreamPublisher::send(RedisClient& client, const std::string& key,
                           std::span<const Event> events) {
  std::vector<std::string_view> args;
  const size_t window = std::max<size_t>(options_.pipeline_window, 1);
  for (size_t start = 0; start < events.size(); start += window) {
    const std::span<const Event> chunk =
        events.subspan(start, std::min(window, events.size() - start));
    for (const Event& event : chunk) {
      const std::vector<std::pair<std::string, std::string>> fields =
          KindOfEvents<std::vector<Event>>::to_stream_fields(event);
      args.assign({"XADD", key, "*"});
      for (const auto& [name, value] : fields) {
        args.push_back(name);
        args.push_back(value);
      }
      client.append(args);
    }
    // Every reply is read, even after an error, so the connection stays in step.
    std::string refusal;
    size_t refused = 0;
    for (size_t i = 0; i < chunk.size(); ++i) {
      RedisReply reply = client.get_reply();
      if (reply->type == REDIS_REPLY_ERROR) {
        if (refused++ == 0) refusal = reply_text(*reply);
      }
    }
    if (refused > 0) {
      throw RedisReplyError("Redis refused " + std::to_string(refused) + " of " +
                            std::to_string(chunk.size()) + " XADDs to " + key + ": " + refusal);
    }
  }
}

}  // namespace genalytics
