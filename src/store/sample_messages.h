// How both stores keep a rollup row's sample error messages: a JSON array of
// strings in one text column.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace genalytics {

std::string encode_sample_messages(const std::vector<std::string>& messages);

// Empty text is no messages. Throws StoreError(kCorrupt) when `text` is not
// a JSON array.
std::vector<std::string> decode_sample_messages(std::string_view text);

}  // namespace genalytics
