// The behaviour every Store implementation must have. An implementation's
// test file instantiates it:
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreSuite, ::testing::Values(StoreFactory{...}));
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "event/time.h"
#include "store/store.h"

namespace genalytics::testing {

// 2025-06-15T00:00:00Z, a day start: the day the suites' sample events begin.
inline constexpr int64_t kBase = 1'750'000'000'000'000 / kMicrosPerDay * kMicrosPerDay;

struct StoreFactory {
  std::string name;
  // Opens the store kept under `dir` (a fresh empty directory the first time;
  // the same directory again to reopen it).
  std::function<std::unique_ptr<Store>(const std::string& dir)> open;
};

inline std::ostream& operator<<(std::ostream& out, const StoreFactory& f) { return out << f.name; }

class StoreSuite : public ::testing::TestWithParam<StoreFactory> {};

}  // namespace genalytics::testing
