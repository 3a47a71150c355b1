// The errors that end an analytics request because of what it asked for.
// server/responses.cc maps them to statuses (400 and 404).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace genalytics {

// A query parameter that cannot be honoured (400). `parameter` names it.
class InvalidArgument : public std::runtime_error {
 public:
  InvalidArgument(std::string parameter, const std::string& message)
      : std::runtime_error(message), parameter_(std::move(parameter)) {}
  const std::string& parameter() const { return parameter_; }

 private:
  std::string parameter_;
};

// What a request asked for does not exist (404).
class NotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace genalytics
