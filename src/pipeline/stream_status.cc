#include "pipeline/stream_status.h"

#include <charconv>

namespace genalytics {
namespace {

// The millisecond part of a stream entry id "1700000000000-3".
std::optional<int64_t> entry_id_ms(std::string_view id) {
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), ms);
  if (ec != std::errc() || end == id.data()) return std::nullopt;
  return ms;
}

// The XADD time of the single entry of an XRANGE / XREVRANGE ... COUNT 1 reply.
std::optional<int64_t> entry_time(const RedisReply& range) {
  if (range->type != REDIS_REPLY_ARRAY || range->elements == 0) return std::nullopt;
  const redisReply& entry = *range->element[0];
  if (entry.type != REDIS_REPLY_ARRAY || entry.elements == 0) return std::nullopt;
  auto ms = entry_id_ms(reply_text(*entry.element[0]));
  if (!ms) return std::nullopt;
  return *ms * 1000;
}

std::string_view field_of(const redisReply& map, std::string_view name, const redisReply** value) {
  for (size_t i = 0; i + 1 < map.elements; i += 2) {
    if (reply_text(*map.element[i]) == name) {
      *value = map.element[i + 1];
      return reply_text(*map.element[i + 1]);
    }
  }
  *value = nullptr;
  return {};
}

}  // namespace

StreamStatus read_stream_status(RedisClient& redis, EventKind kind, const std::string& ns,
                                const std::string& group, int64_t now_us) {
  StreamStatus status;
  status.kind = kind;
  status.stream_key = stream_key(kind, ns);
  status.dead_letter_key = dead_letter_key(kind, ns);
  status.length = redis.command({"XLEN", status.stream_key})->integer;
  status.dead_letters = redis.command({"XLEN", status.dead_letter_key})->integer;
  if (status.length > 0) {
    // Entries are deleted once stored, so the oldest one left is the oldest
    // not yet transferred.
    status.first_entry_us = entry_time(redis.command({"XRANGE", status.stream_key, "-", "+", "COUNT", "1"}));
    status.last_entry_us = entry_time(redis.command({"XREVRANGE", status.stream_key, "+", "-", "COUNT", "1"}));
  }
  RedisReply groups;
  try {
    groups = redis.command({"XINFO", "GROUPS", status.stream_key});
  } catch (const RedisReplyError&) {
    return status;  // no stream yet
  }
  for (size_t g = 0; g < groups->elements; ++g) {
    const redisReply& info = *groups->element[g];
    const redisReply* value = nullptr;
    if (field_of(info, "name", &value) != group) continue;
    field_of(info, "consumers", &value);
    if (value && value->type == REDIS_REPLY_INTEGER) status.consumers = value->integer;
    field_of(info, "pending", &value);
    if (value && value->type == REDIS_REPLY_INTEGER) status.pending = value->integer;
  }
  if (status.pending > 0) {
    RedisReply summary = redis.command({"XPENDING", status.stream_key, group});
    if (summary->type == REDIS_REPLY_ARRAY && summary->elements >= 2 &&
        summary->element[1]->type == REDIS_REPLY_STRING) {
      if (auto ms = entry_id_ms(reply_text(*summary->element[1]))) {
        status.oldest_pending_age_s = std::max(0.0, static_cast<double>(now_us / 1000 - *ms) / 1000.0);
      }
    }
  }
  return status;
}

}  // namespace genalytics
