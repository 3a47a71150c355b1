// A StoreError's class decides its answer (server/responses.h): only an
// unavailable store is worth retrying, so only it answers 503.
#include <gtest/gtest.h>

#include <string>

#include "server/responses.h"
#include "store/store.h"

namespace genalytics {
namespace {

namespace http = boost::beast::http;

HttpResponse answer_to(const StoreError& error) {
  try {
    throw error;
  } catch (...) {
    return current_exception_response(11, true);
  }
}

TEST(StoreErrorResponseTest, UnavailableStoreIs503WithRetryAfter) {
  HttpResponse response = answer_to(StoreError("postgres: cannot connect: refused"));
  EXPECT_EQ(response.result(), http::status::service_unavailable);
  EXPECT_EQ(response[http::field::retry_after], "1");
  EXPECT_EQ(response.body(),
            R"({"error":{"code":"store_unavailable","message":"postgres: cannot connect: refused"}})");
}

TEST(StoreErrorResponseTest, CorruptStoreIs500StoreCorruptWithoutTheInternalMessage) {
  HttpResponse response = answer_to(
      StoreError("corrupt duration_sketch in rollup row of /secret/path", StoreFailure::kCorrupt));
  EXPECT_EQ(response.result(), http::status::internal_server_error);
  EXPECT_EQ(response.count(http::field::retry_after), 0u);
  EXPECT_EQ(response.body(),
            R"({"error":{"code":"store_corrupt","message":"stored data cannot be read"}})");
}

TEST(StoreErrorResponseTest, InvalidStoreWriteIs500StoreInvalidWithoutTheInternalMessage) {
  HttpResponse response = answer_to(
      StoreError("postgres: value out of range [SQLSTATE 22003] in: INSERT ...",
                 StoreFailure::kInvalid));
  EXPECT_EQ(response.result(), http::status::internal_server_error);
  EXPECT_EQ(response.count(http::field::retry_after), 0u);
  EXPECT_EQ(response.body(),
            R"({"error":{"code":"store_invalid","message":"the store refused the data"}})");
}

}  // namespace
}  // namespace genalytics
