#include "pipeline/ndjson_loader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "store/sqlite_store.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::TempDir;

constexpr char kValidLine[] =
    R"({"event_type":"request","generation_id":"7c9e6679-7425-40de-944b-e07fc1f90ae7",)"
    R"("timestamp":"2025-01-15T10:30:45Z"})";

class NdjsonLoaderTest : public ::testing::Test {
 protected:
  // Loads `lines` (one per line) and collects the listed rejections.
  LoadStats load(const std::vector<std::string>& lines, const DecodeLimits& limits) {
    const std::string path = dir_.path() + "/events.ndjson";
    {
      std::ofstream out(path);
      for (const std::string& line : lines) out << line << '\n';
    }
    SqliteStore store(dir_.path());
    BatchWriter writer(&store, {});
    LoadStats stats = load_ndjson_file(
        path, writer, event_kind<GenerationKind>(), EventDecodeOptions{limits, {}},
        [](const LoadStats&) {},
        [&](const RejectedLine& line) { listed_.push_back(line.line); });
    writer.shutdown();
    return stats;
  }

  TempDir dir_;
  std::vector<uint64_t> listed_;
};

// A file of bad lines kept a record of every one of them in memory.
TEST_F(NdjsonLoaderTest, ListsTheFirstRejectedLinesOfTheFileAndCountsTheRest) {
  // Lines of 1 KB: 5,000 of them span two 4 MiB chunks.
  const std::string bad = R"({"pad":")" + std::string(1000, 'x') + R"("})";
  std::vector<std::string> lines(5000, bad);
  lines[0] = kValidLine;
  DecodeLimits limits;
  limits.max_rejected_listed = 100;
  const LoadStats stats = load(lines, limits);
  EXPECT_EQ(stats.accepted, 1u);
  EXPECT_EQ(stats.rejected, 4999u);
  ASSERT_EQ(listed_.size(), 100u);  // over the whole file, not per chunk
  EXPECT_EQ(listed_.front(), 2u);
  EXPECT_EQ(listed_.back(), 101u);
}

// A chunk of more short lines than a body may hold was rejected as a whole,
// counting one rejection for a million bad lines.
TEST_F(NdjsonLoaderTest, ShortLinesPastTheEventsPerBodyLimitAreEachJudged) {
  std::vector<std::string> lines(2500, "{}");
  lines[2400] = kValidLine;
  DecodeLimits limits;
  limits.max_events_per_body = 1000;
  limits.max_rejected_listed = 3;
  const LoadStats stats = load(lines, limits);
  EXPECT_EQ(stats.accepted, 1u);
  EXPECT_EQ(stats.rejected, 2499u);
  EXPECT_EQ(listed_, (std::vector<uint64_t>{1, 2, 3}));
}

}  // namespace
}  // namespace genalytics
