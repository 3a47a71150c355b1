#include "store/sample_messages.h"

#include <boost/json.hpp>

#include "store/store.h"

namespace genalytics {

std::string encode_sample_messages(const std::vector<std::string>& messages) {
  boost::json::array array;
  for (const std::string& m : messages) array.emplace_back(m);
  return boost::json::serialize(array);
}

std::vector<std::string> decode_sample_messages(std::string_view text) {
  std::vector<std::string> messages;
  if (text.empty()) return messages;
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_array()) {
    throw StoreError("corrupt sample_messages in rollup row", StoreFailure::kCorrupt);
  }
  for (const auto& m : value.as_array()) {
    if (m.is_string()) messages.emplace_back(m.as_string());
  }
  return messages;
}

}  // namespace genalytics
