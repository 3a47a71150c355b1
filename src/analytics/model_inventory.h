// The model inventory's inputs beyond events (issue 10): a registration
// (PUT /api/v1/models/{model_id}) and a scan of a model folder
// (`genalytics models scan DIR`), which finds models on disk that nothing
// ever used.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace genalytics {

// Whether `id` can name a model: 1 to kMaxModelIdLength bytes of UTF-8
// without control characters (the rule model events' model_id follows).
bool is_valid_model_id(std::string_view id);

// What a registration may say of a model; absent fields are left as stored.
struct ModelRegistration {
  std::optional<int64_t> size_bytes;
  std::optional<std::string> model_kind;
  std::optional<std::string> base_model;
  std::optional<std::string> path;
};

// The record that registers `model_id` at `now_us`. Throws InvalidArgument
// naming the field: an invalid model_id or base_model, a negative size, a
// model_kind not among kModelKinds (any case; stored lower case), an empty
// path or one over 4096 bytes.
ModelRecord registration_record(std::string_view model_id, const ModelRegistration& registration,
                                int64_t now_us);

// The model folders a scan knows (ComfyUI's layout, plus AUTOMATIC1111's
// names), and the kind each holds.
struct ModelFolder {
  std::string_view name;
  std::string_view model_kind;
};
inline constexpr ModelFolder kModelFolders[] = {
    {"checkpoints", "checkpoint"}, {"diffusion_models", "checkpoint"}, {"unet", "checkpoint"},
    {"Stable-diffusion", "checkpoint"}, {"loras", "lora"}, {"Lora", "lora"},
    {"vae", "vae"}, {"VAE", "vae"}, {"controlnet", "controlnet"}, {"ControlNet", "controlnet"},
    {"embeddings", "embedding"}};
// The file extensions of model files.
inline constexpr std::string_view kModelFileExtensions[] = {
    ".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".onnx"};

struct ModelScan {
  std::vector<ModelRecord> records;  // by model_id
  // Files not registered, with why: "<path>: <reason>" (an id taken by an
  // earlier file, an id that is not valid).
  std::vector<std::string> skipped;
  size_t folders = 0;  // model folders found under the root
};

// Walks the model folders under `root` (recursively inside each), and
// makes one record per model file: id = file stem, kind from its folder,
// size_bytes = the file's size (its logical size: a sparse file counts in
// full), first_seen = its modification time, path = its absolute path,
// registered at `now_us`. Files are visited in path order, so the first of
// two files with one stem wins. Throws InvalidArgument("dir") when `root`
// is not a readable directory or holds none of the model folders.
ModelScan scan_model_folder(const std::filesystem::path& root, int64_t now_us);

}  // namespace genalytics
