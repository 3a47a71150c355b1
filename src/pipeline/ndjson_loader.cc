#include "pipeline/ndjson_loader.h"

#include <fmt/format.h>
#include <fstream>

#include "event/generation_decoder.h"
#include "event/time.h"

namespace genalytics {
namespace {
constexpr size_t kChunkBytes = 4 * 1024 * 1024;
}  // namespace

LoadStats load_ndjson_file(const std::string& path, BatchWriter& writer, EventKind kind,
                           const EventDecodeOptions& options,
                           const std::function<void(const LoadStats&)>& progress,
                           const std::function<void(const RejectedLine&)>& on_rejected) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot open {}", path));
  in.seekg(0, std::ios::end);
  LoadStats stats;
  stats.bytes_total = static_cast<uint64_t>(in.tellg());
  in.seekg(0);

  std::string chunk;
  std::string line;
  uint64_t line_number = 0;
  std::vector<uint64_t> chunk_lines;  // file line number of each non-blank line in the chunk
  // Each chunk lists only what the file's budget of listed lines has left.
  EventDecodeOptions chunk_options = options;
  const auto write_chunk = [&](auto kind_tag) {
    using Kind = typename decltype(kind_tag)::type;
    auto batch = Kind::decode_body(chunk, /*ndjson=*/true, now_us(), chunk_options);
    for (const RejectedEvent& r : batch.rejected.listed) {
      on_rejected(RejectedLine{r.index < chunk_lines.size() ? chunk_lines[r.index] : 0, r.errors});
    }
    stats.rejected += batch.rejected.count;
    chunk_options.limits.max_rejected_listed -= batch.rejected.listed.size();
    if (!batch.events.empty()) {
      WriteResult result = writer.write(std::move(batch.events));
      if (!result.ok) throw StoreError(result.error);
      stats.accepted += result.accepted;
      stats.duplicates += result.duplicates;
    }
  };
  auto flush = [&] {
    if (chunk_lines.empty()) return;
    EventKinds::visit(kind, write_chunk);
    chunk.clear();
    chunk_lines.clear();
    progress(stats);
  };
  while (std::getline(in, line)) {
    ++line_number;
    stats.bytes_read += line.size() + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    chunk += line;
    chunk += '\n';
    chunk_lines.push_back(line_number);
    // A chunk is one body: it must not hold more events than a body may.
    if (chunk.size() >= kChunkBytes || chunk_lines.size() >= options.limits.max_events_per_body) {
      flush();
    }
  }
  if (in.bad()) throw std::runtime_error(fmt::format("error reading {}", path));
  stats.bytes_read = stats.bytes_total;
  flush();
  progress(stats);
  return stats;
}

}  // namespace genalytics
