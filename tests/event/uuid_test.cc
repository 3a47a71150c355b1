#include "event/uuid.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

namespace genalytics {
namespace {

constexpr std::string_view kCanonical = "550e8400-e29b-41d4-a716-446655440000";

TEST(CanonicalUuidTest, KeepsCanonicalText) { EXPECT_EQ(canonical_uuid(kCanonical), kCanonical); }

TEST(CanonicalUuidTest, LowercasesAndStripsBraces) {
  EXPECT_EQ(canonical_uuid("550E8400-E29B-41D4-A716-446655440000"), kCanonical);
  EXPECT_EQ(canonical_uuid("550e8400-E29B-41d4-A716-446655440000"), kCanonical);
  EXPECT_EQ(canonical_uuid("{550e8400-e29b-41d4-a716-446655440000}"), kCanonical);
  EXPECT_EQ(canonical_uuid("{550E8400-E29B-41D4-A716-446655440000}"), kCanonical);
}

TEST(CanonicalUuidTest, RejectsAnythingElse) {
  const char* const kInvalid[] = {
      "",
      "550e8400",
      "550e8400e29b41d4a716446655440000",       // no hyphens
      "550e8400-e29b-41d4-a716-44665544000",    // one digit short
      "550e8400-e29b-41d4-a716-4466554400000",  // one digit long
      "550e840-0e29b-41d4-a716-446655440000",   // hyphen misplaced
      "550e8400-e29b-41d4-a716_446655440000",
      "550g8400-e29b-41d4-a716-446655440000",   // not hex
      "{550e8400-e29b-41d4-a716-446655440000",  // unbalanced braces
      "550e8400-e29b-41d4-a716-446655440000}",
      "(550e8400-e29b-41d4-a716-446655440000)",
      " 550e8400-e29b-41d4-a716-446655440000",
      "550e8400-e29b-41d4-a716-446655440000 ",
      "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
  };
  for (const char* text : kInvalid) {
    EXPECT_FALSE(canonical_uuid(text).has_value()) << text;
  }
}

TEST(RandomUuidTest, IsCanonicalVersion4) {
  for (int i = 0; i < 1000; ++i) {
    const std::string uuid = random_uuid();
    ASSERT_EQ(canonical_uuid(uuid), uuid);
    EXPECT_EQ(uuid[14], '4');
    EXPECT_NE(std::string_view("89ab").find(uuid[19]), std::string_view::npos) << uuid;
  }
}

TEST(RandomUuidTest, NeverRepeatsAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10'000;
  std::vector<std::vector<std::string>> generated(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&generated, t] {
      for (int i = 0; i < kPerThread; ++i) generated[t].push_back(random_uuid());
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> distinct;
  for (const auto& uuids : generated) distinct.insert(uuids.begin(), uuids.end());
  EXPECT_EQ(distinct.size(), size_t{kThreads * kPerThread});
}

}  // namespace
}  // namespace genalytics
