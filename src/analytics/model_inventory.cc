#include "analytics/model_inventory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <system_error>

#include "analytics/errors.h"
#include "event/json_fields.h"
#include "event/model_event.h"

namespace genalytics {
namespace {

constexpr size_t kMaxPathLength = 4096;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int64_t file_time_us(std::filesystem::file_time_type time) {
  const auto system = std::chrono::file_clock::to_sys(time);
  return std::chrono::duration_cast<std::chrono::microseconds>(system.time_since_epoch()).count();
}

}  // namespace

bool is_valid_model_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxModelIdLength || !is_utf8(id)) return false;
  return std::none_of(id.begin(), id.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

ModelRecord registration_record(std::string_view model_id, const ModelRegistration& registration,
                                int64_t now_us) {
  if (!is_valid_model_id(model_id)) {
    throw InvalidArgument("model_id", fmt::format("model_id must be 1 to {} bytes of UTF-8 "
                                                  "without control characters",
                                                  kMaxModelIdLength));
  }
  ModelRecord record;
  record.model_id = std::string(model_id);
  if (registration.size_bytes) {
    if (*registration.size_bytes < 0) {
      throw InvalidArgument("size_bytes", "size_bytes must be a non-negative integer");
    }
    record.size_bytes = registration.size_bytes;
  }
  if (registration.model_kind) {
    const std::string kind = lower(*registration.model_kind);
    if (std::find(std::begin(kModelKinds), std::end(kModelKinds), kind) == std::end(kModelKinds)) {
      throw InvalidArgument("model_kind", "model_kind must be checkpoint, lora, vae, controlnet, "
                                          "embedding or other");
    }
    record.model_kind = kind;
  }
  if (registration.base_model) {
    if (!is_valid_model_id(*registration.base_model)) {
      throw InvalidArgument("base_model", fmt::format("base_model must be 1 to {} bytes of UTF-8 "
                                                      "without control characters",
                                                      kMaxModelIdLength));
    }
    record.base_model = registration.base_model;
  }
  if (registration.path) {
    const std::string& path = *registration.path;
    if (path.empty() || path.size() > kMaxPathLength || !is_utf8(path) ||
        std::any_of(path.begin(), path.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
      throw InvalidArgument("path", fmt::format("path must be 1 to {} bytes of UTF-8 without "
                                                "control characters",
                                                kMaxPathLength));
    }
    record.path = path;
  }
  record.first_seen_us = now_us;
  record.registered_us = now_us;
  return record;
}

ModelScan scan_model_folder(const std::filesystem::path& root, int64_t now_us) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    throw InvalidArgument("dir", fmt::format("{} is not a directory", root.string()));
  }
  const fs::path absolute_root = fs::absolute(root, ec);
  ModelScan scan;
  // (path, kind) of every model file, in path order.
  std::map<fs::path, std::string_view> files;
  for (const ModelFolder& folder : kModelFolders) {
    const fs::path dir = absolute_root / folder.name;
    if (!fs::is_directory(dir, ec)) continue;
    // Case-insensitive file systems see "vae" and "VAE" as one folder.
    bool seen = false;
    for (const ModelFolder& earlier : kModelFolders) {
      if (&earlier == &folder) break;
      if (fs::equivalent(absolute_root / earlier.name, dir, ec)) seen = true;
    }
    if (seen) continue;
    ++scan.folders;
    for (auto it = fs::recursive_directory_iterator(
             dir, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      const std::string extension = lower(it->path().extension().string());
      if (std::find(std::begin(kModelFileExtensions), std::end(kModelFileExtensions), extension) ==
          std::end(kModelFileExtensions)) {
        continue;
      }
      files.emplace(it->path(), folder.model_kind);
    }
  }
  if (scan.folders == 0) {
    throw InvalidArgument("dir", fmt::format("{} holds none of the model folders (checkpoints/, "
                                             "loras/, vae/, controlnet/, embeddings/)",
                                             root.string()));
  }
  std::map<std::string, ModelRecord> records;
  for (const auto& [path, kind] : files) {
    const std::string id = path.stem().string();
    if (!is_valid_model_id(id)) {
      scan.skipped.push_back(fmt::format("{}: the file name is not a valid model id", path.string()));
      continue;
    }
    if (records.contains(id)) {
      scan.skipped.push_back(fmt::format("{}: model id {} is taken by {}", path.string(), id,
                                         *records[id].path));
      continue;
    }
    ModelRecord record;
    record.model_id = id;
    record.model_kind = std::string(kind);
    record.path = path.string();
    const auto size = fs::file_size(path, ec);
    if (!ec) record.size_bytes = static_cast<int64_t>(size);
    const auto mtime = fs::last_write_time(path, ec);
    record.first_seen_us = ec ? now_us : std::min(file_time_us(mtime), now_us);
    record.registered_us = now_us;
    records.emplace(id, std::move(record));
  }
  for (auto& [id, record] : records) scan.records.push_back(std::move(record));
  return scan;
}

}  // namespace genalytics
