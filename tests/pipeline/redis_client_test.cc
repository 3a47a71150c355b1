#include "pipeline/redis_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "testing/redis_server.h"

namespace genalytics {
namespace {

using ::testing::HasSubstr;
using testing::RedisServer;

TEST(RedisOptionsTest, ParsesHostPortAndDatabase) {
  RedisOptions options = RedisOptions::from_url("redis://cache.internal:6380/2");
  EXPECT_EQ(options.host, "cache.internal");
  EXPECT_EQ(options.port, 6380);
  EXPECT_EQ(options.db, 2);
  options = RedisOptions::from_url("redis://localhost");
  EXPECT_EQ(options.host, "localhost");
  EXPECT_EQ(options.port, 6379);
  EXPECT_EQ(options.db, 0);
  options = RedisOptions::from_url("redis://[::1]:7000/");
  EXPECT_EQ(options.host, "::1");
  EXPECT_EQ(options.port, 7000);
}

TEST(RedisOptionsTest, RejectsWhatItCannotUse) {
  for (const char* url : {"localhost:6379", "http://localhost", "redis://", "redis://:6379",
                          "redis://host:0", "redis://host:65536", "redis://host:port",
                          "redis://host/x", "redis://user:secret@host", "redis://[::1"}) {
    EXPECT_THROW(RedisOptions::from_url(url), std::invalid_argument) << url;
  }
  try {
    RedisOptions::from_url("redis://host:port");
    FAIL();
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), HasSubstr("the port must be a number"));
  }
}

TEST(RedisClientTest, CommandsAreBinarySafe) {
  RedisClient client(RedisServer::shared().options());
  const std::string value("a\0b\r\n c", 7);
  client.command({"SET", "redis-client-test:binary", value});
  const RedisReply reply = client.command({"GET", "redis-client-test:binary"});
  ASSERT_EQ(reply->type, REDIS_REPLY_STRING);
  EXPECT_EQ(reply_text(*reply), value);
}

TEST(RedisClientTest, PipelinedRepliesComeInOrderWithErrorsInPlace) {
  RedisClient client(RedisServer::shared().options());
  client.append({"SET", "redis-client-test:pipeline", "1"});
  client.append({"INCR", "redis-client-test:pipeline"});
  client.append({"LPUSH", "redis-client-test:pipeline", "x"});  // WRONGTYPE
  client.append({"INCR", "redis-client-test:pipeline"});
  EXPECT_EQ(client.pending_replies(), 4u);
  EXPECT_EQ(client.get_reply()->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(client.get_reply()->integer, 2);
  const RedisReply error = client.get_reply();
  EXPECT_EQ(error->type, REDIS_REPLY_ERROR);
  EXPECT_THAT(std::string(reply_text(*error)), HasSubstr("WRONGTYPE"));
  EXPECT_EQ(client.get_reply()->integer, 3);
  EXPECT_EQ(client.pending_replies(), 0u);
}

TEST(RedisClientTest, ErrorRepliesThrowAndKeepTheConnection) {
  RedisClient client(RedisServer::shared().options());
  EXPECT_THROW(client.command({"NOSUCHCOMMAND"}), RedisReplyError);
  EXPECT_TRUE(client.connected());
  EXPECT_EQ(reply_text(*client.command({"PING"})), "PONG");
}

TEST(RedisClientTest, SelectsTheDatabaseOfTheUrl) {
  RedisOptions options = RedisServer::shared().options();
  options.db = 3;
  RedisClient db3(options);
  db3.command({"SET", "redis-client-test:db", "3"});
  RedisClient db0(RedisServer::shared().options());
  EXPECT_EQ(db0.command({"GET", "redis-client-test:db"})->type, REDIS_REPLY_NIL);
  db3.reconnect();  // keeps its database
  EXPECT_EQ(reply_text(*db3.command({"GET", "redis-client-test:db"})), "3");
  options.db = 1000;  // the server has 16
  EXPECT_THROW(RedisClient{options}, RedisError);
}

TEST(RedisClientTest, LostConnectionThrowsUntilReconnected) {
  RedisServer redis;
  RedisClient client(redis.options());
  redis.restart();
  EXPECT_THROW(client.command({"PING"}), RedisError);
  EXPECT_FALSE(client.connected());
  EXPECT_THROW(client.command({"PING"}), RedisError);
  client.reconnect();
  EXPECT_EQ(reply_text(*client.command({"PING"})), "PONG");
  redis.stop();
  EXPECT_THROW(client.reconnect(), RedisError);
  try {
    RedisClient refused(redis.options());
    FAIL();
  } catch (const RedisError& error) {
    EXPECT_THAT(error.what(), HasSubstr("Connection refused"));
  }
}

}  // namespace
}  // namespace genalytics
