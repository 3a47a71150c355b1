// The model inventory's inputs beyond events: a folder scan (on sparse
// files, so that a 7 GB checkpoint costs no disk) and registrations.
#include "analytics/model_inventory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "analytics/errors.h"
#include "event/time.h"
#include "testing/temp_dir.h"

namespace genalytics {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr int64_t kNow = 1'780'000'000'000'000;

// A sparse file of `size` bytes with modification time `mtime_us`.
void sparse_file(const fs::path& path, uint64_t size, int64_t mtime_us) {
  fs::create_directories(path.parent_path());
  { std::ofstream touch(path); }
  fs::resize_file(path, size);
  const auto since_epoch = std::chrono::microseconds(mtime_us);
  fs::last_write_time(path, std::chrono::file_clock::from_sys(
                                std::chrono::sys_time<std::chrono::microseconds>(since_epoch)));
}

TEST(ModelScanTest, RegistersEveryModelFileWithItsKindSizeAndDate) {
  TempDir dir;
  const fs::path root = dir.path();
  const int64_t june = 1'748'736'000'000'000;  // 2025-06-01
  sparse_file(root / "checkpoints" / "sdxl_base_1.0.safetensors", 6'938'078'334, june);
  sparse_file(root / "checkpoints" / "SD15" / "sd15_pruned.ckpt", 4'265'380'512, june + 1);
  sparse_file(root / "loras" / "detail_tweaker.safetensors", 151'110'000, june + 2);
  sparse_file(root / "vae" / "sdxl_vae.pt", 334'641'164, june + 3);
  sparse_file(root / "controlnet" / "canny.pth", 1'445'157'000, june + 4);
  sparse_file(root / "embeddings" / "easynegative.bin", 24'655, june + 5);
  sparse_file(root / "checkpoints" / "flux1-dev-Q8.GGUF", 12'700'000'000, june + 6);
  // Not models: another extension, a folder the layout does not name.
  sparse_file(root / "checkpoints" / "README.txt", 100, june);
  sparse_file(root / "upscale_models" / "4x.pth", 100, june);

  const ModelScan scan = scan_model_folder(root, kNow);
  EXPECT_EQ(scan.folders, 5u);
  EXPECT_TRUE(scan.skipped.empty());
  ASSERT_EQ(scan.records.size(), 7u);
  auto find = [&](std::string_view id) -> const ModelRecord& {
    for (const ModelRecord& r : scan.records) {
      if (r.model_id == id) return r;
    }
    ADD_FAILURE() << "no " << id;
    return scan.records.front();
  };
  const ModelRecord& sdxl = find("sdxl_base_1.0");
  EXPECT_EQ(sdxl.model_kind, "checkpoint");
  EXPECT_EQ(sdxl.size_bytes, 6'938'078'334);
  EXPECT_EQ(sdxl.first_seen_us, june);
  EXPECT_EQ(sdxl.registered_us, kNow);
  EXPECT_EQ(sdxl.path, (fs::absolute(root) / "checkpoints" / "sdxl_base_1.0.safetensors").string());
  EXPECT_EQ(find("sd15_pruned").model_kind, "checkpoint");  // subfolders count
  EXPECT_EQ(find("detail_tweaker").model_kind, "lora");
  EXPECT_EQ(find("sdxl_vae").model_kind, "vae");
  EXPECT_EQ(find("canny").model_kind, "controlnet");
  EXPECT_EQ(find("easynegative").model_kind, "embedding");
  EXPECT_EQ(find("flux1-dev-Q8").size_bytes, 12'700'000'000);  // extension in any case
  EXPECT_TRUE(std::is_sorted(
      scan.records.begin(), scan.records.end(),
      [](const ModelRecord& a, const ModelRecord& b) { return a.model_id < b.model_id; }));
}

TEST(ModelScanTest, TheFirstFileOfAStemWinsAndTheOthersAreReported) {
  TempDir dir;
  sparse_file(fs::path(dir.path()) / "checkpoints" / "model.safetensors", 10, kNow - 1);
  sparse_file(fs::path(dir.path()) / "loras" / "model.safetensors", 20, kNow - 1);
  const ModelScan scan = scan_model_folder(dir.path(), kNow);
  ASSERT_EQ(scan.records.size(), 1u);
  EXPECT_EQ(scan.records[0].model_kind, "checkpoint");
  ASSERT_EQ(scan.skipped.size(), 1u);
  EXPECT_NE(scan.skipped[0].find("taken by"), std::string::npos);
}

TEST(ModelScanTest, AFutureFileDateIsClampedToNow) {
  TempDir dir;
  sparse_file(fs::path(dir.path()) / "vae" / "v.pt", 10, kNow + kMicrosPerDay);
  EXPECT_EQ(scan_model_folder(dir.path(), kNow).records.at(0).first_seen_us, kNow);
}

TEST(ModelScanTest, AFolderWithoutTheLayoutOrNoFolderIsAClearError) {
  TempDir dir;
  sparse_file(fs::path(dir.path()) / "random" / "x.safetensors", 1, kNow);
  try {
    scan_model_folder(dir.path(), kNow);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.parameter(), "dir");
    EXPECT_NE(std::string(e.what()).find("checkpoints/"), std::string::npos);
  }
  EXPECT_THROW(scan_model_folder(fs::path(dir.path()) / "missing", kNow), InvalidArgument);
}

TEST(ModelRegistrationTest, ValidatesEveryField) {
  ModelRegistration ok{1000, "LoRA", "sdxl_base_1.0", "/models/loras/x.safetensors"};
  const ModelRecord record = registration_record("x", ok, kNow);
  EXPECT_EQ(record.model_id, "x");
  EXPECT_EQ(record.model_kind, "lora");  // stored lower case
  EXPECT_EQ(record.size_bytes, 1000);
  EXPECT_EQ(record.registered_us, kNow);
  EXPECT_EQ(record.first_seen_us, kNow);

  auto field_of = [](std::string_view id, ModelRegistration r) {
    try {
      registration_record(id, r, kNow);
    } catch (const InvalidArgument& e) {
      return e.parameter();
    }
    return std::string("accepted");
  };
  EXPECT_EQ(field_of("", {}), "model_id");
  EXPECT_EQ(field_of(std::string(kMaxModelIdLength + 1, 'a'), {}), "model_id");
  EXPECT_EQ(field_of(std::string(kMaxModelIdLength, 'a'), {}), "accepted");
  EXPECT_EQ(field_of("a\nb", {}), "model_id");
  EXPECT_EQ(field_of("\xff\xfe", {}), "model_id");
  auto with = [](auto set) {
    ModelRegistration r;
    set(r);
    return r;
  };
  EXPECT_EQ(field_of("m", with([](auto& r) { r.size_bytes = -1; })), "size_bytes");
  EXPECT_EQ(field_of("m", with([](auto& r) { r.model_kind = "upscaler"; })), "model_kind");
  EXPECT_EQ(field_of("m", with([](auto& r) { r.base_model = ""; })), "base_model");
  EXPECT_EQ(field_of("m", with([](auto& r) { r.path = ""; })), "path");
  EXPECT_EQ(field_of("m", with([](auto& r) { r.path = std::string(4097, 'p'); })), "path");
  EXPECT_EQ(field_of("m", with([](auto& r) { r.path = "a\tb"; })), "path");
  EXPECT_EQ(field_of("m", with([](auto& r) {
                       r.size_bytes = 0;
                       r.model_kind = "embedding";
                     })),
            "accepted");
}

}  // namespace
}  // namespace genalytics
