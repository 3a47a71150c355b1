// StoreError and StoreFailure as callers and test failures see them.
#include <gtest/gtest.h>

#include <sstream>

#include "store/store.h"

namespace genalytics {
namespace {

// gtest printed a StoreFailure as its raw byte ("\x01"), so a failed
// EXPECT_EQ on a failure class did not say which classes it compared.
TEST(StoreFailureTest, StoreFailurePrintsByNameNotAsRawBytes) {
  EXPECT_EQ(::testing::PrintToString(StoreFailure::kUnavailable), "unavailable");
  EXPECT_EQ(::testing::PrintToString(StoreFailure::kCorrupt), "corrupt");
  EXPECT_EQ(::testing::PrintToString(StoreFailure::kInvalid), "invalid");
  std::ostringstream out;
  out << StoreFailure::kCorrupt;
  EXPECT_EQ(out.str(), "corrupt");
}

TEST(StoreFailureTest, OnlyUnavailableIsRetryable) {
  EXPECT_EQ(StoreError("lost").failure(), StoreFailure::kUnavailable);
  EXPECT_TRUE(StoreError("lost").retryable());
  EXPECT_FALSE(StoreError("bad sketch", StoreFailure::kCorrupt).retryable());
  EXPECT_FALSE(StoreError("bad value", StoreFailure::kInvalid).retryable());
}

}  // namespace
}  // namespace genalytics
