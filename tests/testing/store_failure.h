// The failure class of a StoreError, for tests of how stores classify failures.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <optional>

#include "store/store.h"

namespace genalytics::testing {

// The failure class of the StoreError `action` throws; fails the test when
// it throws nothing.
inline std::optional<StoreFailure> failure_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const StoreError& error) {
    return error.failure();
  }
  ADD_FAILURE() << "no StoreError";
  return std::nullopt;
}

}  // namespace genalytics::testing
