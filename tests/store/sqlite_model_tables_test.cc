// The embedded store's model tables beyond the Store contract
// (model_store_suite.cc): what a failed transaction leaves, and stored data
// that does not decode. Model events are written through SqliteModelTables
// itself, on a file SqliteStore has migrated.
#include "store/sqlite_model_tables.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "event/time.h"
#include "event/uuid.h"
#include "store/sqlite.h"
#include "store/sqlite_connections.h"
#include "store/sqlite_store.h"
#include "testing/events.h"
#include "testing/fixed_times.h"
#include "testing/store_failure.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

using testing::failure_of;
using testing::kHour;
using testing::TempDir;

ModelEvent load(const std::string& model_id, int64_t t) {
  ModelEvent e;
  e.event_id = random_uuid();
  e.event_type = ModelEventType::kLoad;
  e.model_id = model_id;
  e.timestamp_us = t;
  e.duration_ms = 1500;
  e.gpu_memory_mb = 6000;
  e.worker_id = "gpu-0";
  return e;
}

// A migrated store file, and the model tables over a connection of their own.
class SqliteModelTablesTest : public ::testing::Test {
 protected:
  SqliteModelTablesTest() {
    SqliteStore migrate(dir_.path());
    connections_ = std::make_unique<SqliteConnections>(migrate.path());
    tables_ = std::make_unique<SqliteModelTables>(*connections_);
  }

  void exec(const std::string& sql) {
    SqliteDatabase db(connections_->path(), false);
    db.exec(sql);
  }

  TempDir dir_;
  std::unique_ptr<SqliteConnections> connections_;
  std::unique_ptr<SqliteModelTables> tables_;
};

TEST_F(SqliteModelTablesTest, AFailedModelWriteLeavesNothingBehind) {
  exec(
      "CREATE TRIGGER boom BEFORE INSERT ON model_usage_events WHEN NEW.model_id = 'boom' "
      "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  const std::vector<ModelEvent> batch = {load("sdxl", kHour), load("boom", kHour + 1)};
  std::vector<uint8_t> inserted;
  EXPECT_TRUE(failure_of([&] { tables_->write(batch, &inserted); }).has_value());
  EXPECT_EQ(inserted, (std::vector<uint8_t>{0, 0}));
  EXPECT_TRUE(tables_->read_lifecycle(kHour, kHour + kMicrosPerHour, std::nullopt).empty());
  EXPECT_TRUE(tables_->read_models().empty());
  EXPECT_TRUE(tables_->read_worker_states().empty());
  int scanned = 0;
  tables_->scan(kHour, kHour + kMicrosPerHour, [&](const ModelEvent&) { ++scanned; });
  EXPECT_EQ(scanned, 0);
  // Still usable.
  tables_->write(std::vector{batch[0]}, &inserted);
  EXPECT_EQ(inserted, std::vector<uint8_t>{1});
  const auto rows = tables_->read_lifecycle(kHour, kHour + kMicrosPerHour, std::nullopt);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bucket.loads, 1);
  EXPECT_EQ(tables_->read_worker_states().size(), 1u);
}

TEST_F(SqliteModelTablesTest, AFailedRegistrationRegistersNothing) {
  exec(
      "CREATE TRIGGER boom BEFORE INSERT ON model_inventory WHEN NEW.model_id = 'boom' "
      "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  ModelRecord ok;
  ok.model_id = "on-disk";
  ok.size_bytes = 10;
  ok.registered_us = kHour;
  ModelRecord boom = ok;
  boom.model_id = "boom";
  EXPECT_TRUE(failure_of([&] { tables_->register_models(std::vector{ok, boom}); }).has_value());
  EXPECT_TRUE(tables_->read_models().empty());
  tables_->register_models(std::vector{ok});
  EXPECT_EQ(tables_->read_models(), std::vector{ok});
}

TEST_F(SqliteModelTablesTest, ACorruptLifecycleSketchIsCorrupt) {
  std::vector<uint8_t> inserted;
  tables_->write(std::vector{load("sdxl", kHour)}, &inserted);
  exec("UPDATE model_lifecycle_hourly SET load_time_sketch = x'00ff'");
  EXPECT_EQ(failure_of([&] { tables_->read_lifecycle(kHour, kHour + kMicrosPerHour, "sdxl"); }),
            StoreFailure::kCorrupt);
}

// A generation write and the model usage it implies are one transaction.
TEST(SqliteModelUsageTest, AFailedUsageMergeRollsBackTheGenerationWrite) {
  TempDir dir;
  SqliteStore store(dir.path());
  {
    SqliteDatabase db(store.path(), false);
    db.exec(
        "CREATE TRIGGER boom BEFORE INSERT ON model_param_hourly WHEN NEW.param_key = 'boom' "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END;");
  }
  GenerationEvent request = testing::make_event(GenerationEventType::kRequest, kHour);
  request.model_checkpoint = "sdxl";
  request.params_json = R"({"steps":30,"boom":"1"})";
  std::vector<uint8_t> inserted;
  EXPECT_TRUE(failure_of([&] { store.write(std::vector{request}, &inserted); }).has_value());
  EXPECT_EQ(inserted, std::vector<uint8_t>{0});
  EXPECT_EQ(store.count_generation_events(), 0);
  EXPECT_TRUE(
      store.read_rollups(Dimension::kAll, kHour, kHour + kMicrosPerHour, std::nullopt, {}).empty());
  EXPECT_TRUE(store.read_model_usage(kHour, kHour + kMicrosPerHour, std::nullopt, true).empty());
  EXPECT_TRUE(store.read_model_params(kHour, kHour + kMicrosPerHour, std::nullopt).empty());
  EXPECT_TRUE(store.read_models().empty());
  // Still usable.
  request.params_json = R"({"steps":30})";
  store.write(std::vector{request}, &inserted);
  EXPECT_EQ(inserted, std::vector<uint8_t>{1});
  EXPECT_EQ(store.read_model_params(kHour, kHour + kMicrosPerHour, "sdxl").size(), 1u);
}

TEST(SqliteModelUsageTest, ACorruptUsageSketchIsCorruptUnlessSketchesAreSkipped) {
  TempDir dir;
  SqliteStore store(dir.path());
  GenerationEvent completion = testing::make_completion(kHour, true, 900, "", "sdxl");
  completion.generation_time_ms = 800;
  std::vector<uint8_t> inserted;
  store.write(std::vector{completion}, &inserted);
  {
    SqliteDatabase db(store.path(), false);
    db.exec("UPDATE model_usage_hourly SET generation_time_sketch = x'00ff'");
  }
  EXPECT_EQ(failure_of(
                [&] { store.read_model_usage(kHour, kHour + kMicrosPerHour, std::nullopt, true); }),
            StoreFailure::kCorrupt);
  const auto rows = store.read_model_usage(kHour, kHour + kMicrosPerHour, std::nullopt, false);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].bucket.completions, 1);
  EXPECT_EQ(rows[0].bucket.generation_time_sum, 800);
  // A write that must merge into the corrupt row refuses too, and leaves nothing.
  EXPECT_EQ(failure_of([&] {
              store.write(
                  std::vector{completion, testing::make_completion(kHour + 1, true, 5, "", "sdxl")},
                  &inserted);
            }),
            StoreFailure::kCorrupt);
  EXPECT_EQ(store.count_generation_events(), 1);
}

}  // namespace
}  // namespace genalytics
